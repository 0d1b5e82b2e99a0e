/*  fuzz_control.c — libFuzzer harness for the control request path.

    Input: the bytes of one request frame (one JSON object in the protocol; anything at all
    here). Two paths are exercised per input:

    1. The library functions the server is made of, called directly:
         json_parse_tolerant -> (the request's settings object) -> settings_merge /
         settings_set_fields / settings_diff / settings_to_json,
       with these oracles:
         - every error message is valid UTF-8 (it goes into a JSON reply);
         - json_excerpt gives valid UTF-8 that fits its buffer;
         - json_format_number's text parses back to the same double;
         - settings_to_json "parses back to the same": text -> parse -> set_fields on the
           defaults -> to_json gives the same text, and merging it into the settings it
           came from succeeds and changes nothing.

    2. The real server (control_server.c) over an inproc REQ/REP pair in this process: the
       frame is sent, control_server_handle() answers, and the reply must be one frame of
       strict JSON, valid UTF-8, with "ok" a bool and, when false, a known error code.
       (control_server.h has no socket-free request -> reply function; see README.md.)
       The stub daemon has a stream table (at most 4 streams, starting with one), so the
       stream ops (add_stream, remove_stream, streams, "stream" in every request) run too;
       oracle: no two streams ever share a name.
*/
#include "control_server.h"
#include "ezshm_utf8.h"
#include "json_tolerant.h"
#include "settings.h"

#include <czmq.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_control: check failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static settings_t s_start;            /* the settings the server starts with */
static control_server_t *s_server;
static cJSON *s_reset;                /* the run-time fields of s_start, to undo an update */
static zsock_t *s_client;

static const char *const s_codes[] = {
    "bad_json", "not_object", "bad_request", "unknown_op", "unknown_field",
    "wrong_type", "out_of_range", "not_finite", "immutable", "apply_failed",
    "unknown_stream", "stream_exists",
};

/* ---- stub daemon ------------------------------------------------------------------- */

#define FUZZ_STREAMS 4
static settings_t s_table[FUZZ_STREAMS];
static char s_topics[FUZZ_STREAMS][SETTINGS_NAME_MAX + 1];
static size_t s_count;

/*  Index of a stream's settings pointer; FUZZ_STREAMS for the server's own settings. */
static size_t
s_index(const settings_t *which)
{
    for (size_t i = 0; i < s_count; i++)
        if (which == &s_table[i])
            return i;
    CHECK(which == control_server_settings(s_server));
    return FUZZ_STREAMS;
}

static void
s_reset_table(void)
{
    s_count = 1;
    s_table[0] = s_start;
    strcpy(s_topics[0], "fuzz");
}

static int
s_apply(void *ctx, const settings_t *old, const settings_t *new_, unsigned actions,
        cJSON *applied, char *err, size_t errlen)
{
    (void) ctx;
    size_t i = s_index(old);
    if (actions & SETTINGS_ACT_RECREATE_META) {
        cJSON_AddItemToArray(applied, cJSON_CreateString("meta cleanup"));
        cJSON_AddItemToArray(applied, cJSON_CreateString("meta reset"));
    }
    if (actions & SETTINGS_ACT_RESET_BUFFER)
        cJSON_AddItemToArray(applied, cJSON_CreateString("buffer cleanup"));
    if (actions & SETTINGS_ACT_RESUBSCRIBE)
        cJSON_AddItemToArray(applied, cJSON_CreateString("resubscribed"));
    /*  Some updates "fail" so the apply_failed path runs too. */
    if (new_->buf_dur > 3600.0) {
        snprintf(err, errlen, "cannot create a ring of %g s", new_->buf_dur);
        return -1;
    }
    if (i < FUZZ_STREAMS)
        s_table[i] = *new_;
    for (size_t k = 0; k < s_count; k++)
        settings_copy_shared(&s_table[k], new_);
    return 0;
}

static void
s_status(void *ctx, const settings_t *which, cJSON *out)
{
    (void) ctx;
    if (which)
        s_index(which);
    cJSON_AddNumberToObject(out, "messages", 42);
}

static control_health_t
s_health(void *ctx, const settings_t *which, char *detail, size_t len)
{
    (void) ctx;
    if (which)
        s_index(which);
    snprintf(detail, len, "fuzzing");
    return CONTROL_HEALTH_IDLE;
}

