/*  daemon.c — ezshmd's event loop, data path and control callbacks. */
#include "daemon.h"
#include "control_server.h"
#include "counters.h"
#include "declaration.h"
#include "reload.h"
#include "ezshm_utf8.h"
#include "ezshm.h"
#include "reaper.h"
#include "stream.h"
#include "log.h"
#include "subscriber.h"
#include "wire.h"
#include "wire_base64.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
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

/*  Bytes of ring pages reserved per stream per turn of the loop: ≈ 60 µs of allocation,
    zeroing and page tables, so a message of another stream waits at most that long. */
#define RESERVE_SLICE_BYTES (128u * 1024u)

/*  File descriptors a stream holds for its life: its header's (the writer's flock) and its
    ring's. Those kept free for everything else: ZeroMQ's (a mailbox per socket, the I/O and
    reaper threads, a listener per bound endpoint, one per connected peer — libzmq aborts
    when an accept finds none), the signalfd, the reaper's pipe, and the one or two a ring
    rebuild, an aux publication or a ring waiting for the reaper hold for a moment. */
#define FDS_PER_STREAM 2
#define FD_RESERVE 48

struct daemon_t {
    stream_t        **streams;       /* the table, max_streams slots, n_streams used */
    bool             *declared;      /* per slot: the stream came from a declaration (reload owns it) */
    size_t            n_streams;
    stream_t         *last;          /* the last stream a message went to: rig traffic repeats */
    settings_t        defaults;      /* what auto-mode streams start from */
    subscriber_t     *sub;
    control_server_t *control;
    counters_t        unrouted;      /* messages no stream took, by reason */
    bool              max_logged;    /* the stream limit is logged once */
    size_t            fd_streams;    /* streams the file descriptor limit leaves room for */
    bool              fd_logged;     /* that limit is logged once */
    cJSON            *applied;       /* collects lifecycle events during an update */
    double            started;
    bool              quit;
    int               signal_fd;     /* signalfd of SIGINT, SIGTERM, SIGHUP */
    int               stop_signal;   /* the signal that ended the loop, 0 if none */
    daemon_reload_fn *reload;
    void             *reload_arg;
    bool              reserving;     /* a ring was created: its pages are being reserved */
    reaper_t         *reaper;        /* unmaps dropped rings off the loop */
};

/*  ---- the stream table ------------------------------------------------------------ */

/*  A stream dropped a ring: freeing its pages is the reaper's, not the loop's. */
static void
s_retire(void *arg, void *addr, size_t size, int fd)
{
    daemon_t *self = arg;
    reaper_retire(self->reaper, addr, size, fd);
}

static void
s_on_stream_event(void *arg, stream_t *stream, ezshm_event_t code, uint32_t generation)
{
    daemon_t *self = arg;
    if (code == EZSHM_EVENT_BUFFER_RESET)
        self->reserving = true;
    const char *event = ezshm_event_name(code);
    if (self->applied)
        cJSON_AddItemToArray(self->applied, cJSON_CreateString(event));
    log_msg(SETTINGS_LOG_DEBUG, "stream '%s': %s (generation %u)", stream_name(stream), event, generation);
    if (self->control) {
        cJSON *fields = cJSON_CreateObject();
        cJSON_AddNumberToObject(fields, "generation", generation == EZSHM_GENERATION_NONE ? -1.0 : generation);
        cJSON_AddStringToObject(fields, "shmem_name", stream_name(stream));
        cJSON_AddStringToObject(fields, "stream", stream_name(stream));
        control_server_publish_event(self->control, event, fields);
        cJSON_Delete(fields);
    }
}

/*  Before a stream creates a ring or publishes its metadata: its own cap, then the total
    across streams. A stream's share is its ring plus its aux (metadata) segment; the one it
    replaces does not count (configure drops the old ring first, and the old aux goes once
    the new one is out). */
