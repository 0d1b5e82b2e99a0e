/*  test_fuzz_regressions.c — inputs found by (or made for) the libFuzzer harnesses of
    tests/fuzz, fed to the same APIs with the exact result codes asserted.

    wire:   wire_decode on truncated frames, huge shapes, deep nesting, NaN tokens, ndim 65,
            the native header cache.
    control: json_parse_tolerant / settings_* on the same kind of input, and the one real
            finding: numbers in control replies printed inexactly by cJSON (fixed in
            control_server.c).
    mirror: ezshm_header_detect / _validate and a mirror attaching to hand-broken headers
            (bvalid 2, ndim 65, ring file shorter than the header implies, ...).
*/
#include <criterion/criterion.h>

#include <czmq.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_server.h"
#include "ezshm_error.h"
#include "ezshm_header.h"
#include "ezshm_mirror.h"
#include "ezshm_utf8.h"
#include "json_tolerant.h"
#include "settings.h"
#include "support_shm.h"
#include "wire.h"

/* ==== wire ============================================================================ */

/*  asprintf without _GNU_SOURCE. */
__attribute__((format(printf, 2, 3))) static int
s_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = malloc((size_t) n + 1);
    va_start(ap, fmt);
    vsnprintf(*out, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return n;
}

static const char *const HDR =
    "{\"ts\": 1795682068.25, \"seq\": 41, \"obj\": {\"data\": {\"_type\": \"_ndarray\", "
    "\"dtype\": \"<i2\", \"shape\": [2, 2]}, \"dims\": [\"time\", \"ch\"], \"axes\": {\"time\": "
    "{\"unit\": \"s\", \"gain\": 0.001, \"offset\": 2.05, \"_type\": "
    "\"ezmsg.util.messages.axisarray:LinearAxis\"}}, \"key\": \"\"}}";
static const unsigned char DATA8[8] = { 1, 0, 2, 0, 3, 0, 4, 0 };

/*  Decodes [topic, payload] (2 frames) with a fresh decoder, payload copied to an exact-size
    heap block so that an overread is an ASan error here too. */
static int
decode_multipart(const char *payload, size_t len)
{
    wire_decoder_t *d = wire_decoder_new();
    cr_assert_not_null(d);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, payload, len);
    wire_frame_t f[2] = { { "t", 1 }, { copy, len } };
    const axisarray_t *out;
    int rc = wire_decode(d, f, 2, &out);
    cr_assert_eq(rc == 0, out != NULL);
    free(copy);
    wire_decoder_destroy(&d);
    return rc;
}

static int
decode_multipart_str(const char *payload)
{
    return decode_multipart(payload, strlen(payload));
}

/*  A bare AxisArray payload whose data ndarray has the given dtype/shape/base64. */
static char *
payload_with(const char *dtype, const char *shape, const char *dims, const char *b64)
{
    char *p = NULL;
    cr_assert(s_asprintf(&p,
                       "{\"data\": {\"_type\": \"_ndarray\", \"dtype\": \"%s\", \"shape\": %s, "
                       "\"data\": \"%s\"}, \"dims\": %s}",
                       dtype, shape, b64, dims) > 0);
    return p;
}

Test(fuzz_wire, frame_counts)
{
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *out;
    wire_frame_t f[4] = { { "a", 1 }, { "b", 1 }, { "c", 1 }, { "d", 1 } };
    cr_expect_eq(wire_decode(d, f, 0, &out), WIRE_ERR_FRAME_COUNT);
    cr_expect_eq(wire_decode(d, f, 4, &out), WIRE_ERR_FRAME_COUNT);
    /*  one frame without '{', and an empty one */
    cr_expect_eq(wire_decode(d, f, 1, &out), WIRE_ERR_JSON);
    wire_frame_t empty = { "", 0 };
    cr_expect_eq(wire_decode(d, &empty, 1, &out), WIRE_ERR_JSON);
    wire_decoder_destroy(&d);
}

