/*  control_server.c — see control_server.h and docs/control-protocol.md. */
#include "control_server.h"
#include "ezshm_error.h"
#include "json_tolerant.h"
#include "ezshm_utf8.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define EVENT_TOPIC "ezshm.event"
#define SEND_TIMEOUT_MS 1000
#define EVENTS_LINGER_MS 200

struct _control_server_t {
    settings_t settings;
    control_callbacks_t cb;
    void *ctx;
    zsock_t *rep;
    zsock_t *pub;        /* NULL without an events endpoint */
    zactor_t *auth;      /* NULL without CURVE */
};

static const char *const s_health_names[] = { "ingesting", "idle", "error" };

const char *
control_health_name(control_health_t health)
{
    return (unsigned) health < 3 ? s_health_names[health] : "error";
}

/*  Loads the server certificate and starts zauth for the allowed client keys.
    zauth must exist before a client connects, so this runs before any bind. */
static int
s_curve_setup(control_server_t *self, zcert_t **cert_p, char *err, size_t errlen)
{
    const settings_t *s = &self->settings;
    zcert_t *cert = zcert_load(s->curve_server_cert);
    if (!cert)
        return ezshm_fail(err, errlen, -1, "cannot load curve_server_cert %s", s->curve_server_cert);
    static const byte zero[32];
    if (memcmp(zcert_secret_key(cert), zero, sizeof zero) == 0) {
        zcert_destroy(&cert);
        return ezshm_fail(err, errlen, -1, "curve_server_cert %s has no secret key (is %s_secret there?)",
                      s->curve_server_cert, s->curve_server_cert);
    }
    struct stat st;
    if (strcmp(s->curve_clients_dir, CURVE_ALLOW_ANY) != 0
        && (stat(s->curve_clients_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        zcert_destroy(&cert);
        return ezshm_fail(err, errlen, -1, "curve_clients_dir %s is not a directory", s->curve_clients_dir);
    }
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth || zstr_sendx(self->auth, "CURVE", s->curve_clients_dir, NULL) != 0
        || zsock_wait(self->auth) != 0) {
        zcert_destroy(&cert);
        return ezshm_fail(err, errlen, -1, "cannot start the CURVE authenticator");
    }
    *cert_p = cert;
    return 0;
}

/*  A socket of type bound to endpoint, with every option set before the bind: libzmq gives
    a listener's options to the connections it accepts, so an option set after bind (say
    ZMQ_MAXMSGSIZE) would never reach a client's connection. maxmsgsize -1: no limit. */
static zsock_t *
s_bind(int type, const char *endpoint, zcert_t *cert, int64_t maxmsgsize, int linger_ms, char *err,
       size_t errlen)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        ezshm_fail(err, errlen, -1, "cannot create a socket for %s", endpoint);
        return NULL;
    }
    if (cert) {
        zcert_apply(cert, sock);
        zsock_set_curve_server(sock, 1);
    }
    /*  A stuck peer must not block the daemon's loop, and a huge request is cut off by
        ZeroMQ before it costs memory (czmq's setter would truncate the int64 option). */
    zsock_set_sndtimeo(sock, SEND_TIMEOUT_MS);
    zsock_set_linger(sock, linger_ms);
    zmq_setsockopt(zsock_resolve(sock), ZMQ_MAXMSGSIZE, &maxmsgsize, sizeof maxmsgsize);
    if (zsock_bind(sock, "%s", endpoint) == -1) {
        ezshm_fail(err, errlen, -1, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
    }
    return sock;
}

