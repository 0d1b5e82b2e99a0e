/*  test_settings.c — the settings model: parse, validate, merge, diff, every error code. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json_tolerant.h"
#include "settings.h"

static cJSON *
parse(const char *text)
{
    char err[256];
    cJSON *json = json_parse_tolerant(text, strlen(text), err, sizeof err);
    cr_assert_not_null(json, "parse %s: %s", text, err);
    return json;
}

/*  Applies the JSON object text onto defaults; returns the code, message in err. */
static settings_code_t
apply(const char *text, settings_t *s, settings_error_t *err)
{
    settings_defaults(s);
    cJSON *json = parse(text);
    settings_code_t rc = settings_set_fields(s, json, err);
    cJSON_Delete(json);
    return rc;
}

static void
expect_error(const char *text, settings_code_t code, const char *message)
{
    settings_t s;
    settings_error_t err;
    settings_code_t rc = apply(text, &s, &err);
    cr_assert_eq(rc, code, "%s: code %s, want %s (%s)", text, settings_code_name(rc),
                 settings_code_name(code), err.message);
    cr_assert_str_eq(err.message, message, "%s", text);
}

static settings_t
expect_ok(const char *text)
{
    settings_t s;
    settings_error_t err;
    cr_assert_eq(apply(text, &s, &err), SETTINGS_OK, "%s: %s", text, err.message);
    return s;
}

Test(settings, defaults)
{
    settings_t s;
    settings_defaults(&s);
    cr_assert_str_eq(s.shmem_name, "");
    cr_assert_eq(s.buf_dur, 1.0);
    cr_assert_str_eq(s.axis, "time");
    cr_assert_eq(s.header, SETTINGS_HEADER_LEGACY);
    cr_assert_eq(s.sub.count, 0);
    cr_assert_eq(s.topic.count, 0);
    cr_assert_eq(s.log_level, SETTINGS_LOG_INFO);
    cr_assert_eq(s.max_buffer_bytes, INT64_C(1) << 30);
    cr_assert_eq(s.rcvhwm, 10000);
    cr_assert_eq(s.maxmsgsize, INT64_C(256) << 20);
    cr_assert_str_eq(s.control, "tcp://127.0.0.1:5560");
    cr_assert_str_eq(s.events, "");
}

Test(settings, code_names_are_stable)
{
    static const char *names[] = { "ok", "bad_json", "not_object", "bad_request",
                                   "unknown_op", "unknown_field", "wrong_type", "out_of_range",
                                   "not_finite", "immutable", "apply_failed", "name_in_use" };
    for (int i = 0; i <= SETTINGS_ERR_NAME_IN_USE; i++)
        cr_assert_str_eq(settings_code_name((settings_code_t) i), names[i]);
    cr_assert_str_eq(settings_code_name((settings_code_t) 99), "unknown");
}

