/*  test_wire.c — the wire decoder against the captured ezmsg fixtures, every rejection
    reason, the relaxed JSON tokens, byte order, the encoder and the native header cache. */
#include "support_wire.h"
#include "wire.h"
#include "wire_base64.h"
#include "numpy_dtype.h"
#include "ezshm_dtype.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AA_TYPE "ezmsg.util.messages.axisarray:"

/*  ---- helpers ------------------------------------------------------------------------- */

static cJSON *
s_manifest(void)
{
    size_t len;
    char *text = support_wire_fixture("manifest.json", &len);
    cr_assert_not_null(text, "cannot read manifest.json under %s", EZSHM_FIXTURES);
    cJSON *manifest = cJSON_ParseWithLength(text, len);
    free(text);
    cr_assert_not_null(manifest);
    return manifest;
}

static const char *
s_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    cr_assert(cJSON_IsString(item), "manifest field %s", key);
    return item->valuestring;
}

static double
s_num(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    cr_assert(cJSON_IsNumber(item), "manifest field %s", key);
    return item->valuedouble;
}

/*  Decodes one multipart message [topic, json]. */
static int
s_decode2(wire_decoder_t *d, const char *json, const axisarray_t **out)
{
    wire_frame_t frames[2] = {{"t", 1}, {json, strlen(json)}};
    return wire_decode(d, frames, 2, out);
}

