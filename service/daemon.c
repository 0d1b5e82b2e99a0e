/*  daemon.c — ezshmd's event loop, data path and control callbacks. */
#include "daemon.h"
#include "control_server.h"
#include "counters.h"
#include "delay_stats.h"
#include "ezshm.h"
#include "ingest.h"
#include "stream_meta.h"
#include "log.h"
#include "subscriber.h"
#include "wire.h"

#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/*  A message has at most 3 frames; one more slot tells "too many". */
#define MAX_FRAMES 4
/*  Messages drained per wake-up before control and signals get a turn, and the longest a
    batch may take: a batch of slow messages (ring rebuilds) ends early, so control requests
    and SIGTERM are served at least every DRAIN_SECONDS plus one message. */
#define DRAIN_BATCH 1024
#define DRAIN_SECONDS 0.010
/*  Control requests answered per wake-up before data gets a turn. */
#define CONTROL_BATCH 64
/*  A stream counts as "ingesting" for health while it wrote within this many seconds. */
#define INGESTING_WINDOW 2.0

struct daemon_t {
    ezshm_writer_t   *writer;
    ingest_t         *ingest;
    wire_decoder_t   *decoder;
    stream_meta_t    *stream_meta;   /* the aux segment's content (v1 layout) */
    subscriber_t     *sub;
    control_server_t *control;
    counters_t        counters;
    delay_stats_t     delays;        /* transport delay of the last messages */
    cJSON            *applied;       /* collects lifecycle events during an update */
    double            started;
    bool              quit;
    int               signal_fd;     /* signalfd of SIGINT, SIGTERM, SIGHUP */
    int               stop_signal;   /* the signal that ended the loop, 0 if none */
    daemon_reload_fn *reload;
    void             *reload_arg;
    uint64_t          axes_left_out; /* wire_decoder_skipped_axes() when last looked at */
    char              left_out_logged[128];
    char              errbuf[256];
};

/*  The one mapping of the settings' header field to the writer's layout. */
static ezshm_layout_t
s_layout(settings_header_t header)
{
    return header == SETTINGS_HEADER_V1 ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY;
}

static void
s_on_writer_event(void *arg, ezshm_event_t code, uint32_t generation)
{
    daemon_t *self = arg;
    const char *event = ezshm_event_name(code);
    if (code == EZSHM_EVENT_BUFFER_RESET)
        self->counters.ring_resets++;
    if (self->applied)
        cJSON_AddItemToArray(self->applied, cJSON_CreateString(event));
    log_msg(SETTINGS_LOG_DEBUG, "%s (generation %u)", event, generation);
    if (self->control && self->writer) {
        cJSON *fields = cJSON_CreateObject();
        cJSON_AddNumberToObject(fields, "generation", generation == EZSHM_GENERATION_NONE ? -1.0 : generation);
        cJSON_AddStringToObject(fields, "shmem_name", ezshm_writer_name(self->writer));
        control_server_publish_event(self->control, event, fields);
        cJSON_Delete(fields);
    }
}

static void
s_on_writer_log(void *arg, const char *message)
{
    (void) arg;
    log_msg(SETTINGS_LOG_WARNING, "%s", message);
}

/*  A coordinate axis the metadata cannot carry is no reason to drop the message; it is
    logged once per distinct axis and dtype (the count is in status). */
static void
s_note_left_out_axes(daemon_t *self)
{
    const char *why;
    uint64_t n = wire_decoder_skipped_axes(self->decoder, &why);
    if (n == self->axes_left_out)
        return;
    self->axes_left_out = n;
    if (strcmp(why, self->left_out_logged) == 0)
        return;
    snprintf(self->left_out_logged, sizeof self->left_out_logged, "%s", why);
    log_msg(SETTINGS_LOG_WARNING, "%s: left out of the stream metadata (the data still lands)", why);
}