Test(settings, parses_every_field)
{
    settings_t s = expect_ok(
        "{\"shmem_name\":\"stream\",\"buf_dur\":2.5,\"axis\":\"win\",\"header\":\"v1\","
        "\"sub\":[\"tcp://127.0.0.1:1\",\"ipc:///tmp/x\"],\"sub_bind\":\"tcp://*:2\","
        "\"topic\":[\"a\",\"\"],\"log_level\":\"debug\",\"shm_mode\":\"0660\","
        "\"max_buffer_bytes\":4096,\"rcvhwm\":0,\"maxmsgsize\":-1,"
        "\"control\":\"ipc:///tmp/c\",\"events\":\"tcp://127.0.0.1:3\","
        "\"curve_server_cert\":\"/etc/s.cert\",\"curve_clients_dir\":\"*\","
        "\"sub_curve_serverkey\":\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\","
        "\"sub_curve_client_cert\":\"/etc/c.cert\"}");
    cr_assert_str_eq(s.shmem_name, "stream");
    cr_assert_eq(s.buf_dur, 2.5);
    cr_assert_str_eq(s.axis, "win");
    cr_assert_eq(s.header, SETTINGS_HEADER_V1);
    cr_assert_eq(s.sub.count, 2);
    cr_assert_str_eq(s.sub.item[1], "ipc:///tmp/x");
    cr_assert_eq(s.sub_bind.count, 1);
    cr_assert_str_eq(s.sub_bind.item[0], "tcp://*:2");
    cr_assert_eq(s.topic.count, 2);
    cr_assert_str_eq(s.topic.item[1], "");
    cr_assert_eq(s.log_level, SETTINGS_LOG_DEBUG);
    cr_assert_eq(s.shm_mode, 0660);
    cr_assert_eq(s.max_buffer_bytes, 4096);
    cr_assert_eq(s.rcvhwm, 0);
    cr_assert_eq(s.maxmsgsize, -1);
    cr_assert_str_eq(s.control, "ipc:///tmp/c");
    cr_assert_str_eq(s.events, "tcp://127.0.0.1:3");
    cr_assert_str_eq(s.curve_clients_dir, "*");
    cr_assert_str_eq(s.sub_curve_serverkey, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    settings_error_t err;
    cr_assert_eq(settings_validate(&s, &err), SETTINGS_OK, "%s", err.message);
}

Test(settings, json_round_trip)
{
    settings_t a = expect_ok("{\"shmem_name\":\"x\",\"topic\":[\"t\"],\"shm_mode\":420,"
                             "\"events\":\"ipc:///tmp/e\"}");
    cJSON *json = settings_to_json(&a);
    cr_assert_str_eq(cJSON_GetObjectItem(json, "shm_mode")->valuestring, "0644");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(json, "curve_server_cert")));
    settings_t b;
    settings_error_t err;
    settings_defaults(&b);
    cr_assert_eq(settings_set_fields(&b, json, &err), SETTINGS_OK, "%s", err.message);
    cr_assert_eq(settings_diff(&a, &b), 0);
    cJSON *again = settings_to_json(&b);
    cr_assert(cJSON_Compare(json, again, true));
    cJSON_Delete(json);
    cJSON_Delete(again);
}

Test(settings, shm_mode_forms)
{
    cr_assert_eq(expect_ok("{\"shm_mode\":\"660\"}").shm_mode, 0660);
    cr_assert_eq(expect_ok("{\"shm_mode\":\"0o640\"}").shm_mode, 0640);
    cr_assert_eq(expect_ok("{\"shm_mode\":432}").shm_mode, 0660);
    cr_assert_eq(expect_ok("{\"shm_mode\":0}").shm_mode, 0);
    const char *msg = "shm_mode must be an integer or an octal string (\"0660\") from 0 to 0777, got ";
    char want[256];
    snprintf(want, sizeof want, "%s\"0800\"", msg);
    expect_error("{\"shm_mode\":\"0800\"}", SETTINGS_ERR_OUT_OF_RANGE, want);
    snprintf(want, sizeof want, "%s512", msg);
    expect_error("{\"shm_mode\":512}", SETTINGS_ERR_OUT_OF_RANGE, want);
    snprintf(want, sizeof want, "%s\"01000\"", msg);
    expect_error("{\"shm_mode\":\"01000\"}", SETTINGS_ERR_OUT_OF_RANGE, want);
    snprintf(want, sizeof want, "%strue", msg);
    expect_error("{\"shm_mode\":true}", SETTINGS_ERR_WRONG_TYPE, want);
}

Test(settings, error_not_object)
{
    expect_error("[1]", SETTINGS_ERR_NOT_OBJECT, "settings must be a JSON object");
}

Test(settings, error_bad_request_duplicate_field)
{
    expect_error("{\"buf_dur\":1,\"buf_dur\":2}", SETTINGS_ERR_BAD_REQUEST,
                 "field \"buf_dur\" appears more than once");
}

Test(settings, error_unknown_field)
{
    expect_error("{\"buf_duration\":1}", SETTINGS_ERR_UNKNOWN_FIELD,
                 "unknown field \"buf_duration\"");
    cr_assert(settings_is_field("buf_dur"));
    cr_assert_not(settings_is_field("nope"));
}

/*  A Python client sends dataclasses.asdict(ShMemCircBuffSettings(...)): its "conn" field
    (null, or whatever the client holds) is accepted and changes nothing. */
