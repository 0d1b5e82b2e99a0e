/*  test_control_server.c — requests and replies over a real REP socket, fake daemon
    callbacks, the poll-loop wiring, events, CURVE, and ezshm-ctl against a live server. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control_server.h"

#define FAKE_STREAMS 2

typedef struct {
    int apply_calls, status_calls, health_calls, quit_calls;
    unsigned last_actions;
    int apply_result;          /* what apply returns */
    control_health_t health;
    settings_t streams[FAKE_STREAMS];   /* the fake stream table (table_callbacks) */
    size_t n_streams;
} fake_t;

static int
fake_apply(void *ctx, const settings_t *old, const settings_t *new_, unsigned actions,
           cJSON *applied, char *err, size_t errlen)
{
    fake_t *f = ctx;
    (void) old;
    (void) new_;
    f->apply_calls++;
    f->last_actions = actions;
    if (actions & SETTINGS_ACT_RECREATE_META) {
        cJSON_AddItemToArray(applied, cJSON_CreateString("meta cleanup"));
        cJSON_AddItemToArray(applied, cJSON_CreateString("meta reset"));
    }
    if (actions & SETTINGS_ACT_RESET_BUFFER)
        cJSON_AddItemToArray(applied, cJSON_CreateString("buffer reset"));
    if (f->apply_result != 0)
        snprintf(err, errlen, "no space left in /dev/shm");
    return f->apply_result;
}

static void
fake_status(void *ctx, const settings_t *which, cJSON *out)
{
    (void) which;
    fake_t *f = ctx;
    f->status_calls++;
    cJSON_AddNumberToObject(out, "messages", 42);
    cJSON_AddStringToObject(out, "state", "ingesting");
    cJSON *stream = cJSON_AddObjectToObject(out, "stream");
    cJSON_AddNumberToObject(stream, "generation", 3);
}

static control_health_t
fake_health(void *ctx, const settings_t *stream, char *detail, size_t len)
{
    (void) stream;
    fake_t *f = ctx;
    f->health_calls++;
    if (f->health == CONTROL_HEALTH_ERROR)
        snprintf(detail, len, "SUB socket closed");
    return f->health;
}

static void
fake_quit(void *ctx)
{
    ((fake_t *) ctx)->quit_calls++;
}

static const control_callbacks_t callbacks = { fake_apply, fake_status, fake_health, fake_quit, NULL, NULL, NULL, NULL };

static const settings_t *
fake_find(void *ctx, const char *name, size_t *count)
{
    fake_t *f = ctx;
    *count = f->n_streams;
    for (size_t i = 0; name && i < f->n_streams; i++)
        if (strcmp(f->streams[i].shmem_name, name) == 0)
            return &f->streams[i];
    return !name && f->n_streams == 1 ? &f->streams[0] : NULL;
}

static settings_code_t
fake_add_stream(void *ctx, const char *topic, const settings_t *s, cJSON *applied, settings_error_t *err)
{
    fake_t *f = ctx;
    (void) topic;
    if (f->n_streams == FAKE_STREAMS)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE, "table full");
    f->streams[f->n_streams++] = *s;
    cJSON_AddItemToArray(applied, cJSON_CreateString("meta reset"));
    return SETTINGS_OK;
}

static settings_code_t
fake_remove_stream(void *ctx, const settings_t *which, cJSON *applied, settings_error_t *err)
{
    fake_t *f = ctx;
    (void) err;
    size_t i = (size_t) (which - f->streams);
    memmove(&f->streams[i], &f->streams[i + 1], (f->n_streams - i - 1) * sizeof *f->streams);
    f->n_streams--;
    cJSON_AddItemToArray(applied, cJSON_CreateString("close"));
    return SETTINGS_OK;
}

static void
fake_list(void *ctx, cJSON *streams)
{
    fake_t *f = ctx;
    for (size_t i = 0; i < f->n_streams; i++)
        cJSON_AddItemToArray(streams, cJSON_CreateString(f->streams[i].shmem_name));
}

static const control_callbacks_t table_callbacks = { fake_apply, fake_status, fake_health, fake_quit, fake_find,
                                                     fake_add_stream, fake_remove_stream, fake_list };

typedef struct {
    fake_t fake;
    settings_t settings;
    control_server_t *server;
    zsock_t *client;
} rig_t;

