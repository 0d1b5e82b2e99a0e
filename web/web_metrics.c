/*  web_metrics.c — see web_metrics.h. */
#include "web_metrics.h"
#include "ezshm.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*  Where a per-stream value lives in a stream's view. */
typedef enum { FROM_STREAM, FROM_COUNTERS, FROM_DELAY } source_t;

typedef struct {
    const char *daemon;      /* its daemon's endpoint                            */
    const char *name;        /* its shmem_name                                   */
    const cJSON *stream;     /* the "stream" fields (shmem_name, generation, ...) */
    const cJSON *counters;
    const cJSON *delay;      /* transport_delay                                 */
    const cJSON *summary;    /* its entry of the streams reply (health), or NULL */
} stream_view_t;

typedef struct {
    const char *name;
    const char *type;
    const char *help;
    source_t source;
    const char *path;        /* dotted; a number indexes an array               */
    double scale;
} family_t;

/*  The plain per-stream families: one number each (docs/http-api.md, "Metrics"). */
static const family_t s_stream_families[] = {
    {"ezshm_stream_messages_received_total", "counter", "Messages taken off the SUB socket for this stream.", FROM_COUNTERS, "received", 1},
    {"ezshm_stream_messages_written_total", "counter", "Messages written into the ring.", FROM_COUNTERS, "written", 1},
    {"ezshm_stream_frames_total", "counter", "Frames (samples along the buffered axis) written into the ring.", FROM_COUNTERS, "frames", 1},
    {"ezshm_stream_bytes_total", "counter", "Payload bytes written into the ring.", FROM_COUNTERS, "bytes", 1},
    {"ezshm_stream_seq_gaps_total", "counter", "Messages missing according to the senders' seq numbers.", FROM_COUNTERS, "seq_gaps", 1},
    {"ezshm_stream_ring_resets_total", "counter", "Rings built (buffer reset events).", FROM_COUNTERS, "ring_resets", 1},
    {"ezshm_stream_last_drop_timestamp_seconds", "gauge", "UNIX time of the last dropped message.", FROM_COUNTERS, "last_error.time", 1},
    {"ezshm_stream_messages_per_second", "gauge", "Messages written per second over the last whole second.", FROM_COUNTERS, "rates.messages", 1},
    {"ezshm_stream_frames_per_second", "gauge", "Frames written per second over the last whole second.", FROM_COUNTERS, "rates.frames", 1},
    {"ezshm_stream_generation", "gauge", "Buffer generation of the ring (-1: no ring yet).", FROM_STREAM, "generation", 1},
    {"ezshm_stream_valid", "gauge", "1 when the header's bvalid is set (readers find a valid stream).", FROM_STREAM, "bvalid", 1},
    {"ezshm_stream_ring_bytes", "gauge", "Size of the ring segment in bytes.", FROM_STREAM, "ring_bytes", 1},
    {"ezshm_stream_ring_frames", "gauge", "Length of the ring in frames.", FROM_STREAM, "shape.0", 1},
    {"ezshm_stream_sample_rate_hertz", "gauge", "Sample rate of the stream (frames per second of signal).", FROM_STREAM, "srate", 1},
    {"ezshm_stream_ring_wraps_total", "counter", "Times the writer wrapped around the ring.", FROM_STREAM, "wrap_counter", 1},
    {"ezshm_stream_meta_generation", "gauge", "Generation of the stream metadata in the aux segment (v1 header).", FROM_STREAM, "meta_generation", 1},
    {"ezshm_stream_meta_bytes", "gauge", "Size of the stream metadata in the aux segment.", FROM_STREAM, "aux_nbytes", 1},
    {"ezshm_stream_segment_faults_total", "counter", "Segments truncated under ezshmd by another process, each rebuilt.", FROM_STREAM, "segment_faults", 1},
    {"ezshm_stream_readers_waiting", "gauge", "Readers asleep on the stream's wake word, as they count themselves.", FROM_STREAM, "readers_waiting", 1},
    {"ezshm_stream_transport_delay_p50_seconds", "gauge", "Median transport delay (ingest wall clock minus the newest sample's time), last 1024 messages.", FROM_DELAY, "p50_ms", 1e-3},
    {"ezshm_stream_transport_delay_p99_seconds", "gauge", "99th percentile transport delay, last 1024 messages.", FROM_DELAY, "p99_ms", 1e-3},
    {"ezshm_stream_transport_delay_window_messages", "gauge", "Messages with a wall-clock time base in the transport delay window.", FROM_DELAY, "messages", 1},
};

static const char *const s_states[] = {"ingesting", "idle", "error"};