Test(fuzz_wire, truncated_payload_every_length)
{
    /*  Every prefix of a valid payload is invalid JSON, never an overread. */
    char *p = payload_with("int16", "[2, 2]", "[\"time\", \"ch\"]", "AQACAAMABAA=");
    size_t len = strlen(p);
    cr_assert_eq(decode_multipart(p, len), 0);
    for (size_t n = 0; n < len; n++)
        cr_expect_eq(decode_multipart(p, n), WIRE_ERR_JSON, "prefix of %zu bytes", n);
    free(p);
}

Test(fuzz_wire, huge_shapes)
{
    char *p;
    /*  product overflows 64 bits */
    p = payload_with("float32", "[18446744073709551615, 2]", "[\"a\", \"b\"]", "");
    cr_expect_eq(decode_multipart_str(p), DROP_SIZE_OVERFLOW);
    free(p);
    /*  one entry times the itemsize overflows */
    p = payload_with("complex128", "[2305843009213693952]", "[\"a\"]", "");
    cr_expect_eq(decode_multipart_str(p), DROP_SIZE_OVERFLOW);
    free(p);
    /*  2^64 is not a uint64; negative, fraction and exponent are not integers */
    const char *bad[] = { "[18446744073709551616]", "[-1]", "[1.0]", "[1e3]", "[NaN]",
                          "[Infinity]", "[null]", "[\"4\"]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = payload_with("float32", bad[i], "[\"a\"]", "");
        cr_expect_eq(decode_multipart_str(p), WIRE_ERR_MISSING_FIELD, "shape %s", bad[i]);
        free(p);
    }
    /*  a zero makes a shape empty, but numpy still refuses the others' product beyond
        int64 (issue 21: (2^62, 4, 0) of float64 wrapped to 0 bytes and was taken) */
    static const struct { const char *shape; int rc; } empty[] = {
        {"[18446744073709551615, 0, 18446744073709551615]", DROP_SIZE_OVERFLOW},
        {"[4611686018427387904, 4, 0]", DROP_SIZE_OVERFLOW},
        {"[1000000, 0, 1000000]", 0},
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        p = payload_with("float64", empty[i].shape, "[\"a\", \"b\", \"c\"]", "");
        cr_expect_eq(decode_multipart_str(p), empty[i].rc, "shape %s", empty[i].shape);
        free(p);
    }
    /*  huge but representable: the base64 must then hold that many bytes */
    p = payload_with("uint8", "[4294967296]", "[\"a\"]", "AAAA");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_SHAPE);
    free(p);
}

Test(fuzz_wire, ndim_limits)
{
    char shape[512] = "[", dims[1024] = "[";
    for (int i = 0; i < 65; i++) {
        strcat(shape, i ? ", 1" : "1");
        strcat(dims, i ? ", \"d\"" : "\"d\"");
    }
    strcat(shape, "]");
    strcat(dims, "]");
    char *p = payload_with("uint8", shape, dims, "AA==");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_NDIM);
    free(p);
    p = payload_with("uint8", "[]", "[]", "");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_NDIM);
    free(p);
    /*  64 is fine (the last ", 1" and ", \"d\"" removed) */
    shape[strlen(shape) - 4] = ']';
    shape[strlen(shape) - 3] = '\0';
    dims[strlen(dims) - 6] = ']';
    dims[strlen(dims) - 5] = '\0';
    p = payload_with("uint8", shape, dims, "AA==");
    cr_expect_eq(decode_multipart_str(p), 0);
    free(p);
}