/*  A base64 string of bytes in a static buffer (valid until the next call). */
static const char *
s_b64(const void *bytes, size_t n)
{
    static char out[4096];
    sodium_bin2base64(out, sizeof out, (const unsigned char *) bytes, n,
                      sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/*  A complete ezmsg payload with the given pieces (static buffer, valid until next call). */
static const char *
s_payload(const char *dtype, const char *b64, const char *shape, const char *dims,
          const char *gain, const char *attrs)
{
    static char out[8192];
    snprintf(out, sizeof out,
             "{\"ts\": 1.5, \"obj\": {\"data\": {\"_type\": \"_ndarray\", \"dtype\": \"%s\", "
             "\"data\": \"%s\", \"shape\": %s}, \"dims\": %s, \"axes\": {\"time\": {\"unit\": "
             "\"s\", \"gain\": %s, \"offset\": 0.0, \"_type\": \"" AA_TYPE "LinearAxis\"}}, "
             "\"attrs\": %s, \"key\": \"k\", \"_type\": \"" AA_TYPE "AxisArray\"}}",
             dtype, b64, shape, dims, gain, attrs);
    return out;
}

static const float s_f32[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};

static const char *
s_good(void)
{
    return s_payload("float32", s_b64(s_f32, sizeof s_f32), "[3, 2]", "[\"time\", \"ch\"]",
                     "0.001", "{}");
}

/*  ---- fixtures ------------------------------------------------------------------------- */

static void
s_check_fixture(const cJSON *fx, const axisarray_t *aa)
{
    const char *name = s_str(fx, "name");
    size_t topic_len;
    const char *topic = (const char *) axisarray_topic(aa, &topic_len);
    cr_assert_eq(topic_len, 5, "%s", name);
    cr_assert(memcmp(topic, "pyref", 5) == 0, "%s", name);
    cr_assert_str_eq(axisarray_key(aa), s_str(fx, "key"), "%s", name);
    cr_assert_eq(axisarray_dtype(aa), s_str(fx, "numpy_char")[0], "%s", name);
    cr_assert_eq(axisarray_itemsize(aa), (size_t) s_num(fx, "itemsize"), "%s", name);

    const cJSON *dims = cJSON_GetObjectItem(fx, "dims"), *shape = cJSON_GetObjectItem(fx, "shape");
    cr_assert_eq(axisarray_ndim(aa), (size_t) cJSON_GetArraySize(dims), "%s", name);
    for (int i = 0; i < cJSON_GetArraySize(dims); i++) {
        cr_assert_str_eq(axisarray_dim(aa, (size_t) i), cJSON_GetArrayItem(dims, i)->valuestring);
        cr_assert_eq(axisarray_shape(aa)[i], (size_t) cJSON_GetArrayItem(shape, i)->valuedouble);
        cr_assert_eq(axisarray_find_dim(aa, cJSON_GetArrayItem(dims, i)->valuestring), i);
    }
    cr_assert_eq(axisarray_find_dim(aa, "nope"), -1);

    const cJSON *time = cJSON_GetObjectItem(fx, "time_axis");
    const axisarray_axis_t *t = axisarray_axis(aa, "time");
    cr_assert_not_null(t, "%s has a time axis", name);
    cr_assert_str_eq(t->unit, s_str(time, "unit"));
    if (strcmp(s_str(time, "kind"), "linear") == 0) {
        cr_assert_eq(t->kind, AXISARRAY_AXIS_LINEAR, "%s", name);
        cr_assert_eq(t->gain, s_num(time, "gain"), "%s gain", name);
        cr_assert_eq(t->offset, s_num(time, "offset"), "%s offset", name);
    }
    else {
        cr_assert_eq(t->kind, AXISARRAY_AXIS_COORDINATE, "%s", name);
        cr_assert_eq(t->n_values, (size_t) s_num(time, "n"));
        cr_assert_eq(t->values[0], s_num(time, "first"));
        cr_assert_eq(t->values[t->n_values - 1], s_num(time, "last"));
        char hex[65];
        support_wire_sha256(t->values, t->n_values * sizeof(double), hex);
        cr_assert_str_eq(hex, s_str(time, "values_sha256"));
    }

    const cJSON *others = cJSON_GetObjectItem(fx, "other_axes");
    size_t n_other = 0;
    for (const cJSON *o = others->child; o; o = o->next, n_other++) {
        const axisarray_axis_t *ax = axisarray_axis(aa, o->string);
        cr_assert_not_null(ax, "%s axis %s", name, o->string);
        cr_assert_str_eq(ax->unit, s_str(o, "unit"));
        if (strcmp(s_str(o, "kind"), "linear") == 0) {
            cr_assert_eq(ax->kind, AXISARRAY_AXIS_LINEAR);
            cr_assert_eq(ax->gain, s_num(o, "gain"));
            cr_assert_eq(ax->offset, s_num(o, "offset"));
            continue;
        }
        cr_assert_eq(ax->kind, AXISARRAY_AXIS_COORDINATE);
        const cJSON *values = cJSON_GetObjectItem(o, "values");
        cr_assert_eq(ax->n_labels, (size_t) cJSON_GetArraySize(values), "%s %s", name, o->string);
        for (int i = 0; i < cJSON_GetArraySize(values); i++)
            cr_assert_str_eq(ax->labels[i], cJSON_GetArrayItem(values, i)->valuestring);
    }
    cr_assert_eq(axisarray_naxes(aa), 1 + n_other, "%s axis count", name);

    cr_assert_eq(axisarray_nbytes(aa), (size_t) s_num(fx, "data_nbytes"), "%s", name);
    cr_assert_not(axisarray_needs_byteswap(aa));
    char hex[65];
    support_wire_sha256(axisarray_data(aa), axisarray_nbytes(aa), hex);
    cr_assert_str_eq(hex, s_str(fx, "data_sha256_wire_order"), "%s data", name);
    cr_assert(axisarray_has_ts(aa));
    cr_assert_gt(axisarray_ts(aa), 1.7e9);
    cr_assert_not(axisarray_has_seq(aa));
}

Test(wire_fixtures, every_fixture_multipart_and_singlepart)
{
    cJSON *manifest = s_manifest();
    wire_decoder_t *d = wire_decoder_new();
    const cJSON *fixtures = cJSON_GetObjectItem(manifest, "fixtures");
    cr_assert_eq(cJSON_GetArraySize(fixtures), 8);
    for (const cJSON *fx = fixtures->child; fx; fx = fx->next) {
        size_t len, slen;
        char *json = support_wire_fixture(s_str(fx, "file"), &len);
        char *single = support_wire_fixture(s_str(fx, "singlepart_file"), &slen);
        cr_assert(json && single);
        const axisarray_t *aa;
        wire_frame_t multi[2] = {{"pyref", 5}, {json, len}};
        cr_assert_eq(wire_decode(d, multi, 2, &aa), 0, "%s: %s", s_str(fx, "name"),
                     wire_decoder_last_error(d));
        cr_assert_eq(wire_decoder_format(d), WIRE_FORMAT_MULTIPART);
        s_check_fixture(fx, aa);
        wire_frame_t one = {single, slen};
        cr_assert_eq(wire_decode(d, &one, 1, &aa), 0, "%s single: %s", s_str(fx, "name"),
                     wire_decoder_last_error(d));
        cr_assert_eq(wire_decoder_format(d), WIRE_FORMAT_SINGLEPART);
        s_check_fixture(fx, aa);
        free(json);
        free(single);
    }
    wire_decoder_destroy(&d);
    cr_assert_null(d);
    cJSON_Delete(manifest);
}

/*  The encoder writes byte for byte what ezmsg wrote for the same message. */
Test(wire_fixtures, encoder_reproduces_fixture_bytes)
{
    size_t len;
    char *json = support_wire_fixture("f32_time_ch_linear.json", &len);
    cr_assert_not_null(json);
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    cr_assert_eq(s_decode2(d, json, &aa), 0);
    const char *dims[] = {"time", "ch"};
    const char *labels[] = {"Ch0", "Ch1", "Ch2", "Ch3", "Ch4", "Ch5", "Ch6", "Ch7"};
    wire_message_t m = {
        .topic = "pyref", .key = "f32-linear", .ndim = 2, .dims = dims,
        .shape = axisarray_shape(aa), .dtype = 'f', .data = axisarray_data(aa),
        .nbytes = axisarray_nbytes(aa), .time_dim = "time", .gain = 0.001, .offset = 12.5,
        .label_dim = "ch", .labels = labels, .n_labels = 8, .ts = axisarray_ts(aa)};
    wire_buf_t buf = {0};
    cr_assert_eq(wire_encode_ezmsg(&m, &buf), 0);
    cr_assert_eq(buf.size, len);
    cr_assert(memcmp(buf.data, json, len) == 0, "%.*s", (int) buf.size, (char *) buf.data);
    size_t slen;
    char *single = support_wire_fixture("f32_time_ch_linear.singlepart.bin", &slen);
    cr_assert_eq(wire_encode_ezmsg_single(&m, &buf), 0);
    cr_assert_eq(buf.size, slen);
    cr_assert(memcmp(buf.data, single, slen) == 0);
    wire_buf_free(&buf);
    free(single);
    free(json);
    wire_decoder_destroy(&d);
}

/*  Significant digits of a number as the encoder wrote it (sign, leading and trailing zeros,
    point and exponent not counted). */
static int
s_sig_digits(const char *text, size_t len)
{
    char d[64];
    size_t n = 0;
    for (size_t i = 0; i < len && text[i] != 'e' && n < sizeof d; i++)
        if (text[i] >= '0' && text[i] <= '9' && (n || text[i] != '0'))
            d[n++] = text[i];
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n ? (int) n : 1;
}

/*  Numbers are written as Python's repr writes them: the fewest digits that read back exactly.
    Checked against a plain search from 1 digit up, on values of every kind the wire carries
    and on the awkward ones (subnormals, powers of two, 17-digit values). */
Test(wire_encode, numbers_are_shortest_and_exact)
{
    const char *dims[] = {"time"};
    const size_t shape[] = {1};
    const float sample = 0;
    wire_message_t m = {.topic = "t", .ndim = 1, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = &sample, .nbytes = 4, .time_dim = "time", .gain = 0.001};
    wire_buf_t buf = {0};
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 60000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        double v;
        switch (i % 6) {
            case 0: { uint64_t bits = state; memcpy(&v, &bits, 8); break; }    /* any double */
            case 1: v = (double) (state % 100000000u) / 30000.0; break;       /* k / fs */
            case 2: v = (double) (state % 100000u) / pow(10, (double) (state >> 60)); break;
            case 3: v = ldexp(1.0, (int) (state % 2098) - 1074); break;       /* 2^k, subnormal up */
            case 4: v = 1.7e9 + (double) (state % 1000000u) * 1e-6; break;    /* a ts */
            default: v = (double) (state % 1000u) * 0x1p-1074; break;         /* subnormals */
        }
        if (!isfinite(v))
            continue;
        m.offset = v;
        cr_assert_eq(wire_encode_native(&m, &buf), 0);
        const char *at = strstr((const char *) buf.data, "\"offset\": ");
        cr_assert_not_null(at);
        at += strlen("\"offset\": ");
        size_t len = strcspn(at, ",}");
        char text[64];
        cr_assert_lt(len, sizeof text);
        memcpy(text, at, len);
        text[len] = '\0';
        cr_assert_eq(strtod(text, NULL), v, "%.17g written as %s", v, text);
        int shortest = 1;
        char sci[40];
        for (; shortest < 17; shortest++) {
            snprintf(sci, sizeof sci, "%.*e", shortest - 1, v);
            if (strtod(sci, NULL) == v)
                break;
        }
        cr_assert_eq(s_sig_digits(text, len), shortest, "%.17g written as %s, shortest is %s", v, text, sci);
    }
    wire_buf_free(&buf);
}

/*  ---- rejection reasons ---------------------------------------------------------------- */

static void
s_expect(const char *json, int code, const char *reason)
{
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa = (const axisarray_t *) d;
    int rc = s_decode2(d, json, &aa);
    cr_assert_eq(rc, code, "expected %s, got %d (%s) for %.200s", reason, rc,
                 wire_decoder_last_error(d), json);
    cr_assert_null(aa);
    cr_assert_str_eq(drop_reason_name(rc), reason);
    cr_assert_neq(wire_decoder_last_error(d)[0], '\0');
    wire_decoder_destroy(&d);
}

Test(wire_errors, frame_count)
{
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    wire_frame_t frames[4] = {{"t", 1}, {"{}", 2}, {"", 0}, {"", 0}};
    cr_assert_eq(wire_decode(d, frames, 0, &aa), WIRE_ERR_FRAME_COUNT);
    cr_assert_eq(wire_decode(d, frames, 4, &aa), WIRE_ERR_FRAME_COUNT);
    cr_assert_null(aa);
    cr_assert_str_eq(wire_decoder_last_error(d), "got 4 frames, expected 1, 2 or 3");
    cr_assert_str_eq(drop_reason_name(WIRE_ERR_FRAME_COUNT), "frame_count");
    wire_decoder_destroy(&d);
}

Test(wire_errors, invalid_json)
{
    s_expect("{\"ts\": 1.0, \"obj\": {", WIRE_ERR_JSON, "invalid_json");
    s_expect("[1, 2]", WIRE_ERR_JSON, "invalid_json");
    s_expect("{\"a\": 1,}", WIRE_ERR_JSON, "invalid_json");
    s_expect("{\"a\": nan}", WIRE_ERR_JSON, "invalid_json");
    s_expect("{\"a\": 01}", WIRE_ERR_JSON, "invalid_json");
    s_expect("{\"a\": \"x\ty\"}", WIRE_ERR_JSON, "invalid_json");
    s_expect("{} {}", WIRE_ERR_JSON, "invalid_json");
    s_expect("", WIRE_ERR_JSON, "invalid_json");
    s_expect(s_payload("float32", "AAA*", "[1]", "[\"time\"]", "1.0", "{}"), WIRE_ERR_JSON,
             "invalid_json");
    /*  Deep nesting is rejected, not a stack overflow. */
    char deep[400] = "{\"a\": ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    s_expect(deep, WIRE_ERR_JSON, "invalid_json");
    /*  A single-part frame without any '{'. */
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    wire_frame_t one = {"pyref", 5};
    cr_assert_eq(wire_decode(d, &one, 1, &aa), WIRE_ERR_JSON);
    wire_decoder_destroy(&d);
}

Test(wire_errors, missing_field)
{
    const char *b64 = s_b64(s_f32, sizeof s_f32);
    char buf[16384];
    s_expect("{\"ts\": 1.0, \"obj\": {\"dims\": [\"time\"]}}", WIRE_ERR_MISSING_FIELD,
             "missing_field");
    snprintf(buf, sizeof buf, "{\"data\": {\"dtype\": \"float32\", \"data\": \"%s\", "
             "\"shape\": [6]}}", b64);
    s_expect(buf, WIRE_ERR_MISSING_FIELD, "missing_field");       /* no dims */
    snprintf(buf, sizeof buf, "{\"data\": {\"data\": \"%s\", \"shape\": [6]}, \"dims\": [\"t\"]}",
             b64);
    s_expect(buf, WIRE_ERR_MISSING_FIELD, "missing_field");       /* no dtype */
    snprintf(buf, sizeof buf, "{\"data\": {\"dtype\": \"float32\", \"shape\": [6]}, "
             "\"dims\": [\"t\"]}");
    s_expect(buf, WIRE_ERR_MISSING_FIELD, "missing_field");       /* no base64 */
    s_expect(s_payload("float32", b64, "[3, 2.5]", "[\"time\", \"ch\"]", "1.0", "{}"),
             WIRE_ERR_MISSING_FIELD, "missing_field");             /* fractional shape */
    s_expect(s_payload("float32", b64, "[3, -2]", "[\"time\", \"ch\"]", "1.0", "{}"),
             WIRE_ERR_MISSING_FIELD, "missing_field");             /* negative shape */
    s_expect(s_payload("float32", b64, "[3, 2]", "[\"time\", 7]", "1.0", "{}"),
             WIRE_ERR_MISSING_FIELD, "missing_field");             /* dim not a string */
    s_expect(s_payload("float32", b64, "[3, 2]", "[\"time\", \"ch\"]", "\"fast\"", "{}"),
             WIRE_ERR_MISSING_FIELD, "missing_field");             /* gain a string */
    snprintf(buf, sizeof buf, "{\"seq\": -1, %s", s_good() + 1);
    s_expect(buf, WIRE_ERR_MISSING_FIELD, "missing_field");       /* negative seq */
    snprintf(buf, sizeof buf, "{\"seq\": 1.5, %s", s_good() + 1);
    s_expect(buf, WIRE_ERR_MISSING_FIELD, "missing_field");       /* fractional seq */
}

Test(wire_errors, unknown_dtype)
{
    const char *b64 = s_b64(s_f32, sizeof s_f32);
    s_expect(s_payload("float128", b64, "[6]", "[\"time\"]", "1.0", "{}"), WIRE_ERR_DTYPE,
             "unknown_dtype");
    s_expect(s_payload("object", b64, "[6]", "[\"time\"]", "1.0", "{}"), WIRE_ERR_DTYPE,
             "unknown_dtype");
    s_expect(s_payload("<U3", b64, "[2]", "[\"time\"]", "1.0", "{}"), WIRE_ERR_DTYPE,
             "unknown_dtype");
    s_expect(s_payload("|S4", b64, "[6]", "[\"time\"]", "1.0", "{}"), WIRE_ERR_DTYPE,
             "unknown_dtype");
}

Test(wire_errors, shape_mismatch)
{
    const char *b64 = s_b64(s_f32, sizeof s_f32);
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[1, 3, 2]", "[\"time\", \"ch\"]", "1.0",
                                        "{}"), &aa), WIRE_ERR_SHAPE);
    cr_assert_str_eq(wire_decoder_last_error(d), "dims has 2 names but shape has 3 entries");
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[4, 2]", "[\"time\", \"ch\"]", "1.0",
                                        "{}"), &aa), WIRE_ERR_SHAPE);
    cr_assert_str_eq(wire_decoder_last_error(d), "data has 24 bytes but shape and dtype need 32");
    cr_assert_str_eq(drop_reason_name(WIRE_ERR_SHAPE), "shape_mismatch");
    wire_decoder_destroy(&d);
}