/*  mutable: the one field control may change (NULL: the default, every runtime field). */
static void
rig_start_with(rig_t *r, const char *endpoint, const control_callbacks_t *cb, const char *mutable)
{
    memset(r, 0, sizeof *r);
    settings_defaults(&r->settings);
    strcpy(r->settings.shmem_name, "live");
    if (mutable) {
        r->settings.control_mutable.count = 1;
        snprintf(r->settings.control_mutable.item[0], sizeof r->settings.control_mutable.item[0], "%s", mutable);
    }
    snprintf(r->settings.control, sizeof r->settings.control, "%s", endpoint);
    char err[256] = "";
    r->server = control_server_new(&r->settings, cb, &r->fake, err, sizeof err);
    cr_assert_not_null(r->server, "%s", err);
    r->client = zsock_new_req(endpoint);
    cr_assert_not_null(r->client);
    zsock_set_rcvtimeo(r->client, 2000);
}

static void
rig_start(rig_t *r, const char *endpoint)
{
    rig_start_with(r, endpoint, &callbacks, NULL);
}

static void
rig_stop(rig_t *r)
{
    zsock_destroy(&r->client);
    control_server_destroy(&r->server);
    cr_assert_null(r->server);
}

/*  Serves one request if one arrives within timeout_ms, as the daemon does (the fd, then a
    drain); returns what control_server_handle() would: 0, 1 for a quit (the fake's quit
    callback ran), -1 when the reply could not be sent; or -2 when nothing came. */
static int
serve_once(control_server_t *server, const fake_t *fake, int timeout_ms)
{
    struct pollfd pfd = { control_server_fd(server), POLLIN, 0 };
    int quits = fake->quit_calls;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int answered = control_server_drain(server, 1);
        if (answered != 0)
            return answered < 0 ? -1 : fake->quit_calls > quits ? 1 : 0;
        poll(&pfd, 1, 10);
    }
    return -2;
}

/*  The daemon's wiring in miniature: poll the REP socket's fd, drain it, until the quit
    callback ran. Returns false if that took longer than timeout_ms in total. */
static bool
serve_until_quit(control_server_t *server, const fake_t *fake, int timeout_ms)
{
    struct pollfd pfd = { control_server_fd(server), POLLIN, 0 };
    bool more = true;
    for (int waited = 0; fake->quit_calls == 0; ) {
        if (!more && poll(&pfd, 1, 10) == 0 && (waited += 10) >= timeout_ms)
            return false;
        more = control_server_drain(server, 4) == 4;
    }
    return true;
}

/*  Sends the frames of msg, serves it, returns the parsed reply (exactly one frame). */
static cJSON *
roundtrip_msg(rig_t *r, zmsg_t *msg, int expect_handle)
{
    cr_assert_eq(zmsg_send(&msg, r->client), 0);
    cr_assert_eq(serve_once(r->server, &r->fake, 2000), expect_handle);
    zmsg_t *reply = zmsg_recv(r->client);
    cr_assert_not_null(reply, "no reply");
    cr_assert_eq(zmsg_size(reply), 1);
    char *text = zmsg_popstr(reply);
    zmsg_destroy(&reply);
    cJSON *json = cJSON_Parse(text);
    cr_assert_not_null(json, "reply is not JSON: %s", text);
    free(text);
    return json;
}

static cJSON *
roundtrip(rig_t *r, const char *request)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, request, strlen(request));
    return roundtrip_msg(r, msg, 0);
}

static void
assert_error(cJSON *reply, const char *code, const char *message)
{
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(reply, "ok")));
    cJSON *error = cJSON_GetObjectItem(reply, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(error, "code")->valuestring, code);
    if (message)
        cr_assert_str_eq(cJSON_GetObjectItem(error, "message")->valuestring, message);
    cJSON_Delete(reply);
}

static void
expect_error(rig_t *r, const char *request, const char *code, const char *message)
{
    assert_error(roundtrip(r, request), code, message);
}