/*  One message: frames → decode → ingest; every failure is counted under its reason. */
static void
s_process(daemon_t *self, const wire_frame_t *frames, size_t nframes)
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
    rc = ingest_message(self->ingest, msg, &n, self->errbuf, sizeof self->errbuf);
    if (rc != DROP_OK) {
        counters_drop(c, rc, self->errbuf);
        return;
    }
    counters_written(c, n, axisarray_nbytes(msg));
    double delay;
    if (ingest_last_delay(self->ingest, &delay))
        delay_stats_add(&self->delays, delay);
    stream_meta_update(self->stream_meta, self->writer, self->decoder, msg, ingest_axis(self->ingest));
}

/*  Drains the SUB socket; true when the batch ran out with messages possibly left. */
static bool
s_drain_sub(daemon_t *self)
{
    wire_frame_t frames[MAX_FRAMES];
    size_t nframes;
    double deadline = ezshm_time_mono() + DRAIN_SECONDS;
    for (int i = 0; i < DRAIN_BATCH; i++) {
        if (subscriber_recv(self->sub, frames, MAX_FRAMES, &nframes) == 0)
            return false;
        s_process(self, frames, nframes);
        /*  Every message: one slow message (a rebuild) is all the bound may overshoot by;
            the clock is a vDSO read, tens of ns against microseconds per message. */
        if (ezshm_time_mono() >= deadline)
            break;
    }
    return true;
}

/*  ---- control callbacks ---------------------------------------------------------- */

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
s_rename_failed(daemon_t *self, const settings_t *old, const settings_t *next, int rc, char *err, size_t errlen)
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

/*  A failed update leaves the old settings in force: the subscription goes back too. */
static void
s_undo_subscription(daemon_t *self, const settings_t *old, unsigned actions)
{
    char err[256];
    if ((actions & SETTINGS_ACT_RESUBSCRIBE) && subscriber_update(self->sub, old, err, sizeof err) != 0)
        log_msg(SETTINGS_LOG_ERROR, "could not restore the subscription: %s", err);
}

static int
s_apply(void *ctx, const settings_t *old, const settings_t *next, unsigned actions, cJSON *applied,
        char *err, size_t errlen)
{
    daemon_t *self = ctx;
    /*  Resubscribing is the step that can fail on bad input (an endpoint), so it goes
        first: when it fails nothing else has been touched. */
    if (actions & SETTINGS_ACT_RESUBSCRIBE) {
        if (subscriber_update(self->sub, next, err, errlen) != 0)
            return -1;
        cJSON_AddItemToArray(applied, cJSON_CreateString("resubscribed"));
    }
    /*  Only a ring-shaping change touches ingest: resetting it for, say, a topic change would
        make a coordinate-axis stream re-estimate its rate and rebuild the ring. */
    bool reshape = actions & (SETTINGS_ACT_RESET_BUFFER | SETTINGS_ACT_RECREATE_META);
    if (reshape && ingest_set_axis(self->ingest, next->axis) != 0) {
        snprintf(err, errlen, "out of memory");
        s_undo_subscription(self, old, actions);
        return -1;
    }
    if (reshape)
        ingest_set_buf_dur(self->ingest, next->buf_dur);
    self->applied = applied;
    int failed = 0;
    if (actions & SETTINGS_ACT_RECREATE_META) {
        int rc = ezshm_writer_rename(self->writer, next->shmem_name, s_layout(next->header));
        if (rc != EZSHM_OK) {
            failed = s_rename_failed(self, old, next, rc, err, errlen);
            ingest_set_buf_dur(self->ingest, old->buf_dur);
            ingest_set_axis(self->ingest, old->axis);
            s_undo_subscription(self, old, actions);
        }
    }
    else if (actions & SETTINGS_ACT_RESET_BUFFER)
        ezshm_writer_reset_buffer(self->writer);
    self->applied = NULL;
    if (failed)
        return failed;
    if (actions & SETTINGS_ACT_LOG_LEVEL)
        log_set_level(next->log_level);
    log_msg(SETTINGS_LOG_INFO, "settings updated: shmem_name '%s', buf_dur %g s, axis '%s'", next->shmem_name,
            next->buf_dur, next->axis);
    return 0;
}

