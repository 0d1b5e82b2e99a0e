/*  counters.c — drop accounting and the status view of it. */
#include "counters.h"
#include "ezshm_time.h"

#include <stdio.h>
#include <string.h>

/*  Slot of a code: -code; anything outside the enum (a bug) counts in the total only. */
static size_t
s_slot(int code)
{
    return code < 0 && code > -DROP_REASON_COUNT ? (size_t) -code : 0;
}

void
counters_drop(counters_t *self, drop_reason_t code, const char *message)
{
    size_t slot = s_slot(code);
    self->dropped[slot]++;
    self->dropped_total++;
    snprintf(self->last_reason, sizeof self->last_reason, "%s", drop_reason_name(code));
    snprintf(self->last_error, sizeof self->last_error, "%s", message);
    self->last_error_time = ezshm_time_wall();
    self->last_error_mono = ezshm_time_mono();
    log_limited(&self->limits[slot], SETTINGS_LOG_WARNING, "message dropped (%s): %s",
                self->last_reason, message);
}

uint64_t
counters_seq(counters_t *self, const void *topic, size_t len, uint64_t seq)
{
    if (len > COUNTERS_TOPIC_MAX)
        len = COUNTERS_TOPIC_MAX;
    size_t i = 0;
    while (i < self->n_topics && (self->topics[i].len != len || memcmp(self->topics[i].topic, topic, len)))
        i++;
    if (i == self->n_topics) {
        if (i == COUNTERS_TOPICS)
            return 0;
        self->n_topics++;
        memcpy(self->topics[i].topic, topic, len);
        self->topics[i].len = len;
        self->topics[i].next_seq = seq + 1;
        return 0;
    }
    /*  A seq below the expected one is a restarted sender: resynchronise, no gap. So is a
        jump no HWM could explain (more than COUNTERS_SEQ_MAX_GAP messages: a sender that
        restarted with another numbering, or a corrupt seq), which would otherwise add
        up to 2^64 to seq_gaps. */
    uint64_t missed = seq > self->topics[i].next_seq ? seq - self->topics[i].next_seq : 0;
    if (missed > COUNTERS_SEQ_MAX_GAP)
        missed = 0;
    self->topics[i].next_seq = seq + 1;
    self->seq_gaps += missed;
    if (missed)
        log_limited(&self->seq_gap_limit, SETTINGS_LOG_WARNING,
                    "sender sequence gap: %llu messages missing (HWM drops upstream?)", (unsigned long long) missed);
    return missed;
}

void
counters_written(counters_t *self, uint64_t frames, uint64_t bytes)
{
    self->written++;
    self->frames += frames;
    self->bytes += bytes;
    self->last_write_mono = ezshm_time_mono();
}

cJSON *
counters_to_json(const counters_t *self)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *by_reason = cJSON_CreateObject();
    if (!out || !by_reason) {
        cJSON_Delete(out);
        cJSON_Delete(by_reason);
        return NULL;
    }
    cJSON_AddNumberToObject(out, "received", (double) self->received);
    cJSON_AddNumberToObject(out, "written", (double) self->written);
    cJSON_AddNumberToObject(out, "frames", (double) self->frames);
    cJSON_AddNumberToObject(out, "bytes", (double) self->bytes);
    cJSON_AddNumberToObject(out, "ring_resets", (double) self->ring_resets);
    cJSON_AddNumberToObject(out, "dropped", (double) self->dropped_total);
    cJSON_AddNumberToObject(out, "seq_gaps", (double) self->seq_gaps);
    for (int code = -1; code > -DROP_REASON_COUNT; code--)
        cJSON_AddNumberToObject(by_reason, drop_reason_name(code), (double) self->dropped[-code]);
    cJSON_AddItemToObject(out, "dropped_by_reason", by_reason);
    if (self->last_error_time > 0) {
        cJSON *last = cJSON_AddObjectToObject(out, "last_error");
        cJSON_AddStringToObject(last, "reason", self->last_reason);
        cJSON_AddStringToObject(last, "message", self->last_error);
        cJSON_AddNumberToObject(last, "time", self->last_error_time);
    }
    else
        cJSON_AddNullToObject(out, "last_error");
    return out;
}
