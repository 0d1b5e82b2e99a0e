/*  ezshm-ctl — command-line client of ezshmd's control endpoint.
    Exit codes: 0 ok, 1 error reply (or unhealthy, or a local failure such as an
    unreadable certificate), 2 no answer, 64 usage. */
#include "control_client.h"
#include "json_tolerant.h"
#include "ezshm.h"
#include "settings.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_ERROR_REPLY 1
#define EXIT_NO_ANSWER 2
#define EXIT_USAGE 64

typedef struct {
    const char *endpoint;
    double timeout;
    bool json;
    const char *curve_client;
    const char *curve_server;
    const char *stream;      /* --stream: the stream a request addresses */
} options_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: ezshm-ctl [--endpoint E] [--timeout S] [--json]\n"
            "                 [--curve-client CERT --curve-server KEY] COMMAND\n"
            "commands:\n"
            "  get                  print the settings in force\n"
            "  status               print the daemon's state\n"
            "  health               exit 0 if the daemon is ingesting or idle and ready\n"
            "  set KEY=VALUE ...    update settings; VALUE is JSON if it parses, else a string\n"
            "                       (set shmem_name=abc buf_dur=2.5 topic='[\"a\",\"b\"]')\n"
            "  quit                 stop the daemon\n"
            "  streams              list the streams: name, topic, shape, rate, rates, health\n"
            "  names                print the stream names, one a line (for scripts)\n"
            "  add-stream TOPIC [KEY=VALUE ...]\n"
            "                       add stream --stream NAME for messages of exactly TOPIC\n"
            "                       (KEY: shmem_name, buf_dur, axis, header, max_stream_bytes)\n"
            "  remove-stream        remove stream --stream NAME, unlinking its segments\n"
            "  keygen FILE          write a CURVE certificate: FILE (public) and FILE_secret\n"
            "options:\n"
            "  --endpoint E         control endpoint (default $EZSHM_CONTROL or %s)\n"
            "  --timeout S          seconds to wait for the answer (default 5)\n"
            "  --json               print the raw JSON reply\n"
            "  --stream NAME        address one stream (get, status, health, set; needed by\n"
            "                       set with several streams, add-stream, remove-stream)\n"
            "  --curve-client CERT  this client's certificate (CERT and CERT_secret)\n"
            "  --curve-server KEY   the daemon's public key: 40 Z85 characters or a cert file\n"
            "  --help, --version\n"
            "exit: 0 ok, 1 error reply, unhealthy or local failure, 2 no answer, 64 usage\n",
            SETTINGS_DEFAULT_CONTROL);
}

static int
s_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "ezshm-ctl: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    s_usage(stderr);
    return EXIT_USAGE;
}

/*  Writes a fresh CURVE certificate, refusing to replace an existing one. */
static int
s_keygen(const char *path)
{
    char secret[4096];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (zsys_file_exists(path) || zsys_file_exists(secret)) {
        fprintf(stderr, "ezshm-ctl: %s or %s already exists; not overwriting\n", path, secret);
        return EXIT_ERROR_REPLY;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "ezshm-ctl: cannot create a certificate\n");
        return EXIT_ERROR_REPLY;
    }
    zcert_set_meta(cert, "created-by", "ezshm-ctl keygen");
    int rc = zcert_save(cert, path);
    if (rc == 0)
        printf("%s\n", zcert_public_txt(cert));
    else
        fprintf(stderr, "ezshm-ctl: cannot write %s: %s\n", path, strerror(errno));
    zcert_destroy(&cert);
    return rc == 0 ? 0 : EXIT_ERROR_REPLY;
}

/*  {"op": op, "settings": {KEY: VALUE, ...}} from the KEY=VALUE arguments. */
static cJSON *
s_build_set(const char *op, int argc, char **argv, int *exit_code)
{
    cJSON *fields = cJSON_CreateObject();
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "op", op);
    cJSON_AddItemToObject(req, "settings", fields);
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            cJSON_Delete(req);
            *exit_code = s_usage_error("set needs KEY=VALUE, got", argv[i]);
            return NULL;
        }
        *eq = '\0';
        char ignored[128];
        cJSON *value = json_parse_tolerant(eq + 1, strlen(eq + 1), ignored, sizeof ignored);
        cJSON_AddItemToObject(fields, argv[i], value ? value : cJSON_CreateString(eq + 1));
    }
    return req;
}