Test(wire_errors, bad_ndim)
{
    const char *b64 = s_b64(s_f32, 4);
    s_expect(s_payload("float32", b64, "[]", "[]", "1.0", "{}"), WIRE_ERR_NDIM, "bad_ndim");
    char shape[256] = "[", dims[512] = "[";
    for (int i = 0; i < 65; i++) {
        strcat(shape, i ? ", 1" : "1");
        strcat(dims, i ? ", \"d\"" : "\"d\"");
    }
    strcat(shape, "]");
    strcat(dims, "]");
    s_expect(s_payload("float32", b64, shape, dims, "1.0", "{}"), WIRE_ERR_NDIM, "bad_ndim");
}

Test(wire_errors, size_overflow)
{
    const char *b64 = s_b64(s_f32, 4);
    s_expect(s_payload("float32", b64, "[4611686018427387904, 8]", "[\"time\", \"ch\"]", "1.0",
                       "{}"), DROP_SIZE_OVERFLOW, "size_overflow");
    s_expect(s_payload("float64", b64, "[18446744073709551615]", "[\"time\"]", "1.0", "{}"),
             DROP_SIZE_OVERFLOW, "size_overflow");
    s_expect(s_payload("float64", b64, "[18446744073709551616]", "[\"time\"]", "1.0", "{}"),
             WIRE_ERR_MISSING_FIELD, "missing_field");
}