static void
s_status(void *ctx, cJSON *out)
{
    daemon_t *self = ctx;
    /*  A copy taken inside the SIGBUS guard: another process may truncate the header. */
    ezshm_meta_t snap;
    const ezshm_meta_t *meta = ezshm_writer_snapshot(self->writer, &snap) == EZSHM_OK ? &snap : NULL;
    cJSON_AddStringToObject(out, "version", EZSHM_VERSION);
    cJSON_AddNumberToObject(out, "uptime", ezshm_time_mono() - self->started);
    cJSON *stream = cJSON_AddObjectToObject(out, "stream");
    cJSON_AddStringToObject(stream, "shmem_name", ezshm_writer_name(self->writer));
    cJSON_AddStringToObject(stream, "header_segment", ezshm_writer_header_segment(self->writer));
    cJSON_AddStringToObject(stream, "ring_segment", ezshm_writer_ring_segment(self->writer));
    cJSON_AddStringToObject(stream, "segment_dir", ezshm_segment_dir());
    cJSON_AddStringToObject(stream, "layout", ezshm_layout_name(ezshm_writer_layout(self->writer)));
    cJSON_AddNumberToObject(stream, "meta_generation", ezshm_writer_aux_generation(self->writer));
    cJSON_AddNumberToObject(stream, "aux_nbytes", (double) ezshm_writer_aux_bytes(self->writer));
    if (meta) {
        char dtype[2] = {meta->dtype, '\0'};
        cJSON_AddBoolToObject(stream, "bvalid", meta->bvalid != 0);
        cJSON_AddNumberToObject(stream, "generation",
                                meta->buffer_generation == EZSHM_GENERATION_NONE ? -1.0 : meta->buffer_generation);
        cJSON_AddStringToObject(stream, "dtype", dtype);
        cJSON *shape = cJSON_AddArrayToObject(stream, "shape");
        for (uint32_t d = 0; d < meta->ndim && d < EZSHM_MAX_NDIM; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber(meta->shape[d]));
        cJSON_AddNumberToObject(stream, "srate", meta->srate);
        char key[EZSHM_MAX_KEYLEN + 1];
        uint32_t key_len = meta->key_len > EZSHM_MAX_KEYLEN ? EZSHM_MAX_KEYLEN : meta->key_len;
        memcpy(key, meta->key, key_len);
        key[key_len] = '\0';
        cJSON_AddStringToObject(stream, "key", key);
        cJSON_AddNumberToObject(stream, "write_index", (double) meta->write_index);
        cJSON_AddNumberToObject(stream, "wrap_counter", (double) meta->wrap_counter);
        cJSON_AddNumberToObject(stream, "ring_bytes", (double) ezshm_writer_ring_bytes(self->writer));
    }
    else   /* no header, or it faulted under the snapshot: readers find no valid stream */
        cJSON_AddBoolToObject(stream, "bvalid", false);
    cJSON_AddNumberToObject(stream, "segment_faults", (double) ezshm_writer_faults(self->writer));
    cJSON_AddItemToObject(out, "counters", counters_to_json(&self->counters));
    cJSON_AddItemToObject(out, "transport_delay", delay_stats_to_json(&self->delays));
    cJSON *subs = cJSON_AddObjectToObject(out, "subscriptions");
    subscriber_status(self->sub, subs);
    cJSON_AddNumberToObject(out, "native_header_cache_hits", (double) wire_decoder_cache_hits(self->decoder));
    cJSON_AddNumberToObject(out, "axes_left_out_of_metadata",
                            (double) wire_decoder_skipped_axes(self->decoder, NULL));
}

static control_health_t
s_health(void *ctx, char *detail, size_t detail_len)
{
    daemon_t *self = ctx;
    if (!ezshm_writer_meta(self->writer)) {
        snprintf(detail, detail_len, "no header segment");
        return CONTROL_HEALTH_ERROR;
    }
    const counters_t *c = &self->counters;
    double now = ezshm_time_mono();
    if (c->last_write_mono > 0 && now - c->last_write_mono < INGESTING_WINDOW)
        return CONTROL_HEALTH_INGESTING;
    if (c->last_error_mono > 0 && now - c->last_error_mono < INGESTING_WINDOW
        && c->last_error_mono > c->last_write_mono) {
        snprintf(detail, detail_len, "%s: %s", c->last_reason, c->last_error);
        return CONTROL_HEALTH_ERROR;
    }
    return CONTROL_HEALTH_IDLE;
}