/*  The socket still answers and the settings are what we expect. */
static void
assert_alive(rig_t *r, double buf_dur)
{
    cJSON *reply = roundtrip(r, "{\"op\":\"get\"}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cJSON *s = cJSON_GetObjectItem(reply, "settings");
    cr_assert_eq(cJSON_GetObjectItem(s, "buf_dur")->valuedouble, buf_dur);
    cJSON_Delete(reply);
}

/*  The reload's entry points (control_server_add_stream, _remove_stream, _set_defaults): the
    ops' own checks, but not the limits of a change over the socket (control_mutable). */
Test(control_server, reload_ops_skip_only_the_socket_rules)
{
    static rig_t r;    /* a fake_t holds two settings_t: off the test's stack */
    rig_start_with(&r, "inproc://ctl-reload-ops", &table_callbacks, "log_level");
    expect_error(&r, "{\"op\":\"add_stream\",\"stream\":\"a\",\"topic\":\"ta\",\"settings\":{\"buf_dur\":5}}",
                 "immutable", NULL);
    cJSON *fields = cJSON_Parse("{\"buf_dur\": 5, \"shmem_name\": \"a\"}");
    cJSON *reply = control_server_add_stream(r.server, "a", "ta", fields);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "%s", cJSON_PrintUnformatted(reply));
    cr_assert_eq(r.fake.n_streams, 1);
    cr_assert(r.fake.streams[0].buf_dur == 5);
    cJSON_Delete(reply);
    /*  The op's own checks stay: a name in use, a topic with '{', a shared field. */
    assert_error(control_server_add_stream(r.server, "a", "tb", NULL), "stream_exists",
                 "stream \"a\" already exists");
    assert_error(control_server_add_stream(r.server, "b", "t{", NULL), "wrong_type",
                 "topic must be a string of at most 255 bytes without '{' (the exact topic)");
    cJSON_Delete(fields);
    fields = cJSON_Parse("{\"rcvhwm\": 5}");
    assert_error(control_server_add_stream(r.server, "b", "tb", fields), "unknown_field", NULL);
    cJSON_Delete(fields);
    /*  New streams start from the defaults a reload sets; the shared fields are not taken. */
    settings_t defaults = r.settings;
    defaults.buf_dur = 7;
    defaults.rcvhwm = 1;
    control_server_set_defaults(r.server, &defaults);
    cr_assert(control_server_settings(r.server)->buf_dur == 7);
    cr_assert_eq(control_server_settings(r.server)->rcvhwm, r.settings.rcvhwm);
    reply = control_server_add_stream(r.server, "b", "tb", NULL);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cr_assert(r.fake.streams[1].buf_dur == 7);
    cJSON_Delete(reply);
    reply = control_server_remove_stream(r.server, "a");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "applied"), 0)->valuestring, "close");
    cr_assert_eq(r.fake.n_streams, 1);
    cr_assert_str_eq(r.fake.streams[0].shmem_name, "b");
    cJSON_Delete(reply);
    assert_error(control_server_remove_stream(r.server, "a"), "unknown_stream", NULL);
    rig_stop(&r);
}

Test(control_server, get_returns_settings)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-get");
    cJSON *reply = roundtrip(&r, "{\"op\":\"get\"}");
    cJSON *s = cJSON_GetObjectItem(reply, "settings");
    cr_assert_str_eq(cJSON_GetObjectItem(s, "shmem_name")->valuestring, "live");
    cr_assert_str_eq(cJSON_GetObjectItem(s, "axis")->valuestring, "time");
    cr_assert_str_eq(cJSON_GetObjectItem(s, "header")->valuestring, "legacy");
    cJSON_Delete(reply);
    cr_assert_eq(r.fake.apply_calls + r.fake.status_calls + r.fake.quit_calls, 0);
    rig_stop(&r);
}

Test(control_server, garbage_gets_one_error_and_socket_keeps_working)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-garbage");
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "\xff\x00\x01\x02", 4);
    assert_error(roundtrip_msg(&r, msg, 0), "bad_json", "JSON text contains a NUL byte");
    expect_error(&r, "{\"op\":", "bad_json", NULL);
    expect_error(&r, "\xc3\x28", "bad_json", NULL);
    msg = zmsg_new();
    zmsg_addstr(msg, "{\"op\":\"get\"}");
    zmsg_addstr(msg, "{\"op\":\"get\"}");
    assert_error(roundtrip_msg(&r, msg, 0), "bad_request", "a request is one frame, got 2");
    msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    assert_error(roundtrip_msg(&r, msg, 0), "bad_json", NULL);
    assert_alive(&r, 1.0);
    cr_assert_eq(r.fake.apply_calls, 0);
    rig_stop(&r);
}

