/*  ingest.h — one decoded AxisArray into the ring: buffered-axis lookup, ring sizing,
    the axis move, byte order.

    Data flows one way: wire (decode) → ingest → ezshm_writer → segment. The ingest step
    turns a message into a ring spec (dtype, srate, ring length, frame shape, key), asks the
    writer to match it (a rebuild when anything differs), and copies the frames straight into
    the ring, moving the buffered axis to the front on the way (no intermediate buffer).
*/
#ifndef INGEST_H
#define INGEST_H

#include "axisarray.h"
#include "ezshm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Why ingest refused a message. Values continue the wire_error_t range, so one array of
    counters indexed by -code covers both (see counters.h). */
typedef enum {
    INGEST_OK = 0,
    INGEST_ERR_AXIS_MISSING = -20,   /* "axis_missing":   buffered axis not in dims / axes   */
    INGEST_ERR_BAD_GAIN = -21,       /* "bad_gain":       gain <= 0, NaN or infinite         */
    INGEST_ERR_EMPTY = -22,          /* "empty_chunk":    zero frames or zero-sized frames   */
    INGEST_ERR_TOO_BIG = -23,        /* "ring_too_big":   ring over max_buffer_bytes         */
    INGEST_ERR_OVERFLOW = -24,       /* "size_overflow":  ring size overflows                */
    INGEST_ERR_NO_SPACE = -25,       /* "no_space":       /dev/shm cannot hold the ring      */
    INGEST_ERR_SHM = -26             /* "shm_error":      any other shared-memory failure    */
} ingest_error_t;

#define INGEST_ERR_FIRST INGEST_ERR_AXIS_MISSING
#define INGEST_ERR_LAST INGEST_ERR_SHM

/*  Stable snake_case name of a code ("bad_gain"); "unknown" otherwise. */
const char *ingest_reason_name(int code);

typedef struct ingest_t ingest_t;

/*  An ingest step writing into writer (not owned) with the buffered axis name and ring
    duration. NULL when out of memory. */
ingest_t *ingest_new(ezshm_writer_t *writer, const char *axis, double buf_dur);
void ingest_destroy(ingest_t **self_p);

/*  New settings (after a reset): takes effect on the next message. */
int ingest_set_axis(ingest_t *self, const char *axis);
void ingest_set_buf_dur(ingest_t *self, double buf_dur);
void ingest_set_writer(ingest_t *self, ezshm_writer_t *writer);

/*  Ingest wall clock minus the newest sample's time of the last message written, in seconds;
    false when the message's time base is not wall clock (ezshm_clock_transport_delay) or it
    was not written. */
bool ingest_last_delay(const ingest_t *self, double *seconds);

/*  Writes msg's frames into the ring (with each chunk's timing for the clock segment). Returns INGEST_OK or an ingest_error_t; on error
    nothing was written and errbuf says why in one line. *frames gets the frames written. */
int ingest_message(ingest_t *self, const axisarray_t *msg, uint64_t *frames, char *errbuf,
                   size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
