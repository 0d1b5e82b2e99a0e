/*  stream.c — one topic's decoder, ingest step, writer, counters and health. */
#include "stream.h"
#include "delay_stats.h"
#include "ingest.h"
#include "log.h"
#include "stream_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  A stream counts as "ingesting" for health while it wrote within this many seconds. */
#define INGESTING_WINDOW 2.0

struct stream_t {
    char            topic[SETTINGS_NAME_MAX + 1];
    size_t          topic_len;
    bool            takes_all;
    settings_t      settings;
    ezshm_writer_t *writer;
    ingest_t       *ingest;
    wire_decoder_t *decoder;
    stream_meta_t  *stream_meta;     /* the aux segment's content (v1 layout) */
    const axisarray_t *message;      /* the message being ingested, for its metadata */
    uint64_t        axes_left_out;   /* wire_decoder_skipped_axes() when last looked at */
    char            left_out_logged[128];
    counters_t      counters;
    delay_stats_t   delays;          /* transport delay of the last messages */
    stream_hooks_t  hooks;
    char            errbuf[256];
};

/*  The one mapping of the settings' header field to the writer's layout. */
static ezshm_layout_t
s_layout(settings_header_t header)
{
    return header == SETTINGS_HEADER_V1 ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY;
}

/*  Why the header of stream name could not be created, naming the writer that holds the
    name (pid from /proc/locks) or the object that sits at the segment's name. */
static void
s_header_error(const char *name, int rc, char *err, size_t errlen)
{
    char segname[EZSHM_SHORT_NAME_SIZE] = "";
    ezshm_header_segment_name(name, segname);
    long pid = 0;
    if (rc == EZSHM_ERR_INUSE && ezshm_claim_holder(name, &pid) == EZSHM_OK && pid > 0)
        snprintf(err, errlen, "shmem_name '%s' is in use by another writer (pid %ld holds the lock on %s/%s)",
                 name, pid, ezshm_segment_dir(), segname);
    else if (rc == EZSHM_ERR_INUSE)
        snprintf(err, errlen, "shmem_name '%s' is in use by another writer (a process outside this pid "
                 "namespace holds the lock on %s/%s)", name, ezshm_segment_dir(), segname);
    else
        snprintf(err, errlen, "cannot create the header of '%s' (%s/%s): %s", name, ezshm_segment_dir(), segname,
                 ezshm_strerror(rc));
}

/*  A failed rename: the writer keeps its old stream unless only the layout changed (then
    it dropped the header first and goes back to the old one). The control code to report. */
static int
s_rename_failed(stream_t *self, const settings_t *old, const settings_t *next, int rc, char *err, size_t errlen)
{
    char why[SETTINGS_MSG_MAX - 64];
    s_header_error(next->shmem_name, rc, why, sizeof why);
    if (ezshm_writer_meta(self->writer)) {
        snprintf(err, errlen, "%s: nothing changed", why);
        return rc == EZSHM_ERR_INUSE ? SETTINGS_ERR_NAME_IN_USE : -1;
    }
    int back = ezshm_writer_rename(self->writer, old->shmem_name, s_layout(old->header));
    snprintf(err, errlen, "%s; %s", why,
             back == EZSHM_OK ? "the old stream was recreated (its ring is rebuilt by the next message)"
                              : "the old stream could not be recreated either: no stream until the next update");
    if (back != EZSHM_OK)
        log_msg(SETTINGS_LOG_ERROR, "%s", err);
    return -1;
}

static void
s_on_writer_event(void *arg, ezshm_event_t code, uint32_t generation)
{
    stream_t *self = arg;
    if (code == EZSHM_EVENT_BUFFER_RESET)
        self->counters.ring_resets++;
    if (self->hooks.on_event)
        self->hooks.on_event(self->hooks.arg, self, code, generation);
}

