/*  web_server.c — see web_server.h. */
#include "web_server.h"
#include "web_backend.h"
#include "web_console.h"
#include "console_session.h"
#include "web_metrics.h"
#include "web_route.h"
#include "ezshm.h"

#include <libwebsockets.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 16384               /* bytes written per writable callback            */
#define SSE_QUEUE_MAX (64 * 1024) /* event bytes a client may leave unread: then cut */
#define SEND_TIMEOUT 10           /* seconds a client may take to read a response   */
#define SSE_PING 15               /* seconds between keep-alive comments            */
#define CALLS_PER_DAEMON 3        /* status, streams, health                        */

typedef struct _pss_t pss_t;
typedef struct _job_t job_t;

typedef enum { PSS_IDLE, PSS_BODY, PSS_WAIT, PSS_RESPOND, PSS_SSE } pss_state_t;

/*  One HTTP connection's request and response (libwebsockets allocates it). */
struct _pss_t {
    web_server_t *srv;
    struct lws *wsi;
    pss_state_t state;
    web_route_t route;
    char stream[WEB_NAME_MAX + 1];  /* ?stream= */
    int daemon;                     /* ?daemon= resolved, -1: every daemon */
    char *body;                     /* PUT/PATCH body so far                */
    size_t body_len;
    job_t *job;                     /* calls to ezshmd in progress          */
    int status;                     /* the response                         */
    const char *ctype;
    char *resp;
    size_t resp_len, sent;
    bool headers_sent, unauthorized;
    const char *etag;               /* a page's ETag: revalidated, not no-store */
    char *sse;                      /* event bytes not yet written          */
    size_t sse_len;
    pss_t *sse_next;
};

/*  The calls one request makes; it outlives its connection if that closes first. */
typedef struct {
    job_t *job;
    int daemon, kind;
} slot_t;

struct _job_t {
    pss_t *pss;                     /* NULL once the connection is gone */
    int pending;
    cJSON *replies[WEB_MAX_CONTROL][CALLS_PER_DAEMON];
    slot_t slots[WEB_MAX_CONTROL][CALLS_PER_DAEMON];
};

struct _web_server_t {
    web_options_t opt;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    web_backend_t *backends[WEB_MAX_CONTROL];
    size_t n;
    lws_sorted_usec_list_t sul;
    double tick_at;                 /* when the timer fires (monotonic), 0: not set */
    web_self_stats_t stats;
    pss_t *sse_clients;
    web_console_t *console;
    double next_ping;               /* when SSE clients get a keep-alive comment */
    unsigned char token_hash[crypto_generichash_BYTES];
};

static void s_reschedule(web_server_t *self);

/* ---------------------------------------------------------------- responses */

/*  Sets the response of pss (body taken) and asks to write it; counted already. */
static void
s_respond_counted(pss_t *pss, int status, const char *ctype, char *body, size_t len)
{
    pss->status = status;
    pss->ctype = ctype;
    free(pss->resp);
    pss->resp = body;
    pss->resp_len = len;
    pss->sent = 0;
    pss->state = PSS_RESPOND;
    lws_set_timeout(pss->wsi, PENDING_TIMEOUT_HTTP_CONTENT, SEND_TIMEOUT);
    lws_callback_on_writable(pss->wsi);
}

static void
s_respond(pss_t *pss, int status, const char *ctype, char *body, size_t len)
{
    web_self_count(&pss->srv->stats, status);
    s_respond_counted(pss, status, ctype, body, len);
}

static void
s_respond_text(pss_t *pss, int status, const char *ctype, const char *text)
{
    char *copy = strdup(text);
    s_respond(pss, copy ? status : 500, ctype, copy, copy ? strlen(copy) : 0);
}

/*  {"ok": false, "error": {"code", "message"}}, the control protocol's error shape. */
static void
s_respond_error(pss_t *pss, int status, const char *code, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddFalseToObject(root, "ok");
    cJSON *error = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(error, "code", code);
    cJSON_AddStringToObject(error, "message", message);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    s_respond(pss, text ? status : 500, "application/json", text, text ? strlen(text) : 0);
}

static void
s_respond_json(pss_t *pss, int status, const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    if (!text)
        s_respond_error(pss, 500, "out_of_memory", "out of memory");
    else
        s_respond(pss, status, "application/json", text, strlen(text));
}

/*  Headers first, then the body in chunks, one per writable callback: a client that does
    not read holds nothing but its own buffer, and the send timeout cuts it. */