Test(settings, conn_of_python_settings_is_ignored)
{
    settings_t defaults;
    settings_defaults(&defaults);
    const char *updates[] = {"{\"conn\":null}", "{\"conn\":{\"host\":\"x\",\"port\":1}}",
                             "{\"conn\":[1,2]}", "{\"conn\":\"tcp://a:1\",\"buf_dur\":3}"};
    for (size_t i = 0; i < 3; i++) {
        settings_t s = expect_ok(updates[i]);
        cr_expect_eq(memcmp(&s, &defaults, sizeof s), 0, "%s", updates[i]);
    }
    cr_expect_eq(expect_ok(updates[3]).buf_dur, 3.0);
    cr_assert_not(settings_is_field("conn"), "not a setting: get never shows it");
}

Test(settings, error_wrong_type)
{
    expect_error("{\"buf_dur\":\"1\"}", SETTINGS_ERR_WRONG_TYPE,
                 "buf_dur must be a finite number > 0 and <= 86400, got \"1\"");
    expect_error("{\"axis\":3}", SETTINGS_ERR_WRONG_TYPE,
                 "axis must be a non-empty string of at most 255 bytes of UTF-8, got 3");
    expect_error("{\"rcvhwm\":1.5}", SETTINGS_ERR_WRONG_TYPE,
                 "rcvhwm must be an integer from 0 to 2147483647, got 1.5");
    expect_error("{\"sub\":{}}", SETTINGS_ERR_WRONG_TYPE,
                 "sub must be a ZeroMQ endpoint \"transport://address\" of at most 255 bytes, "
                 "or an array of at most 32 of them, got an object");
    expect_error("{\"topic\":[\"a\",null]}", SETTINGS_ERR_WRONG_TYPE,
                 "topic[1] must be a string of at most 255 bytes of UTF-8, got null");
    expect_error("{\"control\":null}", SETTINGS_ERR_WRONG_TYPE,
                 "control must be a ZeroMQ endpoint \"transport://address\" of at most 255 "
                 "bytes, got null");
    expect_error("{\"header\":1}", SETTINGS_ERR_WRONG_TYPE,
                 "header must be \"legacy\" or \"v1\", got 1");
}

Test(settings, error_out_of_range)
{
    expect_error("{\"buf_dur\":-1}", SETTINGS_ERR_OUT_OF_RANGE,
                 "buf_dur must be a finite number > 0 and <= 86400, got -1");
    expect_error("{\"buf_dur\":0}", SETTINGS_ERR_OUT_OF_RANGE,
                 "buf_dur must be a finite number > 0 and <= 86400, got 0");
    expect_error("{\"buf_dur\":86400.5}", SETTINGS_ERR_OUT_OF_RANGE,
                 "buf_dur must be a finite number > 0 and <= 86400, got 86400.5");
    expect_ok("{\"buf_dur\":86400}");
    expect_error("{\"max_buffer_bytes\":0}", SETTINGS_ERR_OUT_OF_RANGE,
                 "max_buffer_bytes must be an integer from 1 to 9007199254740992, got 0");
    expect_error("{\"maxmsgsize\":0}", SETTINGS_ERR_OUT_OF_RANGE,
                 "maxmsgsize must be -1 (unlimited) or an integer from 1 to 9007199254740992, "
                 "got 0");
    expect_error("{\"maxmsgsize\":-2}", SETTINGS_ERR_OUT_OF_RANGE,
                 "maxmsgsize must be -1 (unlimited) or an integer from 1 to 9007199254740992, "
                 "got -2");
    expect_error("{\"rcvhwm\":-1}", SETTINGS_ERR_OUT_OF_RANGE,
                 "rcvhwm must be an integer from 0 to 2147483647, got -1");
    expect_error("{\"header\":\"v2\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "header must be \"legacy\" or \"v1\", got \"v2\"");
    expect_error("{\"log_level\":\"trace\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "log_level must be \"error\", \"warning\", \"info\" or \"debug\", got \"trace\"");
    expect_error("{\"axis\":\"\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "axis must be a non-empty string of at most 255 bytes of UTF-8, got \"\"");
    expect_error("{\"shmem_name\":\"\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "shmem_name must be a string of 1 to 255 bytes of UTF-8 without NUL, or null "
                 "(generate one), got \"\"");
    expect_error("{\"sub\":[\"tcp://a:1\",\"localhost:5555\"]}", SETTINGS_ERR_OUT_OF_RANGE,
                 "sub[1] must be a ZeroMQ endpoint \"transport://address\" of at most 255 bytes, "
                 "got \"localhost:5555\"");
    expect_error("{\"events\":\"\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "events must be a ZeroMQ endpoint \"transport://address\" of at most 255 bytes, "
                 "or null (no events), got \"\"");
    expect_error("{\"sub_curve_serverkey\":\"short\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "sub_curve_serverkey must be a 40-character Z85 public key, or null, got "
                 "\"short\"");
}