Test(control_server, every_request_error_code)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-codes");
    expect_error(&r, "[1,2]", "not_object", "a request must be a JSON object");
    expect_error(&r, "\"get\"", "not_object", NULL);
    expect_error(&r, "{\"op\":\"reboot\"}", "unknown_op",
                 "unknown op \"reboot\" (expected update, get, status, health, quit, add_stream, remove_stream or streams)");
    expect_error(&r, "{\"op\":7}", "wrong_type", "op must be a string");
    expect_error(&r, "{\"op\":\"get\",\"verbose\":true}", "unknown_field",
                 "request \"get\" takes no field \"verbose\" (only \"stream\")");
    expect_error(&r, "{\"op\":\"update\",\"settings\":{},\"x\":1}", "unknown_field",
                 "request \"update\" takes no field \"x\" (only \"stream\", \"settings\")");
    expect_error(&r, "{\"op\":\"get\",\"op\":\"quit\"}", "bad_request",
                 "key \"op\" appears more than once");
    expect_error(&r, "{\"op\":\"update\"}", "bad_request",
                 "request \"update\" needs a \"settings\" object");
    expect_error(&r, "{\"op\":\"update\",\"settings\":[]}", "wrong_type",
                 "settings must be a JSON object");
    expect_error(&r, "{\"op\":\"update\",\"settings\":{\"bufdur\":1}}", "unknown_field",
                 "unknown field \"bufdur\"");
    expect_error(&r, "{\"buf_dur\":\"2\"}", "wrong_type",
                 "buf_dur must be a finite number > 0 and <= 86400, got \"2\"");
    expect_error(&r, "{\"buf_dur\":-1}", "out_of_range",
                 "buf_dur must be a finite number > 0 and <= 86400, got -1");
    expect_error(&r, "{\"op\":\"update\",\"settings\":{\"buf_dur\":NaN}}", "not_finite",
                 "buf_dur must be a finite number > 0 and <= 86400, got NaN");
    expect_error(&r, "{\"buf_dur\":-Infinity}", "not_finite",
                 "buf_dur must be a finite number > 0 and <= 86400, got -Infinity");
    expect_error(&r, "{\"rcvhwm\":5}", "immutable", "rcvhwm is startup-only: restart ezshmd to change it");
    expect_error(&r, "{\"buf_dur\":1,\"buf_dur\":2}", "bad_request",
                 "field \"buf_dur\" appears more than once");
    expect_error(&r, "{\"op\":\"\xff\"}", "unknown_op",
                 "unknown op \"<not UTF-8>\" (expected update, get, status, health, quit, add_stream, remove_stream or streams)");
    /*  A failed validation is all or nothing: the valid axis is not applied either. */
    expect_error(&r, "{\"axis\":\"win\",\"buf_dur\":0}", "out_of_range", NULL);
    assert_alive(&r, 1.0);
    cr_assert_eq(r.fake.apply_calls, 0, "apply must not run for an invalid update");
    rig_stop(&r);
}

Test(control_server, update_applies_and_reports_events)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-update");
    cJSON *reply = roundtrip(&r, "{\"op\":\"update\",\"settings\":{\"buf_dur\":2.5}}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cr_assert_eq(r.fake.apply_calls, 1);
    cr_assert_eq(r.fake.last_actions, SETTINGS_ACT_RESET_BUFFER);
    cJSON *applied = cJSON_GetObjectItem(reply, "applied");
    cr_assert_eq(cJSON_GetArraySize(applied), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(applied, 0)->valuestring, "buffer reset");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(reply, "settings"), "buf_dur")->valuedouble, 2.5);
    cJSON_Delete(reply);
    cr_assert_eq(control_server_settings(r.server)->buf_dur, 2.5);

    /*  A bare settings object is an update; null shmem_name asks for a fresh name. */
    reply = roundtrip(&r, "{\"shmem_name\":null,\"axis\":\"win\"}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cr_assert_eq(r.fake.last_actions, SETTINGS_ACT_RECREATE_META | SETTINGS_ACT_RESET_BUFFER);
    const char *name = cJSON_GetObjectItem(cJSON_GetObjectItem(reply, "settings"), "shmem_name")->valuestring;
    cr_assert_str_neq(name, "live");
    applied = cJSON_GetObjectItem(reply, "applied");
    cr_assert_str_eq(cJSON_GetArrayItem(applied, 0)->valuestring, "meta cleanup");
    cr_assert_str_eq(cJSON_GetArrayItem(applied, 2)->valuestring, "buffer reset");
    cJSON_Delete(reply);

    /*  Same values again: nothing to do, apply is not called. */
    reply = roundtrip(&r, "{\"buf_dur\":2.5,\"shm_mode\":\"0600\"}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "applied")), 0);
    cr_assert_eq(r.fake.apply_calls, 2);
    cJSON_Delete(reply);
    rig_stop(&r);
}

Test(control_server, apply_failure_keeps_old_settings)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-applyfail");
    r.fake.apply_result = -1;
    cJSON *reply = roundtrip(&r, "{\"buf_dur\":3}");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "applied")), 1);
    assert_error(reply, "apply_failed", "no space left in /dev/shm");
    cr_assert_eq(r.fake.apply_calls, 1);
    assert_alive(&r, 1.0);
    rig_stop(&r);
}