Test(wire_errors, names_and_sentences)
{
    const char *names[] = {"ok", "frame_count", "invalid_json", "missing_field", "unknown_dtype",
                           "shape_mismatch", "bad_ndim", "size_overflow", "out_of_memory"};
    for (int i = 0; i < WIRE_REASON_COUNT; i++) {
        cr_assert_str_eq(drop_reason_name(-i), names[i]);
        cr_assert_not_null(wire_strerror(-i));
    }
    cr_assert_str_eq(drop_reason_name(-99), "unknown");
    cr_assert_str_eq(drop_reason_name(3), "unknown");
    cr_assert_str_eq(wire_strerror(-99), "unknown wire error");
}

/*  ---- relaxed JSON --------------------------------------------------------------------- */

Test(wire_relaxed, nan_and_infinity_tokens)
{
    const char *b64 = s_b64(s_f32, sizeof s_f32);
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    const char *attrs = "{\"a\": NaN, \"b\": [Infinity, -Infinity], \"s\": \"NaN Infinity\", "
                        "\"p\": {\"_type\": \"_pickle\", \"data\": \"gASVaQ==\"}}";
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[3, 2]", "[\"time\", \"ch\"]", "0.5",
                                        attrs), &aa), 0, "%s", wire_decoder_last_error(d));
    cr_assert_eq(axisarray_axis(aa, "time")->gain, 0.5);
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[3, 2]", "[\"time\", \"ch\"]",
                                        "Infinity", "{}"), &aa), 0);
    double gain = axisarray_axis(aa, "time")->gain;
    cr_assert(isinf(gain) && gain > 0);
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[3, 2]", "[\"time\", \"ch\"]",
                                        "-Infinity", "{}"), &aa), 0);
    cr_assert(isinf(axisarray_axis(aa, "time")->gain));
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[3, 2]", "[\"time\", \"ch\"]", "NaN",
                                        "{}"), &aa), 0);
    cr_assert(isnan(axisarray_axis(aa, "time")->gain));
    cr_assert_eq(s_decode2(d, s_payload("float32", b64, "[3, 2]", "[\"time\", \"ch\"]", "null",
                                        "{}"), &aa), 0);
    cr_assert(!isfinite(axisarray_axis(aa, "time")->gain));
    wire_decoder_destroy(&d);
}

Test(wire_relaxed, escapes_in_strings)
{
    const char *b64 = s_b64(s_f32, sizeof s_f32);
    char escaped[128];
    size_t n = 0;
    for (const char *c = b64; *c; c++)
        n += (size_t) snprintf(escaped + n, sizeof escaped - n, *c == '/' ? "\\/" : "%c", *c);
    char json[8192];
    snprintf(json, sizeof json, "{\"d\\u0061ta\": {\"dtype\": \"float32\", \"data\": \"%s\", "
             "\"shape\": [6]}, \"dims\": [\"t\\u00efme\"], \"key\": \"\\ud83d\\ude00 \\\"q\\\"\"}",
             escaped);
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    cr_assert_eq(s_decode2(d, json, &aa), 0, "%s", wire_decoder_last_error(d));
    cr_assert_str_eq(axisarray_dim(aa, 0), "t\xc3\xafme");
    cr_assert_str_eq(axisarray_key(aa), "\xf0\x9f\x98\x80 \"q\"");
    cr_assert(memcmp(axisarray_data(aa), s_f32, sizeof s_f32) == 0);
    cr_assert_not(axisarray_has_ts(aa));
    cr_assert_eq(axisarray_naxes(aa), 0);
    wire_decoder_destroy(&d);
}

