/*  ingest.h — one decoded AxisArray into the ring: buffered-axis lookup, ring sizing,
    the axis move, byte order.

    Data flows one way: wire (decode) → ingest → ezshm_writer → segment. The ingest step
    turns a message into a ring spec (dtype, srate, ring length, frame shape, key), asks the
    writer to match it (a rebuild when anything differs), and copies the frames straight into
    the ring, moving the buffered axis to the front on the way (no intermediate buffer).
    Base64 data the decoder deferred (wire_decoder_defer_data) is decoded straight into the
    ring the same way when the frames lie end to end; a move decodes it once into a buffer.
*/
#ifndef EZSHM_INGEST_H
#define EZSHM_INGEST_H

#include "axisarray.h"
#include "drop_reason.h"
#include "ezshm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Ring rebuilds a stream may make: INGEST_REBUILD_BURST at once, then
    INGEST_REBUILDS_PER_SECOND. A message that would rebuild beyond that is dropped as
    INGEST_ERR_REBUILD_RATE ("rebuild_rate_limited"): a sender that changes dtype or shape
    with every message costs decodes, not ring allocations. */
#define INGEST_REBUILD_BURST 10.0
#define INGEST_REBUILDS_PER_SECOND 5.0

typedef struct ingest_t ingest_t;

/*  An ingest step writing into writer (not owned) with the buffered axis name and ring
    duration. NULL when out of memory. */
ingest_t *ingest_new(ezshm_writer_t *writer, const char *axis, double buf_dur);
void ingest_destroy(ingest_t **self_p);

/*  New settings (after a reset): takes effect on the next message. */
int ingest_set_axis(ingest_t *self, const char *axis);
/*  The buffered axis' name. */
const char *ingest_axis(const ingest_t *self);
void ingest_set_buf_dur(ingest_t *self, double buf_dur);

/*  Asked before a message would create a ring (first one, or a rebuild) of ring_bytes bytes:
    DROP_OK to go on, or a drop reason with one line in errbuf (the daemon's per-stream cap and
    total across streams). */
typedef int (ingest_budget_fn)(void *arg, uint64_t ring_bytes, char *errbuf, size_t errlen);

/*  Installs the budget check (NULL: none; the writer's max_ring_bytes still applies). */
void ingest_set_budget(ingest_t *self, ingest_budget_fn *budget, void *arg);

/*  Called for each message once the ring matches it and before any of its frames is written:
    the caller publishes what describes the frames (the stream metadata), so a reader never
    finds frames whose description is older than they are. DROP_OK to write them, or a drop
    reason with one line in errbuf: then nothing is written. */
typedef int (ingest_publish_fn)(void *arg, char *errbuf, size_t errlen);

/*  Installs the publish step (NULL: none). */
void ingest_set_publish(ingest_t *self, ingest_publish_fn *publish, void *arg);

/*  Ingest wall clock minus the newest sample's time of the last message written, in seconds;
    false when the message's time base is not wall clock (ezshm_clock_transport_delay) or it
    was not written. */
bool ingest_last_delay(const ingest_t *self, double *seconds);

/*  Writes msg's frames into the ring (rebuilding it when the message's ring spec differs,
    within the rate above), with each chunk's timing for the clock segment. Returns DROP_OK
    or a drop reason (INGEST_ERR_*, DROP_SIZE_OVERFLOW); on error nothing was written and
    errbuf says why in one line. *frames gets the frames written. */
int ingest_message(ingest_t *self, const axisarray_t *msg, uint64_t *frames, char *errbuf,
                   size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