control_server_t *
control_server_new(const settings_t *settings, const control_callbacks_t *callbacks, void *ctx,
                   char *err, size_t errlen)
{
    if (!callbacks->apply || !callbacks->status || !callbacks->health || !callbacks->quit) {
        ezshm_fail(err, errlen, -1, "control_server_new: every callback is required");
        return NULL;
    }
    control_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        ezshm_fail(err, errlen, -1, "out of memory");
        return NULL;
    }
    self->settings = *settings;
    self->cb = *callbacks;
    self->ctx = ctx;
    zcert_t *cert = NULL;
    int rc = *settings->curve_server_cert ? s_curve_setup(self, &cert, err, errlen) : 0;
    if (rc == 0) {
        self->rep = s_bind(ZMQ_REP, settings->control, cert, CONTROL_REQUEST_MAX, 0, err, errlen);
        rc = self->rep ? 0 : -1;
    }
    if (rc == 0 && *settings->events) {
        /*  Subscribers send only subscriptions: the same small limit. */
        self->pub = s_bind(ZMQ_PUB, settings->events, cert, CONTROL_REQUEST_MAX, EVENTS_LINGER_MS, err, errlen);
        rc = self->pub ? 0 : -1;
    }
    zcert_destroy(&cert);
    if (rc != 0)
        control_server_destroy(&self);
    return self;
}

void
control_server_destroy(control_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    control_server_t *self = *self_p;
    zsock_destroy(&self->rep);
    zsock_destroy(&self->pub);
    zactor_destroy(&self->auth);
    free(self);
    *self_p = NULL;
}

const settings_t *
control_server_settings(control_server_t *self)
{
    return &self->settings;
}

static cJSON *
s_error_reply(settings_code_t code, const char *message)
{
    cJSON *reply = cJSON_CreateObject();
    cJSON *error = cJSON_AddObjectToObject(reply, "error");
    cJSON_AddFalseToObject(reply, "ok");
    cJSON_AddStringToObject(error, "code", settings_code_name(code));
    cJSON_AddStringToObject(error, "message", message);
    return reply;
}

static cJSON *
s_ok_reply(void)
{
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddTrueToObject(reply, "ok");
    return reply;
}

/*  Rejects duplicated envelope keys and keys other than "op" and, for update,
    "settings". NULL if the envelope is fine. */
static cJSON *
s_check_envelope(const cJSON *req, const char *op, bool takes_settings)
{
    char msg[SETTINGS_MSG_MAX], key[64];
    const cJSON *item;
    cJSON_ArrayForEach(item, req) {
        json_excerpt(item->string, key, sizeof key);
        for (const cJSON *prev = req->child; prev != item; prev = prev->next)
            if (strcmp(prev->string, item->string) == 0) {
                snprintf(msg, sizeof msg, "key \"%s\" appears more than once", key);
                return s_error_reply(SETTINGS_ERR_BAD_REQUEST, msg);
            }
        if (strcmp(item->string, "op") != 0
            && !(takes_settings && strcmp(item->string, "settings") == 0)) {
            snprintf(msg, sizeof msg, "request \"%s\" takes no field \"%s\"%s", op, key,
                     takes_settings ? " (only \"settings\")" : "");
            return s_error_reply(SETTINGS_ERR_UNKNOWN_FIELD, msg);
        }
    }
    return NULL;
}

/*  Validates fields against the current settings — and, for a request that came over the
    socket, against what control may change (settings_check_control) — then lets the daemon
    apply them. */
static cJSON *
s_update(control_server_t *self, const cJSON *fields, bool from_socket)
{
    settings_error_t err;
    settings_t next;
    if (settings_merge(&self->settings, fields, &next, &err) != SETTINGS_OK
        || (from_socket && settings_check_control(&self->settings, &next, &err) != SETTINGS_OK))
        return s_error_reply(err.code, err.message);
    unsigned actions = settings_diff(&self->settings, &next);
    cJSON *applied = cJSON_CreateArray();
    if (!applied)
        return NULL;
    cJSON *reply;
    char msg[SETTINGS_MSG_MAX] = "";
    int failed = actions ? self->cb.apply(self->ctx, &self->settings, &next, actions, applied, msg, sizeof msg) : 0;
    if (failed) {
        reply = s_error_reply(failed > 0 ? (settings_code_t) failed : SETTINGS_ERR_APPLY_FAILED,
                              *msg ? msg : "the daemon could not apply the settings");
    } else {
        if (actions)
            self->settings = next;
        reply = s_ok_reply();
        cJSON_AddItemToObject(reply, "settings", settings_to_json(&self->settings));
    }
    cJSON_AddItemToObject(reply, "applied", applied);
    return reply;
}

cJSON *
control_server_update(control_server_t *self, const cJSON *fields)
{
    return s_update(self, fields, false);
}