Test(fuzz_wire, deep_nesting)
{
    /*  attrs nested far beyond the limit of 64: invalid JSON, no stack overflow */
    size_t depth = 100000;
    char *p = malloc(depth * 2 + 256);
    char *w = p + sprintf(p, "{\"data\": {\"dtype\": \"uint8\", \"shape\": [1], \"data\": "
                             "\"AA==\"}, \"dims\": [\"a\"], \"attrs\": ");
    memset(w, '[', depth);
    w += depth;
    memset(w, ']', depth);
    w += depth;
    strcpy(w, "}");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_JSON);
    free(p);
    /*  63 levels inside the top-level object: fine */
    p = malloc(1024);
    w = p + sprintf(p, "{\"data\": {\"dtype\": \"uint8\", \"shape\": [1], \"data\": \"AA==\"}, "
                       "\"dims\": [\"a\"], \"attrs\": ");
    memset(w, '[', 63);
    memset(w + 63, ']', 63);
    strcpy(w + 126, "}");
    cr_expect_eq(decode_multipart_str(p), 0);
    free(p);
}

Test(fuzz_wire, nan_tokens)
{
    wire_decoder_t *d = wire_decoder_new();
    const char *ok = "{\"ts\": NaN, \"data\": {\"dtype\": \"uint8\", \"shape\": [1], \"data\": "
                     "\"AA==\"}, \"dims\": [\"time\"], \"axes\": {\"time\": {\"gain\": -Infinity, "
                     "\"offset\": NaN}}}";
    wire_frame_t f[2] = { { "t", 1 }, { ok, strlen(ok) } };
    const axisarray_t *out;
    cr_assert_eq(wire_decode(d, f, 2, &out), 0);
    const axisarray_axis_t *a = axisarray_axis(out, "time");
    cr_assert_not_null(a);
    cr_expect(isinf(a->gain) && a->gain < 0);
    cr_expect(isnan(a->offset));
    cr_expect(isnan(axisarray_ts(out)));
    wire_decoder_destroy(&d);
    /*  lower-case, partial and signed spellings are not tokens */
    const char *bad[] = { "nan", "NaNa", "Inf", "+Infinity", "-NaN", "Infinit", "-" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = NULL;
        cr_assert(s_asprintf(&p, "{\"ts\": %s, \"data\": {\"dtype\": \"uint8\", \"shape\": [1], "
                               "\"data\": \"AA==\"}, \"dims\": [\"a\"]}", bad[i]) > 0);
        cr_expect_eq(decode_multipart_str(p), WIRE_ERR_JSON, "ts %s", bad[i]);
        free(p);
    }
    /*  a NaN seq is not a non-negative integer */
    cr_expect_eq(decode_multipart_str("{\"seq\": NaN, \"data\": {\"dtype\": \"uint8\", \"shape\": "
                                      "[1], \"data\": \"AA==\"}, \"dims\": [\"a\"]}"),
                 WIRE_ERR_MISSING_FIELD);
}

Test(fuzz_wire, bad_base64_and_dtypes)
{
    char *p;
    const char *b64[] = { "AQACAAMABAA", "AQACAAMABA==", "AQAC\\nAAMABAA=", "AQACAAMABAB=",
                          "AQACAAMA BAA=" };
    int want[] = { WIRE_ERR_JSON, WIRE_ERR_SHAPE, WIRE_ERR_JSON, WIRE_ERR_JSON, WIRE_ERR_JSON };
    for (size_t i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
        p = payload_with("int16", "[2, 2]", "[\"a\", \"b\"]", b64[i]);
        cr_expect_eq(decode_multipart_str(p), want[i], "base64 %s", b64[i]);
        free(p);
    }
    p = payload_with("<U4", "[1]", "[\"a\"]", "AAAAAAAAAAAAAAAAAAAAAA==");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_DTYPE);
    free(p);
    p = payload_with("<U0", "[1]", "[\"a\"]", "");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_DTYPE);
    free(p);
    p = payload_with("float128", "[1]", "[\"a\"]", "");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_DTYPE);
    free(p);
    p = payload_with("int16", "[2, 2]", "[\"a\"]", "AQACAAMABAA=");
    cr_expect_eq(decode_multipart_str(p), WIRE_ERR_SHAPE);
    free(p);
}

