/*  test_web_console_session.c — the console WebSocket's protocol without the socket
    (docs/console.md §3, §4): every kind of bad message gets its error and changes nothing;
    a subscription reports its state and stream, sends one frame, then waits for its
    "drawn", for 1/fps and for a change; pause sends one frozen frame; a stream that appears
    later and a rebuild are announced. */
#include "support_shm.h"
#include "console_session.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(web_console_session, .init = s_init, .fini = s_fini);


static ezshm_writer_t *
s_writer(const char *name, uint64_t frames_per_s)
{
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_V1, false);
    shmt_configure(w, (double) frames_per_s, 4096);
    return w;
}

/*  n frames of 2 float64 channels, times from t0 at 1 kHz. */
static void
s_write(ezshm_writer_t *w, uint64_t n, double t0)
{
    double *buf = calloc(n * 2, sizeof(double));
    ezshm_contiguous_t src = {buf, 16};
    ezshm_chunk_time_t ct = {t0, 1e-3, NULL, 0, EZSHM_SEQ_NONE};
    cr_assert_eq(ezshm_writer_write_timed(w, n, ezshm_copy_contiguous, &src, &ct), EZSHM_OK);
    free(buf);
}

static const char *
s_send(console_session_t *s, const char *text)
{
    return console_session_receive(s, text, strlen(text));
}

/*  The next outbox message, parsed (asserted present); the caller deletes it. */
static cJSON *
s_next(console_session_t *s)
{
    char *text = console_session_next_text(s);
    cr_assert_not_null(text, "no message waits");
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j);
    return j;
}

static const char *
s_str(const cJSON *j, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
}

static double
s_num(const cJSON *j, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, key));
}

/*  The next message is {"type": type, ...}; returned (caller deletes). */
static cJSON *
s_expect_type(console_session_t *s, const char *type)
{
    cJSON *j = s_next(s);
    cr_expect_str_eq(s_str(j, "type"), type);
    return j;
}

static void
s_subscribe(console_session_t *s, const char *name, uint32_t id, const char *extra)
{
    char text[512];
    snprintf(text, sizeof text, "{\"type\":\"subscribe\",\"id\":%u,\"stream\":\"%s\",\"columns\":100,\"window\":1%s}",
             id, name, extra);
    cr_assert_null(s_send(s, text), "%s", text);
}

static void
s_drawn(console_session_t *s, uint32_t id, uint32_t seq)
{
    char text[128];
    snprintf(text, sizeof text, "{\"type\":\"drawn\",\"id\":%u,\"sequence\":%u}", id, seq);
    cr_assert_null(s_send(s, text));
}

/*  Encodes the due frame; returns its header's sequence and flags. */
static void
s_encode(console_session_t *s, double now, uint32_t *sequence, uint32_t *flags)
{
    size_t cap = console_session_frame_size(s), len;
    uint8_t *buf = malloc(cap);
    cr_assert_eq(console_session_encode(s, now, buf, cap, &len), EZSHM_OK);
    cr_assert_eq(len, cap);
    memcpy(sequence, buf + 20, 4);
    memcpy(flags, buf + 12, 4);
    free(buf);
}

/*  A session with no stream check and (when with_writer) a writer of a fresh stream name. */
typedef struct {
    const char        *name;
    ezshm_writer_t    *w;
    console_session_t *s;
} fix_t;

static fix_t
s_open(bool with_writer)
{
    fix_t f = {shmt_unique_name(), NULL, NULL};
    if (with_writer)
        f.w = s_writer(f.name, 1000);
    cr_assert_eq(console_session_new(NULL, NULL, &f.s), EZSHM_OK);
    return f;
}

static void
s_close(fix_t *f)
{
    console_session_destroy(&f->s);
    cr_expect_null(f->s);
    ezshm_writer_destroy(&f->w);
}

static bool
s_known(void *arg, const char *name)
{
    return strcmp(name, arg) == 0;
}