static int
s_budget(void *arg, stream_t *stream, uint64_t ring_bytes, uint64_t aux_bytes, char *errbuf, size_t errlen)
{
    daemon_t *self = arg;
    const settings_t *s = stream_settings(stream);
    uint64_t own = ring_bytes + aux_bytes;
    if (s->max_stream_bytes > 0 && own > (uint64_t) s->max_stream_bytes) {
        snprintf(errbuf, errlen, "stream '%s': a ring of %llu bytes and metadata of %llu bytes exceed its "
                 "max_stream_bytes (%lld)", stream_name(stream), (unsigned long long) ring_bytes,
                 (unsigned long long) aux_bytes, (long long) s->max_stream_bytes);
        return INGEST_ERR_TOO_BIG;
    }
    uint64_t others = 0;
    for (size_t i = 0; i < self->n_streams; i++)
        if (self->streams[i] != stream)
            others += stream_ring_bytes(self->streams[i]) + stream_aux_bytes(self->streams[i]);
    if (others + own > (uint64_t) s->max_buffer_bytes) {
        snprintf(errbuf, errlen, "stream '%s': a ring of %llu bytes and metadata of %llu bytes do not fit in "
                 "max_buffer_bytes (%lld, %llu used by the other %zu streams)", stream_name(stream),
                 (unsigned long long) ring_bytes, (unsigned long long) aux_bytes, (long long) s->max_buffer_bytes,
                 (unsigned long long) others, self->n_streams - 1);
        return INGEST_ERR_TOO_BIG;
    }
    return DROP_OK;
}

/*  The open file descriptors of this process (those /proc/self/fd lists, less the one that
    reads it); 3 when it cannot be read. */
static size_t
s_fds_open(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return 3;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir));)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n ? n - 1 : 0;
}

/*  How many streams the file descriptor limit leaves room for (fd_streams), before anything
    of the daemon's is open: a stream beyond it is refused (fd_limit) rather than left to
    make ZeroMQ abort. The soft limit is raised first, up to the hard one, as far as
    max_streams needs. Logged when it holds fewer than max_streams. */
static void
s_fd_budget(daemon_t *self)
{
    size_t open = s_fds_open(), want = (size_t) self->defaults.max_streams;
    rlim_t need = (rlim_t) (open + FD_RESERVE + want * FDS_PER_STREAM);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        self->fd_streams = want;
        return;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        struct rlimit raised = {rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max, rl.rlim_max};
        if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    rlim_t kept = (rlim_t) (open + FD_RESERVE);
    rlim_t spare = rl.rlim_cur == RLIM_INFINITY ? need - kept : rl.rlim_cur > kept ? rl.rlim_cur - kept : 0;
    self->fd_streams = (size_t) (spare / FDS_PER_STREAM);
    if (self->fd_streams < want)
        log_msg(SETTINGS_LOG_WARNING, "RLIMIT_NOFILE %llu (%zu open) leaves file descriptors for %zu of max_streams "
                "(%zu) streams: more are refused (fd_limit); raise it with ulimit -n or LimitNOFILE=",
                (unsigned long long) rl.rlim_cur, open, self->fd_streams, want);
}

/*  Stream name (NULL: a new topic's) refused for want of file descriptors, the reason in err. */
static settings_code_t
s_fd_refuse(const daemon_t *self, const char *name, settings_error_t *err)
{
    return settings_fail(err, SETTINGS_ERR_FD_LIMIT, "%s%.200s%s refused: the file descriptor limit (RLIMIT_NOFILE) "
                         "leaves room for %zu streams (%d each, %d kept for ZeroMQ and the daemon)",
                         name ? "stream '" : "the stream of a new topic", name ? name : "", name ? "'" : "",
                         self->fd_streams, FDS_PER_STREAM, FD_RESERVE);
}

/*  Auto mode: true (counted as fd_limit, logged once) when a new topic's stream would go
    beyond the file descriptor budget. */
static bool
s_fd_refuse_topic(daemon_t *self)
{
    if (self->n_streams < self->fd_streams)
        return false;
    counters_count(&self->unrouted, ROUTE_ERR_FD_LIMIT, "a new topic beyond the file descriptor limit");
    settings_error_t err;
    if (!self->fd_logged && s_fd_refuse(self, NULL, &err))
        log_msg(SETTINGS_LOG_WARNING, "%s: messages of new topics are counted under fd_limit and dropped",
                err.message);
    self->fd_logged = true;
    return true;
}

static stream_t *
s_find_name(daemon_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_streams; i++)
        if (strcmp(stream_name(self->streams[i]), name) == 0)
            return self->streams[i];
    return NULL;
}