Test(fuzz_wire, native_cache_and_short_frames)
{
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *out;
    size_t hlen = strlen(HDR);
    char *h1 = malloc(hlen), *h2 = malloc(hlen);
    memcpy(h1, HDR, hlen);
    memcpy(h2, HDR, hlen);
    unsigned char *data = malloc(8);
    memcpy(data, DATA8, 8);
    wire_frame_t f[3] = { { "t", 1 }, { h1, hlen }, { data, 8 } };
    cr_assert_eq(wire_decode(d, f, 3, &out), 0);
    cr_expect_eq(axisarray_seq(out), 41);
    /*  same header, seq 41 -> 91: a cache hit with the new number */
    h2[strstr(HDR, "41") - HDR] = '9';
    f[1].data = h2;
    cr_assert_eq(wire_decode(d, f, 3, &out), 0);
    cr_expect_eq(axisarray_seq(out), 91);
    cr_expect_eq(wire_decoder_cache_hits(d), 1);
    /*  data frame one byte short, on the cache path and on a full parse */
    f[2].size = 7;
    cr_expect_eq(wire_decode(d, f, 3, &out), WIRE_ERR_SHAPE);
    wire_decoder_t *fresh = wire_decoder_new();
    cr_expect_eq(wire_decode(fresh, f, 3, &out), WIRE_ERR_SHAPE);
    wire_decoder_destroy(&fresh);
    f[2].size = 8;
    /*  seq becomes -1 (same length "-1"): no cache hit, a full parse rejects it */
    h2[strstr(HDR, "41") - HDR] = '-';
    h2[strstr(HDR, "41") - HDR + 1] = '1';
    cr_expect_eq(wire_decode(d, f, 3, &out), WIRE_ERR_MISSING_FIELD);
    /*  the header cut short by one byte, with a valid cache of the full one */
    f[1].data = h1;
    cr_assert_eq(wire_decode(d, f, 3, &out), 0);
    f[1].size = hlen - 1;
    cr_expect_eq(wire_decode(d, f, 3, &out), WIRE_ERR_JSON);
    free(h1);
    free(h2);
    free(data);
    wire_decoder_destroy(&d);
}

/* ==== control ========================================================================= */

static cJSON *
parse(const char *text, size_t len)
{
    char err[SETTINGS_MSG_MAX];
    return json_parse_tolerant(text, len, err, sizeof err);
}

static settings_code_t
set_from(const char *text, settings_error_t *e)
{
    cJSON *obj = parse(text, strlen(text));
    cr_assert_not_null(obj, "%s", text);
    settings_t s;
    settings_defaults(&s);
    settings_code_t rc = settings_set_fields(&s, obj, e);
    cJSON_Delete(obj);
    if (rc)
        cr_expect(ezshm_utf8_valid(e->message, strlen(e->message)), "message not UTF-8: %s", e->message);
    return rc;
}

Test(fuzz_control, not_json)
{
    cr_expect_null(parse("{\"op\":\"get\"}\0", 13));           /* a NUL byte */
    cr_expect_null(parse("{\"op\":", 6));                       /* truncated */
    cr_expect_null(parse("", 0));
    cr_expect_null(parse("{\"buf_dur\": nan}", 16));
    /*  nesting far deeper than cJSON's limit: NULL, no stack overflow */
    size_t depth = 100000;
    char *deep = malloc(depth * 2);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    cr_expect_null(parse(deep, depth * 2));
    free(deep);
}

