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
    uint64_t replies[SETTINGS_CODE_COUNT];   /* requests answered, by outcome (code) */
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
        ezshm_fail(err, errlen, -1, "control_server_new: apply, status, health and quit are required");
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

void
control_server_set_defaults(control_server_t *self, const settings_t *defaults)
{
    settings_t next = *defaults;
    settings_copy_shared(&next, &self->settings);
    memcpy(next.shmem_name, self->settings.shmem_name, sizeof next.shmem_name);
    self->settings = next;
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

/*  Rejects duplicated envelope keys and keys other than "op", "stream" and the op's own
    (extra: NULL or a list such as "settings", "topic"). NULL if the envelope is fine. */
static cJSON *
s_check_envelope(const cJSON *req, const char *op, const char *const *extra)
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
        bool known = strcmp(item->string, "op") == 0 || strcmp(item->string, "stream") == 0;
        for (const char *const *e = extra; e && *e && !known; e++)
            known = strcmp(item->string, *e) == 0;
        if (!known) {
            char allowed[64] = "\"stream\"";
            for (const char *const *e = extra; e && *e; e++)
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), ", \"%s\"", *e);
            snprintf(msg, sizeof msg, "request \"%s\" takes no field \"%s\" (only %s)", op, key, allowed);
            return s_error_reply(SETTINGS_ERR_UNKNOWN_FIELD, msg);
        }
    }
    return NULL;
}

/*  The stream a request addresses. name NULL: none named. *target gets its settings, or
    NULL when none is named and there are none or several (*count says which). Returns an
    error reply, or NULL. */
static cJSON *
s_find(control_server_t *self, const char *name, const settings_t **target, size_t *count)
{
    if (self->cb.find)
        *target = self->cb.find(self->ctx, name, count);
    else {
        *count = 1;
        *target = !name || strcmp(name, self->settings.shmem_name) == 0 ? &self->settings : NULL;
    }
    if (name && !*target) {
        char msg[SETTINGS_MSG_MAX], excerpt[64];
        json_excerpt(name, excerpt, sizeof excerpt);
        snprintf(msg, sizeof msg, "no stream named \"%s\" (op \"streams\" lists them)", excerpt);
        return s_error_reply(SETTINGS_ERR_UNKNOWN_STREAM, msg);
    }
    return NULL;
}

/*  The "stream" member of a request: NULL when absent; *bad gets an error reply when it is
    not a string. */
static const char *
s_stream_name(const cJSON *req, cJSON **bad)
{
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
    *bad = NULL;
    if (!stream)
        return NULL;
    if (!cJSON_IsString(stream)) {
        *bad = s_error_reply(SETTINGS_ERR_WRONG_TYPE, "stream must be a string (a stream's shmem_name)");
        return NULL;
    }
    return stream->valuestring;
}

/*  The stream an update changes: the named one, the only one, or — with no stream at all —
    the daemon's defaults. Several and none named is a question back. */
static cJSON *
s_update_target(control_server_t *self, const char *name, const settings_t **target)
{
    size_t count;
    cJSON *bad = s_find(self, name, target, &count);
    if (bad || *target)
        return bad;
    if (count > 1) {
        char msg[SETTINGS_MSG_MAX];
        snprintf(msg, sizeof msg, "which stream? the daemon has %zu: name one with \"stream\" "
                 "(op \"streams\" lists them)", count);
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST, msg);
    }
    *target = &self->settings;
    return NULL;
}

/*  Validates fields against the current settings of a stream — and, for a request that came
    over the socket, against what control may change (settings_check_control) — then lets
    the daemon apply them. */