/*  Sends the request and returns the parsed reply, or NULL after printing why
    (*exit_code: no answer or error). */
static cJSON *
s_call(const options_t *opt, const cJSON *req, int *exit_code)
{
    *exit_code = EXIT_ERROR_REPLY;
    zsock_t *sock = zsock_new(ZMQ_REQ);
    if (!sock) {
        fprintf(stderr, "ezshm-ctl: cannot create a socket\n");
        return NULL;
    }
    int timeout_ms = (int) ceil(opt->timeout * 1000);
    zsock_set_linger(sock, 0);
    zsock_set_rcvtimeo(sock, timeout_ms);
    zsock_set_sndtimeo(sock, timeout_ms);
    char why[512];
    bool ready = !opt->curve_client || control_client_curve(sock, opt->curve_client, opt->curve_server, why,
                                                            sizeof why) == 0;
    if (!ready)
        fprintf(stderr, "ezshm-ctl: %s\n", why);
    if (ready && zsock_connect(sock, "%s", opt->endpoint) != 0) {
        fprintf(stderr, "ezshm-ctl: cannot connect to %s: %s\n", opt->endpoint,
                zmq_strerror(zmq_errno()));
        ready = false;
    }
    if (!ready) {
        zsock_destroy(&sock);
        return NULL;
    }
    char *text = cJSON_PrintUnformatted(req);
    char *answer = text && zstr_send(sock, text) == 0 ? zstr_recv(sock) : NULL;
    cJSON_free(text);
    zsock_destroy(&sock);
    if (!answer) {
        fprintf(stderr, "ezshm-ctl: no answer from %s within %g s\n", opt->endpoint, opt->timeout);
        *exit_code = EXIT_NO_ANSWER;
        return NULL;
    }
    cJSON *reply = cJSON_Parse(answer);
    if (!cJSON_IsObject(reply)) {
        fprintf(stderr, "ezshm-ctl: invalid reply: %s\n", answer);
        cJSON_Delete(reply);
        reply = NULL;
    } else if (opt->json)
        printf("%s\n", answer);
    zstr_free(&answer);
    return reply;
}

/*  A status counter object printed on one line (s_print_reasons): drops by reason, control
    requests by outcome. */
static bool
s_is_reasons(const cJSON *item)
{
    return cJSON_IsObject(item)
           && (strcmp(item->string, "dropped_by_reason") == 0 || strcmp(item->string, "control_requests") == 0);
}

/*  Widest "a.b.c" key of obj, nested objects flattened. */
static int
s_key_width(const cJSON *obj, int prefix)
{
    int width = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        int n = prefix + (int) strlen(item->string);
        int w = cJSON_IsObject(item) && item->child && !s_is_reasons(item) ? s_key_width(item, n + 1) : n;
        width = w > width ? w : width;
    }
    return width;
}

/*  "key: value" lines with the values aligned at width; nested objects become
    "outer.inner" keys, strings are printed bare, other values as JSON. */
static void
s_print_object(const cJSON *obj, const char *prefix, int width)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", item->string);
        if (cJSON_IsObject(item) && item->child) {
            s_print_object(item, key, width);
            continue;
        }
        char *text = cJSON_IsString(item) ? NULL : cJSON_PrintUnformatted(item);
        printf("%s:%*s %s\n", key, width - (int) strlen(key), "", text ? text : item->valuestring);
        cJSON_free(text);
    }
}

static void
s_print_fields(const cJSON *obj)
{
    s_print_object(obj, "", s_key_width(obj, 0));
}