static void
s_on_writer_retire(void *arg, void *addr, size_t size, int fd)
{
    stream_t *self = arg;
    self->hooks.retire(self->hooks.arg, addr, size, fd);
}

static void
s_on_writer_log(void *arg, const char *message)
{
    stream_t *self = arg;
    log_msg(SETTINGS_LOG_WARNING, "stream '%s': %s", self->settings.shmem_name, message);
}

/*  A new ring beside the stream's published metadata. */
static int
s_budget(void *arg, uint64_t ring_bytes, char *errbuf, size_t errlen)
{
    stream_t *self = arg;
    uint64_t aux = ezshm_writer_aux_bytes(self->writer);
    return self->hooks.budget ? self->hooks.budget(self->hooks.arg, self, ring_bytes, aux, errbuf, errlen) : DROP_OK;
}

/*  New metadata beside the stream's ring (it replaces the metadata published before). */
static int
s_aux_budget(void *arg, size_t aux_bytes, char *errbuf, size_t errlen)
{
    stream_t *self = arg;
    uint64_t ring = ezshm_writer_ring_bytes(self->writer);
    return self->hooks.budget ? self->hooks.budget(self->hooks.arg, self, ring, aux_bytes, errbuf, errlen) : DROP_OK;
}

/*  Once the ring matches the message, before its frames: its metadata (docs/shm-layout.md,
    "metadata before frames"). */
static int
s_publish_meta(void *arg, char *errbuf, size_t errlen)
{
    stream_t *self = arg;
    return stream_meta_update(self->stream_meta, self->writer, self->decoder, self->message,
                              ingest_axis(self->ingest), s_aux_budget, self, errbuf, errlen);
}

stream_t *
stream_new(const void *topic, size_t topic_len, const settings_t *settings, const stream_hooks_t *hooks,
           int *shm_rc, char *err, size_t errlen)
{
    if (shm_rc)
        *shm_rc = EZSHM_OK;
    if (topic && topic_len > SETTINGS_NAME_MAX) {
        snprintf(err, errlen, "a stream topic has at most %d bytes", SETTINGS_NAME_MAX);
        return NULL;
    }
    stream_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->takes_all = topic == NULL;
    if (topic)
        memcpy(self->topic, topic, topic_len);
    self->topic_len = topic ? topic_len : 0;
    self->settings = *settings;
    self->hooks = *hooks;

    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = s_layout(settings->header);
    opt.mode = settings->shm_mode;
    opt.max_ring_bytes = (uint64_t) settings->max_buffer_bytes;
    /*  A rebuild must not stall the other streams of the loop: the daemon reserves the pages
        in slices between batches (stream_reserve). */
    opt.reserve_in_steps = true;
    opt.on_retire = hooks->retire ? s_on_writer_retire : NULL;
    opt.on_event = s_on_writer_event;
    opt.on_log = s_on_writer_log;
    opt.arg = self;
    int rc = ezshm_writer_new(settings->shmem_name, &opt, &self->writer);
    if (shm_rc)
        *shm_rc = rc;
    if (rc != EZSHM_OK) {
        s_header_error(settings->shmem_name, rc, err, errlen);
        stream_destroy(&self);
        return NULL;
    }
    self->decoder = wire_decoder_new();
    self->ingest = ingest_new(self->writer, settings->axis, settings->buf_dur);
    self->stream_meta = stream_meta_new();
    if (!self->decoder || !self->ingest || !self->stream_meta) {
        snprintf(err, errlen, "out of memory");
        stream_destroy(&self);
        return NULL;
    }
    ingest_set_budget(self->ingest, s_budget, self);
    /*  Base64 data is decoded by ingest, straight into the ring when its layout allows. */
    wire_decoder_defer_data(self->decoder, true);
    ingest_set_publish(self->ingest, s_publish_meta, self);
    return self;
}