Test(control_server, status_health_quit)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-status");
    cJSON *reply = roundtrip(&r, "{\"op\":\"status\"}");
    cJSON *status = cJSON_GetObjectItem(reply, "status");
    cr_assert_eq(cJSON_GetObjectItem(status, "messages")->valuedouble, 42);
    cJSON_Delete(reply);
    cr_assert_eq(r.fake.status_calls, 1);

    r.fake.health = CONTROL_HEALTH_IDLE;
    reply = roundtrip(&r, "{\"op\":\"health\"}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cr_assert_str_eq(cJSON_GetObjectItem(reply, "state")->valuestring, "idle");
    cJSON_Delete(reply);
    r.fake.health = CONTROL_HEALTH_ERROR;
    reply = roundtrip(&r, "{\"op\":\"health\"}");
    cr_assert_str_eq(cJSON_GetObjectItem(reply, "state")->valuestring, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(reply, "detail")->valuestring, "SUB socket closed");
    cJSON_Delete(reply);

    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "{\"op\":\"quit\"}");
    reply = roundtrip_msg(&r, msg, 1);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
    cJSON_Delete(reply);
    cr_assert_eq(r.fake.quit_calls, 1);
    rig_stop(&r);
}

/*  The daemon's wiring: a poll loop + control_server_drain; a client thread talks to it. */
typedef struct {
    const char *endpoint;
    char get_reply[4096];
    char quit_reply[256];
} client_job_t;

static void *
client_thread(void *arg)
{
    client_job_t *job = arg;
    zsock_t *req = zsock_new_req(job->endpoint);
    zsock_set_rcvtimeo(req, 3000);
    zstr_send(req, "{\"op\":\"get\"}");
    char *text = zstr_recv(req);
    snprintf(job->get_reply, sizeof job->get_reply, "%s", text ? text : "");
    zstr_free(&text);
    zstr_send(req, "{\"op\":\"quit\"}");
    text = zstr_recv(req);
    snprintf(job->quit_reply, sizeof job->quit_reply, "%s", text ? text : "");
    zstr_free(&text);
    zsock_destroy(&req);
    return NULL;
}

Test(control_server, poll_loop_ends_on_quit)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-loop");
    client_job_t job = { .endpoint = "inproc://ctl-loop" };
    pthread_t tid;
    pthread_create(&tid, NULL, client_thread, &job);
    bool quit = serve_until_quit(r.server, &r.fake, 5000);
    pthread_join(tid, NULL);
    cr_assert(quit, "quit did not end the loop");
    cr_assert(strstr(job.get_reply, "\"shmem_name\":\"live\"") != NULL, "%s", job.get_reply);
    cr_assert_str_eq(job.quit_reply, "{\"ok\":true}");
    cr_assert_eq(r.fake.quit_calls, 1);
    rig_stop(&r);
}

/*  The edge-style fd contract: one drain answers every waiting request up to max, reports
    "max" while more may wait, and ends with the fd quiet. */
Test(control_server, drain_answers_every_waiting_request)
{
    rig_t r;
    rig_start(&r, "inproc://ctl-drain");
    zsock_t *more[2];
    for (int i = 0; i < 2; i++) {
        more[i] = zsock_new_req("inproc://ctl-drain");
        zsock_set_rcvtimeo(more[i], 2000);
        cr_assert_eq(zstr_send(more[i], "{\"op\":\"health\"}"), 0);
    }
    cr_assert_eq(zstr_send(r.client, "{\"op\":\"get\"}"), 0);
    struct pollfd pfd = { control_server_fd(r.server), POLLIN, 0 };
    cr_assert_eq(poll(&pfd, 1, 2000), 1, "the fd did not signal the waiting requests");
    cr_assert_eq(control_server_drain(r.server, 2), 2);
    cr_assert_eq(control_server_drain(r.server, 2), 1);
    cr_assert_eq(control_server_drain(r.server, 2), 0);
    cr_assert_eq(r.fake.health_calls, 2);
    /*  Drained: the fd stays quiet until something new happens on the socket. */
    cr_assert_eq(poll(&pfd, 1, 50), 0);
    for (int i = 0; i < 2; i++) {
        char *text = zstr_recv(more[i]);
        cr_assert_not_null(text);
        cr_assert(strstr(text, "\"ok\":true") != NULL, "%s", text);
        zstr_free(&text);
        zsock_destroy(&more[i]);
    }
    char *text = zstr_recv(r.client);
    cr_assert(text && strstr(text, "\"shmem_name\":\"live\"") != NULL, "%s", text ? text : "(none)");
    zstr_free(&text);
    control_server_drain(r.server, 2);   /* the two clients' departures */
    cr_assert_eq(zstr_send(r.client, "{\"op\":\"health\"}"), 0);
    cr_assert_eq(poll(&pfd, 1, 2000), 1);
    cr_assert_eq(control_server_drain(r.server, 2), 1);
    rig_stop(&r);
}

