/*  subscriber.c — SUB socket set-up, live re-subscription, and frame receive. */
#include "subscriber.h"

#include <string.h>
#include <zmq.h>

#define MAX_HELD 4

/*  A bound endpoint as configured and as libzmq resolved it: a wildcard tcp bind (any
    interface, "*") is recorded as "tcp://0.0.0.0:PORT", and zmq_unbind only knows that form. */
typedef struct {
    char configured[SETTINGS_NAME_MAX + 1];
    char resolved[SETTINGS_NAME_MAX + 1];
} bound_endpoint_t;

struct subscriber_t {
    zsock_t        *sock;
    void           *raw;                  /* libzmq handle, for zmq_msg_recv */
    settings_list_t connected, bound, topics;
    bound_endpoint_t binds[2 * SETTINGS_LIST_MAX];   /* old and new during an update */
    size_t          n_binds;
    zmq_msg_t       held[MAX_HELD];       /* frames of the message last returned */
    size_t          n_held;
};

/*  Applies the CURVE client side: the publisher's public key, and our certificate (or a
    throwaway one: the server may accept any client key). */
static int
s_curve(subscriber_t *self, const settings_t *s, char *err, size_t errlen)
{
    if (!s->sub_curve_serverkey[0])
        return 0;
    zcert_t *cert = s->sub_curve_client_cert[0] ? zcert_load(s->sub_curve_client_cert) : zcert_new();
    if (!cert) {
        snprintf(err, errlen, "cannot load SUB CURVE client certificate '%s'", s->sub_curve_client_cert);
        return -1;
    }
    zcert_apply(cert, self->sock);
    zcert_destroy(&cert);
    zsock_set_curve_serverkey(self->sock, s->sub_curve_serverkey);
    return 0;
}

static void
s_topics(subscriber_t *self, const settings_list_t *topics, bool subscribe)
{
    if (topics->count == 0) {
        if (subscribe)
            zsock_set_subscribe(self->sock, "");
        else
            zsock_set_unsubscribe(self->sock, "");
    }
    for (size_t i = 0; i < topics->count; i++) {
        if (subscribe)
            zsock_set_subscribe(self->sock, topics->item[i]);
        else
            zsock_set_unsubscribe(self->sock, topics->item[i]);
    }
}

static int
s_bind(subscriber_t *self, const char *endpoint)
{
    if (self->n_binds == sizeof self->binds / sizeof self->binds[0] || zsock_bind(self->sock, "%s", endpoint) < 0)
        return -1;
    bound_endpoint_t *b = &self->binds[self->n_binds++];
    char *resolved = zsock_last_endpoint(self->sock);
    snprintf(b->configured, sizeof b->configured, "%s", endpoint);
    snprintf(b->resolved, sizeof b->resolved, "%s", resolved ? resolved : endpoint);
    zstr_free(&resolved);
    return 0;
}

static void
s_unbind(subscriber_t *self, const char *endpoint)
{
    for (size_t i = 0; i < self->n_binds; i++) {
        if (strcmp(self->binds[i].configured, endpoint) != 0)
            continue;
        zsock_unbind(self->sock, "%s", self->binds[i].resolved);
        self->binds[i] = self->binds[--self->n_binds];
        return;
    }
}

static void
s_remove(subscriber_t *self, const char *endpoint, bool bind)
{
    if (bind)
        s_unbind(self, endpoint);
    else
        zsock_disconnect(self->sock, "%s", endpoint);
}

/*  Adds the endpoints of want missing from have; on failure removes what it added. */
static int
s_add_endpoints(subscriber_t *self, const settings_list_t *want, const settings_list_t *have, bool bind,
                char *err, size_t errlen)
{
    for (size_t i = 0; i < want->count; i++) {
        if (settings_list_has(have, want->item[i]))
            continue;
        int rc = bind ? s_bind(self, want->item[i]) : zsock_connect(self->sock, "%s", want->item[i]);
        if (rc < 0) {
            snprintf(err, errlen, "cannot %s SUB socket to '%s': %s", bind ? "bind" : "connect", want->item[i],
                     zmq_strerror(zmq_errno()));
            for (size_t j = 0; j < i; j++)
                if (!settings_list_has(have, want->item[j]))
                    s_remove(self, want->item[j], bind);
            return -1;
        }
    }
    return 0;
}

static void
s_remove_endpoints(subscriber_t *self, const settings_list_t *have, const settings_list_t *want, bool bind)
{
    for (size_t i = 0; i < have->count; i++)
        if (!settings_list_has(want, have->item[i]))
            s_remove(self, have->item[i], bind);
}