static stream_t *
s_find_topic(daemon_t *self, const void *topic, size_t len)
{
    if (self->last && stream_matches(self->last, topic, len))
        return self->last;
    for (size_t i = 0; i < self->n_streams; i++)
        if (stream_matches(self->streams[i], topic, len))
            return self->last = self->streams[i];
    return NULL;
}

static stream_t *
s_find_settings(daemon_t *self, const settings_t *settings)
{
    for (size_t i = 0; i < self->n_streams; i++)
        if (stream_settings(self->streams[i]) == settings)
            return self->streams[i];
    return NULL;
}

/*  A stream named name (other than except) must not share a segment name with any stream of
    the table: "x/buffer0" is the ring of "x", "x/meta2" its aux, for any generation, so the
    names are reserved by pattern, whatever generation "x" has reached. SETTINGS_OK, or
    SETTINGS_ERR_NAME_CONFLICT with err naming the other stream. */
static settings_code_t
s_name_conflict(const daemon_t *self, const char *name, const stream_t *except, settings_error_t *err)
{
    for (size_t i = 0; i < self->n_streams; i++) {
        const char *other = stream_name(self->streams[i]);
        if (self->streams[i] != except && strcmp(other, name) != 0 && ezshm_names_collide(name, other))
            return settings_fail(err, SETTINGS_ERR_NAME_CONFLICT, "stream '%.200s' refused: its segment names "
                                 "collide with those of stream '%.200s' (a stream's name plus /buffer<n>, "
                                 "/meta<n>, /clock<n> or /wake<n> names its segments)", name, other);
    }
    return SETTINGS_OK;
}

/*  A new stream in the table: settings resolved (a name), topic NULL = every topic. The limit
    and the name and topic being free are checked here too, so every path obeys them. */
static settings_code_t
s_add(daemon_t *self, const void *topic, size_t len, const settings_t *settings, settings_error_t *err)
{
    if (self->n_streams >= (size_t) self->defaults.max_streams)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE, "stream '%.200s' refused: the daemon already has "
                             "max_streams (%d) streams", settings->shmem_name, self->defaults.max_streams);
    if (self->n_streams >= self->fd_streams)
        return s_fd_refuse(self, settings->shmem_name, err);
    if (s_find_name(self, settings->shmem_name))
        return settings_fail(err, SETTINGS_ERR_STREAM_EXISTS, "stream '%.200s' already exists", settings->shmem_name);
    if (s_name_conflict(self, settings->shmem_name, NULL, err) != SETTINGS_OK)
        return err->code;
    for (size_t i = 0; i < self->n_streams; i++)
        if (stream_takes_all(self->streams[i]) || !topic
            || stream_matches(self->streams[i], topic, len))
            return settings_fail(err, SETTINGS_ERR_STREAM_EXISTS, "stream '%.200s' refused: its topic already "
                                 "goes to stream '%.200s'", settings->shmem_name, stream_name(self->streams[i]));
    stream_hooks_t hooks = {.on_event = s_on_stream_event, .budget = s_budget, .retire = s_retire, .arg = self};
    char why[SETTINGS_MSG_MAX];
    int shm_rc;
    stream_t *stream = stream_new(topic, len, settings, &hooks, &shm_rc, why, sizeof why);
    if (!stream)
        return settings_fail(err, shm_rc == EZSHM_ERR_INUSE ? SETTINGS_ERR_NAME_IN_USE : SETTINGS_ERR_APPLY_FAILED,
                             "%s", why);
    self->declared[self->n_streams] = false;
    self->streams[self->n_streams++] = stream;
    /*  At startup the streams are logged once everything is up (a failed start logs one line). */
    if (self->control)
        stream_log(stream);
    return SETTINGS_OK;
}

static void
s_remove(daemon_t *self, stream_t *stream)
{
    for (size_t i = 0; i < self->n_streams; i++)
        if (self->streams[i] == stream) {
            memmove(&self->streams[i], &self->streams[i + 1], (self->n_streams - i - 1) * sizeof *self->streams);
            memmove(&self->declared[i], &self->declared[i + 1], (self->n_streams - i - 1) * sizeof *self->declared);
            self->n_streams--;
            break;
        }
    if (self->last == stream)
        self->last = NULL;
    stream_destroy(&stream);
}