void
web_self_count(web_self_stats_t *stats, int code)
{
    for (int i = 0; i < WEB_HTTP_CODES; i++) {
        if (stats->codes[i] == 0)
            stats->codes[i] = code;
        if (stats->codes[i] == code) {
            stats->responses[i]++;
            return;
        }
    }
}

void
web_metrics_label(FILE *out, const char *s)
{
    /*  Runs without a character to escape go out whole: a scrape writes thousands of labels. */
    while (*s) {
        size_t run = strcspn(s, "\\\"\n");
        fwrite(s, 1, run, out);
        s += run;
        if (*s) {
            fputs(*s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", out);
            s++;
        }
    }
}

/*  A value the way Prometheus reads it: integers without a fraction, else the shortest
    text that reads back the same. */
static void
s_value(FILE *out, double v)
{
    if (isnan(v))
        fputs("NaN", out);
    else if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", out);
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        /*  Most samples are counters: digits by hand, printf's float path is the slow part. */
        char digits[24], *p = digits + sizeof digits;
        unsigned long long u = (unsigned long long) fabs(v);
        *--p = '\0';
        do
            *--p = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
            *--p = '-';
        fputs(p, out);
    }
    else {
        char text[40];
        snprintf(text, sizeof text, "%.15g", v);
        if (strtod(text, NULL) != v)
            snprintf(text, sizeof text, "%.17g", v);
        fputs(text, out);
    }
}

static void
s_head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*  name{daemon="...",stream="..."[,extra="..."]} value, the stream and extra optional. */
static void
s_sample(FILE *out, const char *name, const char *daemon, const char *stream, const char *extra_key,
         const char *extra, double v)
{
    fputs(name, out);
    fputs("{daemon=\"", out);
    web_metrics_label(out, daemon);
    if (stream) {
        fputs("\",stream=\"", out);
        web_metrics_label(out, stream);
    }
    if (extra_key) {
        fputs("\",", out);
        fputs(extra_key, out);
        fputs("=\"", out);
        web_metrics_label(out, extra);
    }
    fputs("\"} ", out);
    s_value(out, v);
    fputc('\n', out);
}

/*  The item at a dotted path ("rates.frames", "shape.0"), NULL if any step is missing. */
static const cJSON *
s_at(const cJSON *item, const char *path)
{
    char step[64];
    while (item && *path) {
        size_t n = strcspn(path, ".");
        snprintf(step, sizeof step, "%.*s", (int) n, path);
        path += n + (path[n] == '.');
        if (cJSON_IsArray(item) && step[0] >= '0' && step[0] <= '9')
            item = cJSON_GetArrayItem(item, atoi(step));
        else
            item = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, step) : NULL;
    }
    return item;
}

static bool
s_ok(const cJSON *reply)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
}

/*  Appends the streams of one daemon's status to rows (several streams: the "streams"
    array; one: the top-level "stream", "counters", "transport_delay"), each with its entry
    of the streams reply. Returns the new row count. */
static size_t
s_collect(const web_daemon_view_t *d, stream_view_t *rows, size_t n, size_t max)
{
    const cJSON *status = s_ok(d->status) ? cJSON_GetObjectItemCaseSensitive(d->status, "status") : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(status, "streams");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(status, "stream");
    const cJSON *item = cJSON_IsArray(list) ? list->child : cJSON_IsObject(one) ? one : NULL;
    for (; item && n < max; item = cJSON_IsArray(list) ? item->next : NULL) {
        stream_view_t *v = &rows[n];
        const cJSON *holder = cJSON_IsArray(list) ? item : status;
        v->daemon = d->endpoint;
        v->name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "shmem_name"));
        v->stream = item;
        v->counters = cJSON_GetObjectItemCaseSensitive(holder, "counters");
        v->delay = cJSON_GetObjectItemCaseSensitive(holder, "transport_delay");
        v->summary = NULL;
        const cJSON *summary;
        cJSON_ArrayForEach(summary, cJSON_GetObjectItemCaseSensitive(d->streams, "streams")) {
            const char *other = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(summary, "stream"));
            if (v->name && other && strcmp(v->name, other) == 0)
                v->summary = summary;
        }
        n += v->name != NULL;
    }
    return n;
}

static void
s_plain_family(FILE *out, const family_t *f, const stream_view_t *rows, size_t n)
{
    s_head(out, f->name, f->type, f->help);
    for (const stream_view_t *v = rows; v < rows + n; v++) {
        const cJSON *base = f->source == FROM_STREAM ? v->stream : f->source == FROM_COUNTERS ? v->counters : v->delay;
        const cJSON *item = s_at(base, f->path);
        if (cJSON_IsNumber(item) || cJSON_IsBool(item))
            s_sample(out, f->name, v->daemon, v->name, NULL, NULL,
                     cJSON_IsBool(item) ? cJSON_IsTrue(item) : item->valuedouble * f->scale);
    }
}