subscriber_t *
subscriber_new(const settings_t *s, char *err, size_t errlen)
{
    subscriber_t *self = calloc(1, sizeof *self);
    if (!self || !(self->sock = zsock_new(ZMQ_SUB))) {
        snprintf(err, errlen, "cannot create the SUB socket");
        free(self);
        return NULL;
    }
    self->raw = zsock_resolve(self->sock);
    zsock_set_rcvhwm(self->sock, s->rcvhwm);
    /*  ZMQ_MAXMSGSIZE is an int64 option; czmq's setter truncates it to int. */
    int64_t maxmsgsize = s->maxmsgsize;
    zmq_setsockopt(self->raw, ZMQ_MAXMSGSIZE, &maxmsgsize, sizeof maxmsgsize);
    zsock_set_linger(self->sock, 0);
    settings_list_t none = {0};
    if (s_curve(self, s, err, errlen) != 0 || s_add_endpoints(self, &s->sub, &none, false, err, errlen) != 0
        || s_add_endpoints(self, &s->sub_bind, &none, true, err, errlen) != 0) {
        subscriber_destroy(&self);
        return NULL;
    }
    s_topics(self, &s->topic, true);
    self->connected = s->sub;
    self->bound = s->sub_bind;
    self->topics = s->topic;
    return self;
}

static void
s_release(subscriber_t *self)
{
    for (size_t i = 0; i < self->n_held; i++)
        zmq_msg_close(&self->held[i]);
    self->n_held = 0;
}

void
subscriber_destroy(subscriber_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_release(*self_p);
    zsock_destroy(&(*self_p)->sock);
    free(*self_p);
    *self_p = NULL;
}

int
subscriber_fd(subscriber_t *self)
{
    return zsock_fd(self->sock);
}

int
subscriber_recv(subscriber_t *self, wire_frame_t *frames, size_t max, size_t *n)
{
    s_release(self);
    if (max > MAX_HELD)
        max = MAX_HELD;
    zmq_msg_init(&self->held[0]);
    if (zmq_msg_recv(&self->held[0], self->raw, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&self->held[0]);
        return 0;
    }
    self->n_held = 1;
    /*  A message longer than max frames: keep the first max, drain the rest (ZeroMQ
        delivers all parts of a message at once, so these receives never block). */
    while (zmq_msg_more(&self->held[self->n_held - 1])) {
        zmq_msg_t *part = &self->held[self->n_held < max ? self->n_held : max - 1];
        if (self->n_held == max)
            zmq_msg_close(part);
        zmq_msg_init(part);
        if (zmq_msg_recv(part, self->raw, 0) < 0)
            break;
        if (self->n_held < max)
            self->n_held++;
    }
    for (size_t i = 0; i < self->n_held; i++) {
        frames[i].data = zmq_msg_data(&self->held[i]);
        frames[i].size = zmq_msg_size(&self->held[i]);
    }
    *n = self->n_held;
    return 1;
}

int
subscriber_update(subscriber_t *self, const settings_t *next, char *err, size_t errlen)
{
    if (s_add_endpoints(self, &next->sub, &self->connected, false, err, errlen) != 0)
        return -1;
    if (s_add_endpoints(self, &next->sub_bind, &self->bound, true, err, errlen) != 0) {
        s_remove_endpoints(self, &next->sub, &self->connected, false);
        return -1;
    }
    s_remove_endpoints(self, &self->connected, &next->sub, false);
    s_remove_endpoints(self, &self->bound, &next->sub_bind, true);
    /*  Subscribe to the new prefixes before dropping the old, so a shared prefix never
        has a gap. */
    s_topics(self, &next->topic, true);
    s_topics(self, &self->topics, false);
    self->connected = next->sub;
    self->bound = next->sub_bind;
    self->topics = next->topic;
    return 0;
}

static void
s_list_json(cJSON *out, const char *name, const settings_list_t *list)
{
    cJSON *array = cJSON_AddArrayToObject(out, name);
    for (size_t i = 0; i < list->count; i++)
        cJSON_AddItemToArray(array, cJSON_CreateString(list->item[i]));
}

void
subscriber_status(const subscriber_t *self, cJSON *out)
{
    s_list_json(out, "connect", &self->connected);
    s_list_json(out, "bind", &self->bound);
    cJSON *resolved = cJSON_AddArrayToObject(out, "bound_endpoints");
    for (size_t i = 0; i < self->n_binds; i++)
        cJSON_AddItemToArray(resolved, cJSON_CreateString(self->binds[i].resolved));
    s_list_json(out, "topics", &self->topics);
}
