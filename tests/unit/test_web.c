/*  test_web.c — ezshm-web's pure parts: options, routing, settings bodies, HTTP statuses of
    control codes, and the Prometheus exposition (families, escaping, both status shapes). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_tolerant.h"
#include "web_metrics.h"
#include "web_options.h"
#include "web_route.h"

/* ---------------------------------------------------------------- options */

static int
load(web_options_t *o, char **envp, char *err, int argc, ...)
{
    char *argv[16] = {"ezshm-web"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    static char *empty[] = {NULL};
    return web_options_load(argc, argv, envp ? envp : empty, o, err, 512);
}

Test(web_options, defaults_are_loopback_read_only)
{
    web_options_t o;
    char err[512];
    cr_assert_eq(load(&o, NULL, err, 1), WEB_OPTIONS_OK, "%s", err);
    cr_assert_str_eq(o.listen_host, "127.0.0.1");
    cr_assert_eq(o.listen_port, 8080);
    cr_assert(o.loopback && !o.allow_control && !o.token[0]);
    cr_assert_eq(o.n_control, 1);
    cr_assert_str_eq(o.control[0], "tcp://127.0.0.1:5560");
}

Test(web_options, flags_beat_environment_and_control_repeats)
{
    char *env[] = {"EZSHM_CONTROL=tcp://127.0.0.1:1,tcp://127.0.0.1:2", "EZSHM_WEB_LISTEN=[::1]:9000",
                   "EZSHM_WEB_ALLOW_CONTROL=yes", NULL};
    web_options_t o;
    char err[512];
    cr_assert_eq(load(&o, env, err, 1), WEB_OPTIONS_OK, "%s", err);
    cr_assert_eq(o.n_control, 2);
    cr_assert_str_eq(o.listen_host, "::1");
    cr_assert(o.loopback && o.allow_control && o.listen_port == 9000);
    cr_assert_eq(load(&o, env, err, 5, "--control", "ipc:///a", "--control=ipc:///b", "--timeout=0.25"), WEB_OPTIONS_OK);
    cr_assert_eq(o.n_control, 2, "the flags replace the variable's list");
    cr_assert_str_eq(o.control[1], "ipc:///b");
    cr_assert_float_eq(o.timeout, 0.25, 1e-12);
}

Test(web_options, non_loopback_needs_a_token_or_the_insecure_flag)
{
    web_options_t o;
    char err[512];
    cr_assert_eq(load(&o, NULL, err, 3, "--listen", "0.0.0.0:8080"), WEB_OPTIONS_ERROR);
    cr_assert(strstr(err, "not loopback"), "%s", err);
    cr_assert_eq(load(&o, NULL, err, 4, "--listen", "0.0.0.0:8080", "--insecure-no-token"), WEB_OPTIONS_OK);
    char *env[] = {"EZSHM_WEB_TOKEN=abc", NULL};
    cr_assert_eq(load(&o, env, err, 3, "--listen", "10.0.0.1:80"), WEB_OPTIONS_OK, "%s", err);
    cr_assert_str_eq(o.token, "abc");
    char path[] = "/tmp/ezshm-web-token-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0 && write(fd, "  tok en \n second\n", 18) == 18);
    close(fd);
    cr_assert_eq(load(&o, NULL, err, 5, "--listen", "10.0.0.1:80", "--token-file", path), WEB_OPTIONS_OK, "%s", err);
    cr_assert_str_eq(o.token, "  tok en", "first line, trailing whitespace cut");
    unlink(path);
    cr_assert_eq(load(&o, NULL, err, 3, "--token-file", path), WEB_OPTIONS_ERROR);
}

Test(web_options, bad_values_are_refused)
{
    web_options_t o;
    char err[512];
    const char *bad[][2] = {{"--listen", "localhost"}, {"--listen", "host:80"}, {"--listen", "127.0.0.1:0"},
                            {"--listen", "127.0.0.1:65536"}, {"--control", "localhost:5560"}, {"--timeout", "0"},
                            {"--timeout", "nan"}, {"--max-clients", "1.5"}, {"--max-sse", "-1"}, {"--bogus", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(load(&o, NULL, err, 3, bad[i][0], bad[i][1]), WEB_OPTIONS_ERROR, "%s %s", bad[i][0], bad[i][1]);
    cr_assert_eq(load(&o, NULL, err, 3, "--curve-client", "x"), WEB_OPTIONS_ERROR, "CURVE options go in pairs");
    cr_assert_eq(load(&o, NULL, err, 2, "--allow-control=1"), WEB_OPTIONS_ERROR, "a switch takes no value");
}

/* ---------------------------------------------------------------- routes */

Test(web_route, endpoints_methods_and_names)
{
    web_route_t r;
    cr_assert_eq(web_route("GET", "/metrics", &r), 200);
    cr_assert_eq(r.endpoint, WEB_METRICS);
    cr_assert_eq(web_route("POST", "/metrics", &r), 405);
    cr_assert_str_eq(r.allow, "GET");
    cr_assert_eq(web_route("PATCH", "/api/v1/settings", &r), 200);
    cr_assert_eq(r.endpoint, WEB_SETTINGS_SET);
    cr_assert_eq(web_route("DELETE", "/api/v1/settings", &r), 405);
    cr_assert_str_eq(r.allow, "GET, PUT, PATCH");
    cr_assert_eq(web_route("GET", "/api/v1/streams/rig1/eeg", &r), 200);
    cr_assert_eq(r.endpoint, WEB_STREAM);
    cr_assert_str_eq(r.name, "rig1/eeg");
    cr_assert_eq(web_route("GET", "/api/v1/streams/", &r), 404);
    cr_assert_eq(web_route("GET", "/metrics/", &r), 404);
    cr_assert_eq(web_route("GET", "/nothing.js", &r), 404);
    cr_assert_eq(web_route("GET", "/console/../index.html", &r), 404);
    cr_assert_eq(web_route("GET", "/api/v1/console/config", &r), 200);
    cr_assert_eq(r.endpoint, WEB_CONSOLE_CONFIG);
    /*  The console's pages: the root, /console/ and each asset by name under both. */
    cr_assert_eq(web_route("GET", "/", &r), 200);
    cr_assert_eq(r.endpoint, WEB_ASSET);
    cr_assert_str_eq(r.asset->name, "index.html");
    cr_assert_eq(web_route("GET", "/console/", &r), 200);
    cr_assert_str_eq(r.asset->name, "index.html");
    cr_assert_eq(web_route("GET", "/console/app.js", &r), 200);
    cr_assert_str_eq(r.asset->name, "app.js");
    cr_assert_eq(web_route("PUT", "/app.js", &r), 405);
    char longpath[400] = "/api/v1/streams/";
    memset(longpath + 16, 'a', 300);
    cr_assert_eq(web_route("GET", longpath, &r), 400, "a name over 255 bytes");
}

Test(web_route, settings_body_is_kept_as_sent)
{
    const char *code = NULL;
    char msg[300];
    char *req = web_settings_request("{\"buf_dur\": NaN}", 16, "a\"b", &code, msg, sizeof msg);
    cr_assert_not_null(req);
    cr_assert_str_eq(req, "{\"op\":\"update\",\"stream\":\"a\\\"b\",\"settings\":{\"buf_dur\": NaN}}");
    free(req);
    req = web_settings_request("{}", 2, NULL, &code, msg, sizeof msg);
    cr_assert_str_eq(req, "{\"op\":\"update\",\"settings\":{}}");
    free(req);
    cr_assert_null(web_settings_request("[1]", 3, NULL, &code, msg, sizeof msg));
    cr_assert_str_eq(code, "not_object");
    cr_assert_null(web_settings_request("{\"a\":", 5, NULL, &code, msg, sizeof msg));
    cr_assert_str_eq(code, "bad_json");
    cr_assert_null(web_settings_request("{}\0x", 4, NULL, &code, msg, sizeof msg), "a NUL byte");
    cr_assert_null(web_settings_request("", 0, NULL, &code, msg, sizeof msg));
}

Test(web_route, control_codes_map_to_http)
{
    cr_assert_eq(web_reply_status(NULL), 200);
    cr_assert_eq(web_reply_status("bad_json"), 400);
    cr_assert_eq(web_reply_status("out_of_range"), 422);
    cr_assert_eq(web_reply_status("immutable"), 403);
    cr_assert_eq(web_reply_status("unknown_stream"), 404);
    cr_assert_eq(web_reply_status("name_in_use"), 409);
    cr_assert_eq(web_reply_status("apply_failed"), 500);
    cr_assert_eq(web_reply_status("from_the_future"), 502);
}

/* ---------------------------------------------------------------- metrics */

static char *
render(const char *status, const char *streams, const char *health)
{
    char err[256];
    cJSON *s = status ? json_parse_tolerant(status, strlen(status), err, sizeof err) : NULL;
    cJSON *l = streams ? json_parse_tolerant(streams, strlen(streams), err, sizeof err) : NULL;
    cJSON *h = health ? json_parse_tolerant(health, strlen(health), err, sizeof err) : NULL;
    web_daemon_view_t view = {"tcp://h:1", s, l, h};
    web_self_stats_t self = {0};
    web_self_count(&self, 200);
    web_self_count(&self, 404);
    web_self_count(&self, 200);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    web_metrics_render(out, &view, 1, &self);
    fclose(out);
    cJSON_Delete(s);
    cJSON_Delete(l);
    cJSON_Delete(h);
    return text;
}

static int
count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

Test(web_metrics, label_escaping)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    web_metrics_label(out, "a\\b\"c\nd/e");
    fclose(out);
    cr_assert_str_eq(text, "a\\\\b\\\"c\\nd/e");
    free(text);
}

Test(web_metrics, one_stream_status)
{
    char *text = render("{\"ok\":true,\"status\":{\"version\":\"1.2\",\"uptime\":2.5,\"stream\":{\"shmem_name\":\"x\\\"y\","
                        "\"topic\":\"t\",\"layout\":\"v1\",\"bvalid\":true,\"generation\":3,\"dtype\":\"h\",\"shape\":[100,4,2],"
                        "\"srate\":250.5,\"ring_bytes\":1600},\"counters\":{\"frames\":12345678901,\"received\":7,"
                        "\"dropped_by_reason\":{\"invalid_json\":2,\"bad_ndim\":0},\"last_error\":null,"
                        "\"rates\":{\"frames\":999.5}},\"transport_delay\":{\"messages\":3,\"p50_ms\":1.5,\"p99_ms\":null},"
                        "\"unrouted\":{\"dropped_by_reason\":{\"no_stream\":4}}}}",
                        "{\"ok\":true,\"streams\":[{\"stream\":\"x\\\"y\",\"health\":\"idle\"}]}",
                        "{\"ok\":true,\"state\":\"idle\",\"detail\":\"\"}");
    cr_assert(strstr(text, "ezshm_up{daemon=\"tcp://h:1\"} 1\n"), "%s", text);
    cr_assert(strstr(text, "ezshm_build_info{daemon=\"tcp://h:1\",version=\"1.2\"} 1\n"));
    cr_assert(strstr(text, "ezshm_stream_frames_total{daemon=\"tcp://h:1\",stream=\"x\\\"y\"} 12345678901\n"));
    cr_assert(strstr(text, "ezshm_stream_messages_dropped_total{daemon=\"tcp://h:1\",stream=\"x\\\"y\",reason=\"invalid_json\"} 2\n"));
    cr_assert(strstr(text, "reason=\"bad_ndim\"} 0\n"));
    cr_assert(strstr(text, "ezshm_stream_sample_rate_hertz{daemon=\"tcp://h:1\",stream=\"x\\\"y\"} 250.5\n"));
    cr_assert(strstr(text, "ezshm_stream_ring_frames{daemon=\"tcp://h:1\",stream=\"x\\\"y\"} 100\n"));
    cr_assert(strstr(text, "ezshm_stream_transport_delay_p50_seconds{daemon=\"tcp://h:1\",stream=\"x\\\"y\"} 0.0015\n"));
    cr_assert(!strstr(text, "ezshm_stream_transport_delay_p99_seconds{"), "null is no sample");
    cr_assert(!strstr(text, "ezshm_stream_last_drop_timestamp_seconds{"), "no drop time without a drop");
    cr_assert(strstr(text, "shape=\"[4,2]\",layout=\"v1\"} 1\n"), "the frame shape");
    cr_assert(strstr(text, "ezshm_stream_health{daemon=\"tcp://h:1\",stream=\"x\\\"y\",state=\"idle\"} 1\n"));
    cr_assert(strstr(text, "state=\"ingesting\"} 0\n"));
    cr_assert(strstr(text, "ezshm_unrouted_messages_total{daemon=\"tcp://h:1\",reason=\"no_stream\"} 4\n"));
    cr_assert(strstr(text, "ezshm_web_http_requests_total{code=\"200\"} 2\n"));
    cr_assert(strstr(text, "ezshm_web_http_requests_total{code=\"404\"} 1\n"));
    /*  Every family: one HELP, one TYPE, its samples after them. */
    for (const char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128];
        cr_assert_eq(sscanf(p, "# TYPE %127s", name), 1);
        char help[160];
        snprintf(help, sizeof help, "# HELP %s ", name);
        cr_assert_eq(count(text, help), 1, "%s", name);
        snprintf(help, sizeof help, "# TYPE %s ", name);
        cr_assert_eq(count(text, help), 1, "%s", name);
    }
    free(text);
}

Test(web_metrics, several_streams_and_a_daemon_down)
{
    char *text = render("{\"ok\":true,\"status\":{\"streams\":[{\"shmem_name\":\"a\",\"generation\":1,\"counters\":{\"frames\":1}},"
                        "{\"shmem_name\":\"b\",\"generation\":2,\"counters\":{\"frames\":2}}]}}",
                        NULL, NULL);
    cr_assert(strstr(text, "ezshm_stream_generation{daemon=\"tcp://h:1\",stream=\"a\"} 1\n"));
    cr_assert(strstr(text, "ezshm_stream_generation{daemon=\"tcp://h:1\",stream=\"b\"} 2\n"));
    cr_assert_eq(count(text, "ezshm_stream_frames_total{"), 2);
    free(text);
    text = render(NULL, NULL, NULL);
    cr_assert(strstr(text, "ezshm_up{daemon=\"tcp://h:1\"} 0\n"));
    cr_assert_eq(count(text, "ezshm_stream_frames_total{"), 0);
    cr_assert(strstr(text, "# TYPE ezshm_stream_frames_total counter\n"), "the families stay declared");
    free(text);
    text = render("{\"ok\":false,\"error\":{\"code\":\"x\"}}", NULL, NULL);
    cr_assert(strstr(text, "ezshm_up{daemon=\"tcp://h:1\"} 0\n"), "an error reply is not up");
    free(text);
}