/*  The name an auto-mode stream gets: the template with {topic} replaced by the topic, which
    must then be a valid shmem_name (UTF-8, no NUL, at most 255 bytes). */
static int
s_auto_name(const daemon_t *self, const void *topic, size_t len, char *out, size_t size)
{
    const char *tpl = self->defaults.stream_per_topic;
    const char *at = strstr(tpl, "{topic}");
    size_t head = (size_t) (at - tpl), tail = strlen(at + 7);
    if (head + len + tail >= size || memchr(topic, '\0', len) || !ezshm_utf8_valid(topic, len))
        return -1;
    memcpy(out, tpl, head);
    memcpy(out + head, topic, len);
    memcpy(out + head + len, at + 7, tail + 1);
    return 0;
}

/*  Auto mode: a stream for a topic seen for the first time, or NULL (counted). */
static stream_t *
s_auto_stream(daemon_t *self, const void *topic, size_t len)
{
    if (self->n_streams >= (size_t) self->defaults.max_streams) {
        counters_count(&self->unrouted, ROUTE_ERR_MAX_STREAMS, "a new topic beyond max_streams");
        if (!self->max_logged)
            log_msg(SETTINGS_LOG_WARNING, "max_streams (%d) reached: messages of new topics are counted under "
                    "max_streams and dropped", self->defaults.max_streams);
        self->max_logged = true;
        return NULL;
    }
    settings_t settings = self->defaults;
    settings_error_t err;
    if (s_fd_refuse_topic(self))
        return NULL;
    if (s_auto_name(self, topic, len, settings.shmem_name, sizeof settings.shmem_name) != 0) {
        counters_drop(&self->unrouted, ROUTE_ERR_STREAM_FAILED,
                      "the topic gives no valid shmem_name (UTF-8 without NUL, at most 255 bytes)");
        return NULL;
    }
    settings_code_t rc = s_add(self, topic, len, &settings, &err);
    if (rc != SETTINGS_OK) {
        /*  A topic whose stream would take (or give up) another stream's segments, here or in
            another writer, is an attack or a naming mistake, not a failure of ours. */
        bool conflict = rc == SETTINGS_ERR_NAME_CONFLICT || rc == SETTINGS_ERR_NAME_IN_USE;
        counters_drop(&self->unrouted, conflict ? ROUTE_ERR_NAME_CONFLICT : ROUTE_ERR_STREAM_FAILED, err.message);
        return NULL;
    }
    return self->streams[self->n_streams - 1];
}

/*  One message to its stream by exact topic; a message no stream takes touches no ring. */
static void
s_route(daemon_t *self, const wire_frame_t *frames, size_t nframes)
{
    const void *topic;
    size_t len;
    /*  A stream taking every topic is the only stream: it sees (and counts) every message. */
    if (self->n_streams == 1 && stream_takes_all(self->streams[0])) {
        stream_process(self->streams[0], frames, nframes);
        return;
    }
    self->unrouted.received++;
    int rc = wire_topic(frames, nframes, &topic, &len);
    if (rc != DROP_OK) {
        counters_drop(&self->unrouted, rc, rc == WIRE_ERR_FRAME_COUNT ? "not 1, 2 or 3 frames"
                                                                      : "single-part frame has no '{'");
        return;
    }
    stream_t *stream = s_find_topic(self, topic, len);
    if (!stream && *self->defaults.stream_per_topic)
        stream = s_auto_stream(self, topic, len);
    else if (!stream)
        counters_drop(&self->unrouted, ROUTE_ERR_NO_STREAM, "the topic matches no stream");
    if (stream) {
        self->unrouted.received--;
        stream_process(stream, frames, nframes);
    }
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
        s_route(self, frames, nframes);
        /*  Every message: one slow message (a rebuild) is all the bound may overshoot by;
            the clock is a vDSO read, tens of ns against microseconds per message. */
        if (ezshm_time_mono() >= deadline)
            break;
    }
    return true;
}