/*  The fast decoder accepts and rejects exactly what libsodium's ORIGINAL variant does on
    ASCII input. (libsodium also takes some bytes >= 0x80 as digits, a signed-char artefact
    of its constant-time code; we reject every byte outside the alphabet.) */
Test(wire_base64, agrees_with_libsodium)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    unsigned char bin[64], a[64], b[64];
    char text[128];
    const char *odd[] = {"", "=", "==", "A===", "AA==", "AB==", "AAA=", "AAB=", "AAAA", "A+/=",
                         "AA=A", "AA\n==", " AAA", "AAAAA", "AAAAAA==", "Zm9v", "Zm9vYg==",
                         "Zm9vYmE=", "Zm9vYmFy", "Zm9vYmF=", "Zm-v", "Zm_v", "////"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        size_t na = 0, nb = 0;
        int ra = wire_base64_decode(a, odd[i], strlen(odd[i]), &na);
        int rb = sodium_base642bin(b, sizeof b, odd[i], strlen(odd[i]), NULL, &nb, NULL,
                                   sodium_base64_VARIANT_ORIGINAL);
        cr_assert_eq(ra, rb, "'%s'", odd[i]);
        if (ra == 0) {
            cr_assert_eq(na, nb, "'%s'", odd[i]);
            cr_assert(memcmp(a, b, na) == 0, "'%s'", odd[i]);
        }
    }
    size_t n_high;
    cr_assert_eq(wire_base64_decode(a, "z\xfeXQ", 4, &n_high), -1);
    for (unsigned round = 0; round < 2000; round++) {
        size_t n = round % 40;
        randombytes_buf(bin, n);
        sodium_bin2base64(text, sizeof text, bin, n, sodium_base64_VARIANT_ORIGINAL);
        size_t len = strlen(text), na = 0, nb = 0;
        /*  Every other round, corrupt one character to some random ASCII byte. */
        if (round % 2 && len)
            text[randombytes_uniform((uint32_t) len)] = (char) randombytes_uniform(128);
        int ra = wire_base64_decode(a, text, len, &na);
        int rb = sodium_base642bin(b, sizeof b, text, len, NULL, &nb, NULL,
                                   sodium_base64_VARIANT_ORIGINAL);
        cr_assert_eq(ra, rb, "round %u", round);
        if (ra == 0) {
            cr_assert_eq(na, nb);
            cr_assert(memcmp(a, b, na) == 0);
        }
        if (round % 2 == 0) {
            cr_assert_eq(ra, 0);
            cr_assert_eq(na, n);
            cr_assert(memcmp(a, bin, n) == 0);
        }
    }
}

/*  ---- dtypes and byte order ------------------------------------------------------------- */