Test(control_server, events_are_published)
{
    fake_t fake = { 0 };
    settings_t s;
    settings_defaults(&s);
    strcpy(s.shmem_name, "live");
    strcpy(s.control, "inproc://ctl-ev");
    strcpy(s.events, "inproc://ctl-events");
    char err[256] = "";
    control_server_t *server = control_server_new(&s, &callbacks, &fake, err, sizeof err);
    cr_assert_not_null(server, "%s", err);
    zsock_t *sub = zsock_new_sub("inproc://ctl-events", "ezshm.event");
    zsock_set_rcvtimeo(sub, 100);
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "generation", 3);
    char *topic = NULL, *body = NULL;
    /*  A new subscription takes a moment to reach the publisher: retry. */
    for (int i = 0; i < 50 && !topic; i++) {
        cr_assert_eq(control_server_publish_event(server, "buffer reset", fields), 0);
        zstr_recvx(sub, &topic, &body, NULL);
    }
    cJSON_Delete(fields);
    cr_assert_str_eq(topic, "ezshm.event");
    cr_assert_str_eq(body, "{\"event\":\"buffer reset\",\"generation\":3}");
    zstr_free(&topic);
    zstr_free(&body);
    zsock_destroy(&sub);
    control_server_destroy(&server);

    /*  Without an events endpoint publishing is a no-op. */
    s.events[0] = '\0';
    strcpy(s.control, "inproc://ctl-ev2");
    server = control_server_new(&s, &callbacks, &fake, err, sizeof err);
    cr_assert_not_null(server, "%s", err);
    cr_assert_eq(control_server_publish_event(server, "close", NULL), 0);
    control_server_destroy(&server);
}

Test(control_server, new_reports_setup_errors)
{
    fake_t fake = { 0 };
    settings_t s;
    settings_defaults(&s);
    strcpy(s.control, "bogus://nowhere");
    char err[256] = "";
    cr_assert_null(control_server_new(&s, &callbacks, &fake, err, sizeof err));
    cr_assert(strstr(err, "cannot bind bogus://nowhere") == err, "%s", err);

    strcpy(s.control, "inproc://ctl-err");
    strcpy(s.curve_server_cert, "/nonexistent/server.cert");
    strcpy(s.curve_clients_dir, "*");
    cr_assert_null(control_server_new(&s, &callbacks, &fake, err, sizeof err));
    cr_assert_str_eq(err, "cannot load curve_server_cert /nonexistent/server.cert");

    control_callbacks_t partial = callbacks;
    partial.health = NULL;
    s.curve_server_cert[0] = s.curve_clients_dir[0] = '\0';
    cr_assert_null(control_server_new(&s, &partial, &fake, err, sizeof err));
    cr_assert_str_eq(err, "control_server_new: apply, status, health and quit are required");
}

/*  CURVE fixture: a server certificate and a directory holding one allowed client. */
typedef struct {
    char dir[64], server_cert[128], clients[128], endpoint[128];
    zcert_t *server, *allowed, *stranger;
} curve_fixture_t;