/*  A duration as a person reads it: "42.3 s", "3 min 07 s", "2 h 05 min", "4 d 03 h". */
static void
s_duration(double seconds, char *buf, size_t len)
{
    unsigned long long t = seconds > 0 ? (unsigned long long) seconds : 0;
    if (t < 60)
        snprintf(buf, len, "%.1f s", seconds);
    else if (t < 3600)
        snprintf(buf, len, "%llu min %02llu s", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, len, "%llu h %02llu min", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%llu d %02llu h", t / 86400, t / 3600 % 24);
}

/*  One status value for people: whole numbers as integers, others with at most three
    decimals (--json keeps every digit), the uptime as a duration, strings bare ("" when
    empty), null as "-", arrays and booleans as JSON. */
static void
s_print_status_value(const cJSON *item)
{
    char text[64];
    double v = item->valuedouble;
    if (cJSON_IsNumber(item) && strcmp(item->string, "uptime") == 0) {
        s_duration(v, text, sizeof text);
        puts(text);
    }
    else if (cJSON_IsNumber(item) && v == floor(v) && fabs(v) < 9007199254740992.0)
        printf("%.0f\n", v);
    else if (cJSON_IsNumber(item)) {
        snprintf(text, sizeof text, "%.3f", v);
        char *end = text + strlen(text);
        while (end[-1] == '0')
            *--end = '\0';
        if (end[-1] == '.')
            end[-1] = '\0';
        puts(text);
    }
    else if (cJSON_IsString(item))
        puts(*item->valuestring ? item->valuestring : "\"\"");
    else if (cJSON_IsNull(item))
        puts("-");
    else {
        char *json = cJSON_PrintUnformatted(item);
        puts(json ? json : "?");
        cJSON_free(json);
    }
}

/*  A counter object on one line: only the reasons that counted something (the twenty-odd
    zeros would hide them), "none" when no reason did. */
static void
s_print_reasons(const cJSON *reasons)
{
    const cJSON *r;
    int n = 0;
    cJSON_ArrayForEach(r, reasons) {
        if (cJSON_GetNumberValue(r) > 0)
            printf("%s%s %.0f", n++ ? ", " : "", r->string, r->valuedouble);
    }
    printf("%s\n", n ? "" : "none");
}

/*  "key: value" lines of a status object after indent, values aligned at width, nested
    objects as "outer.inner" keys; the streams array is left to s_print_status. */
static void
s_print_status_object(const cJSON *obj, const char *prefix, int width, const char *indent)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", item->string);
        if (!*prefix && cJSON_IsArray(item) && strcmp(item->string, "streams") == 0)
            continue;
        if (cJSON_IsObject(item) && item->child && !s_is_reasons(item)) {
            s_print_status_object(item, key, width, indent);
            continue;
        }
        printf("%s%s:%*s ", indent, key, width - (int) strlen(key), "");
        if (s_is_reasons(item))
            s_print_reasons(item);
        else
            s_print_status_value(item);
    }
}

/*  The status reply for people: the daemon's fields (with one stream, its fields as
    "stream.*" keys), then, with several, a block per stream under a "stream NAME" line. */
static void
s_print_status(const cJSON *status)
{
    s_print_status_object(status, "", s_key_width(status, 0), "");
    const cJSON *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(status, "streams")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "shmem_name"));
        printf("\nstream %s\n", name ? name : "?");
        s_print_status_object(st, "", s_key_width(st, 0), "  ");
    }
}

static void
s_print_applied(const cJSON *applied)
{
    printf("applied:");
    const cJSON *item;
    int n = 0;
    cJSON_ArrayForEach(item, applied) {
        if (cJSON_IsString(item))
            printf("%s %s", n++ ? "," : "", item->valuestring);
    }
    printf("%s\n", n ? "" : " (no lifecycle events)");
}