Test(wire_dtype, names_and_type_strings)
{
    const struct { const char *s; char code; bool big; } cases[] = {
        {"bool", '?', false},    {"int8", 'b', false},     {"uint8", 'B', false},
        {"int16", 'h', false},   {"uint16", 'H', false},   {"int32", 'i', false},
        {"uint32", 'I', false},  {"int64", 'l', false},    {"uint64", 'L', false},
        {"float16", 'e', false}, {"float32", 'f', false},  {"float64", 'd', false},
        {"complex64", 'F', false}, {"complex128", 'D', false},
        {"<f4", 'f', false},     {">i2", 'h', true},       {"|u1", 'B', false},
        {"=f8", 'd', false},     {"b1", '?', false},       {"<i8", 'l', false},
        {">u8", 'L', true},      {">c8", 'F', true},       {"<f2", 'e', false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        numpy_dtype_t dt;
        cr_assert_eq(numpy_dtype_parse(cases[i].s, strlen(cases[i].s), &dt), 0, "%s", cases[i].s);
        cr_assert_eq(dt.code, cases[i].code, "%s", cases[i].s);
        cr_assert_eq(dt.big_endian, cases[i].big, "%s", cases[i].s);
    }
    numpy_dtype_t dt;
    cr_assert_eq(numpy_dtype_parse("<U12", 4, &dt), 0);
    cr_assert_eq(dt.code, '\0');
    cr_assert_eq(dt.str_chars, 12);
    cr_assert_eq(numpy_dtype_parse("float128", 8, &dt), -1);
    cr_assert_eq(numpy_dtype_parse("<f3", 3, &dt), -1);
    cr_assert_eq(numpy_dtype_parse("<U0", 3, &dt), -1);
    cr_assert_str_eq(numpy_dtype_name('l'), "int64");
    cr_assert_str_eq(numpy_dtype_name('F'), "complex64");
    cr_assert_eq(numpy_dtype_code("float64"), 'd');
    cr_assert_eq(numpy_dtype_code("h"), 'h');
    cr_assert_eq(numpy_dtype_code("<U3"), '\0');
}

Test(wire_byteorder, big_endian_base64_is_swapped)
{
    /*  >f4 of s_f32 and >i2 of a few int16s, built by swapping the little-endian bytes. */
    float be_f32[6];
    wire_byteswap(be_f32, s_f32, sizeof s_f32, 4);
    const int16_t i16[4] = {-32768, 32767, -1, 258};
    int16_t be_i16[4];
    wire_byteswap(be_i16, i16, sizeof i16, 2);
    cr_assert_eq((uint16_t) be_i16[3], 0x0201);
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    cr_assert_eq(s_decode2(d, s_payload(">f4", s_b64(be_f32, sizeof be_f32), "[3, 2]",
                                        "[\"time\", \"ch\"]", "1.0", "{}"), &aa), 0);
    cr_assert_eq(axisarray_dtype(aa), 'f');
    cr_assert_not(axisarray_needs_byteswap(aa));
    cr_assert(memcmp(axisarray_data(aa), s_f32, sizeof s_f32) == 0);
    cr_assert_eq(s_decode2(d, s_payload(">i2", s_b64(be_i16, sizeof be_i16), "[4]", "[\"time\"]",
                                        "1.0", "{}"), &aa), 0);
    cr_assert_eq(axisarray_dtype(aa), 'h');
    cr_assert(memcmp(axisarray_data(aa), i16, sizeof i16) == 0);
    wire_decoder_destroy(&d);
}

Test(wire_byteorder, byteswap_helper)
{
    const unsigned char src[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    unsigned char dst[16];
    wire_byteswap(dst, src, 16, 8);
    cr_assert_eq(dst[0], 8);
    cr_assert_eq(dst[8], 16);
    wire_byteswap(dst, src, 16, 1);
    cr_assert(memcmp(dst, src, 16) == 0);
    unsigned char inplace[6] = {1, 2, 3, 4, 5, 6};
    wire_byteswap(inplace, inplace, 6, 3);
    const unsigned char want[6] = {3, 2, 1, 6, 5, 4};
    cr_assert(memcmp(inplace, want, 6) == 0);
    /*  complex64 swaps re and im separately: a big-endian (1.5, -2) pair. */
    const float pair[2] = {1.5f, -2.0f};
    unsigned char be[8];
    wire_byteswap(be, pair, 8, ezshm_dtype_component_size('F'));
    float back[2];
    wire_byteswap(back, be, 8, 4);
    cr_assert_eq(back[0], 1.5f);
    cr_assert_eq(back[1], -2.0f);
}

/*  ---- encode -> decode round trips -------------------------------------------------------- */

static void
s_fill(unsigned char *bytes, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        bytes[i] = (unsigned char) (i * 37u + seed * 11u + 5u);
}

/*  Encodes m in all three formats and checks each decodes back to m. */
static void
s_round_trip(const wire_message_t *m)
{
    wire_decoder_t *d = wire_decoder_new();
    wire_buf_t buf = {0};
    for (int format = 1; format <= 3; format++) {
        const axisarray_t *aa;
        int rc;
        if (format == 1) {
            cr_assert_eq(wire_encode_ezmsg_single(m, &buf), 0);
            wire_frame_t f = {buf.data, buf.size};
            rc = wire_decode(d, &f, 1, &aa);
        }
        else if (format == 2) {
            cr_assert_eq(wire_encode_ezmsg(m, &buf), 0);
            wire_frame_t f[2] = {{m->topic, strlen(m->topic)}, {buf.data, buf.size}};
            rc = wire_decode(d, f, 2, &aa);
        }
        else {
            cr_assert_eq(wire_encode_native(m, &buf), 0);
            wire_frame_t f[3] = {{m->topic, strlen(m->topic)}, {buf.data, buf.size},
                                 {m->data, m->nbytes}};
            rc = wire_decode(d, f, 3, &aa);
        }
        cr_assert_eq(rc, 0, "format %d dtype %c: %s\n%.*s", format, m->dtype,
                     wire_decoder_last_error(d), (int) buf.size, (char *) buf.data);
        cr_assert_eq((int) wire_decoder_format(d), format);
        size_t tlen;
        const void *topic = axisarray_topic(aa, &tlen);
        cr_assert_eq(tlen, strlen(m->topic));
        cr_assert(memcmp(topic, m->topic, tlen) == 0);
        cr_assert_str_eq(axisarray_key(aa), m->key ? m->key : "");
        /*  'q'/'Q' travel as "int64"/"uint64", which numpy on Linux reads back as 'l'/'L'. */
        cr_assert_eq(axisarray_dtype(aa), numpy_dtype_code(numpy_dtype_name(m->dtype)));
        cr_assert_eq(axisarray_ndim(aa), m->ndim);
        for (size_t i = 0; i < m->ndim; i++) {
            cr_assert_str_eq(axisarray_dim(aa, i), m->dims[i]);
            cr_assert_eq(axisarray_shape(aa)[i], m->shape[i]);
        }
        cr_assert_eq(axisarray_nbytes(aa), m->nbytes);
        bool swap = format == 3 && m->big_endian && ezshm_dtype_component_size(m->dtype) > 1;
        cr_assert_eq(axisarray_needs_byteswap(aa), swap);
        unsigned char *expect = malloc(m->nbytes + 1), *got = malloc(m->nbytes + 1);
        size_t cs = ezshm_dtype_component_size(m->dtype);
        wire_byteswap(expect, m->data, m->nbytes, m->big_endian ? cs : 1);
        wire_byteswap(got, axisarray_data(aa), m->nbytes, swap ? cs : 1);
        cr_assert(memcmp(expect, got, m->nbytes) == 0, "format %d dtype %c data", format,
                  m->dtype);
        free(expect);
        free(got);
        cr_assert_eq(axisarray_has_seq(aa), m->has_seq);
        if (m->has_seq)
            cr_assert_eq(axisarray_seq(aa), m->seq);
        cr_assert_eq(axisarray_ts(aa), m->ts);
        const axisarray_axis_t *t = axisarray_axis(aa, m->time_dim);
        cr_assert_not_null(t);
        cr_assert_str_eq(t->unit, "s");
        if (m->time_values) {
            cr_assert_eq(t->kind, AXISARRAY_AXIS_COORDINATE);
            cr_assert_eq(t->n_values, m->n_time_values);
            cr_assert(memcmp(t->values, m->time_values, m->n_time_values * sizeof(double)) == 0);
        }
        else {
            cr_assert_eq(t->kind, AXISARRAY_AXIS_LINEAR);
            cr_assert_eq(t->gain, m->gain);
            cr_assert_eq(t->offset, m->offset);
        }
        if (m->label_dim) {
            const axisarray_axis_t *l = axisarray_axis(aa, m->label_dim);
            cr_assert_not_null(l);
            cr_assert_eq(l->n_labels, m->n_labels);
            for (size_t i = 0; i < m->n_labels; i++)
                cr_assert_str_eq(l->labels[i], m->labels[i]);
        }
    }
    wire_buf_free(&buf);
    wire_decoder_destroy(&d);
}

Test(wire_roundtrip, dtypes_formats_and_layouts)
{
    const char codes[] = "?bBhHiIlLqQefdFD";
    const char *dims_tc[] = {"time", "ch"}, *dims_ct[] = {"ch", "time"};
    const char *labels[] = {"Ch0", "Fp1-\xc2\xb5V", "\xe9\x80\x9a\xe9\x81\x93" "3",
                            "\xf0\x9f\x98\x80", ""};
    unsigned char bytes[16 * 5 * 7];
    for (size_t c = 0; c < sizeof codes - 1; c++) {
        size_t itemsize = ezshm_dtype_itemsize(codes[c]);
        for (int layout = 0; layout < 2; layout++) {
            size_t shape[2] = {layout ? 5 : 7, layout ? 7 : 5};
            s_fill(bytes, sizeof bytes, (unsigned) c);
            wire_message_t m = {
                .topic = "rig/eeg", .key = c % 2 ? "k\xc3\xa9y" : NULL, .ndim = 2,
                .dims = layout ? dims_ct : dims_tc, .shape = shape, .dtype = codes[c],
                .big_endian = c % 3 == 0, .data = bytes, .nbytes = 35 * itemsize,
                .time_dim = "time", .gain = 1.0 / 30000.0, .offset = 1795682068.25 + c,
                .label_dim = "ch", .labels = labels, .n_labels = 5,
                .has_seq = layout == 1, .seq = UINT64_MAX - c, .ts = 1e-05 * (double) c};
            s_round_trip(&m);
        }
    }
}

Test(wire_roundtrip, coordinate_time_axis_no_labels)
{
    double t[6] = {1000.0, 1000.01, 1000.0199, 1000.031, 1000.04, 1000.05};
    const char *dims[] = {"time"};
    size_t shape[1] = {6};
    wire_message_t m = {.topic = "", .ndim = 1, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = s_f32, .nbytes = sizeof s_f32, .time_dim = "time",
                        .time_values = t, .n_time_values = 6, .ts = 12.5};
    s_round_trip(&m);
}

Test(wire_roundtrip, encoder_checks_its_input)
{
    const char *dims[] = {"time"};
    size_t shape[1] = {6};
    wire_message_t m = {.topic = "t", .ndim = 1, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = s_f32, .nbytes = 20};
    wire_buf_t buf = {0};
    cr_assert_eq(wire_encode_ezmsg(&m, &buf), WIRE_ERR_SHAPE);
    m.dtype = 'x';
    cr_assert_eq(wire_encode_native(&m, &buf), WIRE_ERR_DTYPE);
    m.dtype = 'f';
    m.ndim = 0;
    cr_assert_eq(wire_encode_ezmsg_single(&m, &buf), WIRE_ERR_NDIM);
    wire_buf_free(&buf);
}

Test(wire_roundtrip, python_float_repr)
{
    const char *dims[] = {"time"};
    size_t shape[1] = {6};
    const double values[] = {0.001, 12.5, 1e-05, 100.0, -3.0, 1e16, 1.5e-7, 1e100, 0.1 + 0.2,
                             1795682068.2762992, 3.3333333333333335e-05, 0.0, NAN, INFINITY};
    const char *want[] = {"0.001", "12.5", "1e-05", "100.0", "-3.0", "1e+16", "1.5e-07",
                          "1e+100", "0.30000000000000004", "1795682068.2762992",
                          "3.3333333333333335e-05", "0.0", "NaN", "Infinity"};
    wire_buf_t buf = {0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        wire_message_t m = {.topic = "t", .ndim = 1, .dims = dims, .shape = shape, .dtype = 'f',
                            .data = s_f32, .nbytes = sizeof s_f32, .ts = values[i]};
        cr_assert_eq(wire_encode_native(&m, &buf), 0);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "{\"ts\": %s, \"obj\"", want[i]);
        cr_assert(strncmp((char *) buf.data, prefix, strlen(prefix)) == 0, "%s vs %.40s", want[i],
                  (char *) buf.data);
    }
    wire_buf_free(&buf);
}

/*  ---- native header cache ------------------------------------------------------------------ */

Test(wire_native, header_cache_updates_volatile_numbers)
{
    const char *dims[] = {"time", "ch"};
    const char *labels[] = {"a", "b"};
    size_t shape[2] = {3, 2};
    float second[6] = {9, 8, 7, 6, 5, 4};
    wire_message_t m = {.topic = "n", .ndim = 2, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = s_f32, .nbytes = sizeof s_f32, .time_dim = "time",
                        .gain = 0.001, .offset = 1.0, .label_dim = "ch", .labels = labels,
                        .n_labels = 2, .has_seq = true, .seq = 9, .ts = 100.25};
    wire_buf_t h1 = {0}, h2 = {0};
    cr_assert_eq(wire_encode_native(&m, &h1), 0);
    m.offset = 1.003125;
    m.seq = 10;
    m.ts = 100.5;
    cr_assert_eq(wire_encode_native(&m, &h2), 0);
    cr_assert_neq(h1.size, h2.size);
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    wire_frame_t f1[3] = {{"n", 1}, {h1.data, h1.size}, {s_f32, sizeof s_f32}};
    wire_frame_t f2[3] = {{"n2", 2}, {h2.data, h2.size}, {second, sizeof second}};
    cr_assert_eq(wire_decode(d, f1, 3, &aa), 0);
    cr_assert_eq(wire_decoder_cache_hits(d), 0);
    cr_assert_eq(axisarray_seq(aa), 9);
    cr_assert_eq(wire_decode(d, f2, 3, &aa), 0, "%s", wire_decoder_last_error(d));
    cr_assert_eq(wire_decoder_cache_hits(d), 1);
    cr_assert_eq(axisarray_axis(aa, "time")->offset, 1.003125);
    cr_assert_eq(axisarray_axis(aa, "time")->gain, 0.001);
    cr_assert_eq(axisarray_seq(aa), 10);
    cr_assert_eq(axisarray_ts(aa), 100.5);
    cr_assert_eq(axisarray_data(aa), second);
    size_t tlen;
    cr_assert(memcmp(axisarray_topic(aa, &tlen), "n2", 2) == 0 && tlen == 2);
    cr_assert_str_eq(axisarray_axis(aa, "ch")->labels[1], "b");
    /*  Back to the first header: still a hit (only numbers differ). */
    cr_assert_eq(wire_decode(d, f1, 3, &aa), 0);
    cr_assert_eq(wire_decoder_cache_hits(d), 2);
    cr_assert_eq(axisarray_axis(aa, "time")->offset, 1.0);
    /*  A wrong data size is rejected even from the cache. */
    wire_frame_t bad[3] = {{"n", 1}, {h1.data, h1.size}, {s_f32, 20}};
    cr_assert_eq(wire_decode(d, bad, 3, &aa), WIRE_ERR_SHAPE);
    /*  A different shape is a miss and a full parse. */
    shape[0] = 2;
    m.nbytes = 16;
    cr_assert_eq(wire_encode_native(&m, &h2), 0);
    wire_frame_t f3[3] = {{"n", 1}, {h2.data, h2.size}, {second, 16}};
    cr_assert_eq(wire_decode(d, f3, 3, &aa), 0);
    cr_assert_eq(wire_decoder_cache_hits(d), 2);
    cr_assert_eq(axisarray_shape(aa)[0], 2);
    /*  A seq that stops being an integer is not taken from the cache. */
    char *text = malloc(h2.size + 8);
    memcpy(text, h2.data, h2.size);
    char *seq = strstr(text, "\"seq\": 10");
    cr_assert_not_null(seq);
    memmove(seq + 10, seq + 9, h2.size - (size_t) (seq + 9 - text));
    memcpy(seq + 7, "1.5", 3);
    wire_frame_t f4[3] = {{"n", 1}, {text, h2.size + 1}, {second, 16}};
    cr_assert_eq(wire_decode(d, f4, 3, &aa), WIRE_ERR_MISSING_FIELD, "%s",
                 wire_decoder_last_error(d));
    /*  A JSON message in between rebuilds the message, so the cache must not be used after it. */
    cr_assert_eq(wire_decode(d, f3, 3, &aa), 0);
    cr_assert_eq(s_decode2(d, s_good(), &aa), 0);
    cr_assert_eq(wire_decode(d, f3, 3, &aa), 0);
    cr_assert_eq(wire_decoder_cache_hits(d), 2);
    cr_assert_eq(axisarray_shape(aa)[0], 2);
    cr_assert_str_eq(axisarray_dim(aa, 1), "ch");
    free(text);
    wire_buf_free(&h1);
    wire_buf_free(&h2);
    wire_decoder_destroy(&d);
}

Test(wire_native, bare_header_and_big_endian)
{
    float be[6];
    wire_byteswap(be, s_f32, sizeof s_f32, 4);
    const char *header = "{\"seq\": 3, \"data\": {\"_type\": \"_ndarray\", \"dtype\": \">f4\", "
                         "\"shape\": [6]}, \"dims\": [\"time\"], \"axes\": {}, \"key\": \"bare\"}";
    wire_frame_t f[3] = {{"x", 1}, {header, strlen(header)}, {be, sizeof be}};
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    cr_assert_eq(wire_decode(d, f, 3, &aa), 0, "%s", wire_decoder_last_error(d));
    cr_assert(axisarray_has_seq(aa));
    cr_assert_eq(axisarray_seq(aa), 3);
    cr_assert_not(axisarray_has_ts(aa));
    cr_assert(axisarray_needs_byteswap(aa));
    cr_assert_eq(axisarray_data(aa), be);
    float le[6];
    wire_byteswap(le, axisarray_data(aa), axisarray_nbytes(aa),
                  ezshm_dtype_component_size(axisarray_dtype(aa)));
    cr_assert(memcmp(le, s_f32, sizeof le) == 0);
    f[2].size = 20;
    cr_assert_eq(wire_decode(d, f, 3, &aa), WIRE_ERR_SHAPE);
    cr_assert_str_eq(wire_decoder_last_error(d), "data frame has 20 bytes but shape and dtype need 24");
    wire_decoder_destroy(&d);
}

/*  ---- repetition ----------------------------------------------------------------------------- */

/*  Decoding the same message many times on one decoder: no state leaks from one decode into
    the next (speed is measured by bench/, never asserted in a test). */
Test(wire_repeat, json_fixture_decoded_repeatedly)
{
    size_t len;
    char *json = support_wire_fixture("f32_time_ch_linear.json", &len);
    cr_assert_not_null(json);
    wire_decoder_t *d = wire_decoder_new();
    wire_frame_t f[2] = {{"pyref", 5}, {json, len}};
    const axisarray_t *aa;
    for (int i = 0; i < 5000; i++) {
        cr_assert_eq(wire_decode(d, f, 2, &aa), 0);
        cr_assert_eq(axisarray_nbytes(aa), 64 * 8 * 4);
    }
    wire_decoder_destroy(&d);
    free(json);
}

Test(wire_repeat, native_header_cache_hits_for_every_repeat)
{
    const char *dims[] = {"time", "ch"};
    const char *labels[] = {"Ch0", "Ch1", "Ch2", "Ch3", "Ch4", "Ch5", "Ch6", "Ch7"};
    size_t shape[2] = {64, 8};
    static float data[64 * 8];
    wire_message_t m = {.topic = "t", .ndim = 2, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = data, .nbytes = sizeof data, .time_dim = "time", .gain = 0.001,
                        .label_dim = "ch", .labels = labels, .n_labels = 8, .has_seq = true};
    enum { N = 20000, VARIANTS = 64 };
    wire_buf_t headers[VARIANTS];
    memset(headers, 0, sizeof headers);
    for (int i = 0; i < VARIANTS; i++) {
        m.offset = i * 0.064;
        m.seq = (uint64_t) i;
        m.ts = 1795682068.0 + i * 0.064;
        cr_assert_eq(wire_encode_native(&m, &headers[i]), 0);
    }
    wire_decoder_t *d = wire_decoder_new();
    const axisarray_t *aa;
    for (int i = 0; i < N; i++) {
        wire_buf_t *h = &headers[i % VARIANTS];
        wire_frame_t f[3] = {{"t", 1}, {h->data, h->size}, {data, sizeof data}};
        cr_assert_eq(wire_decode(d, f, 3, &aa), 0);
    }
    cr_assert_eq(wire_decoder_cache_hits(d), N - 1);
    for (int i = 0; i < VARIANTS; i++)
        wire_buf_free(&headers[i]);
    wire_decoder_destroy(&d);
}