Test(web_console_session, bad_messages_get_their_error_and_change_nothing)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, 1000);
    s_write(w, 10, 1.0);
    console_session_t *s = NULL;
    cr_assert_eq(console_session_new(s_known, (void *) name, &s), EZSHM_OK);
    s_subscribe(s, name, 7, ",\"fps\":60");
    bool more;
    cr_assert_eq(console_session_pump(s, 1000, &more), EZSHM_OK);
    cJSON_Delete(s_expect_type(s, "state"));
    cJSON_Delete(s_expect_type(s, "stream"));

    char big[CONSOLE_MESSAGE_MAX + 2];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const struct { const char *text, *code; } bad[] = {
        {"not json", "bad_json"}, {"[1, 2]", "bad_json"}, {"\"subscribe\"", "bad_json"},
        {"{\"type\":\"subscribe\",\xff}", "bad_json"}, {"{\"type\":\"reboot\"}", "unknown_type"},
        {"{\"type\":7}", "unknown_type"}, {"{}", "unknown_type"},
        {"{\"type\":\"subscribe\",\"stream\":\"x\",\"columns\":10,\"window\":1}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":-1,\"stream\":\"x\",\"columns\":10,\"window\":1}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"\",\"columns\":10,\"window\":1}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":0,\"window\":1}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":4097,\"window\":1}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":1.5,\"window\":1}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":10,\"window\":0}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":10,\"window\":\"5\"}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":10,\"window\":1,\"fps\":61}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":10,\"window\":1,\"slice\":[-1]}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":10,\"window\":1,\"slice\":[0,0,0,0,0,0,0,0,0]}",
         "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"x\",\"columns\":10,\"window\":1,\"slice\":3}", "bad_request"},
        {"{\"type\":\"subscribe\",\"id\":1,\"stream\":\"nope\",\"columns\":10,\"window\":1}", "unknown_stream"},
        {"{\"type\":\"drawn\",\"id\":7}", "bad_request"},
        {big, "too_big"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *code = s_send(s, bad[i].text);
        cr_expect_str_eq(code ? code : "(taken)", bad[i].code, "message %zu", i);
        cJSON *j = s_expect_type(s, "error");
        cr_expect_str_eq(s_str(j, "code"), bad[i].code);
        cr_expect_not_null(s_str(j, "message"));
        cJSON_Delete(j);
        cr_expect_null(console_session_next_text(s), "one error per bad message");
    }
    cr_expect_str_eq(console_session_receive(s, NULL, 0), "bad_json");
    cJSON_Delete(s_expect_type(s, "error"));
    /*  The subscription went on untouched: id 7, first frame due. */
    cr_expect(console_session_frame_due(s, 1.0));
    uint32_t seq, flags;
    s_encode(s, 1.0, &seq, &flags);
    cr_expect_eq(seq, 0);
    console_session_destroy(&s);
    cr_expect_null(s);
    ezshm_writer_destroy(&w);
}

Test(web_console_session, one_frame_in_flight_then_fps_and_changes)
{
    fix_t f = s_open(true);
    const char *name = f.name;
    ezshm_writer_t *w = f.w;
    console_session_t *s = f.s;
    cr_expect_null(console_session_mirror(s, NULL), "no subscription yet");
    cr_expect_not(console_session_frame_due(s, 0));
    s_subscribe(s, name, 3, ",\"fps\":20");
    uint64_t block = 1;
    cr_expect_null(console_session_mirror(s, &block), "the subscription waits for the pump");
    cr_expect_eq(block, 0, "pump at once");
    s_write(w, 100, 5.0);
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    cJSON *state = s_expect_type(s, "state");
    cr_expect_str_eq(s_str(state, "state"), "live");
    cr_expect_eq(s_num(state, "id"), 3);
    cJSON_Delete(state);
    cJSON *stream = s_expect_type(s, "stream");
    cr_expect_str_eq(s_str(stream, "stream"), name);
    cr_expect_str_eq(s_str(stream, "dtype"), "d");
    cr_expect_eq(s_num(stream, "channels_total"), 2);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(stream, "shape")), 2);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(stream, "labels")));
    cJSON_Delete(stream);
    cr_expect_null(console_session_next_text(s));
    console_session_mirror(s, &block);
    cr_expect_eq(block, 50, "1000 frames/s at 20 fps: a wake-up per 50 frames");

    uint32_t seq, flags;
    cr_assert(console_session_frame_due(s, 10.0));
    s_encode(s, 10.0, &seq, &flags);
    cr_expect_eq(seq, 0);
    cr_expect_eq(flags & (CONSOLE_FRAME_PAUSED | CONSOLE_FRAME_DELTA), 0, "the first frame is full");
    /*  In flight: new data, time passing, a wrong "drawn" — still nothing. */
    s_write(w, 10, 5.1);
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    cr_expect_not(console_session_frame_due(s, 20.0));
    s_drawn(s, 3, 5);
    s_drawn(s, 2, 0);
    cr_expect_not(console_session_frame_due(s, 20.0));
    s_drawn(s, 3, 0);
    /*  Acknowledged: at most 20 a second. */
    cr_expect_not(console_session_frame_due(s, 10.04));
    cr_expect(console_session_frame_due(s, 10.05));
    s_encode(s, 10.05, &seq, &flags);
    cr_expect_eq(seq, 1);
    cr_expect_eq(flags & CONSOLE_FRAME_DELTA, CONSOLE_FRAME_DELTA, "the browser has the rest");
    s_drawn(s, 3, 1);
    /*  Nothing new: nothing to send, however long. */
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    cr_expect_not(console_session_frame_due(s, 100.0));
    cr_expect_eq(console_session_encode(s, 100.0, (uint8_t[96]){0}, 96, &(size_t){0}), EZSHM_ERR_INVAL);
    /*  Another stream (absent yet): the new subscription waits, its id in the state. */
    s_subscribe(s, shmt_unique_name(), 4, "");
    cr_expect_not(console_session_frame_due(s, 200.0));
    cr_expect_eq(console_session_pump(s, 1000, NULL), EZSHM_ERR_NOENT);
    state = s_expect_type(s, "state");
    cr_expect_str_eq(s_str(state, "state"), "waiting");
    cr_expect_eq(s_num(state, "id"), 4);
    cJSON_Delete(state);
    cr_expect_not(console_session_frame_due(s, 200.0));
    s_close(&f);
}