static const settings_t *
s_find(void *ctx, const char *name, size_t *count)
{
    (void) ctx;
    *count = s_count;
    for (size_t i = 0; name && i < s_count; i++)
        if (strcmp(s_table[i].shmem_name, name) == 0)
            return &s_table[i];
    return !name && s_count == 1 ? &s_table[0] : NULL;
}

static settings_code_t
s_add_stream(void *ctx, const char *topic, const settings_t *s, cJSON *applied, settings_error_t *err)
{
    (void) ctx;
    size_t count;
    CHECK(s_find(NULL, s->shmem_name, &count) == NULL);
    CHECK(strlen(topic) <= SETTINGS_NAME_MAX);
    if (s_count == FUZZ_STREAMS)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE, "max_streams (%d) reached", FUZZ_STREAMS);
    for (size_t i = 0; i < s_count; i++)
        if (strcmp(s_topics[i], topic) == 0)
            return settings_fail(err, SETTINGS_ERR_STREAM_EXISTS, "topic taken");
    s_table[s_count] = *s;
    strcpy(s_topics[s_count++], topic);
    cJSON_AddItemToArray(applied, cJSON_CreateString("meta reset"));
    return SETTINGS_OK;
}

static settings_code_t
s_remove_stream(void *ctx, const settings_t *which, cJSON *applied, settings_error_t *err)
{
    (void) ctx;
    (void) err;
    size_t i = s_index(which);
    CHECK(i < s_count);
    memmove(&s_table[i], &s_table[i + 1], (s_count - i - 1) * sizeof s_table[0]);
    memmove(s_topics[i], s_topics[i + 1], (s_count - i - 1) * sizeof s_topics[0]);
    s_count--;
    cJSON_AddItemToArray(applied, cJSON_CreateString("close"));
    return SETTINGS_OK;
}

static void
s_list(void *ctx, cJSON *streams)
{
    (void) ctx;
    for (size_t i = 0; i < s_count; i++) {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "stream", s_table[i].shmem_name);
        cJSON_AddStringToObject(item, "topic", s_topics[i]);
        cJSON_AddItemToArray(streams, item);
    }
}

/*  Oracle: a name is never taken twice (add_stream and renames are refused). */
static void
s_check_table(void)
{
    for (size_t i = 0; i < s_count; i++)
        for (size_t k = i + 1; k < s_count; k++)
            CHECK(strcmp(s_table[i].shmem_name, s_table[k].shmem_name) != 0);
}

static void
s_quit(void *ctx)
{
    (void) ctx;
}

/* ---- oracles ----------------------------------------------------------------------- */

static void
s_check_message(const char *msg, size_t cap)
{
    CHECK(msg != NULL);
    CHECK(strnlen(msg, cap) < cap);
    if (!ezshm_utf8_valid(msg, strlen(msg))) {
        fprintf(stderr, "fuzz_control: error message is not UTF-8: \"%s\"\n", msg);
        abort();
    }
}

static void
s_check_excerpt(const char *s)
{
    char buf[64];
    json_excerpt(s, buf, sizeof buf);
    CHECK(strnlen(buf, sizeof buf) < sizeof buf);
    CHECK(ezshm_utf8_valid(buf, strlen(buf)));
    char small[8];
    json_excerpt(s, small, sizeof small);
    CHECK(strnlen(small, sizeof small) < sizeof small);
    CHECK(ezshm_utf8_valid(small, strlen(small)));
}

static void
s_check_number(double v)
{
    char buf[64], err[128];
    json_format_number(v, buf, sizeof buf);
    CHECK(strnlen(buf, sizeof buf) < sizeof buf);
    cJSON *back = json_parse_tolerant(buf, strlen(buf), err, sizeof err);
    if (!back || !cJSON_IsNumber(back)) {
        fprintf(stderr, "fuzz_control: json_format_number(%a) = \"%s\" does not parse back\n", v,
                buf);
        abort();
    }
    double w = back->valuedouble;
    cJSON_Delete(back);
    if (!(isnan(v) ? isnan(w) : v == w && signbit(v) == signbit(w))) {
        fprintf(stderr, "fuzz_control: json_format_number(%a) = \"%s\" parses back as %a\n", v, buf,
                w);
        abort();
    }
}

/*  Walks the tree: every string and key through json_excerpt, every number through
    json_format_number. */
static void
s_walk(const cJSON *node, int depth)
{
    CHECK(depth <= 1000);
    for (const cJSON *it = node; it; it = it->next) {
        if (it->string)
            s_check_excerpt(it->string);
        if (cJSON_IsString(it)) {
            CHECK(it->valuestring != NULL);
            s_check_excerpt(it->valuestring);
        }
        else if (cJSON_IsNumber(it))
            s_check_number(it->valuedouble);
        else if (cJSON_IsArray(it) || cJSON_IsObject(it))
            s_walk(it->child, depth + 1);
    }
}