static cJSON *
s_update(control_server_t *self, const char *name, const cJSON *fields, bool from_socket)
{
    const settings_t *current;
    cJSON *bad = s_update_target(self, name, &current);
    if (bad)
        return bad;
    settings_error_t err;
    settings_t next;
    if (settings_merge(current, fields, &next, &err) != SETTINGS_OK
        || (from_socket && settings_check_control(current, &next, &err) != SETTINGS_OK))
        return s_error_reply(err.code, err.message);
    /*  Two streams under one name would write the same segments. */
    size_t count;
    const settings_t *other = strcmp(next.shmem_name, current->shmem_name) != 0 && self->cb.find
                                  ? self->cb.find(self->ctx, next.shmem_name, &count) : NULL;
    if (other) {
        char msg[SETTINGS_MSG_MAX], excerpt[64];
        json_excerpt(next.shmem_name, excerpt, sizeof excerpt);
        snprintf(msg, sizeof msg, "stream \"%s\" already exists: a stream cannot be renamed onto it", excerpt);
        return s_error_reply(SETTINGS_ERR_STREAM_EXISTS, msg);
    }
    unsigned actions = settings_diff(current, &next);
    cJSON *applied = cJSON_CreateArray();
    if (!applied)
        return NULL;
    cJSON *reply;
    char msg[SETTINGS_MSG_MAX] = "";
    int failed = actions ? self->cb.apply(self->ctx, current, &next, actions, applied, msg, sizeof msg) : 0;
    if (failed) {
        reply = s_error_reply(failed > 0 ? (settings_code_t) failed : SETTINGS_ERR_APPLY_FAILED,
                              *msg ? msg : "the daemon could not apply the settings");
    } else {
        if (current == &self->settings)
            self->settings = next;
        else
            settings_copy_shared(&self->settings, &next);
        reply = s_ok_reply();
        cJSON_AddItemToObject(reply, "settings", settings_to_json(&next));
    }
    cJSON_AddItemToObject(reply, "applied", applied);
    return reply;
}

cJSON *
control_server_update(control_server_t *self, const char *stream, const cJSON *fields)
{
    return s_update(self, stream, fields, false);
}

static cJSON *
s_op_update(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) quit;
    cJSON *bad;
    const char *name = s_stream_name(req, &bad);
    if (bad)
        return bad;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(req, "settings");
    if (!fields)
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST,
                             "request \"update\" needs a \"settings\" object");
    if (!cJSON_IsObject(fields))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, "settings must be a JSON object");
    return s_update(self, name, fields, true);
}

/*  The stream a get/status/health request reads: the named one, the only one, or NULL for
    the whole daemon. */
static cJSON *
s_read_target(control_server_t *self, const cJSON *req, const settings_t **target)
{
    cJSON *bad;
    const char *name = s_stream_name(req, &bad);
    size_t count;
    return bad ? bad : s_find(self, name, target, &count);
}

/*  "streams" of a reply: every stream's summary. */
static void
s_add_streams(control_server_t *self, cJSON *reply)
{
    cJSON *streams = cJSON_AddArrayToObject(reply, "streams");
    if (streams)
        self->cb.list(self->ctx, streams);
}

/*  "settings" of a reply: the stream's, or the daemon's (with every stream's summary when
    with_streams and the server has a stream table). */
static void
s_add_settings(control_server_t *self, cJSON *reply, const settings_t *target, bool with_streams)
{
    cJSON_AddItemToObject(reply, "settings", settings_to_json(target ? target : &self->settings));
    if (!target && with_streams && self->cb.list)
        s_add_streams(self, reply);
}

/*  get, status and health answer for the target s_read_target found (NULL: the daemon). */
static cJSON *
s_read_get(control_server_t *self, const settings_t *target)
{
    cJSON *reply = s_ok_reply();
    s_add_settings(self, reply, target, true);
    return reply;
}

static cJSON *
s_read_status(control_server_t *self, const settings_t *target)
{
    cJSON *reply = s_ok_reply();
    s_add_settings(self, reply, target, false);
    cJSON *status = cJSON_AddObjectToObject(reply, "status");
    if (status)
        self->cb.status(self->ctx, target, status);
    /*  The daemon's own: how its control requests ended, this one not yet counted. */
    cJSON *outcomes = status ? cJSON_AddObjectToObject(status, "control_requests") : NULL;
    for (int code = 0; outcomes && code < SETTINGS_CODE_COUNT; code++)
        cJSON_AddNumberToObject(outcomes, settings_code_name(code), (double) self->replies[code]);
    return reply;
}

static cJSON *
s_read_health(control_server_t *self, const settings_t *target)
{
    char detail[SETTINGS_MSG_MAX] = "";
    control_health_t health = self->cb.health(self->ctx, target, detail, sizeof detail);
    cJSON *reply = s_ok_reply();
    cJSON_AddStringToObject(reply, "state", control_health_name(health));
    cJSON_AddStringToObject(reply, "detail", detail);
    return reply;
}

static cJSON *
s_no_table(void)
{
    return s_error_reply(SETTINGS_ERR_APPLY_FAILED, "this server has no stream table");
}

#define TOPIC_TEXT "topic must be a string of at most 255 bytes without '{' (the exact topic)"