/*  One line per stream of a "streams" reply, in columns. */
static void
s_print_streams(const cJSON *streams)
{
    printf("%-24s %-16s %-12s %-5s %10s %10s %12s  %s\n", "STREAM", "TOPIC", "SHAPE", "DTYPE", "SRATE", "MSG/S",
           "FRAMES/S", "HEALTH");
    const cJSON *st;
    cJSON_ArrayForEach(st, streams) {
        const cJSON *topic = cJSON_GetObjectItemCaseSensitive(st, "topic");
        const cJSON *rates = cJSON_GetObjectItemCaseSensitive(st, "rates");
        const cJSON *detail = cJSON_GetObjectItemCaseSensitive(st, "detail");
        char *shape = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(st, "shape"));
        const char *dtype = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "dtype"));
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "stream"));
        const char *health = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "health"));
        bool has_detail = cJSON_IsString(detail) && *detail->valuestring;
        /*  No ring yet: no shape, dtype or rate to show. */
        const cJSON *srate = cJSON_GetObjectItemCaseSensitive(st, "srate");
        char rate[32] = "-";
        if (cJSON_IsNumber(srate))
            snprintf(rate, sizeof rate, "%g", srate->valuedouble);
        printf("%-24s %-16s %-12s %-5s %10s %10.1f %12.1f  %s%s%s\n", name ? name : "?",
               cJSON_IsString(topic) ? topic->valuestring : "(any)", shape ? shape : "-", dtype ? dtype : "-", rate,
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rates, "messages")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rates, "frames")), health ? health : "?",
               has_detail ? ": " : "", has_detail ? detail->valuestring : "");
        cJSON_free(shape);
    }
}

/*  Human output of a successful reply; returns the exit code. */
static int
s_print_reply(const char *command, const cJSON *reply)
{
    if (strcmp(command, "health") == 0) {
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(reply, "state");
        const cJSON *detail = cJSON_GetObjectItemCaseSensitive(reply, "detail");
        const char *s = cJSON_IsString(state) ? state->valuestring : "unknown";
        bool has_detail = cJSON_IsString(detail) && *detail->valuestring;
        printf("%s%s%s\n", s, has_detail ? ": " : "", has_detail ? detail->valuestring : "");
        return strcmp(s, "ingesting") == 0 || strcmp(s, "idle") == 0 ? 0 : EXIT_ERROR_REPLY;
    }
    bool changes = strcmp(command, "set") == 0 || strcmp(command, "add-stream") == 0;
    if (changes || strcmp(command, "remove-stream") == 0)
        s_print_applied(cJSON_GetObjectItemCaseSensitive(reply, "applied"));
    if (strcmp(command, "streams") == 0)
        s_print_streams(cJSON_GetObjectItemCaseSensitive(reply, "streams"));
    else if (strcmp(command, "names") == 0) {
        const cJSON *st;
        cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(reply, "streams"))
            printf("%s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "stream")));
    }
    else if (strcmp(command, "remove-stream") == 0)
        ;
    else if (strcmp(command, "status") == 0)
        s_print_status(cJSON_GetObjectItemCaseSensitive(reply, "status"));
    else if (strcmp(command, "quit") == 0)
        printf("ok\n");
    else
        s_print_fields(cJSON_GetObjectItemCaseSensitive(reply, "settings"));
    return 0;
}

/*  The exit code for a reply; prints it unless --json already did. */
static int
s_report(const options_t *opt, const char *command, const cJSON *reply)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
        if (!opt->json)
            return s_print_reply(command, reply);
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(reply, "state");
        bool healthy = cJSON_IsString(state) && (strcmp(state->valuestring, "ingesting") == 0
                                                 || strcmp(state->valuestring, "idle") == 0);
        return strcmp(command, "health") != 0 || healthy ? 0 : EXIT_ERROR_REPLY;
    }
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
    if (!opt->json)
        fprintf(stderr, "ezshm-ctl: %s: %s\n", cJSON_IsString(code) ? code->valuestring : "error",
                cJSON_IsString(message) ? message->valuestring : "(no message)");
    return EXIT_ERROR_REPLY;
}

/*  One option and its value; returns false after printing a usage error. */
static bool
s_parse_option(const char *name, const char *value, options_t *opt)
{
    if (strcmp(name, "--endpoint") == 0)
        opt->endpoint = value;
    else if (strcmp(name, "--timeout") == 0) {
        if (!ezshm_value_parse_double(value, &opt->timeout) || !(opt->timeout > 0 && opt->timeout <= 86400)) {
            s_usage_error("--timeout needs seconds > 0, got", value);
            return false;
        }
    } else if (strcmp(name, "--curve-client") == 0)
        opt->curve_client = value;
    else if (strcmp(name, "--curve-server") == 0)
        opt->curve_server = value;
    else if (strcmp(name, "--stream") == 0)
        opt->stream = value;
    else {
        s_usage_error("unknown option", name);
        return false;
    }
    return true;
}