void
stream_log(const stream_t *self)
{
    log_msg(SETTINGS_LOG_INFO, "stream '%s' (topic %s%s%s, header %s/%s, %s layout)", self->settings.shmem_name,
            self->takes_all ? "" : "'", self->takes_all ? "any" : self->topic, self->takes_all ? "" : "'",
            ezshm_segment_dir(), ezshm_writer_header_segment(self->writer),
            ezshm_layout_name(ezshm_writer_layout(self->writer)));
}

void
stream_destroy(stream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stream_t *self = *self_p;
    ezshm_writer_destroy(&self->writer);
    ingest_destroy(&self->ingest);
    stream_meta_destroy(&self->stream_meta);
    wire_decoder_destroy(&self->decoder);
    free(self);
    *self_p = NULL;
}

bool
stream_matches(const stream_t *self, const void *topic, size_t len)
{
    return self->takes_all || (self->topic_len == len && memcmp(self->topic, topic, len) == 0);
}

bool
stream_takes_all(const stream_t *self)
{
    return self->takes_all;
}

const char *
stream_topic(const stream_t *self)
{
    return self->takes_all ? NULL : self->topic;
}

const settings_t *
stream_settings(const stream_t *self)
{
    return &self->settings;
}

const char *
stream_name(const stream_t *self)
{
    return self->writer ? ezshm_writer_name(self->writer) : self->settings.shmem_name;
}

cJSON *
stream_delay_json(const stream_t *self)
{
    return delay_stats_to_json(&self->delays);
}

uint64_t
stream_axes_left_out(const stream_t *self)
{
    return wire_decoder_skipped_axes(self->decoder, NULL);
}

uint64_t
stream_attrs_left_out(const stream_t *self)
{
    return wire_decoder_attrs_over(self->decoder);
}

uint64_t
stream_cache_hits(const stream_t *self)
{
    return wire_decoder_cache_hits(self->decoder);
}

counters_t *
stream_counters(stream_t *self)
{
    return &self->counters;
}

uint64_t
stream_ring_bytes(const stream_t *self)
{
    return ezshm_writer_ring_bytes(self->writer);
}

uint64_t
stream_aux_bytes(const stream_t *self)
{
    return ezshm_writer_aux_bytes(self->writer);
}

/*  A coordinate axis the metadata cannot carry is no reason to drop the message; it is
    logged once per distinct axis and dtype (the count is in status). */
static void
s_note_left_out_axes(stream_t *self)
{
    const char *why;
    uint64_t n = wire_decoder_skipped_axes(self->decoder, &why);
    if (n == self->axes_left_out)
        return;
    self->axes_left_out = n;
    if (strcmp(why, self->left_out_logged) == 0)
        return;
    snprintf(self->left_out_logged, sizeof self->left_out_logged, "%s", why);
    log_msg(SETTINGS_LOG_WARNING, "stream '%s': %s: left out of the stream metadata (the data still lands)",
            stream_name(self), why);
}

/*  One message: frames → decode → ingest (the ring matched, the metadata published, then the
    frames); every failure is counted under its reason. */
void
stream_process(stream_t *self, const wire_frame_t *frames, size_t nframes)
{
    counters_t *c = &self->counters;
    c->received++;
    const axisarray_t *msg = NULL;
    int rc = wire_decode(self->decoder, frames, nframes, &msg);
    if (rc != DROP_OK) {
        counters_drop(c, rc, wire_decoder_last_error(self->decoder));
        return;
    }
    s_note_left_out_axes(self);
    if (axisarray_has_seq(msg)) {
        size_t tlen;
        const void *topic = axisarray_topic(msg, &tlen);
        counters_seq(c, topic, tlen, axisarray_seq(msg));
    }
    uint64_t n = 0;
    self->message = msg;
    rc = ingest_message(self->ingest, msg, &n, self->errbuf, sizeof self->errbuf);
    self->message = NULL;
    if (rc != DROP_OK) {
        counters_drop(c, rc, self->errbuf);
        return;
    }
    counters_written(c, n, axisarray_nbytes(msg));
    double delay;
    if (ingest_last_delay(self->ingest, &delay))
        delay_stats_add(&self->delays, delay);
}