/*  A new stream name for messages of exactly topic, starting from the daemon's settings with
    the per-stream fields (an object, or NULL); a request that came over the socket obeys
    the limits of a change made over control too (settings_check_control). */
static cJSON *
s_add_stream(control_server_t *self, const char *name, const char *topic, const cJSON *fields,
             bool from_socket)
{
    if (!self->cb.add_stream || !self->cb.find)
        return s_no_table();
    if (strlen(topic) > SETTINGS_NAME_MAX || strchr(topic, '{'))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, TOPIC_TEXT);
    if (fields && !cJSON_IsObject(fields))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, "settings must be a JSON object");
    settings_error_t err;
    const cJSON *item;
    cJSON_ArrayForEach(item, fields) {
        if (settings_is_field(item->string) && !settings_is_stream_field(item->string)) {
            char key[64];
            json_excerpt(item->string, key, sizeof key);
            settings_fail(&err, SETTINGS_ERR_UNKNOWN_FIELD, "%s is the daemon's, not a stream's (per stream: "
                          "shmem_name, buf_dur, axis, header, max_stream_bytes)", key);
            return s_error_reply(err.code, err.message);
        }
    }
    settings_t next = self->settings;
    cJSON *name_json = cJSON_CreateString(name);
    settings_code_t rc = name_json ? settings_set_field(&next, "shmem_name", name_json, &err)
                                   : settings_fail(&err, SETTINGS_ERR_APPLY_FAILED, "out of memory");
    cJSON_Delete(name_json);
    if (rc == SETTINGS_OK && fields)
        rc = settings_set_fields(&next, fields, &err);
    /*  A new stream is a change made over control: the same limits as an update. */
    if (rc == SETTINGS_OK && from_socket)
        rc = settings_check_control(&self->settings, &next, &err);
    if (rc != SETTINGS_OK)
        return s_error_reply(err.code, err.message);
    if (strcmp(next.shmem_name, name) != 0)
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST, "the name is \"stream\"; settings.shmem_name must not differ");
    size_t count;
    if (self->cb.find(self->ctx, name, &count)) {
        settings_fail(&err, SETTINGS_ERR_STREAM_EXISTS, "stream \"%.200s\" already exists", name);
        return s_error_reply(err.code, err.message);
    }
    cJSON *applied = cJSON_CreateArray();
    if (!applied)
        return NULL;
    rc = self->cb.add_stream(self->ctx, topic, &next, applied, &err);
    cJSON *reply = rc == SETTINGS_OK ? s_ok_reply() : s_error_reply(err.code, err.message);
    if (rc == SETTINGS_OK)
        cJSON_AddItemToObject(reply, "settings", settings_to_json(&next));
    cJSON_AddItemToObject(reply, "applied", applied);
    return reply;
}

cJSON *
control_server_add_stream(control_server_t *self, const char *name, const char *topic, const cJSON *fields)
{
    return s_add_stream(self, name, topic, fields, false);
}

/*  add_stream and remove_stream create or unlink a name's segments, as a rename does: over
    the socket they need "shmem_name" in control_mutable (a reload is the operator's own and
    goes through control_server_add_stream/_remove_stream ungated). NULL when allowed. */
static cJSON *
s_gate_streams(const control_server_t *self, const char *op)
{
    if (settings_list_has(&self->settings.control_mutable, "shmem_name"))
        return NULL;
    settings_error_t err;
    settings_fail(&err, SETTINGS_ERR_IMMUTABLE, "%s may not be done over control (shmem_name is not in "
                  "control_mutable)", op);
    return s_error_reply(err.code, err.message);
}

/*  add_stream: {"stream": name, "topic": exact topic, "settings": {per-stream fields}}. */
static cJSON *
s_op_add_stream(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) quit;
    cJSON *bad;
    const char *name = s_stream_name(req, &bad);
    const cJSON *topic = cJSON_GetObjectItemCaseSensitive(req, "topic");
    if (!bad)
        bad = s_gate_streams(self, "add_stream");
    if (bad)
        return bad;
    if (!name || !topic)
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST, "request \"add_stream\" needs \"stream\" and \"topic\"");
    if (!cJSON_IsString(topic))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, TOPIC_TEXT);
    return s_add_stream(self, name, topic->valuestring, cJSON_GetObjectItemCaseSensitive(req, "settings"), true);
}