static char *
s_settings_text(const settings_t *s)
{
    cJSON *json = settings_to_json(s);
    CHECK(json != NULL);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    CHECK(text != NULL);
    CHECK(ezshm_utf8_valid(text, strlen(text)));
    return text;
}

/*  settings_to_json(s) is s again: the tree through settings_set_fields on the defaults
    gives the same tree, and merging it into s (startup-only fields repeated) changes
    nothing. (The printed text is checked on the server path, which prints with
    control_server's own number formatting.) */
static void
s_check_roundtrip(const settings_t *s)
{
    char *text = s_settings_text(s);
    cJSON *back = settings_to_json(s);
    CHECK(back != NULL);
    settings_t again;
    settings_error_t e;
    settings_defaults(&again);
    if (settings_set_fields(&again, back, &e) != SETTINGS_OK) {
        fprintf(stderr, "fuzz_control: settings_to_json output rejected (%s: %s): %s\n",
                settings_code_name(e.code), e.message, text);
        abort();
    }
    char *text2 = s_settings_text(&again);
    if (strcmp(text, text2) != 0) {
        fprintf(stderr, "fuzz_control: settings round trip differs:\n  %s\n  %s\n", text, text2);
        abort();
    }
    CHECK(settings_diff(s, &again) == 0);
    settings_t merged;
    settings_code_t rc = settings_merge(s, back, &merged, &e);
    if (rc != SETTINGS_OK) {
        fprintf(stderr, "fuzz_control: merging a settings object into itself fails (%s: %s)\n",
                settings_code_name(e.code), e.message);
        abort();
    }
    CHECK(settings_diff(s, &merged) == 0);
    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_free(text2);
}

static void
s_check_code(settings_code_t rc, const settings_error_t *e)
{
    CHECK(rc >= SETTINGS_OK && rc <= SETTINGS_ERR_APPLY_FAILED);
    if (rc != SETTINGS_OK) {
        CHECK(e->code == rc);
        s_check_message(e->message, sizeof e->message);
    }
}

static void
s_library_path(const uint8_t *data, size_t size)
{
    char err[SETTINGS_MSG_MAX];
    err[0] = '\0';
    cJSON *req = json_parse_tolerant((const char *) data, size, err, sizeof err);
    if (!req) {
        CHECK(*err != '\0');
        s_check_message(err, sizeof err);
        return;
    }
    s_walk(req, 0);

    /*  The settings object of the request, as control_server picks it. */
    const cJSON *fields = NULL;
    if (cJSON_IsObject(req)) {
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
        if (!op)
            fields = req;
        else if (cJSON_IsString(op) && strcmp(op->valuestring, "update") == 0)
            fields = cJSON_GetObjectItemCaseSensitive(req, "settings");
    }

    settings_error_t e;
    settings_t out;
    settings_code_t rc = settings_merge(&s_start, fields ? fields : req, &out, &e);
    s_check_code(rc, &e);
    if (rc == SETTINGS_OK) {
        CHECK(settings_validate(&out, &e) == SETTINGS_OK);
        CHECK(*out.shmem_name != '\0');
        (void) settings_diff(&s_start, &out);
        s_check_roundtrip(&out);
    }

    /*  settings_set_fields alone (no immutable rule): every field of any object. */
    settings_t s;
    settings_defaults(&s);
    settings_t before = s;
    rc = settings_set_fields(&s, req, &e);
    s_check_code(rc, &e);
    if (rc != SETTINGS_OK)
        CHECK(memcmp(&s, &before, sizeof s) == 0);   /* all or nothing */
    else if (settings_validate(&s, &e) == SETTINGS_OK && settings_resolve(&s) == 0)
        s_check_roundtrip(&s);
    else
        s_check_message(e.message, sizeof e.message);

    /*  One field at a time, under every field name and a few that are not. */
    if (cJSON_IsObject(req)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, req) {
            settings_t one = before;
            rc = settings_set_field(&one, item->string, item, &e);
            s_check_code(rc, &e);
            if (settings_is_ignored(item->string))
                CHECK(rc == SETTINGS_OK && memcmp(&one, &before, sizeof one) == 0);
            else
                CHECK(settings_is_field(item->string) || rc == SETTINGS_ERR_UNKNOWN_FIELD);
            (void) settings_is_startup_only(item->string);
        }
    }
    cJSON_Delete(req);
}