Test(fuzz_control, settings_codes)
{
    settings_error_t e;
    cr_expect_eq(set_from("{\"buf_dur\": NaN}", &e), SETTINGS_ERR_NOT_FINITE);
    cr_expect_eq(set_from("{\"buf_dur\": -Infinity}", &e), SETTINGS_ERR_NOT_FINITE);
    cr_expect_eq(set_from("{\"buf_dur\": 1e999}", &e), SETTINGS_ERR_NOT_FINITE);
    cr_expect_eq(set_from("{\"buf_dur\": 86400.00000000001}", &e), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_eq(set_from("{\"rcvhwm\": 1.5}", &e), SETTINGS_ERR_WRONG_TYPE);
    cr_expect_eq(set_from("{\"max_buffer_bytes\": 9007199254740994}", &e),
                 SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_eq(set_from("{\"buf_dur\": 1, \"buf_dur\": 2}", &e), SETTINGS_ERR_BAD_REQUEST);
    cr_expect_eq(set_from("{\"\xff\xfe\": 1}", &e), SETTINGS_ERR_UNKNOWN_FIELD);
    cr_expect_eq(set_from("{\"axis\": \"a\\u0000b\"}", &e), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_eq(set_from("{\"axis\": \"\xc3\x28\"}", &e), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_eq(set_from("{\"shm_mode\": \"0o1000\"}", &e), SETTINGS_ERR_OUT_OF_RANGE);
    char topics[512] = "{\"topic\": [";
    for (int i = 0; i < 33; i++)
        strcat(topics, i ? ", \"t\"" : "\"t\"");
    strcat(topics, "]}");
    cr_expect_eq(set_from(topics, &e), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_eq(set_from("{\"max_buffer_bytes\": 9007199254740992}", &e), SETTINGS_OK);
}

/*  Finding (CI, fuzz_control): the harness held every name settings_set_field accepts to be a
    field, but "conn" (ezmsg-tools' connection, sent by Python clients) is accepted and ignored
    without being one. settings_is_ignored names it; set_field under it changes nothing. */
Test(fuzz_control, ignored_name_is_accepted_not_a_field)
{
    settings_error_t e;
    const char *values[] = {"{\"conn\": {}}", "{\"conn\": 1e999}", "{\"conn\": \"\\u0000\"}"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        cr_expect_eq(set_from(values[i], &e), SETTINGS_OK, "%s", values[i]);
    cr_expect(settings_is_ignored("conn"));
    cr_expect_not(settings_is_field("conn"));
    cr_expect_not(settings_is_ignored("buf_dur"));
    cr_expect_not(settings_is_ignored("Conn"));
}

/*  A control server on inproc with the given start settings; one request, its reply text. */
static int
noop_apply(void *ctx, const settings_t *old, const settings_t *new_, unsigned actions,
           cJSON *applied, char *err, size_t errlen)
{
    (void) ctx, (void) old, (void) new_, (void) actions, (void) applied, (void) err,
        (void) errlen;
    return 0;
}
static void noop_status(void *ctx, const settings_t *stream, cJSON *out) { (void) ctx; (void) stream; (void) out; }
static control_health_t
noop_health(void *ctx, const settings_t *stream, char *detail, size_t len)
{
    (void) ctx, (void) stream, (void) detail, (void) len;
    return CONTROL_HEALTH_IDLE;
}
static void noop_quit(void *ctx) { (void) ctx; }

static char *
one_request(settings_t *start, const char *request)
{
    static int counter;
    snprintf(start->control, sizeof start->control, "inproc://fuzz-regress-%d-%d", (int) getpid(),
             counter++);
    if (!*start->shmem_name)
        strcpy(start->shmem_name, "fuzz-regress");
    control_callbacks_t cb = { noop_apply, noop_status, noop_health, noop_quit, NULL, NULL, NULL, NULL };
    char err[256];
    control_server_t *server = control_server_new(start, &cb, NULL, err, sizeof err);
    cr_assert_not_null(server, "%s", err);
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, ">%s", start->control);
    zsock_t *client = zsock_new_req(endpoint);
    cr_assert_not_null(client);
    zsock_set_rcvtimeo(client, 5000);
    cr_assert_eq(zstr_send(client, request), 0);
    cr_assert_eq(control_server_handle(server), 0);
    char *reply = zstr_recv(client);
    cr_assert_not_null(reply);
    zsock_destroy(&client);
    control_server_destroy(&server);
    return reply;
}

/*  Finding: cJSON printed 2^53 as 9.00719925474099e+15 and 2.0000000000000004 as 2, so a
    "get" reply sent back as an update was refused (immutable) or changed buf_dur. */
Test(fuzz_control, reply_numbers_are_exact)
{
    settings_t start;
    settings_defaults(&start);
    start.max_buffer_bytes = INT64_C(1) << 53;
    start.maxmsgsize = (INT64_C(1) << 53) - 1;
    start.buf_dur = 2.0000000000000004;
    char *reply = one_request(&start, "{\"op\": \"get\"}");
    cr_expect_not_null(strstr(reply, "\"max_buffer_bytes\":9007199254740992"), "%s", reply);
    cr_expect_not_null(strstr(reply, "\"maxmsgsize\":9007199254740991"), "%s", reply);
    cr_expect_not_null(strstr(reply, "\"buf_dur\":2.0000000000000004"), "%s", reply);
    /*  the printed settings merge back into the same settings */
    cJSON *json = parse(reply, strlen(reply));
    cr_assert_not_null(json);
    settings_t merged;
    settings_error_t e;
    cr_expect_eq(settings_merge(&start, cJSON_GetObjectItem(json, "settings"), &merged, &e),
                 SETTINGS_OK, "%s", e.message);
    cr_expect_eq(settings_diff(&start, &merged), 0);
    cJSON_Delete(json);
    zstr_free(&reply);

    /*  and an update reply carries the exact new value */
    settings_defaults(&start);
    reply = one_request(&start, "{\"buf_dur\": 0.30000000000000004}");
    cr_expect_not_null(strstr(reply, "\"buf_dur\":0.30000000000000004"), "%s", reply);
    zstr_free(&reply);
}

Test(fuzz_control, nasty_requests_get_one_reply)
{
    const char *requests[] = {
        "\xff\xfe\xfd", "[]", "{\"op\": 5}", "{\"op\": \"get\", \"op\": \"get\"}",
        "{\"op\": \"get\", \"\xff\": 1}", "{\"op\": \"\xc3\"}", "{\"op\": \"update\"}",
        "{\"op\": \"update\", \"settings\": []}", "{\"rcvhwm\": 5}",
    };
    const char *codes[] = {
        "bad_json", "not_object", "wrong_type", "bad_request", "unknown_field",
        "unknown_op", "bad_request", "wrong_type", "immutable",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        settings_t start;
        settings_defaults(&start);
        char *reply = one_request(&start, requests[i]);
        cr_expect(ezshm_utf8_valid(reply, strlen(reply)), "reply not UTF-8: %s", reply);
        cJSON *json = cJSON_Parse(reply);
        cr_assert_not_null(json, "%s", reply);
        const cJSON *code = cJSON_GetObjectItem(cJSON_GetObjectItem(json, "error"), "code");
        cr_expect(cJSON_IsString(code) && strcmp(code->valuestring, codes[i]) == 0,
                  "request %zu: %s", i, reply);
        cJSON_Delete(json);
        zstr_free(&reply);
    }
}

/* ==== mirror ========================================================================== */

static uint8_t *s_golden[2];       /* header after the first message: legacy, v1 */
static size_t s_golden_size[2];

static void
load_golden(void)
{
    shmt_setup();
    if (s_golden[0])
        return;
    cJSON *fx = shmt_load_fixture("shm-header-layout.json");
    cr_assert_not_null(fx);
    const char *names[2] = { "legacy", "v1" };
    for (int i = 0; i < 2; i++) {
        const cJSON *g = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(fx, "versions"), names[i]), "golden");
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItem(g, "header_after_first_message_hex"));
        cr_assert_not_null(hex);
        s_golden[i] = shmt_hex_decode(hex, &s_golden_size[i]);
    }
    cJSON_Delete(fx);
}

/*  Writes header bytes (and a ring file of ring_size bytes, ring_size >= 0) for a fresh
    stream name and attaches a mirror to it. */
static int
attach_to(const void *header, size_t header_size, long long ring_size, uint32_t gen,
          ezshm_mirror_t **out)
{
    const char *name = shmt_unique_name();
    cr_assert(shmt_write_file(shmt_seg_path(shmt_header_seg(name)), header, header_size));
    if (ring_size >= 0) {
        char *zeros = calloc(1, (size_t) ring_size + 1);
        cr_assert(shmt_write_file(shmt_seg_path(shmt_ring_seg(name, gen)), zeros, (size_t) ring_size));
        free(zeros);
    }
    ezshm_mirror_t *m;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    int rc = ezshm_mirror_attach(m);
    if (out)
        *out = m;
    else
        ezshm_mirror_destroy(&m);
    return rc;
}

/*  The golden header of layout i with one field patched (offset within the common fields). */
static uint8_t *
patched(int i, size_t field_offset, const void *value, size_t n)
{
    uint8_t *h = malloc(s_golden_size[i]);
    memcpy(h, s_golden[i], s_golden_size[i]);
    memcpy(h + (i ? 8 : 0) + field_offset, value, n);
    return h;
}

#define RING_BYTES 32000   /* golden: float32 x 8 channels x 1000 frames */

Test(fuzz_mirror, golden_attaches_and_reads)
{
    load_golden();
    for (int i = 0; i < 2; i++) {
        ezshm_mirror_t *m;
        cr_assert_eq(attach_to(s_golden[i], s_golden_size[i], RING_BYTES, 0, &m), EZSHM_OK);
        ezshm_stream_info_t info;
        cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
        cr_expect_eq(info.n_frames, 1000);
        cr_expect_eq(info.frame_bytes, 32);
        float dst[10 * 8];
        uint64_t n_out;
        cr_expect_eq(ezshm_mirror_latest(m, dst, 10, &n_out), EZSHM_OK);
        cr_expect_eq(n_out, 10);
        ezshm_mirror_destroy(&m);
    }
}

Test(fuzz_mirror, ring_file_shorter_than_implied)
{
    load_golden();
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(attach_to(s_golden[i], s_golden_size[i], RING_BYTES - 1, 0, NULL),
                     EZSHM_ERR_HEADER);
        cr_expect_eq(attach_to(s_golden[i], s_golden_size[i], 1, 0, NULL), EZSHM_ERR_HEADER);
        /*  an empty ring file: not sized yet */
        cr_expect_eq(attach_to(s_golden[i], s_golden_size[i], 0, 0, NULL), EZSHM_ERR_NOTREADY);
        /*  no ring file at all */
        cr_expect_eq(attach_to(s_golden[i], s_golden_size[i], -1, 0, NULL), EZSHM_ERR_NOTREADY);
        /*  a larger one is fine */
        cr_expect_eq(attach_to(s_golden[i], s_golden_size[i], RING_BYTES + 4096, 0, NULL),
                     EZSHM_OK);
    }
}

Test(fuzz_mirror, header_file_truncated)
{
    load_golden();
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(attach_to(s_golden[i], s_golden_size[i] - 1, RING_BYTES, 0, NULL),
                     EZSHM_ERR_HEADER);
        cr_expect_eq(attach_to(s_golden[i], 7, RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        ezshm_layout_t layout;
        cr_expect_eq(ezshm_header_detect(s_golden[i], s_golden_size[i] - 1, &layout),
                     EZSHM_ERR_HEADER);
        cr_expect_eq(ezshm_header_detect(s_golden[i], s_golden_size[i], &layout), EZSHM_OK);
        cr_expect_eq(layout, i ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY);
    }
    cr_expect_eq(attach_to("", 0, RING_BYTES, 0, NULL), EZSHM_ERR_NOTREADY);
}

Test(fuzz_mirror, bvalid_2)
{
    load_golden();
    uint8_t two = 2;
    uint8_t *h = patched(0, 0, &two, 1);
    ezshm_layout_t layout;
    cr_expect_eq(ezshm_header_detect(h, s_golden_size[0], &layout), EZSHM_ERR_HEADER);
    cr_expect_eq(attach_to(h, s_golden_size[0], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
    free(h);
    /*  v1 has the magic first: any non-zero bvalid counts as valid (ctypes c_bool) */
    h = patched(1, 0, &two, 1);
    cr_expect_eq(attach_to(h, s_golden_size[1], RING_BYTES, 0, NULL), EZSHM_OK);
    free(h);
}

Test(fuzz_mirror, ndim_65_and_0)
{
    load_golden();
    for (int i = 0; i < 2; i++) {
        uint32_t v = 65;
        uint8_t *h = patched(i, 10, &v, 4);
        cr_expect_eq(ezshm_header_validate(ezshm_header_meta(h, (ezshm_layout_t) i), NULL, NULL),
                     EZSHM_ERR_HEADER);
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
        v = 0;
        h = patched(i, 10, &v, 4);
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
    }
}

Test(fuzz_mirror, other_bad_fields)
{
    load_golden();
    for (int i = 0; i < 2; i++) {
        uint8_t *h;
        h = patched(i, 1, "x", 1);                                   /* dtype */
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_DTYPE);
        free(h);
        uint32_t zero = 0, big = 0xFFFFFFFFu, klen = 1025;
        h = patched(i, 14, &zero, 4);                                /* shape[0] = 0 */
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
        h = patched(i, 18, &zero, 4);                                /* shape[1] = 0 */
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
        h = patched(i, 14, &big, 4);                                 /* 2^32-1 frames */
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
        h = patched(i, 1306, &klen, 4);                              /* key_len 1025 */
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
        uint64_t wi = 1001;
        h = patched(i, 1310, &wi, 8);                                /* write_index > shape[0] */
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
        free(h);
        uint32_t gen = 5;                                            /* ring of another gen */
        h = patched(i, 270, &gen, 4);
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, NULL), EZSHM_ERR_NOTREADY);
        cr_expect_eq(attach_to(h, s_golden_size[i], RING_BYTES, 5, NULL), EZSHM_OK);
        free(h);
    }
    /*  v1 magic with struct_version 2 */
    uint8_t *h = malloc(s_golden_size[1]);
    memcpy(h, s_golden[1], s_golden_size[1]);
    h[4] = 2;
    cr_expect_eq(attach_to(h, s_golden_size[1], RING_BYTES, 0, NULL), EZSHM_ERR_HEADER);
    free(h);
}

Test(fuzz_mirror, wrap_counter_huge_reads_safely)
{
    load_golden();
    for (int i = 0; i < 2; i++) {
        uint64_t wrap = UINT64_MAX, wi = 999;
        uint8_t *h = patched(i, 274, &wrap, 8);
        memcpy(h + (i ? 8 : 0) + 1310, &wi, 8);
        ezshm_mirror_t *m;
        cr_assert_eq(attach_to(h, s_golden_size[i], RING_BYTES, 0, &m), EZSHM_OK);
        float dst[64 * 8];
        uint64_t n_read, n_lost, n_out;
        cr_expect_eq(ezshm_mirror_read(m, dst, 64, &n_read, &n_lost), EZSHM_OK);
        cr_expect_leq(n_read, 64);
        cr_expect_eq(ezshm_mirror_latest(m, dst, 64, &n_out), EZSHM_OK);
        cr_expect_leq(n_out, 64);
        ezshm_mirror_destroy(&m);
        free(h);
    }
}