static int
s_write_response(pss_t *pss)
{
    unsigned char buf[LWS_PRE + CHUNK];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    struct lws *wsi = pss->wsi;
    if (!pss->headers_sent) {
        /*  A page is revalidated by its ETag; everything else is live data, never cached. */
        const char *cache = pss->etag ? "no-cache" : "no-store";
        if (lws_add_http_common_headers(wsi, (unsigned) pss->status, pss->ctype, pss->resp_len, &p, end)
            || lws_add_http_header_by_name(wsi, (const unsigned char *) "cache-control:",
                                           (const unsigned char *) cache, (int) strlen(cache), &p, end)
            || lws_add_http_header_by_name(wsi, (const unsigned char *) "x-content-type-options:",
                                           (const unsigned char *) "nosniff", 7, &p, end)
            || lws_add_http_header_by_name(wsi, (const unsigned char *) "content-security-policy:",
                                           (const unsigned char *) CONSOLE_CSP, (int) strlen(CONSOLE_CSP), &p, end))
            return -1;
        if (pss->etag
            && lws_add_http_header_by_name(wsi, (const unsigned char *) "etag:", (const unsigned char *) pss->etag,
                                           (int) strlen(pss->etag), &p, end))
            return -1;
        if (pss->status == 405 && pss->route.allow
            && lws_add_http_header_by_name(wsi, (const unsigned char *) "allow:",
                                           (const unsigned char *) pss->route.allow,
                                           (int) strlen(pss->route.allow), &p, end))
            return -1;
        if (pss->unauthorized
            && lws_add_http_header_by_name(wsi, (const unsigned char *) "www-authenticate:",
                                           (const unsigned char *) "Bearer realm=\"ezshm\"", 20, &p, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        pss->headers_sent = true;
        if (pss->resp_len)
            lws_callback_on_writable(wsi);
        else if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    size_t n = pss->resp_len - pss->sent;
    n = n > CHUNK ? CHUNK : n;
    memcpy(start, pss->resp + pss->sent, n);
    bool last = pss->sent + n == pss->resp_len;
    if (lws_write(wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int) n)
        return -1;
    pss->sent += n;
    if (!last) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SEND_TIMEOUT);
        lws_callback_on_writable(wsi);
        return 0;
    }
    /*  Keep-alive: the connection may carry the next request. */
    free(pss->resp);
    pss->resp = NULL;
    pss->state = PSS_IDLE;
    pss->headers_sent = false;
    pss->etag = NULL;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---------------------------------------------------------------- calls to ezshmd */

static const cJSON *
s_get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static bool
s_reply_ok(const cJSON *reply)
{
    return cJSON_IsTrue(s_get(reply, "ok"));
}

/*  The answers of a /healthz or /readyz: 200 or 503 and one line. */
static void
s_finish_health(pss_t *pss, job_t *job, bool ready)
{
    web_server_t *srv = pss->srv;
    char line[600];
    for (size_t d = 0; d < srv->n; d++) {
        const char *endpoint = web_backend_endpoint(srv->backends[d]);
        const cJSON *reply = job->replies[d][0];
        const char *state = cJSON_GetStringValue(s_get(reply, "state"));
        const char *detail = cJSON_GetStringValue(s_get(reply, "detail"));
        if (!state) {
            snprintf(line, sizeof line, "not ok: ezshmd %s did not answer within %g s\n", endpoint,
                     srv->opt.timeout);
            s_respond_text(pss, 503, "text/plain", line);
            return;
        }
        if (ready && strcmp(state, "error") == 0) {
            snprintf(line, sizeof line, "not ready: ezshmd %s: error: %s\n", endpoint, detail ? detail : "");
            s_respond_text(pss, 503, "text/plain", line);
            return;
        }
    }
    snprintf(line, sizeof line, "%s: %zu ezshmd answered%s\n", ready ? "ready" : "ok", srv->n,
             ready ? ", each ingesting or idle" : "");
    s_respond_text(pss, 200, "text/plain", line);
}

static void
s_finish_metrics(pss_t *pss, job_t *job)
{
    web_server_t *srv = pss->srv;
    web_daemon_view_t views[WEB_MAX_CONTROL];
    srv->stats.control_timeouts = 0;
    srv->stats.console_clients = web_console_clients(srv->console);
    for (size_t d = 0; d < srv->n; d++) {
        views[d] = (web_daemon_view_t) {web_backend_endpoint(srv->backends[d]), job->replies[d][0],
                                        job->replies[d][1], job->replies[d][2]};
        srv->stats.control_timeouts += web_backend_timeouts(srv->backends[d]);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        s_respond_error(pss, 500, "out_of_memory", "out of memory");
        return;
    }
    /*  This response is counted before it is rendered, so that it is in its own numbers. */
    web_self_count(&srv->stats, 200);
    web_metrics_render(out, views, srv->n, &srv->stats);
    fclose(out);
    s_respond_counted(pss, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/*  /api/v1/streams: every daemon's summaries, each with its daemon. */
static void
s_finish_streams(pss_t *pss, job_t *job)
{
    web_server_t *srv = pss->srv;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddTrueToObject(root, "ok");
    cJSON *list = cJSON_AddArrayToObject(root, "streams");
    cJSON *missing = cJSON_AddArrayToObject(root, "unreachable");
    size_t answered = 0;
    for (size_t d = 0; d < srv->n; d++) {
        const char *endpoint = web_backend_endpoint(srv->backends[d]);
        cJSON *reply = job->replies[d][0];
        if (!s_reply_ok(reply)) {
            cJSON_AddItemToArray(missing, cJSON_CreateString(endpoint));
            continue;
        }
        answered++;
        cJSON *item;
        cJSON_ArrayForEach(item, s_get(reply, "streams")) cJSON_AddStringToObject(item, "daemon", endpoint);
        cJSON *streams = cJSON_DetachItemFromObjectCaseSensitive(reply, "streams");
        cJSON *next;
        for (item = streams ? streams->child : NULL; item; item = next) {
            next = item->next;
            cJSON_AddItemToArray(list, cJSON_DetachItemViaPointer(streams, item));
        }
        cJSON_Delete(streams);
    }
    if (answered == 0)
        s_respond_error(pss, 504, "no_answer", "no ezshmd answered in time");
    else
        s_respond_json(pss, 200, root);
    cJSON_Delete(root);
}

/*  A reply relayed as it is, with the HTTP status of its code; "daemon" added. */
static void
s_finish_relay(pss_t *pss, cJSON *reply, int d)
{
    if (!reply) {
        char msg[400];
        snprintf(msg, sizeof msg, "ezshmd %s did not answer within %g s",
                 web_backend_endpoint(pss->srv->backends[d]), pss->srv->opt.timeout);
        s_respond_error(pss, 504, "no_answer", msg);
        return;
    }
    const char *code = cJSON_GetStringValue(s_get(s_get(reply, "error"), "code"));
    cJSON_AddStringToObject(reply, "daemon", web_backend_endpoint(pss->srv->backends[d]));
    s_respond_json(pss, s_reply_ok(reply) ? 200 : web_reply_status(code), reply);
}

/*  /api/v1/streams/{name}: the first daemon that knows the stream. */
static void
s_finish_stream(pss_t *pss, job_t *job)
{
    int unknown = -1;
    for (size_t d = 0; d < pss->srv->n; d++) {
        cJSON *reply = job->replies[d][0];
        if (s_reply_ok(reply)) {
            s_finish_relay(pss, reply, (int) d);
            return;
        }
        if (reply)
            unknown = (int) d;
    }
    s_finish_relay(pss, unknown >= 0 ? job->replies[unknown][0] : NULL, unknown >= 0 ? unknown : 0);
}

static void
s_job_done(job_t *job)
{
    pss_t *pss = job->pss;
    if (pss) {
        pss->job = NULL;
        switch (pss->route.endpoint) {
        case WEB_METRICS: s_finish_metrics(pss, job); break;
        case WEB_HEALTHZ: s_finish_health(pss, job, false); break;
        case WEB_READYZ: s_finish_health(pss, job, true); break;
        case WEB_STREAMS: s_finish_streams(pss, job); break;
        case WEB_STREAM: s_finish_stream(pss, job); break;
        default: s_finish_relay(pss, job->replies[pss->daemon][0], pss->daemon); break;
        }
    }
    for (int d = 0; d < WEB_MAX_CONTROL; d++)
        for (int k = 0; k < CALLS_PER_DAEMON; k++)
            cJSON_Delete(job->replies[d][k]);
    free(job);
}

static void
s_on_reply(void *arg, cJSON *reply)
{
    slot_t *slot = arg;
    job_t *job = slot->job;
    job->replies[slot->daemon][slot->kind] = reply;
    if (--job->pending == 0)
        s_job_done(job);
}

/*  Starts the calls of pss's request: requests[k] to each daemon (daemon -1) or to one. */
static void
s_start(pss_t *pss, const char *const *requests, int n_requests, int daemon)
{
    web_server_t *srv = pss->srv;
    job_t *job = calloc(1, sizeof *job);
    if (!job) {
        s_respond_error(pss, 500, "out_of_memory", "out of memory");
        return;
    }
    job->pss = pss;
    pss->job = job;
    pss->state = PSS_WAIT;
    /*  libwebsockets' own request timeout must not cut a request that waits for ezshmd:
        the calls' deadline (--timeout) answers it first. */
    lws_set_timeout(pss->wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) ceil(srv->opt.timeout) + SEND_TIMEOUT);
    /*  Count every call before the first goes out: a call may be answered at once. */
    job->pending = 1;
    for (size_t d = 0; d < srv->n; d++) {
        if (daemon >= 0 && (int) d != daemon)
            continue;
        for (int k = 0; k < n_requests; k++) {
            job->slots[d][k] = (slot_t) {job, (int) d, k};
            if (web_backend_call(srv->backends[d], requests[k], s_on_reply, &job->slots[d][k]) == 0)
                job->pending++;
        }
    }
    for (size_t d = 0; d < srv->n; d++)
        web_backend_process(srv->backends[d], ezshm_time_mono());
    s_reschedule(srv);
    if (--job->pending == 0)
        s_job_done(job);
}

/*  {"op": op[, "stream": name]} as text (malloc'd). */
static char *
s_request(const char *op, const char *stream)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "op", op);
    if (stream && *stream)
        cJSON_AddStringToObject(req, "stream", stream);
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return text;
}

/* ---------------------------------------------------------------- the timer and the ZeroMQ fds */

static void s_sse_append(web_server_t *self, const char *text);

static void
s_tick(lws_sorted_usec_list_t *sul)
{
    web_server_t *self = lws_container_of(sul, web_server_t, sul);
    double now = ezshm_time_mono();
    self->tick_at = 0;
    for (size_t d = 0; d < self->n; d++)
        web_backend_process(self->backends[d], now);
    /*  libwebsockets does not read a connection while its response is streaming, so a
        client that went away is seen here: its socket reads end-of-file. And a comment now
        and then, for the proxies between. */
    for (pss_t *c = self->sse_clients; c; c = c->sse_next) {
        char byte;
        if (recv(lws_get_socket_fd(c->wsi), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    if (now >= self->next_ping) {
        self->next_ping = now + SSE_PING;
        s_sse_append(self, ": ping\n\n");
    }
    s_reschedule(self);
}

/*  The timer fires at the earliest call deadline, and at least every second (events
    endpoint learning, SSE clients gone, keep-alive). It only ever moves earlier: requests
    arriving faster than once a second must not keep pushing the tick away. */
static void
s_reschedule(web_server_t *self)
{
    double now = ezshm_time_mono(), next = now + 1.0;
    for (size_t d = 0; d < self->n; d++) {
        double deadline = web_backend_deadline(self->backends[d]);
        if (deadline > 0 && deadline < next)
            next = deadline;
    }
    if (self->tick_at > 0 && self->tick_at <= next)
        return;
    self->tick_at = next;
    lws_usec_t us = (lws_usec_t) ((next - now) * 1e6);
    lws_sul_schedule(self->ctx, 0, &self->sul, s_tick, us > 0 ? us : 1);
}

static int
s_adopt(web_server_t *self, int zmq_fd, web_backend_t *backend)
{
    lws_adopt_desc_t desc = {0};
    desc.vh = self->vhost;
    desc.type = LWS_ADOPT_RAW_FILE_DESC;
    desc.fd.filefd = dup(zmq_fd);
    desc.vh_prot_name = "ezshm-zmq";
    desc.opaque = backend;
    return desc.fd.filefd >= 0 && lws_adopt_descriptor_vhost_via_info(&desc) ? 0 : -1;
}

/* ---------------------------------------------------------------- events (SSE) */

/*  Relays one event to every SSE client, with the daemon it came from. */
static void
s_on_event(void *arg, web_backend_t *from, const char *json, size_t len)
{
    web_server_t *self = arg;
    cJSON *event = cJSON_ParseWithLength(json, len);
    if (event)
        cJSON_AddStringToObject(event, "daemon", web_backend_endpoint(from));
    char *text = event ? cJSON_PrintUnformatted(event) : NULL;
    cJSON_Delete(event);
    size_t n = text ? strlen(text) + 8 : 0;
    char *line = text ? malloc(n + 1) : NULL;
    if (line) {
        snprintf(line, n + 1, "data: %s\n\n", text);
        s_sse_append(self, line);
    }
    free(line);
    cJSON_free(text);
}

/*  Appends text to every SSE client's queue; a client whose queue is full has stopped
    reading and is cut. */
static void
s_sse_append(web_server_t *self, const char *text)
{
    size_t n = strlen(text);
    for (pss_t *c = self->sse_clients; c; c = c->sse_next) {
        char *grown = c->sse_len + n <= SSE_QUEUE_MAX ? realloc(c->sse, c->sse_len + n + 1) : NULL;
        if (!grown) {
            self->stats.clients_dropped++;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            continue;
        }
        c->sse = grown;
        memcpy(c->sse + c->sse_len, text, n + 1);
        c->sse_len += n;
        lws_callback_on_writable(c->wsi);
    }
}

static int
s_start_sse(pss_t *pss)
{
    web_server_t *srv = pss->srv;
    if (srv->stats.sse_clients >= srv->opt.max_sse) {
        s_respond_error(pss, 503, "too_many_clients", "too many /api/v1/events clients");
        return 0;
    }
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(pss->wsi, 200, "text/event-stream", LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end)
        || lws_add_http_header_by_name(pss->wsi, (const unsigned char *) "cache-control:",
                                       (const unsigned char *) "no-store", 8, &p, end)
        || lws_finalize_write_http_header(pss->wsi, start, &p, end))
        return -1;
    web_self_count(&srv->stats, 200);
    pss->state = PSS_SSE;
    pss->sse_next = srv->sse_clients;
    srv->sse_clients = pss;
    srv->stats.sse_clients++;
    /*  Long-lived by design: no request timeout, the queue bound cuts a stuck client. */
    lws_set_timeout(pss->wsi, NO_PENDING_TIMEOUT, 0);
    pss->sse = strdup(": ezshm events\n\n");
    pss->sse_len = pss->sse ? strlen(pss->sse) : 0;
    lws_callback_on_writable(pss->wsi);
    return 0;
}

static int
s_write_sse(pss_t *pss)
{
    if (!pss->sse_len)
        return 0;
    unsigned char buf[LWS_PRE + CHUNK];
    size_t n = pss->sse_len > CHUNK ? CHUNK : pss->sse_len;
    memcpy(buf + LWS_PRE, pss->sse, n);
    if (lws_write(pss->wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP) != (int) n)
        return -1;
    memmove(pss->sse, pss->sse + n, pss->sse_len - n);
    pss->sse_len -= n;
    if (pss->sse_len)
        lws_callback_on_writable(pss->wsi);
    return 0;
}

static void
s_forget(pss_t *pss)
{
    web_server_t *srv = pss->srv;
    if (pss->job)
        pss->job->pss = NULL;
    pss->job = NULL;
    if (pss->state == PSS_SSE) {
        for (pss_t **c = &srv->sse_clients; *c; c = &(*c)->sse_next)
            if (*c == pss) {
                *c = pss->sse_next;
                break;
            }
        srv->stats.sse_clients--;
    } else if (pss->state == PSS_RESPOND && pss->resp)
        srv->stats.clients_dropped++;   /* closed before it read its response */
    free(pss->body);
    free(pss->resp);
    free(pss->sse);
    memset(pss, 0, sizeof *pss);
}

/* ---------------------------------------------------------------- requests */

/*  The value of cookie name into buf; false when absent or too long. Our own parse:
    libwebsockets 4.1's lws_http_cookie_get misses values shorter than the cookie's name. */
static bool
s_cookie(struct lws *wsi, const char *name, char *buf, size_t size)
{
    char header[4096];
    if (lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_HTTP_COOKIE) <= 0)
        return false;
    size_t n = strlen(name);
    for (char *p = header; *p;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, ";");
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            if (len - n - 1 >= size)
                return false;
            memcpy(buf, p + n + 1, len - n - 1);
            buf[len - n - 1] = '\0';
            return true;
        }
        p += len + (p[len] == ';');
    }
    return false;
}