static void
s_server_path(const uint8_t *data, size_t size)
{
    zframe_t *frame = zframe_new(data, size);
    CHECK(frame != NULL);
    CHECK(zframe_send(&frame, s_client, 0) == 0);
    int rc = control_server_handle(s_server);
    CHECK(rc == 0 || rc == 1);
    zmsg_t *reply = zmsg_recv(s_client);
    CHECK(reply != NULL);
    CHECK(zmsg_size(reply) == 1);
    zframe_t *f = zmsg_first(reply);
    size_t len = zframe_size(f);
    char *text = malloc(len + 1);
    CHECK(text != NULL);
    memcpy(text, zframe_data(f), len);
    text[len] = '\0';
    zmsg_destroy(&reply);
    CHECK(strlen(text) == len);
    if (!ezshm_utf8_valid(text, strlen(text))) {
        fprintf(stderr, "fuzz_control: reply is not UTF-8: %s\n", text);
        abort();
    }
    cJSON *json = cJSON_ParseWithLength(text, len);
    if (!json || !cJSON_IsObject(json)) {
        fprintf(stderr, "fuzz_control: reply is not a JSON object: %s\n", text);
        abort();
    }
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(json, "ok");
    CHECK(cJSON_IsBool(ok));
    if (cJSON_IsFalse(ok)) {
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(json, "error");
        CHECK(cJSON_IsObject(error));
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
        const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
        CHECK(cJSON_IsString(code) && cJSON_IsString(message));
        bool known = false;
        for (size_t i = 0; i < sizeof s_codes / sizeof s_codes[0]; i++)
            known = known || strcmp(code->valuestring, s_codes[i]) == 0;
        CHECK(known);
    }
    /*  The printed settings read back as exactly the settings in force (a client may send
        a "get" reply back as an update): those of the stream of that name, else the
        server's own. */
    const cJSON *printed = cJSON_GetObjectItemCaseSensitive(json, "settings");
    if (printed) {
        char err[256];
        cJSON *back = json_parse_tolerant(text, len, err, sizeof err);
        CHECK(back != NULL);
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(back, "settings");
        settings_t merged;
        settings_error_t e;
        size_t count;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fields, "shmem_name"));
        const settings_t *now = name ? s_find(NULL, name, &count) : NULL;
        now = now ? now : control_server_settings(s_server);
        settings_code_t rc2 = settings_merge(now, fields, &merged, &e);
        if (rc2 != SETTINGS_OK || settings_diff(now, &merged) != 0) {
            fprintf(stderr, "fuzz_control: reply settings do not read back (%s: %s): %s\n",
                    settings_code_name(e.code), rc2 ? e.message : "a change", text);
            abort();
        }
        cJSON_Delete(back);
    }
    cJSON_Delete(json);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    settings_defaults(&s_start);
    strcpy(s_start.shmem_name, "fuzz");
    snprintf(s_start.control, sizeof s_start.control, "inproc://ezshm-fuzz-control-%ld",
             (long) getpid());
    zsys_init();
    zsys_set_logstream(NULL);
    static const control_callbacks_t callbacks = { s_apply,  s_status,        s_health, s_quit,
                                                   s_find,   s_add_stream,    s_remove_stream, s_list };
    s_reset_table();
    char err[256];
    s_server = control_server_new(&s_start, &callbacks, NULL, err, sizeof err);
    if (!s_server) {
        fprintf(stderr, "fuzz_control: control_server_new: %s\n", err);
        return -1;
    }
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, ">%s", s_start.control);
    s_client = zsock_new_req(endpoint);
    if (!s_client) {
        fprintf(stderr, "fuzz_control: cannot connect %s\n", s_start.control);
        return -1;
    }
    zsock_set_rcvtimeo(s_client, 5000);
    s_reset = settings_to_json(&s_start);
    return s_reset ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_library_path(data, size);
    s_server_path(data, size);
    s_check_table();
    /*  Back to the starting settings and the one starting stream, so that every input meets
        the same server (through the other public entry point of an update: with no stream,
        it changes the server's own settings). */
    s_count = 0;
    if (settings_diff(control_server_settings(s_server), &s_start) != 0) {
        cJSON *reply = control_server_update(s_server, NULL, s_reset);
        CHECK(reply != NULL);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")));
        cJSON_Delete(reply);
        CHECK(settings_diff(control_server_settings(s_server), &s_start) == 0);
    }
    s_reset_table();
    return 0;
}