Test(settings, list_limit)
{
    char text[2048] = "{\"topic\":[";
    for (int i = 0; i < SETTINGS_LIST_MAX + 1; i++)
        strcat(text, i ? ",\"t\"" : "\"t\"");
    strcat(text, "]}");
    expect_error(text, SETTINGS_ERR_OUT_OF_RANGE, "topic must have at most 32 entries, got 33");
    text[strlen(text) - 6] = '\0';
    strcat(text, "]}");
    cr_assert_eq(expect_ok(text).topic.count, SETTINGS_LIST_MAX);
}

Test(settings, string_lengths_and_utf8)
{
    char name[300], text[400];
    memset(name, 'n', 255);
    name[255] = '\0';
    snprintf(text, sizeof text, "{\"shmem_name\":\"%s\"}", name);
    cr_assert_eq(strlen(expect_ok(text).shmem_name), 255);
    snprintf(text, sizeof text, "{\"shmem_name\":\"%sn\"}", name);
    settings_t s;
    settings_error_t err;
    cr_assert_eq(apply(text, &s, &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_assert(strstr(err.message, "...\"") != NULL, "%s", err.message);
    cr_assert_str_eq(expect_ok("{\"shmem_name\":\"caf\\u00e9/\\u6f22\"}").shmem_name,
                     "caf\xc3\xa9/\xe6\xbc\xa2");
    expect_error("{\"shmem_name\":\"a\\u0000b\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "shmem_name must be a string of 1 to 255 bytes of UTF-8 without NUL, or null "
                 "(generate one), got \"<not UTF-8>\"");
    expect_error("{\"axis\":\"\xff\"}", SETTINGS_ERR_OUT_OF_RANGE,
                 "axis must be a non-empty string of at most 255 bytes of UTF-8, got \"<not UTF-8>\"");
    cr_assert_str_eq(expect_ok("{\"axis\":\"a\\\\u0000\"}").axis, "a\\u0000");
}

Test(settings, error_not_finite)
{
    const char *msg = "buf_dur must be a finite number > 0 and <= 86400, got ";
    const char *cases[][2] = { { "{\"buf_dur\": NaN}", "NaN" },
                               { "{\"buf_dur\":Infinity}", "Infinity" },
                               { "{\"buf_dur\":-Infinity}", "-Infinity" },
                               { "{\"buf_dur\":1e999}", "Infinity" } };
    for (size_t i = 0; i < 4; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s%s", msg, cases[i][1]);
        expect_error(cases[i][0], SETTINGS_ERR_NOT_FINITE, want);
    }
    expect_error("{\"rcvhwm\":NaN}", SETTINGS_ERR_NOT_FINITE,
                 "rcvhwm must be an integer from 0 to 2147483647, got NaN");
}

Test(settings, tolerant_parser)
{
    char err[256];
    cJSON *j = parse("{\"a\":\"NaN Infinity\",\"b\":[NaN,1e999,-Infinity,2],\"c\":Infinity}");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "a")->valuestring, "NaN Infinity");
    cJSON *b = cJSON_GetObjectItem(j, "b");
    cr_assert(isnan(cJSON_GetArrayItem(b, 0)->valuedouble));
    cr_assert(isinf(cJSON_GetArrayItem(b, 1)->valuedouble) && cJSON_GetArrayItem(b, 1)->valuedouble > 0);
    cr_assert(isinf(cJSON_GetArrayItem(b, 2)->valuedouble) && cJSON_GetArrayItem(b, 2)->valuedouble < 0);
    cr_assert_eq(cJSON_GetArrayItem(b, 3)->valuedouble, 2);
    cr_assert(isinf(cJSON_GetObjectItem(j, "c")->valuedouble));
    cJSON_Delete(j);
    cr_assert_null(json_parse_tolerant("{\"a\":", 5, err, sizeof err));
    cr_assert_str_eq(err, "invalid JSON: syntax error or unexpected end of text");
    /*  Offsets refer to the original text, before NaN became a longer literal. */
    cr_assert_null(json_parse_tolerant("[NaN,NaN,x]", 11, err, sizeof err));
    cr_assert_str_eq(err, "invalid JSON at byte 9");
    cr_assert_null(json_parse_tolerant("{\"a\":\0}", 7, err, sizeof err));
    cr_assert_str_eq(err, "JSON text contains a NUL byte");
    cr_assert_null(json_parse_tolerant("nan", 3, err, sizeof err));
    cr_assert_null(json_parse_tolerant("{} x", 4, err, sizeof err));
    cr_assert_str_eq(err, "invalid JSON at byte 3");
}