/*  Drops by reason: one family, one sample per reason ezshmd reports. */
static void
s_drops(FILE *out, const stream_view_t *rows, size_t n)
{
    const char *name = "ezshm_stream_messages_dropped_total";
    s_head(out, name, "counter", "Messages dropped, by reason (docs/control-protocol.md, ingest drop reasons).");
    for (const stream_view_t *v = rows; v < rows + n; v++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(v->counters, "dropped_by_reason"))
            if (cJSON_IsNumber(r))
                s_sample(out, name, v->daemon, v->name, "reason", r->string, r->valuedouble);
    }
}

/*  The state set of a health value: one sample per state, 1 for the current one. */
static void
s_states_of(FILE *out, const char *name, const char *daemon, const char *stream, const char *state)
{
    for (size_t k = 0; k < sizeof s_states / sizeof s_states[0]; k++)
        s_sample(out, name, daemon, stream, "state", s_states[k], strcmp(state, s_states[k]) == 0);
}

/*  shape and dtype as labels of an info metric; the stream's health as a state set. */
static void
s_info_and_health(FILE *out, const stream_view_t *rows, size_t n)
{
    s_head(out, "ezshm_stream_info", "gauge", "Stream description as labels: topic, dtype, frame shape, header layout.");
    for (const stream_view_t *v = rows; v < rows + n; v++) {
        const char *topic = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v->stream, "topic"));
        const char *dtype = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v->stream, "dtype"));
        const char *layout = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v->stream, "layout"));
        /*  The frame shape: the ring's shape without its length, as ezshm-ctl streams shows it. */
        cJSON *frame = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(v->stream, "shape"), 1);
        if (cJSON_IsArray(frame) && cJSON_GetArraySize(frame) > 0)
            cJSON_DeleteItemFromArray(frame, 0);
        char *shape = frame ? cJSON_PrintUnformatted(frame) : NULL;
        cJSON_Delete(frame);
        fputs("ezshm_stream_info{daemon=\"", out);
        web_metrics_label(out, v->daemon);
        fputs("\",stream=\"", out);
        web_metrics_label(out, v->name);
        const char *labels[][2] = {{"topic", topic}, {"dtype", dtype}, {"shape", shape}, {"layout", layout}};
        for (size_t k = 0; k < 4; k++) {
            fprintf(out, "\",%s=\"", labels[k][0]);
            web_metrics_label(out, labels[k][1] ? labels[k][1] : "");
        }
        fputs("\"} 1\n", out);
        cJSON_free(shape);
    }
    s_head(out, "ezshm_stream_health", "gauge", "Stream health as a state set: ingesting, idle or error.");
    for (const stream_view_t *v = rows; v < rows + n; v++) {
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v->summary, "health"));
        if (state)
            s_states_of(out, "ezshm_stream_health", v->daemon, v->name, state);
    }
}

/*  A counter family of one daemon-wide object of counts ({"name": n, ...} at path), the key
    as the label's value. */
static void
s_keyed(FILE *out, const web_daemon_view_t *daemons, size_t n, const char *family, const char *help,
        const char *path, const char *label)
{
    s_head(out, family, "counter", help);
    for (size_t d = 0; d < n; d++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, s_at(daemons[d].status, path))
            if (cJSON_IsNumber(r))
                s_sample(out, family, daemons[d].endpoint, NULL, label, r->string, r->valuedouble);
    }
}