/*  True when the request carries the token (bearer header or cookie ezshm_token), or none
    is configured. Compared as hashes with sodium_memcmp: constant time, length included. */
static bool
s_authorized(web_server_t *srv, struct lws *wsi)
{
    if (!srv->opt.token[0])
        return true;
    char given[WEB_TOKEN_MAX + 16] = "";
    const char *token = NULL;
    if (lws_hdr_copy(wsi, given, sizeof given, WSI_TOKEN_HTTP_AUTHORIZATION) > 0
        && strncasecmp(given, "Bearer ", 7) == 0)   /* the scheme is case-insensitive */
        token = given + 7;
    else if (s_cookie(wsi, "ezshm_token", given, sizeof given))
        token = given;
    if (!token)
        return false;
    unsigned char hash[crypto_generichash_BYTES];
    crypto_generichash(hash, sizeof hash, (const unsigned char *) token, strlen(token), NULL, 0);
    return sodium_memcmp(hash, srv->token_hash, sizeof hash) == 0;
}

/*  ?daemon=E (an endpoint given to --control) or the only daemon; -1 with a response
    sent when it names none or several daemons leave it ambiguous. */
static int
s_pick_daemon(pss_t *pss)
{
    web_server_t *srv = pss->srv;
    char buf[300];
    const char *given = lws_get_urlarg_by_name(pss->wsi, "daemon=", buf, sizeof buf);
    if (!given && srv->n == 1)
        return 0;
    for (size_t d = 0; given && d < srv->n; d++)
        if (strcmp(given, web_backend_endpoint(srv->backends[d])) == 0)
            return (int) d;
    s_respond_error(pss, 400, "bad_request",
                    given ? "?daemon= names no --control endpoint of ezshm-web"
                          : "which ezshmd? name one with ?daemon=ENDPOINT (GET /api/v1/streams lists them)");
    return -1;
}

