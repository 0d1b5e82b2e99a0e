/*  drop_reason.h — why the data path dropped a message: one enum for the decoder (wire) and
    for ingest, one counter per value in ezshmd's `status` (dropped_by_reason).

    Values are stable and contiguous from 0 down to -(DROP_REASON_COUNT - 1), so a caller
    keeps one counter per reason: counter[-code]. The decoder returns the WIRE_ERR_ codes,
    ingest the INGEST_ERR_ codes, the daemon's topic routing the ROUTE_ERR_ codes; a size that overflows is the same reason for both.
*/
#ifndef EZSHM_DROP_REASON_H
#define EZSHM_DROP_REASON_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DROP_OK = 0,                  /* "ok":             not dropped                          */
    WIRE_ERR_FRAME_COUNT = -1,    /* "frame_count":    not 1, 2 or 3 frames                 */
    WIRE_ERR_JSON = -2,           /* "invalid_json":   bad JSON, not an object, bad base64  */
    WIRE_ERR_MISSING_FIELD = -3,  /* "missing_field":  a required field absent or mistyped  */
    WIRE_ERR_DTYPE = -4,          /* "unknown_dtype":  unknown dtype, or a string dtype     */
    WIRE_ERR_SHAPE = -5,          /* "shape_mismatch": dims vs shape, bytes vs shape        */
    WIRE_ERR_NDIM = -6,           /* "bad_ndim":       0 or more than 64 dimensions         */
    DROP_SIZE_OVERFLOW = -7,      /* "size_overflow":  prod(shape) * itemsize, or the ring  */
    WIRE_ERR_NOMEM = -8,          /* "out_of_memory":  the decoder could not grow a buffer  */
    INGEST_ERR_AXIS_MISSING = -9, /* "axis_missing":   buffered axis not in dims / axes     */
    INGEST_ERR_BAD_GAIN = -10,    /* "bad_gain":       gain <= 0, NaN or infinite           */
    INGEST_ERR_EMPTY = -11,       /* "empty_chunk":    zero frames or zero-sized frames     */
    INGEST_ERR_TOO_BIG = -12,     /* "ring_too_big":   ring over max_buffer_bytes           */
    INGEST_ERR_NO_SPACE = -13,    /* "no_space":       /dev/shm cannot hold the ring        */
    INGEST_ERR_SHM = -14,         /* "shm_error":      any other shared-memory failure      */
    INGEST_ERR_REBUILD_RATE = -15,/* "rebuild_rate_limited": the ring's shape changes faster
                                     than the rebuild rate limit allows                     */
    ROUTE_ERR_NO_STREAM = -16,    /* "no_stream":      the topic matches no stream          */
    ROUTE_ERR_MAX_STREAMS = -17,  /* "max_streams":    a new topic beyond max_streams       */
    ROUTE_ERR_STREAM_FAILED = -18,/* "stream_failed":  its stream could not be created      */
    ROUTE_ERR_FD_LIMIT = -19,     /* "fd_limit":       a new topic beyond the streams the
                                     file descriptor limit (RLIMIT_NOFILE) leaves room for  */
    ROUTE_ERR_NAME_CONFLICT = -20,/* "name_conflict":  the topic's stream name equals or
                                     generates a segment name of another stream, or its
                                     header name is held by another live writer            */
    INGEST_ERR_META = -21         /* "meta_not_published": the message's metadata could not
                                     be published (aux over the budget, no space, ...): its
                                     frames are not written, readers keep the old labels   */
} drop_reason_t;

#define DROP_REASON_COUNT 22      /* codes 0 .. -21 */
#define WIRE_REASON_COUNT 9       /* the decoder's codes: 0 .. -8 */

/*  A stable snake_case name for a code ("shape_mismatch"), the counter's name; "ok" for 0,
    "unknown" for anything outside the enum. */
const char *drop_reason_name(int code);

#ifdef __cplusplus
}
#endif
#endif
