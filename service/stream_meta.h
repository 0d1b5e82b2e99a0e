/*  stream_meta.h — the stream metadata a v1 stream publishes beside its ring: the static half
    of each AxisArray as ezmsg-tools 0.6 writes it (docs/shm-layout.md, aux segment).

    Before a message's frames land in the ring, stream_meta_update maps it to the format's plain-value
    tree — {"version": 1, "dims": [buffered axis first, the others in message order],
    "axes": {name: axis}, "attrs": {plain attrs}, "key", "buffered_axis"}, an axis being
    {"kind": "linear", "unit", "gain", "offset"} or {"kind": "coord", "unit", "dims", "data"}
    with the buffered axis keeping only its static part (no offset, no data) — pickles it and
    hands the bytes to the writer, which republishes only when they changed. A native message
    whose header came from the decoder's cache costs a comparison: its metadata cannot have
    changed. Axes the format cannot carry (object arrays) and attrs that are not plain values
    (ezmsg-zmq's _pickle fallback is never unpickled) are left out; the dropped attrs are
    logged once per distinct set of keys.

    Object identity follows CPython's json and ezmsg-tools (format keys are shared literals,
    JSON object keys are shared per message, the buffered axis name is one object in "dims"
    and "buffered_axis"), so for ezmsg-zmq messages the blob is byte-identical to the one the
    real ShMemCircBuff writes.
*/
#ifndef STREAM_META_H
#define STREAM_META_H

#include "ezshm.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stream_meta_t stream_meta_t;

/*  NULL when out of memory. */
stream_meta_t *stream_meta_new(void);
void stream_meta_destroy(stream_meta_t **self_p);

/*  Asked before a blob of aux_bytes is published: DROP_OK, or a drop reason with one line in
    errbuf (the daemon's budget: aux segments count in max_buffer_bytes). */
typedef int (stream_meta_budget_fn)(void *arg, size_t aux_bytes, char *errbuf, size_t errlen);

/*  Publishes msg's metadata through writer (v1 layouts only; legacy: nothing), within budget
    (NULL: none). Call after the decode of msg and before its frames are written (the attrs
    are read from the decoder; a reader must never find frames newer than their metadata).
    DROP_OK, or INGEST_ERR_META with errbuf saying why (over the budget, no space, out of
    memory...): then the frames must not be written, the previous metadata stays. */
int stream_meta_update(stream_meta_t *self, ezshm_writer_t *writer, wire_decoder_t *decoder,
                       const axisarray_t *msg, const char *axis, stream_meta_budget_fn *budget, void *arg,
                       char *errbuf, size_t errlen);

/*  Metadata trees built and pickled so far (messages whose JSON was parsed), for tests. */
uint64_t stream_meta_builds(const stream_meta_t *self);

#ifdef __cplusplus
}
#endif
#endif