static cJSON *
s_op_update(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) quit;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(req, "settings");
    if (!fields)
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST,
                             "request \"update\" needs a \"settings\" object");
    if (!cJSON_IsObject(fields))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, "settings must be a JSON object");
    return s_update(self, fields, true);
}

static cJSON *
s_op_get(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) req;
    (void) quit;
    cJSON *reply = s_ok_reply();
    cJSON_AddItemToObject(reply, "settings", settings_to_json(&self->settings));
    return reply;
}

static cJSON *
s_op_status(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) req;
    (void) quit;
    cJSON *reply = s_ok_reply();
    cJSON_AddItemToObject(reply, "settings", settings_to_json(&self->settings));
    cJSON *status = cJSON_AddObjectToObject(reply, "status");
    if (status)
        self->cb.status(self->ctx, status);
    return reply;
}

static cJSON *
s_op_health(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) req;
    (void) quit;
    char detail[SETTINGS_MSG_MAX] = "";
    control_health_t health = self->cb.health(self->ctx, detail, sizeof detail);
    cJSON *reply = s_ok_reply();
    cJSON_AddStringToObject(reply, "state", control_health_name(health));
    cJSON_AddStringToObject(reply, "detail", detail);
    return reply;
}

static cJSON *
s_op_quit(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) self;
    (void) req;
    *quit = true;
    return s_ok_reply();
}

static const struct {
    const char *name;
    bool takes_settings;
    cJSON *(*run)(control_server_t *self, const cJSON *req, bool *quit);
} s_ops[] = {
    { "update", true, s_op_update },  { "get", false, s_op_get },
    { "status", false, s_op_status }, { "health", false, s_op_health },
    { "quit", false, s_op_quit },
};

/*  The reply to one parsed request. A request without "op" is a bare update. */
static cJSON *
s_request(control_server_t *self, const cJSON *req, bool *quit)
{
    if (!cJSON_IsObject(req))
        return s_error_reply(SETTINGS_ERR_NOT_OBJECT, "a request must be a JSON object");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
    if (!op)
        return s_update(self, req, true);
    if (!cJSON_IsString(op))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, "op must be a string");
    for (size_t i = 0; i < sizeof s_ops / sizeof s_ops[0]; i++)
        if (strcmp(op->valuestring, s_ops[i].name) == 0) {
            cJSON *bad = s_check_envelope(req, s_ops[i].name, s_ops[i].takes_settings);
            return bad ? bad : s_ops[i].run(self, req, quit);
        }
    char msg[SETTINGS_MSG_MAX], name[64];
    json_excerpt(op->valuestring, name, sizeof name);
    snprintf(msg, sizeof msg, "unknown op \"%s\" (expected update, get, status, health or quit)",
             name);
    return s_error_reply(SETTINGS_ERR_UNKNOWN_OP, msg);
}

/*  cJSON 1.7.15 prints a number with "%1.15g" whenever that reads back within a relative
    DBL_EPSILON, so 2^53 goes out as 9.00719925474099e+15 and 2.0000000000000004 as 2: a
    "get" reply sent back as an update would then change (or be refused as changing) a
    setting. Before printing, every finite number becomes raw text that reads back exactly
    (json_format_number); on out of memory a node is left to cJSON. */
static void
s_exact_numbers(cJSON *node)
{
    for (; node; node = node->next) {
        if (cJSON_IsNumber(node) && isfinite(node->valuedouble)) {
            char text[40];
            json_format_number(node->valuedouble, text, sizeof text);
            char *raw = cJSON_malloc(strlen(text) + 1);
            if (raw) {
                memcpy(raw, text, strlen(text) + 1);
                node->type = cJSON_Raw;
                node->valuestring = raw;
            }
        }
        else
            s_exact_numbers(node->child);
    }
}

/*  s with every malformed UTF-8 sequence replaced by U+FFFD (cJSON_malloc'd), or NULL. */
static char *
s_utf8_repaired(const char *s)
{
    size_t len = strlen(s), w = 0;
    char *out = cJSON_malloc(3 * len + 1);
    for (size_t i = 0; out && i < len;) {
        uint32_t cp;
        i += ezshm_utf8_get(s + i, len - i, &cp);
        w += ezshm_utf8_put(out + w, cp);
    }
    if (out)
        out[w] = '\0';
    return out;
}