static void
s_daemon_families(FILE *out, const web_daemon_view_t *daemons, size_t n)
{
    s_head(out, "ezshm_up", "gauge", "1 when ezshmd answered the status request within ezshm-web's time budget.");
    for (size_t d = 0; d < n; d++)
        s_sample(out, "ezshm_up", daemons[d].endpoint, NULL, NULL, NULL, s_ok(daemons[d].status));
    s_head(out, "ezshm_build_info", "gauge", "ezshmd's version as a label.");
    for (size_t d = 0; d < n; d++) {
        const char *version = cJSON_GetStringValue(s_at(daemons[d].status, "status.version"));
        if (version)
            s_sample(out, "ezshm_build_info", daemons[d].endpoint, NULL, "version", version, 1);
    }
    s_head(out, "ezshm_uptime_seconds", "gauge", "Seconds since ezshmd started.");
    for (size_t d = 0; d < n; d++) {
        const cJSON *uptime = s_at(daemons[d].status, "status.uptime");
        if (cJSON_IsNumber(uptime))
            s_sample(out, "ezshm_uptime_seconds", daemons[d].endpoint, NULL, NULL, NULL, uptime->valuedouble);
    }
    s_head(out, "ezshm_streams", "gauge", "Streams ezshmd serves.");
    for (size_t d = 0; d < n; d++) {
        const cJSON *list = s_at(daemons[d].streams, "streams");
        if (s_ok(daemons[d].streams) && cJSON_IsArray(list))
            s_sample(out, "ezshm_streams", daemons[d].endpoint, NULL, NULL, NULL, cJSON_GetArraySize(list));
    }
    s_head(out, "ezshm_health", "gauge", "ezshmd's health (the worst of its streams) as a state set.");
    for (size_t d = 0; d < n; d++) {
        const char *state = cJSON_GetStringValue(s_at(daemons[d].health, "state"));
        if (state)
            s_states_of(out, "ezshm_health", daemons[d].endpoint, NULL, state);
    }
    s_keyed(out, daemons, n, "ezshm_unrouted_messages_total", "Messages no stream took, by reason.",
            "status.unrouted.dropped_by_reason", "reason");
    s_keyed(out, daemons, n, "ezshm_control_requests_total",
            "Control requests ezshmd answered, by outcome (ok or the error code).", "status.control_requests", "outcome");
}

static void
s_self_families(FILE *out, const web_self_stats_t *self)
{
    s_head(out, "ezshm_web_build_info", "gauge", "ezshm-web's version as a label.");
    fprintf(out, "ezshm_web_build_info{version=\"%s\"} 1\n", EZSHM_VERSION);
    s_head(out, "ezshm_web_http_requests_total", "counter", "HTTP requests answered, by status code.");
    for (int i = 0; i < WEB_HTTP_CODES && self->codes[i]; i++)
        fprintf(out, "ezshm_web_http_requests_total{code=\"%d\"} %llu\n", self->codes[i],
                (unsigned long long) self->responses[i]);
    s_head(out, "ezshm_web_control_timeouts_total", "counter", "Requests to ezshmd that got no reply in time.");
    fprintf(out, "ezshm_web_control_timeouts_total %llu\n", (unsigned long long) self->control_timeouts);
    s_head(out, "ezshm_web_clients_dropped_total", "counter", "HTTP clients cut off for not reading what they asked for.");
    fprintf(out, "ezshm_web_clients_dropped_total %llu\n", (unsigned long long) self->clients_dropped);
    s_head(out, "ezshm_web_connections_total", "counter", "TCP connections accepted.");
    fprintf(out, "ezshm_web_connections_total %llu\n", (unsigned long long) self->connections);
    s_head(out, "ezshm_web_connections_refused_total", "counter",
           "Connections closed before a request was routed: malformed HTTP, headers too large, too slow.");
    fprintf(out, "ezshm_web_connections_refused_total %llu\n", (unsigned long long) self->connections_refused);
    s_head(out, "ezshm_web_sse_clients", "gauge", "Clients of /api/v1/events now.");
    fprintf(out, "ezshm_web_sse_clients %d\n", self->sse_clients);
    s_head(out, "ezshm_web_console_clients", "gauge", "Console WebSocket clients now.");
    fprintf(out, "ezshm_web_console_clients %d\n", self->console_clients);
    s_head(out, "ezshm_web_console_refused_total", "counter",
           "Console WebSocket upgrades refused: wrong path or Origin, no token, too many clients.");
    fprintf(out, "ezshm_web_console_refused_total %llu\n", (unsigned long long) self->console_refused);
}

void
web_metrics_render(FILE *out, const web_daemon_view_t *daemons, size_t n, const web_self_stats_t *self)
{
    /*  Every stream of every daemon, looked up once: the families below each walk them. */
    size_t max = 0, rows_n = 0;
    for (size_t d = 0; d < n; d++) {
        const cJSON *list = s_at(daemons[d].status, "status.streams");
        max += cJSON_IsArray(list) ? (size_t) cJSON_GetArraySize(list) : 1;
    }
    stream_view_t *rows = calloc(max ? max : 1, sizeof *rows);
    for (size_t d = 0; rows && d < n; d++)
        rows_n = s_collect(&daemons[d], rows, rows_n, max);
    s_daemon_families(out, daemons, n);
    for (size_t f = 0; f < sizeof s_stream_families / sizeof s_stream_families[0]; f++)
        s_plain_family(out, &s_stream_families[f], rows, rows_n);
    s_drops(out, rows, rows_n);
    s_info_and_health(out, rows, rows_n);
    s_self_families(out, self);
    free(rows);
}