static void
s_quit(void *ctx)
{
    daemon_t *self = ctx;
    self->quit = true;
    log_msg(SETTINGS_LOG_INFO, "quit requested over the control socket");
}

/*  ---- signals --------------------------------------------------------------------- */

/*  The signals ezshmd handles, all read from one signalfd inside the loop. They must be
    blocked in every thread: a signal delivered to one of ZeroMQ's I/O threads would otherwise
    set a flag that the main thread, asleep in poll, never sees. */
static void
s_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int
daemon_block_signals(void)
{
    sigset_t set;
    s_signal_set(&set);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

/*  Fresh settings as an update through the control server, so a reload obeys exactly the
    rules of a control request (validation, startup-only fields, lifecycle). */
static void
s_reload(daemon_t *self)
{
    if (!self->reload) {
        log_msg(SETTINGS_LOG_WARNING, "SIGHUP ignored: no reload source");
        return;
    }
    settings_t fresh;
    char err[512] = "";
    if (self->reload(self->reload_arg, &fresh, err, sizeof err) != 0) {
        log_msg(SETTINGS_LOG_ERROR, "reload failed, settings unchanged: %s", err);
        return;
    }
    cJSON *fields = settings_to_json(&fresh);
    /*  No name configured: keep ours (a generated name is the stream's until restart). */
    if (fields && !*fresh.shmem_name)
        cJSON_DeleteItemFromObject(fields, "shmem_name");
    cJSON *reply = fields ? control_server_update(self->control, fields) : NULL;
    cJSON *ok = cJSON_GetObjectItem(reply, "ok");
    cJSON *error = cJSON_GetObjectItem(reply, "error");
    if (cJSON_IsTrue(ok))
        log_msg(SETTINGS_LOG_INFO, "reloaded settings on SIGHUP");
    else
        log_msg(SETTINGS_LOG_ERROR, "reload refused, settings unchanged: %s",
                error ? cJSON_GetStringValue(cJSON_GetObjectItem(error, "message")) : "out of memory");
    cJSON_Delete(reply);
    cJSON_Delete(fields);
}

/*  SIGHUP reloads; SIGINT/SIGTERM record the signal, which ends the loop. */
static void
s_read_signals(daemon_t *self)
{
    struct signalfd_siginfo info;
    while (!self->stop_signal && read(self->signal_fd, &info, sizeof info) == (ssize_t) sizeof info) {
        if (info.ssi_signo == SIGHUP)
            s_reload(self);
        else
            self->stop_signal = (int) info.ssi_signo;
    }
}

void
daemon_set_reload(daemon_t *self, daemon_reload_fn *reload, void *arg)
{
    self->reload = reload;
    self->reload_arg = arg;
}

/*  ---- lifecycle ------------------------------------------------------------------- */

daemon_t *
daemon_new(const settings_t *settings, char *err, size_t errlen)
{
    daemon_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->signal_fd = -1;
    self->started = ezshm_time_mono();
    log_set_level(settings->log_level);

    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = s_layout(settings->header);
    opt.mode = settings->shm_mode;
    opt.max_ring_bytes = (uint64_t) settings->max_buffer_bytes;
    opt.on_event = s_on_writer_event;
    opt.on_log = s_on_writer_log;
    opt.arg = self;
    /*  The stream's name is decided here, once (settings_resolve generates one if none was
        set); from then on the control server holds the settings in force. */
    settings_t resolved = *settings;
    int rc = settings_resolve(&resolved) == 0 ? EZSHM_OK : EZSHM_ERR_SYS;
    if (rc == EZSHM_OK)
        rc = ezshm_writer_new(resolved.shmem_name, &opt, &self->writer);
    if (rc != EZSHM_OK) {
        s_header_error(resolved.shmem_name, rc, err, errlen);
        daemon_destroy(&self);
        return NULL;
    }
    self->decoder = wire_decoder_new();
    self->ingest = ingest_new(self->writer, settings->axis, settings->buf_dur);
    self->stream_meta = stream_meta_new();
    bool made = self->decoder && self->ingest && self->stream_meta;
    self->sub = made ? subscriber_new(settings, err, errlen) : NULL;
    if (!self->sub) {
        if (!made)
            snprintf(err, errlen, "out of memory");
        daemon_destroy(&self);
        return NULL;
    }
    control_callbacks_t callbacks = {s_apply, s_status, s_health, s_quit};
    self->control = control_server_new(&resolved, &callbacks, self, err, errlen);
    sigset_t signals;
    s_signal_set(&signals);
    self->signal_fd = self->control ? signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK) : -1;
    if (self->signal_fd < 0) {
        if (self->control)
            snprintf(err, errlen, "cannot create the signalfd: %s", strerror(errno));
        daemon_destroy(&self);
        return NULL;
    }
    uint64_t free_bytes = 0;
    if (ezshm_segment_free_bytes(&free_bytes) == EZSHM_OK && free_bytes < (uint64_t) settings->max_buffer_bytes)
        log_msg(SETTINGS_LOG_WARNING, "%s has %llu bytes free, less than max_buffer_bytes (%lld): a large ring "
                "may not fit", ezshm_segment_dir(), (unsigned long long) free_bytes,
                (long long) settings->max_buffer_bytes);
    log_msg(SETTINGS_LOG_INFO, "stream '%s' (header %s/%s, %s layout), control %s",
            ezshm_writer_name(self->writer), ezshm_segment_dir(), ezshm_writer_header_segment(self->writer),
            ezshm_layout_name(opt.layout), settings->control);
    return self;
}