/*  ---- control callbacks ---------------------------------------------------------- */

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
    stream_t *stream = s_find_settings(self, old);
    settings_error_t conflict;
    if (stream && strcmp(old->shmem_name, next->shmem_name) != 0
        && s_name_conflict(self, next->shmem_name, stream, &conflict) != SETTINGS_OK) {
        snprintf(err, errlen, "%s", conflict.message);
        return conflict.code;
    }
    /*  Resubscribing is the step that can fail on bad input (an endpoint), so it goes
        first: when it fails nothing else has been touched. */
    if (actions & SETTINGS_ACT_RESUBSCRIBE) {
        if (subscriber_update(self->sub, next, err, errlen) != 0)
            return -1;
        cJSON_AddItemToArray(applied, cJSON_CreateString("resubscribed"));
    }
    self->applied = applied;
    int failed = stream ? stream_apply(stream, next, actions, err, errlen) : 0;
    self->applied = NULL;
    if (failed) {
        s_undo_subscription(self, old, actions);
        return failed;
    }
    /*  The shared fields are the daemon's: every stream and the defaults keep the new ones. */
    settings_copy_shared(&self->defaults, next);
    for (size_t i = 0; i < self->n_streams; i++)
        stream_share(self->streams[i], next);
    if (actions & SETTINGS_ACT_LOG_LEVEL)
        log_set_level(next->log_level);
    log_msg(SETTINGS_LOG_INFO, "settings updated: shmem_name '%s', buf_dur %g s, axis '%s'", next->shmem_name,
            next->buf_dur, next->axis);
    return 0;
}

static const settings_t *
s_find(void *ctx, const char *name, size_t *count)
{
    daemon_t *self = ctx;
    *count = self->n_streams;
    if (name) {
        stream_t *stream = s_find_name(self, name);
        return stream ? stream_settings(stream) : NULL;
    }
    return self->n_streams == 1 ? stream_settings(self->streams[0]) : NULL;
}

static settings_code_t
s_add_stream(void *ctx, const char *topic, const settings_t *settings, cJSON *applied, settings_error_t *err)
{
    daemon_t *self = ctx;
    self->applied = applied;
    settings_code_t rc = s_add(self, topic, strlen(topic), settings, err);
    self->applied = NULL;
    return rc;
}

static settings_code_t
s_remove_stream(void *ctx, const settings_t *which, cJSON *applied, settings_error_t *err)
{
    daemon_t *self = ctx;
    stream_t *stream = s_find_settings(self, which);
    if (!stream)
        return settings_fail(err, SETTINGS_ERR_UNKNOWN_STREAM, "no such stream");
    log_msg(SETTINGS_LOG_INFO, "stream '%s' removed", stream_name(stream));
    self->applied = applied;
    s_remove(self, stream);
    self->applied = NULL;
    return SETTINGS_OK;
}

static void
s_list(void *ctx, cJSON *streams)
{
    daemon_t *self = ctx;
    for (size_t i = 0; i < self->n_streams; i++) {
        cJSON *item = cJSON_CreateObject();
        if (item && cJSON_AddItemToArray(streams, item))
            stream_summary(self->streams[i], item);
        else
            cJSON_Delete(item);
    }
}

static void
s_status(void *ctx, const settings_t *which, cJSON *out)
{
    daemon_t *self = ctx;
    cJSON_AddStringToObject(out, "version", EZSHM_VERSION);
    cJSON_AddNumberToObject(out, "uptime", ezshm_time_mono() - self->started);
    stream_t *stream = which ? s_find_settings(self, which) : NULL;
    if (stream) {
        cJSON *object = cJSON_AddObjectToObject(out, "stream");
        if (object)
            stream_status(stream, object);
        cJSON_AddItemToObject(out, "counters", counters_to_json(stream_counters(stream)));
        cJSON_AddItemToObject(out, "transport_delay", stream_delay_json(stream));
        cJSON_AddNumberToObject(out, "native_header_cache_hits", (double) stream_cache_hits(stream));
        cJSON_AddNumberToObject(out, "axes_left_out_of_metadata", (double) stream_axes_left_out(stream));
        cJSON_AddNumberToObject(out, "attrs_left_out_of_metadata", (double) stream_attrs_left_out(stream));
    }
    else {
        cJSON *streams = cJSON_AddArrayToObject(out, "streams");
        for (size_t i = 0; streams && i < self->n_streams; i++) {
            cJSON *item = cJSON_CreateObject();
            if (!item || !cJSON_AddItemToArray(streams, item)) {
                cJSON_Delete(item);
                break;
            }
            stream_status(self->streams[i], item);
            cJSON_AddItemToObject(item, "counters", counters_to_json(stream_counters(self->streams[i])));
            cJSON_AddItemToObject(item, "transport_delay", stream_delay_json(self->streams[i]));
        }
    }
    /*  Messages that reached no stream (routing drops) are the daemon's. */
    cJSON_AddItemToObject(out, "unrouted", counters_to_json(&self->unrouted));
    cJSON *subs = cJSON_AddObjectToObject(out, "subscriptions");
    subscriber_status(self->sub, subs);
}

