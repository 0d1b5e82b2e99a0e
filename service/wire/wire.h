/*  wire.h — decode and encode ezmsg AxisArray messages as they travel over ZeroMQ.

    Three formats, told apart by the number of frames (docs/wire-protocol.md is the spec):

      1 frame   ezmsg-zmq single part: topic bytes immediately followed by the JSON payload,
                which starts at the first '{'.
      2 frames  ezmsg-zmq multipart: [topic, JSON payload]. The payload is
                {"ts": <float>, "obj": <AxisArray>}; arrays are
                {"_type": "_ndarray", "dtype", "shape", "data": <base64>}.
      3 frames  native: [topic, JSON header, raw data]. The header is the same JSON, with or
                without the {"ts", "obj"} wrapper, whose AxisArray "data" object has dtype and
                shape but no base64 string; frame 3 is the C-order bytes.

    An optional non-negative integer "seq" at the top level of the payload/header lets a
    sender number its messages so a receiver can count gaps.

    The decoder takes plain byte frames (no ZeroMQ types), so tests and fuzzers feed it
    directly. It is reused across messages and allocates nothing per message once its
    buffers have grown to the working size. For native messages it caches the parsed header:
    a header whose bytes differ from the previous one only in the numbers of "ts", "seq" and
    the LinearAxis "offset"s is not parsed again.

    The encoder builds all three formats for ezshm-pub and tests, in the byte layout ezmsg's
    Python MessageEncoder writes, so a Python ezmsg consumer can decode it.
*/
#ifndef EZSHM_WIRE_H
#define EZSHM_WIRE_H

#include "axisarray.h"
#include "ezshm_tree.h"
#include "drop_reason.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  One received frame. */
typedef struct {
    const void *data;
    size_t size;
} wire_frame_t;

typedef enum {
    WIRE_FORMAT_NONE = 0,
    WIRE_FORMAT_SINGLEPART = 1,   /* ezmsg-zmq, 1 frame  */
    WIRE_FORMAT_MULTIPART = 2,    /* ezmsg-zmq, 2 frames */
    WIRE_FORMAT_NATIVE = 3        /* [topic, header, data] */
} wire_format_t;

/*  A sentence for a decoder result code ("dims and shape disagree"); never NULL. The code's
    name is drop_reason_name() (drop_reason.h). */
const char *wire_strerror(int code);

/*  ---- Decoding ---------------------------------------------------------------------- */

typedef struct _wire_decoder_t wire_decoder_t;

/*  Creates a decoder; NULL when out of memory. */
wire_decoder_t *wire_decoder_new(void);

/*  Destroys the decoder (and the message it owns); NULL-safe, NULLs the pointer. */
void wire_decoder_destroy(wire_decoder_t **self_p);

/*  Decodes one message of nframes frames. On 0, *out is the message, valid until the next
    wire_decode on this decoder and while the frames stay alive (topic and native data point
    into them). On error returns a negative drop_reason_t, *out is NULL, and
    wire_decoder_last_error() explains. */
int wire_decode(wire_decoder_t *self, const wire_frame_t *frames, size_t nframes,
                const axisarray_t **out);

/*  With defer on, the base64 data of a JSON message whose bytes need no swapping is
    validated and sized (the same checks and errors, at the same point) but not decoded
    (on a vector base64 path only: see wire_base64.h; the scalar path decodes as before):
    axisarray_data() is then NULL and the reader decodes the bytes straight to where they go
    with axisarray_copy_data() (ezshmd: into the ring, no scratch copy). Off by default. */
void wire_decoder_defer_data(wire_decoder_t *self, bool defer);

/*  The topic of a message without decoding it: frame 1 (2 or 3 frames) or the bytes before
    the first '{' (1 frame). 0, or WIRE_ERR_FRAME_COUNT / WIRE_ERR_JSON (no '{') with *topic
    NULL. The topic points into the frames. */
int wire_topic(const wire_frame_t *frames, size_t nframes, const void **topic, size_t *len);

/*  What was wrong with the last rejected message, e.g. "dims has 2 names but shape has 3
    entries"; "" after a success. */
const char *wire_decoder_last_error(const wire_decoder_t *self);

/*  Format of the last decoded (or attempted) message. */
wire_format_t wire_decoder_format(const wire_decoder_t *self);

/*  Number of native messages whose header came from the cache instead of a parse. */
uint64_t wire_decoder_cache_hits(const wire_decoder_t *self);