bool
stream_reserve(stream_t *self, uint64_t max_bytes)
{
    uint64_t pending = 0;
    /*  A failure dropped the ring (the writer logged it): the frames in it are lost to
        readers, one no_space drop that health reports; the next message rebuilds it or is
        counted under no_space with the explanation. */
    int rc = ezshm_writer_reserve(self->writer, max_bytes, &pending);
    if (rc != EZSHM_OK)
        counters_count(&self->counters, rc == EZSHM_ERR_NOSPACE ? INGEST_ERR_NO_SPACE : INGEST_ERR_SHM,
                       "the ring's pages could not be reserved: ring dropped with its frames");
    return rc == EZSHM_OK && pending > 0;
}

int
stream_apply(stream_t *self, const settings_t *next, unsigned actions, char *err, size_t errlen)
{
    const settings_t *old = &self->settings;
    /*  Only a ring-shaping change touches ingest: resetting it for, say, a topic change would
        make a coordinate-axis stream re-estimate its rate and rebuild the ring. */
    bool reshape = actions & (SETTINGS_ACT_RESET_BUFFER | SETTINGS_ACT_RECREATE_META);
    if (reshape && ingest_set_axis(self->ingest, next->axis) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (reshape)
        ingest_set_buf_dur(self->ingest, next->buf_dur);
    if (actions & SETTINGS_ACT_RECREATE_META) {
        int rc = ezshm_writer_rename(self->writer, next->shmem_name, s_layout(next->header));
        if (rc != EZSHM_OK) {
            int failed = s_rename_failed(self, old, next, rc, err, errlen);
            ingest_set_buf_dur(self->ingest, old->buf_dur);
            ingest_set_axis(self->ingest, old->axis);
            return failed;
        }
    }
    else if (actions & SETTINGS_ACT_RESET_BUFFER)
        ezshm_writer_reset_buffer(self->writer);
    self->settings = *next;
    return 0;
}

void
stream_share(stream_t *self, const settings_t *shared)
{
    settings_copy_shared(&self->settings, shared);
}

/*  The ring's dtype and frame shape (the shape without the ring length) into out. */
static void
s_add_shape(const ezshm_meta_t *meta, cJSON *out, bool with_ring)
{
    char dtype[2] = {meta->dtype, '\0'};
    cJSON_AddStringToObject(out, "dtype", dtype);
    cJSON *shape = cJSON_AddArrayToObject(out, "shape");
    for (uint32_t d = with_ring ? 0 : 1; d < meta->ndim && d < EZSHM_MAX_NDIM; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(meta->shape[d]));
    cJSON_AddNumberToObject(out, "srate", meta->srate);
}

/*  The header fields, copied inside the SIGBUS guard (another process may truncate the
    header); NULL without a header. */
static const ezshm_meta_t *
s_snapshot(const stream_t *self, ezshm_meta_t *snap)
{
    return ezshm_writer_snapshot(self->writer, snap) == EZSHM_OK ? snap : NULL;
}

void
stream_status(stream_t *self, cJSON *out)
{
    ezshm_meta_t snap;
    const ezshm_meta_t *meta = s_snapshot(self, &snap);
    cJSON_AddStringToObject(out, "shmem_name", ezshm_writer_name(self->writer));
    if (!self->takes_all)
        cJSON_AddStringToObject(out, "topic", self->topic);
    cJSON_AddStringToObject(out, "header_segment", ezshm_writer_header_segment(self->writer));
    cJSON_AddStringToObject(out, "ring_segment", ezshm_writer_ring_segment(self->writer));
    cJSON_AddStringToObject(out, "segment_dir", ezshm_segment_dir());
    cJSON_AddStringToObject(out, "layout", ezshm_layout_name(ezshm_writer_layout(self->writer)));
    cJSON_AddNumberToObject(out, "meta_generation", ezshm_writer_aux_generation(self->writer));
    cJSON_AddNumberToObject(out, "aux_nbytes", (double) ezshm_writer_aux_bytes(self->writer));
    if (meta) {
        cJSON_AddBoolToObject(out, "bvalid", meta->bvalid != 0);
        cJSON_AddNumberToObject(out, "generation",
                                meta->buffer_generation == EZSHM_GENERATION_NONE ? -1.0 : meta->buffer_generation);
        s_add_shape(meta, out, true);
        char key[EZSHM_MAX_KEYLEN + 1];
        uint32_t key_len = meta->key_len > EZSHM_MAX_KEYLEN ? EZSHM_MAX_KEYLEN : meta->key_len;
        memcpy(key, meta->key, key_len);
        key[key_len] = '\0';
        cJSON_AddStringToObject(out, "key", key);
        cJSON_AddNumberToObject(out, "write_index", (double) meta->write_index);
        cJSON_AddNumberToObject(out, "wrap_counter", (double) meta->wrap_counter);
        cJSON_AddNumberToObject(out, "ring_bytes", (double) ezshm_writer_ring_bytes(self->writer));
    }
    else   /* no header, or it faulted under the snapshot: readers find no valid stream */
        cJSON_AddBoolToObject(out, "bvalid", false);
    uint32_t waiting = 0;
    ezshm_writer_readers_waiting(self->writer, &waiting);
    cJSON_AddNumberToObject(out, "readers_waiting", waiting);
    cJSON_AddNumberToObject(out, "segment_faults", (double) ezshm_writer_faults(self->writer));
}

void
stream_summary(stream_t *self, cJSON *out)
{
    ezshm_meta_t snap;
    const ezshm_meta_t *meta = s_snapshot(self, &snap);
    cJSON_AddStringToObject(out, "stream", ezshm_writer_name(self->writer));
    if (self->takes_all)
        cJSON_AddNullToObject(out, "topic");
    else
        cJSON_AddStringToObject(out, "topic", self->topic);
    if (meta && meta->ndim > 0)
        s_add_shape(meta, out, false);
    double messages, frames;
    counters_rates(&self->counters, &messages, &frames);
    cJSON *rates = cJSON_AddObjectToObject(out, "rates");
    cJSON_AddNumberToObject(rates, "messages", messages);
    cJSON_AddNumberToObject(rates, "frames", frames);
    char detail[SETTINGS_MSG_MAX] = "";
    cJSON_AddStringToObject(out, "health", control_health_name(stream_health(self, detail, sizeof detail)));
    cJSON_AddStringToObject(out, "detail", detail);
}

control_health_t
stream_health(stream_t *self, char *detail, size_t detail_len)
{
    if (!ezshm_writer_meta(self->writer)) {
        snprintf(detail, detail_len, "no header segment");
        return CONTROL_HEALTH_ERROR;
    }
    const counters_t *c = &self->counters;
    double now = ezshm_time_mono();
    /*  Written lately but nothing readable now (the ring was dropped since): not ingesting. */
    bool lost = c->last_error_mono > c->last_write_mono && !ezshm_writer_has_ring(self->writer);
    if (c->last_write_mono > 0 && now - c->last_write_mono < INGESTING_WINDOW && !lost)
        return CONTROL_HEALTH_INGESTING;
    if (lost) {
        snprintf(detail, detail_len, "%s: %s", c->last_reason, c->last_error);
        return CONTROL_HEALTH_ERROR;
    }
    if (c->last_error_mono > 0 && now - c->last_error_mono < INGESTING_WINDOW
        && c->last_error_mono > c->last_write_mono) {
        snprintf(detail, detail_len, "%s: %s", c->last_reason, c->last_error);
        return CONTROL_HEALTH_ERROR;
    }
    return CONTROL_HEALTH_IDLE;
}