/*  Options before the command; returns the index of the command, or 0 when the
    program should exit with *exit_code (--help, usage error). */
static int
s_parse_options(int argc, char **argv, options_t *opt, int *exit_code)
{
    const char *env = getenv("EZSHM_CONTROL");
    opt->endpoint = env && *env ? env : SETTINGS_DEFAULT_CONTROL;
    opt->timeout = 5.0;
    *exit_code = EXIT_USAGE;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "--version") == 0) {
            if (argv[i][2] == 'h')
                s_usage(stdout);
            else
                printf("ezshm-ctl %s\n", EZSHM_VERSION);
            *exit_code = 0;
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            opt->json = true;
        else if (i + 1 >= argc) {
            s_usage_error("option needs a value", argv[i]);
            return 0;
        } else if (!s_parse_option(argv[i], argv[i + 1], opt))
            return 0;
        else
            i++;
    }
    if (!opt->curve_client != !opt->curve_server) {
        s_usage_error("--curve-client and --curve-server go together", NULL);
        return 0;
    }
    if (i >= argc) {
        s_usage_error("missing command", NULL);
        return 0;
    }
    return i;
}

int
main(int argc, char **argv)
{
    options_t opt = { 0 };
    int code;
    int at = s_parse_options(argc, argv, &opt, &code);
    if (at == 0)
        return code;
    const char *command = argv[at];
    int rest = argc - at - 1;
    if (strcmp(command, "keygen") == 0)
        return rest == 1 ? s_keygen(argv[at + 1]) : s_usage_error("keygen needs one FILE", NULL);
    /*  command → request: op, how many arguments, whether --stream is required. */
    static const struct {
        const char *command, *op;
        bool fields, needs_stream;
    } s_commands[] = {
        {"get", "get", false, false},         {"status", "status", false, false},
        {"health", "health", false, false},   {"quit", "quit", false, false},
        {"set", "update", true, false},       {"streams", "streams", false, false},
        {"names", "streams", false, false},
        {"add-stream", "add_stream", true, true}, {"remove-stream", "remove_stream", false, true},
    };
    size_t c = 0;
    while (c < sizeof s_commands / sizeof s_commands[0] && strcmp(command, s_commands[c].command) != 0)
        c++;
    if (c == sizeof s_commands / sizeof s_commands[0])
        return s_usage_error("unknown command", command);
    bool add = strcmp(command, "add-stream") == 0;
    if (s_commands[c].needs_stream && !opt.stream)
        return s_usage_error("this command needs --stream NAME", command);
    if (strcmp(s_commands[c].op, "streams") == 0 && opt.stream)
        return s_usage_error("streams lists every stream: no --stream", NULL);
    if (!s_commands[c].fields && rest != 0)
        return s_usage_error("unexpected argument", argv[at + 1]);
    if (s_commands[c].fields && rest < 1)
        return s_usage_error(add ? "add-stream needs a TOPIC" : "set needs at least one KEY=VALUE", NULL);
    cJSON *req;
    if (s_commands[c].fields) {
        req = s_build_set(s_commands[c].op, rest - add, argv + at + 1 + add, &code);
        if (!req)
            return code;
    } else {
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "op", s_commands[c].op);
    }
    if (req && add)
        cJSON_AddStringToObject(req, "topic", argv[at + 1]);
    if (req && opt.stream)
        cJSON_AddStringToObject(req, "stream", opt.stream);
    /*  Ctrl-C should just end the command, not be swallowed by czmq's handler. */
    zsys_handler_set(NULL);
    cJSON *reply = s_call(&opt, req, &code);
    cJSON_Delete(req);
    if (reply)
        code = s_report(&opt, command, reply);
    cJSON_Delete(reply);
    return code;
}