/*  True when the last decoded message's static half — dims, key, attrs, the axes, but the
    offset and coordinates of buffered_axis — is byte for byte the previous parsed message's
    (for the same buffered_axis), so its stream metadata cannot have changed; also true after
    a native cache hit. Call once per decoded message, right after the decode: it remembers
    this message for the next call. */
bool wire_decoder_static_same(wire_decoder_t *self, const char *buffered_axis);

/*  The attrs of the last decoded message as a plain-value dict in tree (see wire_attrs.h for
    what is carried and what dropped; keys are interned in key_pool; dropped gets the dropped
    top-level keys, comma-separated). Only right after a decode that parsed its JSON, while
    its frames are alive: WIRE_ERR_MISSING_FIELD otherwise; WIRE_ERR_NOMEM. */
int wire_decoder_attrs(wire_decoder_t *self, ezshm_tree_t *tree, int key_pool, ezshm_node_t **out,
                       char *dropped, size_t dropped_len);

/*  How many times the attrs were left out as a whole for holding more than
    WIRE_ATTRS_MAX_NODES values (the metadata went out with empty attrs). */
uint64_t wire_decoder_attrs_over(const wire_decoder_t *self);

/*  Coordinate axes whose dtype the metadata cannot carry (object arrays, dtype strings
    numpy_dtype_descr refuses), counted over every full decode; the message was decoded all
    the same. *reason (when not NULL) gets the last such axis in one sentence ("" if none). */
uint64_t wire_decoder_skipped_axes(const wire_decoder_t *self, const char **reason);

/*  Copies nbytes from src to dst reversing the byte order of every component_size-byte
    component (use ezshm_dtype_component_size(dtype): complex swaps re and im separately).
    component_size 1 is a plain copy. dst and src may be the same buffer, not otherwise
    overlap. nbytes must be a multiple of component_size. */
void wire_byteswap(void *dst, const void *src, size_t nbytes, size_t component_size);

/*  ---- Encoding ---------------------------------------------------------------------- */

/*  A grow-only output buffer; start zeroed, reuse across messages, free with
    wire_buf_free(). */
typedef struct {
    unsigned char *data;
    size_t size;
    size_t cap;
} wire_buf_t;

void wire_buf_free(wire_buf_t *buf);

/*  What to encode. Strings are UTF-8 and NUL-terminated. */
typedef struct {
    const char *topic;              /* frame 1 / single-part prefix; must not contain '{' */
    const char *key;                /* NULL = "" */
    size_t ndim;                    /* 1..AXISARRAY_MAX_NDIM */
    const char *const *dims;
    const size_t *shape;
    char dtype;                     /* ezshm one-char code */
    bool big_endian;                /* data bytes are big-endian: labelled with a '>' type string */
    const void *data;
    size_t nbytes;                  /* must be prod(shape) * itemsize */
    /*  Time axis (omitted when time_dim is NULL): a LinearAxis (gain, offset, unit "s") or,
        when time_values is not NULL, a CoordinateAxis of n_time_values float64 timestamps. */
    const char *time_dim;
    double gain, offset;
    const double *time_values;
    size_t n_time_values;
    /*  Labels axis (omitted when label_dim is NULL): a CoordinateAxis of strings with a unit. */
    const char *label_dim;
    const char *const *labels;
    size_t n_labels;
    const char *label_unit;         /* the labels axis' unit; NULL = "" */
    bool has_seq;
    uint64_t seq;
    double ts;                      /* the payload's "ts" */
} wire_message_t;

/*  ezmsg-zmq multipart: writes frame 2 (the JSON payload) into payload; frame 1 is
    m->topic. Returns 0 or WIRE_ERR_DTYPE / WIRE_ERR_SHAPE / WIRE_ERR_NDIM / WIRE_ERR_NOMEM. */
int wire_encode_ezmsg(const wire_message_t *m, wire_buf_t *payload);

/*  ezmsg-zmq single part: writes the one frame (topic + JSON payload) into frame. */
int wire_encode_ezmsg_single(const wire_message_t *m, wire_buf_t *frame);

/*  Native: writes frame 2 (the JSON header, with the {"ts", "seq", "obj"} wrapper) into
    header; frame 1 is m->topic and frame 3 is m->data itself. */
int wire_encode_native(const wire_message_t *m, wire_buf_t *header);

#ifdef __cplusplus
}
#endif
#endif