/*  The loop: one poll() over the signalfd and the two sockets' ZMQ_FDs, rather than zloop's
    zmq_poll, which asks every socket for ZMQ_EVENTS before and after each sleep — a poll(0) and
    a getpid() per socket per wake-up inside libzmq, about half the syscalls of a message at rig
    rates. The ZMQ_FDs are edge-style (see subscriber_fd), hence the "more" flags: a socket is
    drained when its fd fired, when its last batch was cut short, and — for SUB — after any
    control request or reload, which may have touched the subscription. */
int
daemon_run(daemon_t *self)
{
    struct pollfd fds[3] = {
        {self->signal_fd, POLLIN, 0},
        {subscriber_fd(self->sub), POLLIN, 0},
        {control_server_fd(self->control), POLLIN, 0},
    };
    bool sub_more = true, control_more = true;
    int rc = 0;
    while (!self->quit && !self->stop_signal) {
        if (poll(fds, 3, sub_more || control_more ? 0 : -1) < 0) {
            if (errno == EINTR)
                continue;
            log_msg(SETTINGS_LOG_ERROR, "poll failed: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (fds[0].revents) {
            s_read_signals(self);
            sub_more = true;
        }
        if (fds[2].revents || control_more) {
            int answered = control_server_drain(self->control, CONTROL_BATCH);
            if (answered < 0)
                log_msg(SETTINGS_LOG_WARNING, "control: a reply could not be sent: %s", zmq_strerror(zmq_errno()));
            /*  After a failed reply, look again without sleeping: requests behind it would not
                signal the edge-style fd again. */
            control_more = answered == CONTROL_BATCH || answered < 0;
            sub_more |= answered != 0;
        }
        if (!self->quit && (fds[1].revents || sub_more))
            sub_more = s_drain_sub(self);
    }
    log_msg(SETTINGS_LOG_INFO, "stopping (%s): unlinking segments",
            self->quit ? "quit request" : self->stop_signal ? strsignal(self->stop_signal) : "poll error");
    return rc;
}

void
daemon_destroy(daemon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    daemon_t *self = *self_p;
    if (self->signal_fd >= 0)
        close(self->signal_fd);
    /*  The writer first: its last events ("buffer cleanup", "meta cleanup", "close") still
        go out on the events socket, which lingers to deliver them. */
    ezshm_writer_destroy(&self->writer);
    control_server_destroy(&self->control);
    subscriber_destroy(&self->sub);
    ingest_destroy(&self->ingest);
    stream_meta_destroy(&self->stream_meta);
    wire_decoder_destroy(&self->decoder);
    free(self);
    *self_p = NULL;
}