cJSON *
control_server_remove_stream(control_server_t *self, const char *name)
{
    if (!self->cb.remove_stream || !self->cb.find)
        return s_no_table();
    const settings_t *target;
    size_t count;
    cJSON *bad = s_find(self, name, &target, &count);
    if (bad)
        return bad;
    cJSON *applied = cJSON_CreateArray();
    if (!applied)
        return NULL;
    settings_error_t err;
    settings_code_t rc = self->cb.remove_stream(self->ctx, target, applied, &err);
    cJSON *reply = rc == SETTINGS_OK ? s_ok_reply() : s_error_reply(err.code, err.message);
    cJSON_AddItemToObject(reply, "applied", applied);
    return reply;
}

static cJSON *
s_op_remove_stream(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) quit;
    cJSON *bad;
    const char *name = s_stream_name(req, &bad);
    if (!bad)
        bad = s_gate_streams(self, "remove_stream");
    if (bad)
        return bad;
    if (!name)
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST, "request \"remove_stream\" needs \"stream\"");
    return control_server_remove_stream(self, name);
}

static cJSON *
s_op_streams(control_server_t *self, const cJSON *req, bool *quit)
{
    (void) quit;
    if (!self->cb.list)
        return s_no_table();
    if (cJSON_GetObjectItemCaseSensitive(req, "stream"))
        return s_error_reply(SETTINGS_ERR_BAD_REQUEST, "request \"streams\" lists every stream: no \"stream\"");
    cJSON *reply = s_ok_reply();
    s_add_streams(self, reply);
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

static const char *const s_takes_settings[] = { "settings", NULL };
static const char *const s_takes_topic[] = { "settings", "topic", NULL };

/*  An op either reads the request itself (run) or only answers for the stream it names (read). */
static const struct {
    const char *name;
    const char *const *extra;    /* envelope keys besides "op" and "stream" */
    cJSON *(*run)(control_server_t *self, const cJSON *req, bool *quit);
    cJSON *(*read)(control_server_t *self, const settings_t *target);
} s_ops[] = {
    { "update", s_takes_settings, s_op_update, NULL },  { "get", NULL, NULL, s_read_get },
    { "status", NULL, NULL, s_read_status },            { "health", NULL, NULL, s_read_health },
    { "quit", NULL, s_op_quit, NULL },                  { "add_stream", s_takes_topic, s_op_add_stream, NULL },
    { "remove_stream", NULL, s_op_remove_stream, NULL }, { "streams", NULL, s_op_streams, NULL },
};

/*  The reply to one parsed request. A request without "op" is a bare update. */
static cJSON *
s_request(control_server_t *self, const cJSON *req, bool *quit)
{
    if (!cJSON_IsObject(req))
        return s_error_reply(SETTINGS_ERR_NOT_OBJECT, "a request must be a JSON object");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
    if (!op)
        return s_update(self, NULL, req, true);
    if (!cJSON_IsString(op))
        return s_error_reply(SETTINGS_ERR_WRONG_TYPE, "op must be a string");
    for (size_t i = 0; i < sizeof s_ops / sizeof s_ops[0]; i++)
        if (strcmp(op->valuestring, s_ops[i].name) == 0) {
            cJSON *bad = s_check_envelope(req, s_ops[i].name, s_ops[i].extra);
            if (bad || s_ops[i].run)
                return bad ? bad : s_ops[i].run(self, req, quit);
            const settings_t *target;
            bad = s_read_target(self, req, &target);
            return bad ? bad : s_ops[i].read(self, target);
        }
    char msg[SETTINGS_MSG_MAX], name[64];
    json_excerpt(op->valuestring, name, sizeof name);
    snprintf(msg, sizeof msg, "unknown op \"%s\" (expected update, get, status, health, quit, add_stream, "
             "remove_stream or streams)", name);
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

/*  The outcome of a reply: SETTINGS_OK, or its error code (apply_failed for a reply that
    could not be built). */
static settings_code_t
s_outcome(const cJSON *reply)
{
    if (!reply)
        return SETTINGS_ERR_APPLY_FAILED;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")))
        return SETTINGS_OK;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "error"), "code");
    for (int c = 1; cJSON_IsString(code) && c < SETTINGS_CODE_COUNT; c++)
        if (strcmp(code->valuestring, settings_code_name(c)) == 0)
            return c;
    return SETTINGS_ERR_APPLY_FAILED;
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
    self->replies[s_outcome(reply)]++;
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