static void
curve_fixture(curve_fixture_t *c)
{
    strcpy(c->dir, "/tmp/ezshm-ctl-test-XXXXXX");
    cr_assert_not_null(mkdtemp(c->dir));
    snprintf(c->server_cert, sizeof c->server_cert, "%s/server.cert", c->dir);
    snprintf(c->clients, sizeof c->clients, "%s/clients", c->dir);
    snprintf(c->endpoint, sizeof c->endpoint, "ipc://%s/ctl.sock", c->dir);
    cr_assert_eq(zsys_dir_create("%s", c->clients), 0);
    c->server = zcert_new();
    c->allowed = zcert_new();
    c->stranger = zcert_new();
    cr_assert_eq(zcert_save(c->server, c->server_cert), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/allowed.cert", c->clients);
    cr_assert_eq(zcert_save_public(c->allowed, path), 0);
}

static void
curve_fixture_drop(curve_fixture_t *c)
{
    zcert_destroy(&c->server);
    zcert_destroy(&c->allowed);
    zcert_destroy(&c->stranger);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", c->dir);
    cr_assert_eq(system(cmd), 0);
}

static zsock_t *
curve_client(const curve_fixture_t *c, zcert_t *cert)
{
    zsock_t *req = zsock_new(ZMQ_REQ);
    zcert_apply(cert, req);
    zsock_set_curve_serverkey(req, zcert_public_txt(c->server));
    zsock_set_rcvtimeo(req, 1000);
    zsock_set_linger(req, 0);
    cr_assert_eq(zsock_connect(req, "%s", c->endpoint), 0);
    return req;
}

Test(control_server, curve_admits_only_listed_clients)
{
    curve_fixture_t c;
    curve_fixture(&c);
    fake_t fake = { 0 };
    settings_t s;
    settings_defaults(&s);
    strcpy(s.shmem_name, "live");
    strcpy(s.control, c.endpoint);
    strcpy(s.curve_server_cert, c.server_cert);
    strcpy(s.curve_clients_dir, c.clients);
    char err[256] = "";
    control_server_t *server = control_server_new(&s, &callbacks, &fake, err, sizeof err);
    cr_assert_not_null(server, "%s", err);

    zsock_t *good = curve_client(&c, c.allowed);
    zstr_send(good, "{\"op\":\"update\",\"settings\":{\"buf_dur\":2}}");
    cr_assert_eq(serve_once(server, &fake, 3000), 0);
    char *reply = zstr_recv(good);
    cr_assert_not_null(reply, "allowed client got no reply");
    cr_assert(strstr(reply, "\"ok\":true") != NULL, "%s", reply);
    zstr_free(&reply);
    cr_assert_eq(fake.apply_calls, 1);

    zsock_t *bad = curve_client(&c, c.stranger);
    zstr_send(bad, "{\"op\":\"update\",\"settings\":{\"buf_dur\":3}}");
    cr_assert_eq(serve_once(server, &fake, 1000), -2, "the unknown client's request reached the server");
    reply = zstr_recv(bad);
    cr_assert_null(reply, "unknown client got a reply");
    cr_assert_eq(fake.apply_calls, 1);

    /*  A plain (non-CURVE) client is refused as well. */
    zsock_t *plain = zsock_new(ZMQ_REQ);
    zsock_set_linger(plain, 0);
    zsock_connect(plain, "%s", c.endpoint);
    zstr_send(plain, "{\"op\":\"quit\"}");
    cr_assert_eq(serve_once(server, &fake, 500), -2);
    cr_assert_eq(fake.quit_calls, 0);

    zsock_destroy(&plain);
    zsock_destroy(&bad);
    zsock_destroy(&good);
    control_server_destroy(&server);
    curve_fixture_drop(&c);
}

Test(control_server, curve_setup_errors)
{
    curve_fixture_t c;
    curve_fixture(&c);
    fake_t fake = { 0 };
    settings_t s;
    settings_defaults(&s);
    strcpy(s.control, c.endpoint);
    snprintf(s.curve_server_cert, sizeof s.curve_server_cert, "%s/clients/allowed.cert", c.dir);
    strcpy(s.curve_clients_dir, c.clients);
    char err[4096] = "", want[4096];
    cr_assert_null(control_server_new(&s, &callbacks, &fake, err, sizeof err));
    snprintf(want, sizeof want, "curve_server_cert %s has no secret key (is %s_secret there?)",
             s.curve_server_cert, s.curve_server_cert);
    cr_assert_str_eq(err, want);
    strcpy(s.curve_server_cert, c.server_cert);
    snprintf(s.curve_clients_dir, sizeof s.curve_clients_dir, "%s/missing", c.dir);
    cr_assert_null(control_server_new(&s, &callbacks, &fake, err, sizeof err));
    snprintf(want, sizeof want, "curve_clients_dir %s/missing is not a directory", c.dir);
    cr_assert_str_eq(err, want);
    curve_fixture_drop(&c);
}

/*  ezshm-ctl against a server running a poll loop in a thread. */
typedef struct {
    control_server_t *server;
    const fake_t *fake;
    pthread_t tid;
    bool quit;
} loop_thread_t;

static void *
loop_main(void *arg)
{
    loop_thread_t *lt = arg;
    lt->quit = serve_until_quit(lt->server, lt->fake, 60000);
    return NULL;
}

static int
run_ctl(const char *args, char *out, size_t outlen)
{
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd, "%s/ezshm-ctl %s 2>&1", EZSHM_BIN, args);
    cr_assert(len > 0 && (size_t) len < sizeof cmd, "command too long");
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(control_server, ezshm_ctl_commands)
{
    char dir[] = "/tmp/ezshm-ctl-cli-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char endpoint[128], opt[256], args[512], out[4096];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/ctl.sock", dir);
    snprintf(opt, sizeof opt, "--endpoint %s --timeout 3", endpoint);
    rig_t r;
    rig_start(&r, endpoint);
    r.fake.health = CONTROL_HEALTH_IDLE;
    loop_thread_t lt = { r.server, &r.fake, 0, false };
    pthread_create(&lt.tid, NULL, loop_main, &lt);

    snprintf(args, sizeof args, "%s get", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "shmem_name:            live\n") != NULL, "%s", out);
    snprintf(args, sizeof args, "%s set buf_dur=2.5 topic='[\"a\",\"b\"]' axis=win", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "applied: buffer reset\n") == out, "%s", out);
    cr_assert(strstr(out, "topic:                 [\"a\",\"b\"]\n") != NULL, "%s", out);
    snprintf(args, sizeof args, "%s --json set buf_dur=-1", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "\"code\":\"out_of_range\"") != NULL, "%s", out);
    snprintf(args, sizeof args, "%s set rcvhwm=1", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 1, "%s", out);
    cr_assert_str_eq(out, "ezshm-ctl: immutable: rcvhwm is startup-only: restart ezshmd to change it\n");
    snprintf(args, sizeof args, "%s status", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "messages:          42\nstate:             ingesting\n"
                          "stream.generation: 3\n"
                          "control_requests:  ok 2, out_of_range 1, immutable 1\n");
    snprintf(args, sizeof args, "%s health", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "idle\n");
    r.fake.health = CONTROL_HEALTH_ERROR;
    cr_assert_eq(run_ctl(args, out, sizeof out), 1, "%s", out);
    cr_assert_str_eq(out, "error: SUB socket closed\n");
    cr_assert_eq(run_ctl("frobnicate", out, sizeof out), 64);
    cr_assert_eq(run_ctl("set", out, sizeof out), 64);
    cr_assert_eq(run_ctl("--timeout 0 get", out, sizeof out), 64);
    snprintf(args, sizeof args, "%s quit", opt);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    pthread_join(lt.tid, NULL);
    cr_assert(lt.quit);
    cr_assert_eq(r.fake.quit_calls, 1);
    rig_stop(&r);

    /*  Nobody listening: exit 2 after the timeout. */
    snprintf(args, sizeof args, "--endpoint %s --timeout 0.3 get", endpoint);
    cr_assert_eq(run_ctl(args, out, sizeof out), 2, "%s", out);

    snprintf(args, sizeof args, "keygen %s/op.cert", dir);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    cr_assert_eq(strlen(out), 41, "%s", out);
    snprintf(args, sizeof args, "%s/op.cert_secret", dir);
    zcert_t *cert = zcert_load(args);
    cr_assert_not_null(cert);
    cr_assert_eq(strncmp(zcert_public_txt(cert), out, 40), 0);
    zcert_destroy(&cert);
    snprintf(args, sizeof args, "keygen %s/op.cert", dir);
    cr_assert_eq(run_ctl(args, out, sizeof out), 1, "keygen must not overwrite: %s", out);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    cr_assert_eq(system(args), 0);
}

