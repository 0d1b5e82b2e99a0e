/*  web_backend.c — see web_backend.h. */
#include "web_backend.h"
#include "control_client.h"
#include "ezshm.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256           /* calls waiting for one ezshmd; more is a client flood */
#define EVENTS_TOPIC "ezshm.event"

typedef struct {
    char *request;
    web_reply_fn *fn;
    void *arg;
    double deadline;
} call_t;

struct _web_backend_t {
    char endpoint[256];
    double timeout;
    zsock_t *req;
    zsock_t *sub;
    bool events_known;          /* the events endpoint was learned (or ezshmd has none) */
    bool learning;              /* a get for it is queued                               */
    double learn_at;            /* when to ask again (monotonic seconds)                */
    call_t queue[QUEUE_MAX];    /* ring: head is in flight once sent                    */
    size_t head, count;
    bool in_flight;
    uint64_t timeouts;
    web_event_fn *on_event;
    void *event_arg;
};

static double
s_now(void)
{
    return ezshm_time_mono();
}

web_backend_t *
web_backend_new(const char *endpoint, double timeout, const char *curve_client, const char *curve_server,
                web_event_fn *on_event, void *event_arg, char *err, size_t errlen)
{
    web_backend_t *self = calloc(1, sizeof *self);
    if (!self) {
        ezshm_fail(err, errlen, -1, "out of memory");
        return NULL;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->timeout = timeout;
    self->on_event = on_event;
    self->event_arg = event_arg;
    self->req = zsock_new(ZMQ_REQ);
    self->sub = zsock_new(ZMQ_SUB);
    if (!self->req || !self->sub) {
        ezshm_fail(err, errlen, -1, "cannot create a ZeroMQ socket");
        web_backend_destroy(&self);
        return NULL;
    }
    zsock_t *both[] = {self->req, self->sub};
    for (int i = 0; i < 2; i++) {
        zsock_set_linger(both[i], 0);
        zsock_set_rcvtimeo(both[i], 0);
        zsock_set_sndtimeo(both[i], 0);
        if (curve_client && control_client_curve(both[i], curve_client, curve_server, err, errlen) != 0) {
            web_backend_destroy(&self);
            return NULL;
        }
    }
    zsock_set_req_relaxed(self->req, 1);
    zsock_set_req_correlate(self->req, 1);
    zsock_set_immediate(self->req, 1);
    zsock_set_subscribe(self->sub, EVENTS_TOPIC);
    if (zsock_connect(self->req, "%s", endpoint) != 0) {
        ezshm_fail(err, errlen, -1, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        web_backend_destroy(&self);
        return NULL;
    }
    return self;
}

void
web_backend_destroy(web_backend_t **self_p)
{
    web_backend_t *self = *self_p;
    if (!self)
        return;
    while (self->count) {
        call_t c = self->queue[self->head];
        self->head = (self->head + 1) % QUEUE_MAX;
        self->count--;
        free(c.request);
        c.fn(c.arg, NULL);
    }
    zsock_destroy(&self->req);
    zsock_destroy(&self->sub);
    free(self);
    *self_p = NULL;
}

const char *
web_backend_endpoint(const web_backend_t *self)
{
    return self->endpoint;
}

int
web_backend_call(web_backend_t *self, const char *request, web_reply_fn *fn, void *arg)
{
    char *copy = strdup(request);
    if (!copy || self->count == QUEUE_MAX) {
        free(copy);
        return -1;
    }
    call_t *c = &self->queue[(self->head + self->count) % QUEUE_MAX];
    *c = (call_t) {copy, fn, arg, s_now() + self->timeout};
    self->count++;
    return 0;
}

int
web_backend_req_fd(web_backend_t *self)
{
    return zsock_fd(self->req);
}

int
web_backend_sub_fd(web_backend_t *self)
{
    return zsock_fd(self->sub);
}

/*  Pops the head call and answers it with reply (NULL: none). */
static void
s_finish(web_backend_t *self, cJSON *reply)
{
    call_t c = self->queue[self->head];
    self->head = (self->head + 1) % QUEUE_MAX;
    self->count--;
    self->in_flight = false;
    free(c.request);
    c.fn(c.arg, reply);
}

/*  An events endpoint bound on every interface (a "*" or 0.0.0.0 host)
    is reached at the control endpoint's host. */
static void
s_events_endpoint(const web_backend_t *self, const char *bound, char *out, size_t outlen)
{
    const char *wild = NULL;
    if (strncmp(bound, "tcp://*:", 8) == 0)
        wild = bound + 7;
    else if (strncmp(bound, "tcp://0.0.0.0:", 14) == 0)
        wild = bound + 13;
    const char *host = strncmp(self->endpoint, "tcp://", 6) == 0 ? self->endpoint + 6 : NULL;
    const char *colon = host ? strrchr(host, ':') : NULL;
    if (wild && colon)
        snprintf(out, outlen, "tcp://%.*s%s", (int) (colon - host), host, wild);
    else
        snprintf(out, outlen, "%s", bound);
}

static void
s_learned(void *arg, cJSON *reply)
{
    web_backend_t *self = arg;
    self->learning = false;
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(reply, "settings");
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(settings, "events");
    if (cJSON_IsString(events)) {
        char endpoint[300];
        s_events_endpoint(self, events->valuestring, endpoint, sizeof endpoint);
        self->events_known = zsock_connect(self->sub, "%s", endpoint) == 0;
    } else if (cJSON_IsObject(settings))
        self->events_known = true;   /* ezshmd publishes no events */
    cJSON_Delete(reply);
}

/*  Sends the head call if none is in flight. Without a completed connection (ZMQ_IMMEDIATE)
    the send fails and the call stays queued: it goes when the connection completes (the
    socket's fd fires) or fails at its deadline, never sitting in a pipe for a daemon that
    is down. */
static bool
s_send_next(web_backend_t *self)
{
    if (self->in_flight || self->count == 0)
        return false;
    if (zstr_send(self->req, self->queue[self->head].request) != 0)
        return false;
    self->in_flight = true;
    return true;
}

void
web_backend_process(web_backend_t *self, double now)
{
    bool progress = true;
    while (progress) {
        progress = false;
        while (self->in_flight && (zsock_events(self->req) & ZMQ_POLLIN)) {
            char *text = zstr_recv(self->req);
            if (!text)
                break;
            cJSON *reply = cJSON_Parse(text);
            zstr_free(&text);
            if (!cJSON_IsObject(reply)) {
                cJSON_Delete(reply);
                reply = NULL;
            }
            s_finish(self, reply);
            progress = true;
        }
        while (self->count && self->queue[self->head].deadline <= now) {
            self->timeouts++;
            s_finish(self, NULL);
            progress = true;
        }
        /*  Until ezshmd told where it publishes events, ask it once a second. */
        if (!self->events_known && !self->learning && now >= self->learn_at
            && web_backend_call(self, "{\"op\":\"get\"}", s_learned, self) == 0) {
            self->learning = true;
            self->learn_at = now + 1.0;
        }
        progress |= s_send_next(self);
        while (zsock_events(self->sub) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv(self->sub);
            if (!msg)
                break;
            char *topic = zmsg_popstr(msg);
            char *json = zmsg_popstr(msg);
            if (topic && json && strcmp(topic, EVENTS_TOPIC) == 0 && self->on_event)
                self->on_event(self->event_arg, self, json, strlen(json));
            zstr_free(&topic);
            zstr_free(&json);
            zmsg_destroy(&msg);
        }
    }
}

double
web_backend_deadline(const web_backend_t *self)
{
    if (self->count)
        return self->queue[self->head].deadline;
    return self->events_known ? 0 : self->learn_at;
}

uint64_t
web_backend_timeouts(const web_backend_t *self)
{
    return self->timeouts;
}