Test(web_console_session, pause_sends_one_frozen_frame)
{
    fix_t f = s_open(true);
    const char *name = f.name;
    ezshm_writer_t *w = f.w;
    console_session_t *s = f.s;
    s_subscribe(s, name, 1, "");
    s_write(w, 100, 5.0);
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    uint32_t seq, flags;
    s_encode(s, 1.0, &seq, &flags);
    s_drawn(s, 1, 0);
    cr_assert_null(s_send(s, "{\"type\":\"pause\"}"));
    cr_expect_null(console_session_mirror(s, NULL), "paused: nothing to sleep on");
    s_write(w, 10, 5.1);
    bool more = true;
    cr_expect_eq(console_session_pump(s, 1000, &more), EZSHM_OK);
    cr_expect_not(more);
    cr_assert(console_session_frame_due(s, 1.001));
    s_encode(s, 1.001, &seq, &flags);
    cr_expect_eq(flags & CONSOLE_FRAME_PAUSED, CONSOLE_FRAME_PAUSED);
    s_drawn(s, 1, 1);
    cr_expect_not(console_session_frame_due(s, 50.0), "one frozen frame");
    cr_assert_null(s_send(s, "{\"type\":\"resume\"}"));
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    cr_expect_not_null(console_session_mirror(s, NULL));
    cr_expect(console_session_frame_due(s, 50.0));
    s_encode(s, 50.0, &seq, &flags);
    cr_expect_eq(flags & CONSOLE_FRAME_PAUSED, 0);
    cr_assert_null(s_send(s, "{\"type\":\"unsubscribe\"}"));
    cr_expect_null(console_session_mirror(s, NULL));
    cr_expect_not(console_session_frame_due(s, 100.0));
    s_close(&f);
}

Test(web_console_session, a_stream_that_appears_and_a_rebuild_are_announced)
{
    fix_t f = s_open(false);
    const char *name = f.name;
    console_session_t *s = f.s;
    s_subscribe(s, name, 1, "");
    cr_expect_eq(console_session_pump(s, 1000, NULL), EZSHM_ERR_NOENT);
    cJSON *j = s_expect_type(s, "state");
    cr_expect_str_eq(s_str(j, "state"), "waiting");
    cJSON_Delete(j);
    cr_expect_eq(console_session_pump(s, 1000, NULL), EZSHM_ERR_NOENT);
    cr_expect_null(console_session_next_text(s), "a state is said once");
    cr_expect_not(console_session_frame_due(s, 1.0));

    ezshm_writer_t *w = f.w = s_writer(name, 1000);
    s_write(w, 10, 1.0);
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    j = s_expect_type(s, "state");
    cr_expect_str_eq(s_str(j, "state"), "live");
    cJSON_Delete(j);
    j = s_expect_type(s, "stream");
    double gen = s_num(j, "generation");
    cJSON_Delete(j);

    static const uint64_t three[1] = {3};
    ezshm_ring_spec_t spec = {'d', 1000.0, 4096, 1, three, "k", 1};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    double buf[3 * 5] = {0};
    ezshm_contiguous_t src = {buf, 24};
    ezshm_chunk_time_t ct = {2.0, 1e-3, NULL, 0, EZSHM_SEQ_NONE};
    cr_assert_eq(ezshm_writer_write_timed(w, 5, ezshm_copy_contiguous, &src, &ct), EZSHM_OK);
    cr_assert_eq(console_session_pump(s, 1000, NULL), EZSHM_OK);
    j = s_expect_type(s, "stream");
    cr_expect_eq(s_num(j, "generation"), gen + 1);
    cr_expect_eq(s_num(j, "channels_total"), 3);
    cJSON_Delete(j);
    s_close(&f);
}