Test(control_server, ezshm_ctl_over_curve)
{
    curve_fixture_t c;
    curve_fixture(&c);
    char allowed[192], stranger[192], args[1024], out[4096];
    snprintf(allowed, sizeof allowed, "%s/allowed.cert", c.dir);
    snprintf(stranger, sizeof stranger, "%s/stranger.cert", c.dir);
    cr_assert_eq(zcert_save(c.allowed, allowed), 0);
    cr_assert_eq(zcert_save(c.stranger, stranger), 0);
    fake_t fake = { .health = CONTROL_HEALTH_INGESTING };
    settings_t s;
    settings_defaults(&s);
    strcpy(s.shmem_name, "live");
    strcpy(s.control, c.endpoint);
    strcpy(s.curve_server_cert, c.server_cert);
    strcpy(s.curve_clients_dir, c.clients);
    char err[256] = "";
    loop_thread_t lt = { control_server_new(&s, &callbacks, &fake, err, sizeof err), &fake, 0, false };
    cr_assert_not_null(lt.server, "%s", err);
    pthread_create(&lt.tid, NULL, loop_main, &lt);

    /*  The server key as text, then as the server's certificate file. */
    snprintf(args, sizeof args, "--endpoint %s --curve-client %s --curve-server '%s' health",
             c.endpoint, allowed, zcert_public_txt(c.server));
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "ingesting\n");
    snprintf(args, sizeof args, "--endpoint %s --timeout 0.5 --curve-client %s --curve-server %s get",
             c.endpoint, stranger, c.server_cert);
    cr_assert_eq(run_ctl(args, out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "--endpoint %s --timeout 0.5 get", c.endpoint);
    cr_assert_eq(run_ctl(args, out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "--endpoint %s --curve-client %s --curve-server %s quit",
             c.endpoint, allowed, c.server_cert);
    cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
    pthread_join(lt.tid, NULL);
    cr_assert_eq(fake.apply_calls, 0);
    cr_assert(lt.quit);
    cr_assert_eq(fake.quit_calls, 1);
    control_server_destroy(&lt.server);
    curve_fixture_drop(&c);
}