Test(settings, format_number)
{
    char buf[64];
    json_format_number(2.5, buf, sizeof buf);
    cr_assert_str_eq(buf, "2.5");
    json_format_number(0.1, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.1");
    json_format_number(-1, buf, sizeof buf);
    cr_assert_str_eq(buf, "-1");
    json_format_number(1.0 / 3, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.3333333333333333");
}

Test(settings, set_fields_is_all_or_nothing)
{
    settings_t s;
    settings_error_t err;
    settings_defaults(&s);
    cJSON *json = parse("{\"axis\":\"win\",\"buf_dur\":-1}");
    cr_assert_eq(settings_set_fields(&s, json, &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_assert_str_eq(s.axis, "time");
    cJSON_Delete(json);
}

Test(settings, validate_curve_pairs)
{
    settings_t s;
    settings_error_t err;
    settings_defaults(&s);
    strcpy(s.curve_server_cert, "/c");
    cr_assert_eq(settings_validate(&s, &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_assert_str_eq(err.message, "curve_server_cert needs curve_clients_dir (a directory of "
                                  "allowed client certificates, or \"*\" for any client)");
    strcpy(s.curve_clients_dir, "/d");
    cr_assert_eq(settings_validate(&s, &err), SETTINGS_OK);
    s.curve_server_cert[0] = '\0';
    cr_assert_eq(settings_validate(&s, &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_assert_str_eq(err.message,
                     "curve_clients_dir needs curve_server_cert (the server's certificate)");
    settings_defaults(&s);
    strcpy(s.sub_curve_client_cert, "/c");
    cr_assert_eq(settings_validate(&s, &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_assert_str_eq(err.message,
                     "sub_curve_client_cert needs sub_curve_serverkey (the publisher's public key)");
    settings_defaults(&s);
    strcpy(s.sub_curve_serverkey, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    cr_assert_eq(settings_validate(&s, &err), SETTINGS_OK, "a server key alone uses a throwaway client key");
}

static settings_t
running(void)
{
    settings_t s;
    settings_defaults(&s);
    strcpy(s.shmem_name, "live");
    return s;
}

static settings_code_t
merge(const settings_t *cur, const char *update, settings_t *out, settings_error_t *err)
{
    cJSON *json = parse(update);
    settings_code_t rc = settings_merge(cur, json, out, err);
    cJSON_Delete(json);
    return rc;
}

Test(settings, merge_keeps_unspecified_fields)
{
    settings_t cur = running(), next;
    settings_error_t err;
    strcpy(cur.axis, "win");
    cr_assert_eq(merge(&cur, "{\"buf_dur\":3}", &next, &err), SETTINGS_OK, "%s", err.message);
    cr_assert_eq(next.buf_dur, 3);
    cr_assert_str_eq(next.axis, "win");
    cr_assert_str_eq(next.shmem_name, "live");
    cr_assert_eq(settings_diff(&cur, &next), SETTINGS_ACT_RESET_BUFFER);
}

Test(settings, merge_null_name_generates_fresh_one)
{
    settings_t cur = running(), next;
    settings_error_t err;
    cr_assert_eq(merge(&cur, "{\"shmem_name\":null}", &next, &err), SETTINGS_OK);
    cr_assert_str_neq(next.shmem_name, "live");
    cr_assert_neq(next.shmem_name[0], '\0');
    cr_assert_eq(settings_diff(&cur, &next), SETTINGS_ACT_RECREATE_META);
}

Test(settings, merge_rejects_changed_startup_fields)
{
    settings_t cur = running(), next;
    settings_error_t err;
    cr_assert_eq(merge(&cur, "{\"shm_mode\":\"0660\",\"buf_dur\":2}", &next, &err),
                 SETTINGS_ERR_IMMUTABLE);
    cr_assert_str_eq(err.message, "shm_mode is startup-only: restart ezshmd to change it");
    cr_assert_eq(merge(&cur, "{\"control\":\"ipc:///tmp/other\"}", &next, &err),
                 SETTINGS_ERR_IMMUTABLE);
    cr_assert_str_eq(err.message, "control is startup-only: restart ezshmd to change it");
    /*  Repeating the value in force is not a change. */
    cr_assert_eq(merge(&cur, "{\"shm_mode\":\"0600\",\"maxmsgsize\":268435456,\"events\":null}",
                       &next, &err),
                 SETTINGS_OK, "%s", err.message);
    cr_assert_eq(settings_diff(&cur, &next), 0);
    cr_assert(settings_is_startup_only("rcvhwm"));
    cr_assert_not(settings_is_startup_only("buf_dur"));
}

Test(settings, merge_validates_cross_field_rules)
{
    settings_t cur = running(), next;
    settings_error_t err;
    cr_assert_eq(merge(&cur, "{\"curve_server_cert\":\"/x\"}", &next, &err),
                 SETTINGS_ERR_IMMUTABLE);
    cr_assert_eq(merge(&cur, "{\"buf_dur\":NaN}", &next, &err), SETTINGS_ERR_NOT_FINITE);
}

Test(settings, diff_maps_fields_to_actions)
{
    struct { const char *update; unsigned actions; } cases[] = {
        { "{}", 0 },
        { "{\"shmem_name\":\"live\",\"buf_dur\":1,\"axis\":\"time\"}", 0 },
        { "{\"shmem_name\":\"other\"}", SETTINGS_ACT_RECREATE_META },
        { "{\"header\":\"v1\"}", SETTINGS_ACT_RECREATE_META },
        { "{\"buf_dur\":0.5}", SETTINGS_ACT_RESET_BUFFER },
        { "{\"axis\":\"win\"}", SETTINGS_ACT_RESET_BUFFER },
        { "{\"sub\":\"tcp://127.0.0.1:9\"}", SETTINGS_ACT_RESUBSCRIBE },
        { "{\"sub_bind\":[\"ipc:///tmp/s\"]}", SETTINGS_ACT_RESUBSCRIBE },
        { "{\"topic\":[\"x\"]}", SETTINGS_ACT_RESUBSCRIBE },
        { "{\"log_level\":\"debug\"}", SETTINGS_ACT_LOG_LEVEL },
        { "{\"shmem_name\":\"n\",\"buf_dur\":2,\"topic\":\"t\",\"log_level\":\"error\"}",
          SETTINGS_ACT_RECREATE_META | SETTINGS_ACT_RESET_BUFFER | SETTINGS_ACT_RESUBSCRIBE
              | SETTINGS_ACT_LOG_LEVEL },
    };
    settings_t cur = running(), next;
    settings_error_t err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(merge(&cur, cases[i].update, &next, &err), SETTINGS_OK, "%s", err.message);
        cr_assert_eq(settings_diff(&cur, &next), cases[i].actions, "%s", cases[i].update);
    }
}

Test(settings, resolve_generates_only_when_empty)
{
    settings_t s;
    settings_defaults(&s);
    cr_assert_eq(settings_resolve(&s), 0);
    cr_assert_neq(s.shmem_name[0], '\0');
    char kept[sizeof s.shmem_name];
    strcpy(kept, s.shmem_name);
    cr_assert_eq(settings_resolve(&s), 0);
    cr_assert_str_eq(s.shmem_name, kept);
}

Test(settings, tcp_ports_are_1_to_65535_or_any)
{
    expect_ok("{\"sub\":[\"tcp://127.0.0.1:1\",\"tcp://127.0.0.1:65535\",\"tcp://[::1]:5555\"]}");
    expect_ok("{\"sub_bind\":\"tcp://127.0.0.1:*\",\"control\":\"ipc:///tmp/x:0\"}");
    const char *bad[] = {"tcp://127.0.0.1:0", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:99999999999999999999",
                         "tcp://127.0.0.1:-1", "tcp://127.0.0.1:", "tcp://127.0.0.1", "tcp://[::1]",
                         "tcp://127.0.0.1:55x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128], message[256];
        snprintf(text, sizeof text, "{\"sub\":\"%s\"}", bad[i]);
        snprintf(message, sizeof message,
                 "sub must be a ZeroMQ endpoint \"transport://address\" of at most 255 bytes, or an array of at "
                 "most 32 of them, got \"%s\"", bad[i]);
        expect_error(text, SETTINGS_ERR_OUT_OF_RANGE, message);
    }
}

/*  current and current + update (merged), for settings_check_control. */
static settings_code_t
s_check(const settings_t *current, const char *update, settings_error_t *err)
{
    cJSON *json = cJSON_Parse(update);
    cr_assert_not_null(json, "%s", update);
    settings_t next;
    settings_code_t rc = settings_merge(current, json, &next, err);
    cJSON_Delete(json);
    cr_assert_eq(rc, SETTINGS_OK, "%s: %s", update, err->message);
    return settings_check_control(current, &next, err);
}

Test(settings, control_mutable_limits_what_control_changes)
{
    settings_t s = expect_ok("{\"shmem_name\":\"x\",\"control_mutable\":[\"buf_dur\",\"log_level\"]}");
    settings_error_t err;
    cr_expect_eq(s_check(&s, "{\"buf_dur\":3}", &err), SETTINGS_OK, "%s", err.message);
    cr_expect_eq(s_check(&s, "{\"axis\":\"time\"}", &err), SETTINGS_OK, "unchanged: %s", err.message);
    cr_expect_eq(s_check(&s, "{\"axis\":\"win\"}", &err), SETTINGS_ERR_IMMUTABLE);
    cr_expect_str_eq(err.message, "axis may not be changed over control (it is not in control_mutable)");
    settings_t d;
    settings_defaults(&d);
    cr_expect_eq(d.control_mutable.count, 8, "every runtime field by default");
    expect_error("{\"control_mutable\":[\"control\"]}", SETTINGS_ERR_OUT_OF_RANGE,
                 "control_mutable[0] must be a runtime field name or \"remote_endpoints\", got \"control\"");
    expect_ok("{\"control_mutable\":\"remote_endpoints\"}");
    cJSON *json = settings_to_json(&s);
    settings_t back;
    settings_defaults(&back);
    cr_assert_eq(settings_set_fields(&back, json, &err), SETTINGS_OK, "%s", err.message);
    cr_expect_eq(back.control_mutable.count, 2, "control_mutable round-trips through JSON");
    cJSON_Delete(json);
}

Test(settings, endpoints_set_over_control_are_confined)
{
    char dir[] = "/tmp/ezshm-ipcdir-XXXXXX", outside[] = "/tmp/ezshm-outside-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(mkdtemp(outside));
    char text[1024], path[512];
    settings_error_t err;
    settings_t none;
    settings_defaults(&none);
    cr_expect_eq(s_check(&none, "{\"sub\":\"tcp://127.0.0.1:5555\"}", &err), SETTINGS_OK, "%s", err.message);
    cr_expect_eq(s_check(&none, "{\"sub\":\"tcp://localhost:5555\"}", &err), SETTINGS_OK, "%s", err.message);
    cr_expect_eq(s_check(&none, "{\"sub_bind\":\"tcp://[::1]:*\"}", &err), SETTINGS_OK, "%s", err.message);
    cr_expect_eq(s_check(&none, "{\"sub\":\"inproc://x\"}", &err), SETTINGS_OK, "%s", err.message);
    cr_expect_eq(s_check(&none, "{\"sub\":\"tcp://10.1.2.3:5555\"}", &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_str_eq(err.message, "sub[0]: tcp://10.1.2.3:5555 is not loopback tcp, inproc or ipc inside ipc_dir; "
                                  "control may set it only with \"remote_endpoints\" in control_mutable");
    cr_expect_eq(s_check(&none, "{\"sub_bind\":\"tcp://*:5555\"}", &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect_eq(s_check(&none, "{\"sub\":\"tcp://eth0;127.0.0.1:5555\"}", &err), SETTINGS_ERR_OUT_OF_RANGE);
    snprintf(text, sizeof text, "{\"sub_bind\":\"ipc://%s/a.sock\"}", dir);
    cr_expect_eq(s_check(&none, text, &err), SETTINGS_ERR_OUT_OF_RANGE, "no ipc_dir: no ipc");

    snprintf(text, sizeof text, "{\"shmem_name\":\"x\",\"ipc_dir\":\"%s\",\"control_mutable\":[\"sub\",\"sub_bind\"]}", dir);
    settings_t s = expect_ok(text);
    snprintf(text, sizeof text, "{\"sub_bind\":\"ipc://%s/a.sock\"}", dir);
    cr_expect_eq(s_check(&s, text, &err), SETTINGS_OK, "%s", err.message);
    snprintf(text, sizeof text, "{\"sub_bind\":\"ipc://%s/a.sock\"}", outside);
    cr_expect_eq(s_check(&s, text, &err), SETTINGS_ERR_OUT_OF_RANGE, "outside ipc_dir");
    snprintf(text, sizeof text, "{\"sub_bind\":\"ipc://%s/../%s/a.sock\"}", dir, outside + 5);
    cr_expect_eq(s_check(&s, text, &err), SETTINGS_ERR_OUT_OF_RANGE, "out through ..: %s", text);
    /*  A link inside ipc_dir to a directory outside it does not count as inside. */
    snprintf(path, sizeof path, "%s/link", dir);
    cr_assert_eq(symlink(outside, path), 0);
    snprintf(text, sizeof text, "{\"sub_bind\":\"ipc://%s/link/a.sock\"}", dir);
    cr_expect_eq(s_check(&s, text, &err), SETTINGS_ERR_OUT_OF_RANGE, "through a symlink");
    /*  An existing file that is not a socket: libzmq would unlink it. */
    snprintf(path, sizeof path, "%s/precious", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(text, sizeof text, "{\"sub_bind\":\"ipc://%s\"}", path);
    cr_expect_eq(s_check(&s, text, &err), SETTINGS_ERR_OUT_OF_RANGE);
    cr_expect(strstr(err.message, "exists and is not a socket") != NULL, "%s", err.message);
    cr_expect_eq(s_check(&s, "{\"sub\":\"tcp://10.1.2.3:5555\"}", &err), SETTINGS_ERR_OUT_OF_RANGE);

    snprintf(text, sizeof text, "{\"shmem_name\":\"x\",\"ipc_dir\":\"%s\",\"control_mutable\":[\"sub\",\"remote_endpoints\"]}", dir);
    settings_t remote = expect_ok(text);
    cr_expect_eq(s_check(&remote, "{\"sub\":\"tcp://10.1.2.3:5555\"}", &err), SETTINGS_OK, "%s", err.message);
    snprintf(text, sizeof text, "{\"sub\":\"ipc://%s/a.sock\"}", outside);
    cr_expect_eq(s_check(&remote, text, &err), SETTINGS_ERR_OUT_OF_RANGE, "ipc stays confined");

    unlink(path);
    snprintf(path, sizeof path, "%s/link", dir);
    unlink(path);
    rmdir(dir);
    rmdir(outside);
}