/*  A compiled page: 304 when the client holds this version (If-None-Match), else 200. */
static int
s_respond_asset(pss_t *pss)
{
    const console_asset_t *a = pss->route.asset;
    char given[128] = "";
    lws_hdr_copy(pss->wsi, given, sizeof given, WSI_TOKEN_HTTP_IF_NONE_MATCH);
    pss->etag = a->etag;
    if (strcmp(given, a->etag) == 0) {
        s_respond(pss, 304, a->content_type, NULL, 0);
        return 0;
    }
    char *copy = malloc(a->size);
    if (!copy) {
        s_respond_error(pss, 500, "out_of_memory", "out of memory");
        return 0;
    }
    memcpy(copy, a->data, a->size);
    s_respond(pss, 200, a->content_type, copy, a->size);
    return 0;
}

/*  A console WebSocket upgrade is taken only on its path, from a page of this server (the
    Origin is http(s)://<the request's Host>: another site's page cannot drive it with the
    browser's cookie), with the token when one is configured, below --max-console. */
static bool
s_console_admit(web_server_t *srv, struct lws *wsi)
{
    char uri[64] = "", origin[300] = "", host[280] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST);
    /*  https: the page came through a TLS proxy that kept the Host header; still this host. */
    const char *rest = strncasecmp(origin, "http://", 7) == 0 ? origin + 7
                     : strncasecmp(origin, "https://", 8) == 0 ? origin + 8 : NULL;
    return strcmp(uri, "/api/v1/console") == 0 && host[0] && rest && strcasecmp(rest, host) == 0
        && s_authorized(srv, wsi) && web_console_clients(srv->console) < srv->opt.max_console;
}

