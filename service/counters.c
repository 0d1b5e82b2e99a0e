/*  counters.c — drop accounting and the status view of it. */
#include "counters.h"
#include "ezshm_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*  Slot of a code: -code; anything outside the enum (a bug) counts in the total only. */
static size_t
s_slot(int code)
{
    return code < 0 && code > -DROP_REASON_COUNT ? (size_t) -code : 0;
}

void
counters_count(counters_t *self, drop_reason_t code, const char *message)
{
    size_t slot = s_slot(code);
    self->dropped[slot]++;
    self->dropped_total++;
    snprintf(self->last_reason, sizeof self->last_reason, "%s", drop_reason_name(code));
    snprintf(self->last_error, sizeof self->last_error, "%s", message);
    self->last_error_time = ezshm_time_wall();
    self->last_error_mono = ezshm_time_mono();
}

void
counters_drop(counters_t *self, drop_reason_t code, const char *message)
{
    counters_count(self, code, message);
    log_limited(&self->limits[s_slot(code)], SETTINGS_LOG_WARNING, "message dropped (%s): %s",
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
    double now = ezshm_time_mono();
    self->last_write_mono = now;
    /*  Rates by whole windows of a second: two additions per message, a division a second. */
    self->window_written++;
    self->window_frames += frames;
    double span = now - self->window_start;
    if (span >= 1.0) {
        bool fresh = span < 2.0;
        self->message_rate = fresh ? (double) self->window_written / span : 0.0;
        self->frame_rate = fresh ? (double) self->window_frames / span : 0.0;
        self->window_start = now;
        self->window_written = self->window_frames = 0;
    }
}

void
counters_rates(const counters_t *self, double *messages, double *frames)
{
    bool live = self->last_write_mono > 0 && ezshm_time_mono() - self->last_write_mono < 2.0;
    *messages = live ? self->message_rate : 0.0;
    *frames = live ? self->frame_rate : 0.0;
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
    double messages, frames;
    counters_rates(self, &messages, &frames);
    cJSON *rates = cJSON_AddObjectToObject(out, "rates");
    cJSON_AddNumberToObject(rates, "messages", messages);
    cJSON_AddNumberToObject(rates, "frames", frames);
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