/*  Every JSON text ezshmd sends is valid UTF-8, whatever made a string: the stream key keeps
    ShMemCircBuff's byte cut (1024 bytes, possibly inside a character), a wire error quotes
    bytes of a message. Keys and string values that are not well-formed are repaired in place
    (on out of memory a string is left as it is). */
static void
s_valid_utf8(cJSON *node)
{
    for (; node; node = node->next) {
        if (node->string && !ezshm_utf8_valid(node->string, strlen(node->string))) {
            char *key = s_utf8_repaired(node->string);
            if (key) {
                if (!(node->type & cJSON_StringIsConst))
                    cJSON_free(node->string);
                node->type &= ~cJSON_StringIsConst;
                node->string = key;
            }
        }
        if (cJSON_IsString(node) && !ezshm_utf8_valid(node->valuestring, strlen(node->valuestring))) {
            char *value = s_utf8_repaired(node->valuestring);
            if (value) {
                cJSON_free(node->valuestring);
                node->valuestring = value;
            }
        }
        s_valid_utf8(node->child);
    }
}

/*  The reply to one received message (NULL only when out of memory). */
static cJSON *
s_dispatch(control_server_t *self, zmsg_t *msg, bool *quit)
{
    char text[SETTINGS_MSG_MAX];
    if (zmsg_size(msg) != 1) {
        snprintf(text, sizeof text, "a request is one frame, got %zu", zmsg_size(msg));
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST, text);
    }
    zframe_t *frame = zmsg_first(msg);
    cJSON *req = json_parse_tolerant((const char *) zframe_data(frame), zframe_size(frame),
                                     text, sizeof text);
    if (!req)
        return s_error_reply(SETTINGS_ERR_BAD_JSON, text);
    cJSON *reply = s_request(self, req, quit);
    cJSON_Delete(req);
    return reply;
}

int
control_server_handle(control_server_t *self)
{
    zmsg_t *msg = zmsg_recv(self->rep);
    if (!msg)
        return -1;
    bool quit = false;
    cJSON *reply = s_dispatch(self, msg, &quit);
    zmsg_destroy(&msg);
    s_valid_utf8(reply);
    s_exact_numbers(reply);
    char *text = reply ? cJSON_PrintUnformatted(reply) : NULL;
    cJSON_Delete(reply);
    /*  REP must answer before it can receive again; out of memory still gets a reply. */
    int rc = zstr_send(self->rep, text ? text
                                       : "{\"ok\":false,\"error\":{\"code\":\"apply_failed\","
                                         "\"message\":\"out of memory building the reply\"}}");
    cJSON_free(text);
    if (quit)
        self->cb.quit(self->ctx);
    return rc != 0 ? -1 : quit ? 1 : 0;
}

int
control_server_fd(control_server_t *self)
{
    return zsock_fd(self->rep);
}

int
control_server_drain(control_server_t *self, int max)
{
    int answered = 0;
    /*  zsock_events() reads ZMQ_EVENTS, which also processes the socket's pending commands:
        ending on "nothing readable" is what re-arms the edge-style fd. */
    while (answered < max && (zsock_events(self->rep) & ZMQ_POLLIN)) {
        int rc = control_server_handle(self);
        if (rc < 0)
            return -1;
        answered++;
        if (rc == 1)
            break;
    }
    return answered;
}

int
control_server_publish_event(control_server_t *self, const char *event, const cJSON *fields)
{
    if (!self->pub)
        return 0;
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !cJSON_AddStringToObject(obj, "event", event)) {
        cJSON_Delete(obj);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, fields) {
        if (strcmp(item->string, "event") != 0)
            cJSON_AddItemToObject(obj, item->string, cJSON_Duplicate(item, true));
    }
    s_valid_utf8(obj);
    s_exact_numbers(obj);
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    int rc = text ? zstr_sendx(self->pub, EVENT_TOPIC, text, NULL) : -1;
    cJSON_free(text);
    return rc == 0 ? 0 : -1;
}