static int
s_on_http(pss_t *pss, const char *path)
{
    web_server_t *srv = pss->srv;
    char *uri;
    int uri_len;
    static const char *const methods[] = {"GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE", "CONNECT", "HEAD"};
    int m = lws_http_get_uri_and_method(pss->wsi, &uri, &uri_len);
    const char *method = m >= 0 && m < (int) (sizeof methods / sizeof methods[0]) ? methods[m] : "?";
    pss->daemon = -1;
    pss->stream[0] = '\0';
    char buf[WEB_NAME_MAX + 16];
    const char *stream = lws_get_urlarg_by_name(pss->wsi, "stream=", buf, sizeof buf);
    if (stream)
        snprintf(pss->stream, sizeof pss->stream, "%s", stream);
    web_route(method, path, &pss->route);
    if (pss->route.status != 200) {
        s_respond_error(pss, pss->route.status,
                        pss->route.status == 404 ? "not_found" : pss->route.status == 405 ? "method_not_allowed"
                                                                                           : "bad_request",
                        pss->route.status == 404   ? "no such resource (see docs/http-api.md)"
                        : pss->route.status == 405 ? "method not allowed here"
                                                   : "malformed stream name");
        return 0;
    }
    web_endpoint_t ep = pss->route.endpoint;
    /*  The pages hold nothing secret and ask for the token themselves (a 401 of the API). */
    if (ep == WEB_ASSET)
        return s_respond_asset(pss);
    if (ep != WEB_HEALTHZ && ep != WEB_READYZ && !s_authorized(srv, pss->wsi)) {
        pss->unauthorized = true;
        s_respond_error(pss, 401, "unauthorized", "this endpoint needs the access token (Authorization: Bearer)");
        return 0;
    }
    char *one = NULL;
    switch (ep) {
    case WEB_METRICS: {
        const char *requests[] = {"{\"op\":\"status\"}", "{\"op\":\"streams\"}", "{\"op\":\"health\"}"};
        s_start(pss, requests, 3, -1);
        return 0;
    }
    case WEB_HEALTHZ:
    case WEB_READYZ: {
        const char *requests[] = {"{\"op\":\"health\"}"};
        s_start(pss, requests, 1, -1);
        return 0;
    }
    case WEB_STREAMS: {
        const char *requests[] = {"{\"op\":\"streams\"}"};
        s_start(pss, requests, 1, -1);
        return 0;
    }
    case WEB_STREAM:
        one = s_request("status", pss->route.name);
        break;
    case WEB_SETTINGS:
        if ((pss->daemon = s_pick_daemon(pss)) < 0)
            return 0;
        one = s_request("get", pss->stream);
        break;
    case WEB_SETTINGS_SET:
        if (!srv->opt.allow_control) {
            s_respond_error(pss, 403, "control_not_allowed", "ezshm-web was started without --allow-control");
            return 0;
        }
        if ((pss->daemon = s_pick_daemon(pss)) < 0)
            return 0;
        if (lws_hdr_total_length(pss->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
            s_respond_error(pss, 411, "length_required", "a settings body needs Content-Length");
            return 0;
        }
        char length[32] = "";
        lws_hdr_copy(pss->wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        if (strtoull(length, NULL, 10) > WEB_BODY_MAX) {
            s_respond_error(pss, 413, "too_large", "a settings body is at most 65536 bytes");
            return 0;
        }
        pss->state = PSS_BODY;   /* the body arrives in LWS_CALLBACK_HTTP_BODY */
        return 0;
    case WEB_EVENTS:
        return s_start_sse(pss);
    case WEB_CONSOLE:
        s_respond_error(pss, 400, "bad_request", "the console is a WebSocket (subprotocol ezshm-console.v1)");
        return 0;
    case WEB_CONSOLE_CONFIG: {
        cJSON *config = cJSON_CreateObject();
        cJSON_AddBoolToObject(config, "allow_control", srv->opt.allow_control);
        s_respond_json(pss, 200, config);
        cJSON_Delete(config);
        return 0;
    }
    default:
        return -1;
    }
    if (!one) {
        s_respond_error(pss, 500, "out_of_memory", "out of memory");
        return 0;
    }
    const char *requests[] = {one};
    s_start(pss, requests, 1, pss->daemon);
    free(one);
    return 0;
}

static int
s_on_body(pss_t *pss, const void *in, size_t len)
{
    if (pss->state != PSS_BODY)
        return 0;
    if (pss->body_len + len > WEB_BODY_MAX) {
        s_respond_error(pss, 413, "too_large", "a settings body is at most 65536 bytes");
        return 0;
    }
    char *grown = realloc(pss->body, pss->body_len + len + 1);
    if (!grown)
        return -1;
    pss->body = grown;
    memcpy(pss->body + pss->body_len, in, len);
    pss->body_len += len;
    return 0;
}

static void
s_on_body_done(pss_t *pss)
{
    if (pss->state != PSS_BODY)
        return;
    const char *code;
    char msg[300];
    char *req = web_settings_request(pss->body ? pss->body : "", pss->body_len, pss->stream[0] ? pss->stream : NULL,
                                     &code, msg, sizeof msg);
    free(pss->body);
    pss->body = NULL;
    pss->body_len = 0;
    if (!req) {
        s_respond_error(pss, web_reply_status(code), code, msg);
        return;
    }
    const char *requests[] = {req};
    s_start(pss, requests, 1, pss->daemon);
    free(req);
}

static int
s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    pss_t *pss = user;
    web_server_t *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        srv->stats.connections++;
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /*  A connection closed before any request of it was routed: libwebsockets refused
            it (malformed, headers too large, too slow) without asking us. */
        if (!lws_get_opaque_user_data(wsi) && lws_get_network_wsi(wsi) == wsi)
            srv->stats.connections_refused++;
        return 0;
    case LWS_CALLBACK_HTTP:
        if (pss->state != PSS_IDLE)
            return -1;
        lws_set_opaque_user_data(wsi, srv);
        pss->srv = srv;
        pss->wsi = wsi;
        return s_on_http(pss, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /*  An upgrade without the console's subprotocol: no WebSocket is served here. */
        srv->stats.console_refused++;
        return -1;
    case LWS_CALLBACK_HTTP_BODY:
        return s_on_body(pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        s_on_body_done(pss);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss->state == PSS_SSE)
            return s_write_sse(pss);
        return pss->state == PSS_RESPOND ? s_write_response(pss) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->srv)
            s_forget(pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int
s_zmq_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void) user;
    (void) in;
    (void) len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    web_server_t *srv = lws_context_user(lws_get_context(wsi));
    web_backend_process(lws_get_opaque_user_data(wsi), ezshm_time_mono());
    s_reschedule(srv);
    return 0;
}

/*  The console WebSocket (docs/console.md §5): web_console does the work. */
static int
s_console_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    web_console_conn_t **conn = user;
    web_server_t *srv = lws_context_user(lws_get_context(wsi));
    /*  Torn down (web_server_destroy): the connections' state is gone with the pump. */
    if (!srv || !srv->console)
        return reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION ? -1 : 0;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (s_console_admit(srv, wsi))
            return 0;
        srv->stats.console_refused++;
        return -1;
    case LWS_CALLBACK_ESTABLISHED:
        if (web_console_open(srv->console, wsi, conn) == 0)
            return 0;
        srv->stats.console_refused++;
        return -1;
    case LWS_CALLBACK_RECEIVE:
        if (*conn)
            web_console_receive(*conn, in, len, lws_is_first_fragment(wsi), lws_is_final_fragment(wsi),
                                lws_frame_is_binary(wsi));
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return *conn ? web_console_writable(*conn) : 0;
    case LWS_CALLBACK_CLOSED:
        if (*conn)
            web_console_close(*conn);
        *conn = NULL;
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        web_console_flush(srv->console);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    {"http", s_callback, sizeof(pss_t), 0, 0, NULL, 0},
    {"ezshm-console.v1", s_console_callback, sizeof(web_console_conn_t *), CONSOLE_MESSAGE_MAX, 0, NULL, 0},
    {"ezshm-zmq", s_zmq_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

web_server_t *
web_server_new(const web_options_t *opt, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        ezshm_fail(err, errlen, -1, "libsodium cannot start");
        return NULL;
    }
    web_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        ezshm_fail(err, errlen, -1, "out of memory");
        return NULL;
    }
    self->opt = *opt;
    crypto_generichash(self->token_hash, sizeof self->token_hash, (const unsigned char *) opt->token,
                       strlen(opt->token), NULL, 0);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = opt->listen_port;
    info.iface = opt->listen_host;
    info.protocols = s_protocols;
    info.user = self;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(opt->listen_host, ':') == NULL);
    /*  The bounds of docs/http-api.md, "Limits": headers, connections, idle time. */
    info.max_http_header_data = 4096;
    info.max_http_header_pool = (unsigned short) (opt->max_clients < 1024 ? opt->max_clients : 1024);
    info.fd_limit_per_thread = (unsigned) (opt->max_clients + 2 * (int) opt->n_control + 8);
    info.timeout_secs = 5;
    info.timeout_secs_ah_idle = 5;
    info.keepalive_timeout = 5;
    info.server_string = "ezshm-web";
    self->ctx = lws_create_context(&info);
    self->vhost = self->ctx ? lws_get_vhost_by_name(self->ctx, "default") : NULL;
    if (!self->vhost) {
        ezshm_fail(err, errlen, -1, "cannot listen on %s:%d", opt->listen_host, opt->listen_port);
        web_server_destroy(&self);
        return NULL;
    }
    if (web_console_new(self->ctx, opt->max_console, &self->console) != EZSHM_OK) {
        ezshm_fail(err, errlen, -1, "cannot start the console's pump thread");
        web_server_destroy(&self);
        return NULL;
    }
    for (size_t d = 0; d < opt->n_control; d++) {
        self->backends[d] = web_backend_new(opt->control[d], opt->timeout, opt->curve_client, opt->curve_server,
                                            s_on_event, self, err, errlen);
        if (!self->backends[d]) {
            web_server_destroy(&self);
            return NULL;
        }
        self->n++;
        if (s_adopt(self, web_backend_req_fd(self->backends[d]), self->backends[d]) != 0
            || s_adopt(self, web_backend_sub_fd(self->backends[d]), self->backends[d]) != 0) {
            ezshm_fail(err, errlen, -1, "cannot watch the sockets of %s", opt->control[d]);
            web_server_destroy(&self);
            return NULL;
        }
    }
    s_reschedule(self);
    return self;
}

void
web_server_destroy(web_server_t **self_p)
{
    web_server_t *self = *self_p;
    if (!self)
        return;
    /*  The pump first: it hands frames to the loop, so the loop must outlive it. */
    web_console_destroy(&self->console);
    if (self->ctx)
        lws_context_destroy(self->ctx);
    for (size_t d = 0; d < self->n; d++)
        web_backend_destroy(&self->backends[d]);
    free(self);
    *self_p = NULL;
}

int
web_server_run(web_server_t *self, volatile int *stop)
{
    while (!*stop && lws_service(self->ctx, 0) >= 0)
        ;
    return 0;
}