static control_health_t
s_health(void *ctx, const settings_t *which, char *detail, size_t detail_len)
{
    daemon_t *self = ctx;
    stream_t *stream = which ? s_find_settings(self, which) : NULL;
    if (stream)
        return stream_health(stream, detail, detail_len);
    /*  The daemon: the worst of its streams (an error names its stream). */
    control_health_t worst = CONTROL_HEALTH_IDLE;
    for (size_t i = 0; i < self->n_streams && worst != CONTROL_HEALTH_ERROR; i++) {
        char line[SETTINGS_MSG_MAX] = "";
        control_health_t h = stream_health(self->streams[i], line, sizeof line);
        if (h == CONTROL_HEALTH_ERROR)
            snprintf(detail, detail_len, "stream '%s': %s", stream_name(self->streams[i]), line);
        if (h == CONTROL_HEALTH_ERROR || (h == CONTROL_HEALTH_INGESTING && worst == CONTROL_HEALTH_IDLE))
            worst = h;
    }
    return worst;
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

/*  ---- reload (SIGHUP) ------------------------------------------------------------- */

/*  The reloaded settings as an update through the control server, so a reload obeys exactly
    the rules of a control request (validation, startup-only fields, lifecycle). The single
    stream taking every topic takes the per-stream fields too (without a configured name it
    keeps its own: a generated name is the stream's until restart); with a stream table only
    the shared fields go here, the streams are reconciled after. 0, or -1 (logged: nothing
    changed). */
static int
s_reload_settings(daemon_t *self, const settings_t *fresh, bool one)
{
    cJSON *fields = one ? settings_to_json(fresh) : settings_part_to_json(fresh, false);
    if (fields && !*fresh->shmem_name)
        cJSON_DeleteItemFromObject(fields, "shmem_name");
    const char *target = self->n_streams ? stream_name(self->streams[0]) : NULL;
    cJSON *reply = fields ? control_server_update(self->control, target, fields) : NULL;
    cJSON *error = cJSON_GetObjectItem(reply, "error");
    int rc = cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")) ? 0 : -1;
    if (rc != 0)
        log_msg(SETTINGS_LOG_ERROR, "reload refused, nothing changed: %s",
                error ? cJSON_GetStringValue(cJSON_GetObjectItem(error, "message")) : "out of memory");
    cJSON_Delete(reply);
    cJSON_Delete(fields);
    return rc;
}

/*  reload_own_fn: the stream named name is a declared one from now on. */
static void
s_own(void *arg, const char *name)
{
    daemon_t *self = arg;
    for (size_t i = 0; i < self->n_streams; i++)
        if (strcmp(stream_name(self->streams[i]), name) == 0)
            self->declared[i] = true;
}

/*  The declared streams made what decls declares (declaration_plan), step by step through
    the control server; the running names are copied first, as removals free the streams. */
static void
s_reconcile(daemon_t *self, const settings_t *fresh, const declaration_t *decls, size_t n)
{
    size_t n_running = self->n_streams, n_steps = 0;
    declaration_running_t *running = calloc(n_running + 1, sizeof *running);
    char (*names)[SETTINGS_NAME_MAX + 1] = calloc(n_running + 1, sizeof *names);
    declaration_step_t *steps = calloc(n_running + n + 1, sizeof *steps);
    for (size_t i = 0; running && names && i < n_running; i++) {
        snprintf(names[i], sizeof names[i], "%s", stream_name(self->streams[i]));
        running[i] = (declaration_running_t) {names[i], stream_topic(self->streams[i]),
                                              stream_settings(self->streams[i]), self->declared[i]};
    }
    char summary[2048];
    if (!running || !names || !steps || declaration_plan(decls, n, fresh, running, n_running, steps, &n_steps) != 0)
        snprintf(summary, sizeof summary, "reload: out of memory, streams unchanged");
    else
        reload_streams(self->control, fresh, decls, running, n_running, steps, n_steps, s_own, self, summary,
                       sizeof summary);
    log_msg(SETTINGS_LOG_INFO, "%s", summary);
    free(steps);
    free(names);
    free(running);
}

/*  SIGHUP: flags, environment and config file read again. A broken declaration changes
    nothing; otherwise the shared fields are applied (a refusal changes nothing either), the
    per-stream defaults taken for streams made later, then the declared streams reconciled.
    Streams made over control or by auto mode are left alone unless a declaration names them.
    Switching between the single stream and a stream table needs a restart. */
static void
s_reload(daemon_t *self)
{
    if (!self->reload) {
        log_msg(SETTINGS_LOG_WARNING, "SIGHUP ignored: no reload source");
        return;
    }
    settings_t fresh;
    cJSON *decls = NULL;
    char err[512] = "";
    bool one = self->n_streams == 1 && stream_takes_all(self->streams[0]);
    declaration_t *list = NULL;
    size_t n = 0;
    if (self->reload(self->reload_arg, &fresh, &decls, err, sizeof err) != 0
        || (!one && declaration_parse(&fresh, decls, (size_t) fresh.max_streams, &list, &n, err, sizeof err) != 0)) {
        log_msg(SETTINGS_LOG_ERROR, "reload refused, nothing changed: %s", err);
        cJSON_Delete(decls);
        return;
    }
    if (one && cJSON_GetArraySize(decls) > 0)
        log_msg(SETTINGS_LOG_WARNING, "reload: streams are declared, but this ezshmd runs one stream taking every "
                "topic: restart it to serve them");
    bool applied = s_reload_settings(self, &fresh, one) == 0;
    /*  Streams made later (auto mode, add_stream) start from the reloaded per-stream defaults;
        the shared fields of fresh are in force by now. */
    if (applied && !one) {
        self->defaults = fresh;
        control_server_set_defaults(self->control, &fresh);
    }
    if (applied && one)
        log_msg(SETTINGS_LOG_INFO, "reloaded settings on SIGHUP");
    else if (applied && n == 0 && !*fresh.stream_per_topic)
        log_msg(SETTINGS_LOG_WARNING, "reload: no stream is declared, which means one stream taking every topic: "
                "restart ezshmd for that; the streams are left as they are");
    else if (applied)
        s_reconcile(self, &fresh, list, n);
    free(list);
    cJSON_Delete(decls);
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

static void
s_log_reclaimed(void *arg, const char *message)
{
    (void) arg;
    log_msg(SETTINGS_LOG_WARNING, "%s", message);
}

/*  What writers killed before this start left (a header renamed away before a kill -9, a
    temporary header), removed before any stream is made: the flock says who is alive. */
static void
s_reclaim_dead(void)
{
    unsigned removed = 0;
    int rc = ezshm_writer_reclaim_dead(s_log_reclaimed, NULL, &removed);
    if (rc != EZSHM_OK)
        log_msg(SETTINGS_LOG_WARNING, "cannot look for segments dead writers left in %s: %s", ezshm_segment_dir(),
                ezshm_strerror(rc));
    else if (removed)
        log_msg(SETTINGS_LOG_WARNING, "reclaimed %u header%s dead writers left in %s", removed, removed == 1 ? "" : "s",
                ezshm_segment_dir());
}

/*  The streams declared at startup (declaration.h), starting from the daemon's settings.
    Without any, and without auto mode, one stream takes every topic (ezshmd's single-stream
    flags). */
static int
s_declare(daemon_t *self, const settings_t *settings, const cJSON *decls, char *err, size_t errlen)
{
    settings_error_t e;
    if (cJSON_GetArraySize(decls) == 0 && !*settings->stream_per_topic) {
        settings_t resolved = *settings;
        if (settings_resolve(&resolved) != 0)
            return snprintf(err, errlen, "could not generate a shmem_name"), -1;
        if (s_add(self, NULL, 0, &resolved, &e) != SETTINGS_OK)
            return snprintf(err, errlen, "%s", e.message), -1;
        return 0;
    }
    /*  With a stream table the streams name themselves: a configured name would be ignored
        silently otherwise. */
    if (*settings->shmem_name)
        log_msg(SETTINGS_LOG_WARNING, "shmem_name '%s' is not used: with --stream/streams/--stream-per-topic "
                "every stream has its own name", settings->shmem_name);
    declaration_t *list;
    size_t n;
    if (declaration_parse(settings, decls, (size_t) settings->max_streams, &list, &n, err, errlen) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        settings_t s;
        if (declaration_settings(&list[i], settings, NULL, &s, &e) != SETTINGS_OK
            || s_add(self, list[i].topic, strlen(list[i].topic), &s, &e) != SETTINGS_OK)
            rc = ezshm_fail(err, errlen, -1, "streams[%zu]: %s", i, e.message);
        else
            self->declared[self->n_streams - 1] = true;
    }
    free(list);
    return rc;
}

daemon_t *
daemon_new(const settings_t *settings, const cJSON *streams, char *err, size_t errlen)
{
    daemon_t *self = calloc(1, sizeof *self);
    if (self) {
        self->streams = calloc((size_t) settings->max_streams, sizeof *self->streams);
        self->declared = calloc((size_t) settings->max_streams, sizeof *self->declared);
    }
    if (!self || !self->streams || !self->declared) {
        if (self) {
            free(self->streams);
            free(self->declared);
        }
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->signal_fd = -1;
    self->started = ezshm_time_mono();
    self->defaults = *settings;
    log_set_level(settings->log_level);
    s_fd_budget(self);
    /*  Before any stream: their dropped rings go to it (the caller blocked the signals). */
    if (!(self->reaper = reaper_new(err, errlen))) {
        daemon_destroy(&self);
        return NULL;
    }
    s_reclaim_dead();
    /*  Stream names are decided here, once (settings_resolve generates one if none was set);
        from then on each stream holds its settings in force. */
    if (s_declare(self, settings, streams, err, errlen) != 0) {
        daemon_destroy(&self);
        return NULL;
    }
    self->sub = subscriber_new(settings, err, errlen);
    if (!self->sub) {
        daemon_destroy(&self);
        return NULL;
    }
    control_callbacks_t callbacks = {s_apply, s_status, s_health, s_quit, s_find, s_add_stream, s_remove_stream,
                                     s_list};
    /*  The server's settings are the daemon's: with one stream taking every topic, its own. */
    const settings_t *served = self->n_streams == 1 && stream_takes_all(self->streams[0])
                                   ? stream_settings(self->streams[0]) : settings;
    self->control = control_server_new(served, &callbacks, self, err, errlen);
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
    for (size_t i = 0; i < self->n_streams; i++)
        stream_log(self->streams[i]);
    log_msg(SETTINGS_LOG_INFO, "%zu stream%s%s, control %s, base64 %s", self->n_streams,
            self->n_streams == 1 ? "" : "s", *settings->stream_per_topic ? " (more by topic)" : "",
            settings->control, wire_base64_path_name(wire_base64_selected()));
    return self;
}

/*  Rings are created sparse: reserving a 2 MB ring's pages takes ~1.5 ms, which inside a
    rebuild would hold up every other stream's messages. They are reserved here instead, a
    slice per stream per turn of the loop, between batches. False once none is left. */
static bool
s_reserve_rings(daemon_t *self)
{
    bool more = false;
    for (size_t i = 0; i < self->n_streams; i++)
        more |= stream_reserve(self->streams[i], RESERVE_SLICE_BYTES);
    return more;
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
        if (poll(fds, 3, sub_more || control_more || self->reserving ? 0 : -1) < 0) {
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
        if (self->reserving)
            self->reserving = s_reserve_rings(self);
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
    /*  The streams first: their writers' last events ("buffer cleanup", "meta cleanup",
        "close") still go out on the events socket, which lingers to deliver them. */
    while (self->n_streams)
        s_remove(self, self->streams[self->n_streams - 1]);
    reaper_destroy(&self->reaper);
    free(self->streams);
    free(self->declared);
    control_server_destroy(&self->control);
    subscriber_destroy(&self->sub);
    free(self);
    *self_p = NULL;
}
