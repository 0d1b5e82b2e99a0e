/*  counters.h — what ezshmd counts for `status`: messages, frames, bytes, ring resets,
    drops by reason (one counter per drop_reason_t), sequence gaps per topic, and the last
    error with its time. */
#ifndef EZSHM_COUNTERS_H
#define EZSHM_COUNTERS_H

#include "drop_reason.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COUNTERS_TOPICS 64       /* topics tracked for sequence gaps */
#define COUNTERS_SEQ_MAX_GAP (UINT64_C(1) << 32)   /* a larger seq jump is a sender restart */
#define COUNTERS_TOPIC_MAX 64    /* bytes of a tracked topic */

typedef struct {
    uint64_t    received;
    uint64_t    written;
    uint64_t    frames;
    uint64_t    bytes;
    uint64_t    ring_resets;
    uint64_t    dropped_total;
    uint64_t    dropped[DROP_REASON_COUNT];   /* [-code] */
    log_limit_t limits[DROP_REASON_COUNT];    /* one log line a second per reason */
    log_limit_t seq_gap_limit;                /* and one for sequence gaps */
    uint64_t    seq_gaps;          /* messages missing according to senders' seq */
    size_t      n_topics;
    struct {
        char     topic[COUNTERS_TOPIC_MAX];
        size_t   len;
        uint64_t next_seq;
    } topics[COUNTERS_TOPICS];
    char        last_error[256];
    char        last_reason[32];
    double      last_error_time;   /* UNIX seconds, 0 = never (for status)        */
    double      last_error_mono;   /* monotonic seconds, 0 = never (for health)   */
    double      last_write_mono;   /* monotonic seconds, 0 = never (for health)   */
} counters_t;

/*  Counts a dropped message, remembers it as the last error and logs it (rate-limited).
    code is a drop_reason_t other than DROP_OK. */
void counters_drop(counters_t *self, drop_reason_t code, const char *message);

/*  Notes a sender sequence number for a topic; returns how many messages were missed and
    logs a gap (rate-limited). */
uint64_t counters_seq(counters_t *self, const void *topic, size_t len, uint64_t seq);

/*  Counts a written message. */
void counters_written(counters_t *self, uint64_t frames, uint64_t bytes);

/*  The counters as a JSON object (NULL on out of memory). */
cJSON *counters_to_json(const counters_t *self);

#ifdef __cplusplus
}
#endif
#endif
