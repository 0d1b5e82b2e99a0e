/*  test_config.c — flags > environment > config file > defaults, and one-line errors. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *no_env[] = { NULL };

/*  Loads with argv given as a NULL-terminated list after the program name. */
static int
load(char **env, settings_t *s, char *err, size_t errlen, char **args)
{
    char *argv[64] = { "ezshmd" };
    int argc = 1;
    for (; args[argc - 1] && argc < 64; argc++)
        argv[argc] = args[argc - 1];
    return config_load(argc, argv, env, s, NULL, err, errlen);
}

#define LOAD(env, s, err, ...) load(env, s, err, sizeof err, (char *[]) { __VA_ARGS__, NULL })

static settings_t
load_ok(char **env, char **args)
{
    settings_t s;
    char err[512] = "";
    int rc = load(env, &s, err, sizeof err, args);
    cr_assert_eq(rc, CONFIG_OK, "%s", err);
    return s;
}

static void
expect_fail(char **env, const char *want, char **args)
{
    settings_t s;
    char err[512] = "";
    cr_assert_eq(load(env, &s, err, sizeof err, args), CONFIG_ERROR);
    cr_assert_str_eq(err, want);
    cr_assert_null(strchr(err, '\n'), "errors are one line");
}

static char *
write_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/ezshm-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

Test(config, defaults_and_generated_name)
{
    settings_t s = load_ok(no_env, (char *[]) { NULL });
    settings_t d;
    settings_defaults(&d);
    cr_assert_eq(s.shmem_name[0], '\0', "config leaves an unnamed stream unnamed");
    cr_assert_eq(settings_resolve(&s), 0);
    cr_assert_neq(s.shmem_name[0], '\0', "an unnamed stream gets a generated name");
    strcpy(d.shmem_name, s.shmem_name);
    cr_assert_eq(settings_diff(&d, &s), 0);
    cr_assert_eq(s.rcvhwm, d.rcvhwm);
    cr_assert_str_eq(s.control, "tcp://127.0.0.1:5560");
}

Test(config, every_flag)
{
    settings_t s = load_ok(no_env, (char *[]) {
        "--sub", "tcp://127.0.0.1:1", "--sub", "ipc:///tmp/a", "--sub-bind", "tcp://127.0.0.1:2",
        "--topic", "t1", "--topic=t2", "--shmem-name", "stream", "--buf-dur", "2.5",
        "--axis", "win", "--header", "v1", "--shm-mode", "0640", "--max-buffer-bytes", "4096",
        "--rcvhwm", "7", "--maxmsgsize", "-1", "--control", "ipc:///tmp/c",
        "--events=tcp://127.0.0.1:3", "--curve-server-cert", "/s", "--curve-clients-dir", "*",
        "--sub-curve-serverkey", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
        "--sub-curve-client-cert", "/c", "--log-level", "debug", NULL });
    cr_assert_eq(s.sub.count, 2);
    cr_assert_str_eq(s.sub.item[1], "ipc:///tmp/a");
    cr_assert_str_eq(s.sub_bind.item[0], "tcp://127.0.0.1:2");
    cr_assert_eq(s.topic.count, 2);
    cr_assert_str_eq(s.topic.item[1], "t2");
    cr_assert_str_eq(s.shmem_name, "stream");
    cr_assert_eq(s.buf_dur, 2.5);
    cr_assert_str_eq(s.axis, "win");
    cr_assert_eq(s.header, SETTINGS_HEADER_V1);
    cr_assert_eq(s.shm_mode, 0640);
    cr_assert_eq(s.max_buffer_bytes, 4096);
    cr_assert_eq(s.rcvhwm, 7);
    cr_assert_eq(s.maxmsgsize, -1);
    cr_assert_str_eq(s.control, "ipc:///tmp/c");
    cr_assert_str_eq(s.events, "tcp://127.0.0.1:3");
    cr_assert_str_eq(s.curve_server_cert, "/s");
    cr_assert_str_eq(s.curve_clients_dir, "*");
    cr_assert_str_eq(s.sub_curve_serverkey, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    cr_assert_str_eq(s.sub_curve_client_cert, "/c");
    cr_assert_eq(s.log_level, SETTINGS_LOG_DEBUG);
}

Test(config, every_variable)
{
    char *env[] = { "EZSHM_SUB=tcp://127.0.0.1:1,ipc:///tmp/a", "EZSHM_SUB_BIND=tcp://127.0.0.1:2",
                    "EZSHM_TOPIC=a,b,c", "EZSHM_SHMEM_NAME=envname", "EZSHM_BUF_DUR=0.25",
                    "EZSHM_AXIS=x", "EZSHM_HEADER=v1", "EZSHM_SHM_MODE=660",
                    "EZSHM_MAX_BUFFER_BYTES=1024", "EZSHM_RCVHWM=3", "EZSHM_MAXMSGSIZE=99",
                    "EZSHM_CONTROL=ipc:///tmp/c", "EZSHM_EVENTS=ipc:///tmp/e",
                    "EZSHM_CURVE_SERVER_CERT=/s", "EZSHM_CURVE_CLIENTS_DIR=/d",
                    "EZSHM_SUB_CURVE_SERVERKEY=rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                    "EZSHM_SUB_CURVE_CLIENT_CERT=/c", "EZSHM_LOG_LEVEL=error", "OTHER=1", NULL };
    settings_t s = load_ok(env, (char *[]) { NULL });
    cr_assert_eq(s.sub.count, 2);
    cr_assert_eq(s.topic.count, 3);
    cr_assert_str_eq(s.topic.item[2], "c");
    cr_assert_str_eq(s.sub_bind.item[0], "tcp://127.0.0.1:2");
    cr_assert_str_eq(s.shmem_name, "envname");
    cr_assert_eq(s.buf_dur, 0.25);
    cr_assert_str_eq(s.axis, "x");
    cr_assert_eq(s.header, SETTINGS_HEADER_V1);
    cr_assert_eq(s.shm_mode, 0660);
    cr_assert_eq(s.max_buffer_bytes, 1024);
    cr_assert_eq(s.rcvhwm, 3);
    cr_assert_eq(s.maxmsgsize, 99);
    cr_assert_str_eq(s.control, "ipc:///tmp/c");
    cr_assert_str_eq(s.events, "ipc:///tmp/e");
    cr_assert_str_eq(s.curve_server_cert, "/s");
    cr_assert_str_eq(s.curve_clients_dir, "/d");
    cr_assert_str_eq(s.sub_curve_client_cert, "/c");
    cr_assert_eq(s.log_level, SETTINGS_LOG_ERROR);
}

Test(config, precedence_flags_env_file_defaults)
{
    char *path = write_file("{\"buf_dur\": 2, \"axis\": \"fileaxis\", \"rcvhwm\": 5, "
                            "\"topic\": [\"f\"]}");
    char config_env[128];
    snprintf(config_env, sizeof config_env, "EZSHM_CONFIG=%s", path);
    char *env[] = { config_env, "EZSHM_BUF_DUR=3", "EZSHM_AXIS=envaxis", "EZSHM_TOPIC=", NULL };
    settings_t s = load_ok(env, (char *[]) { "--buf-dur", "4", NULL });
    cr_assert_eq(s.buf_dur, 4);                   /* flag beats env and file */
    cr_assert_str_eq(s.axis, "envaxis");          /* env beats file */
    cr_assert_eq(s.rcvhwm, 5);                    /* file beats default */
    cr_assert_eq(s.topic.count, 1);               /* empty variable = unset */
    cr_assert_eq(s.max_buffer_bytes, SETTINGS_DEFAULT_MAX_BUFFER_BYTES);
    s = load_ok(env, (char *[]) { NULL });
    cr_assert_eq(s.buf_dur, 3);
    s = load_ok((char *[]) { config_env, NULL }, (char *[]) { NULL });
    cr_assert_eq(s.buf_dur, 2);
    /*  Flags replace a list from a lower layer rather than append to it. */
    s = load_ok((char *[]) { config_env, NULL }, (char *[]) { "--topic", "x", NULL });
    cr_assert_eq(s.topic.count, 1);
    cr_assert_str_eq(s.topic.item[0], "x");
    unlink(path);
}

Test(config, config_flag_beats_config_variable)
{
    char first[64], second[64];
    strcpy(first, write_file("{\"axis\": \"one\"}"));
    strcpy(second, write_file("{\"axis\": \"two\", \"shmem_name\": null}"));
    char config_env[128];
    snprintf(config_env, sizeof config_env, "EZSHM_CONFIG=%s", first);
    char *env[] = { config_env, NULL };
    cr_assert_str_eq(load_ok(env, (char *[]) { NULL }).axis, "one");
    cr_assert_str_eq(load_ok(env, (char *[]) { "--config", second, NULL }).axis, "two");
    unlink(first);
    unlink(second);
}

Test(config, bad_values_give_one_clear_line)
{
    expect_fail(no_env, "--buf-dur: buf_dur must be a finite number > 0 and <= 86400, got -1",
                (char *[]) { "--buf-dur", "-1", NULL });
    expect_fail(no_env, "--buf-dur: buf_dur must be a finite number > 0 and <= 86400, got \"abc\"",
                (char *[]) { "--buf-dur", "abc", NULL });
    /*  A flag's number is decimal, the whole text (ezshm_value_parse_double): anything else
        stays text and is the wrong type, never 16 for "0x10" nor 0 for "". */
    expect_fail(no_env, "--buf-dur: buf_dur must be a finite number > 0 and <= 86400, got \"nan\"",
                (char *[]) { "--buf-dur=nan", NULL });
    expect_fail(no_env, "--buf-dur: buf_dur must be a finite number > 0 and <= 86400, got \"0x10\"",
                (char *[]) { "--buf-dur", "0x10", NULL });
    expect_fail(no_env, "--buf-dur: buf_dur must be a finite number > 0 and <= 86400, got \"\"",
                (char *[]) { "--buf-dur=", NULL });
    expect_fail(no_env, "--header: header must be \"legacy\" or \"v1\", got \"v3\"",
                (char *[]) { "--header", "v3", NULL });
    expect_fail(no_env,
                "--shm-mode: shm_mode must be an integer or an octal string (\"0660\") from 0 to "
                "0777, got \"rw\"",
                (char *[]) { "--shm-mode", "rw", NULL });
    expect_fail(no_env, "--rcvhwm: rcvhwm must be an integer from 0 to 2147483647, got 1.5",
                (char *[]) { "--rcvhwm", "1.5", NULL });
    expect_fail(no_env,
                "--sub: sub[1] must be a ZeroMQ endpoint \"transport://address\" of at most 255 "
                "bytes, got \"nohost\"",
                (char *[]) { "--sub", "tcp://127.0.0.1:1", "--sub", "nohost", NULL });
    expect_fail((char *[]) { "EZSHM_LOG_LEVEL=loud", NULL },
                "EZSHM_LOG_LEVEL: log_level must be \"error\", \"warning\", \"info\" or \"debug\", "
                "got \"loud\"",
                (char *[]) { NULL });
    expect_fail((char *[]) { "EZSHM_MAXMSGSIZE=0", NULL },
                "EZSHM_MAXMSGSIZE: maxmsgsize must be -1 (unlimited) or an integer from 1 to "
                "9007199254740992, got 0",
                (char *[]) { NULL });
    expect_fail(no_env, "--bogus: unknown option (see --help)", (char *[]) { "--bogus", NULL });
    expect_fail(no_env, "stray: unknown option (see --help)", (char *[]) { "stray", NULL });
    expect_fail(no_env, "--axis: needs a value", (char *[]) { "--axis", NULL });
    expect_fail(no_env, "--help: takes no value", (char *[]) { "--help=1", NULL });
    expect_fail(no_env,
                "settings: curve_server_cert needs curve_clients_dir (a directory of allowed "
                "client certificates, or \"*\" for any client)",
                (char *[]) { "--curve-server-cert", "/s", NULL });
}

Test(config, bad_config_files)
{
    expect_fail(no_env, "/nonexistent/ezshm.json: No such file or directory",
                (char *[]) { "--config", "/nonexistent/ezshm.json", NULL });
    char want[256];
    char *path = write_file("{\"buf_dur\": 1,");
    snprintf(want, sizeof want, "%s: invalid JSON: syntax error or unexpected end of text", path);
    expect_fail(no_env, want, (char *[]) { "--config", path, NULL });
    unlink(path);
    path = write_file("[1]");
    snprintf(want, sizeof want, "%s: must hold a JSON object", path);
    expect_fail(no_env, want, (char *[]) { "--config", path, NULL });
    unlink(path);
    path = write_file("{\"buf_dur\": Infinity}");
    snprintf(want, sizeof want,
             "%s: buf_dur must be a finite number > 0 and <= 86400, got Infinity", path);
    expect_fail(no_env, want, (char *[]) { "--config", path, NULL });
    unlink(path);
    path = write_file("{\"buffer\": 1}");
    snprintf(want, sizeof want, "%s: unknown field \"buffer\"", path);
    expect_fail(no_env, want, (char *[]) { "--config", path, NULL });
    unlink(path);
}

Test(config, version_exits, .init = cr_redirect_stdout)
{
    settings_t s;
    char err[64];
    cr_assert_eq(LOAD(no_env, &s, err, "--version"), CONFIG_EXIT);
    fflush(stdout);
    cr_assert_stdout_eq_str("ezshmd 0.1.0\n");
}

Test(config, help_exits_before_values_are_checked, .init = cr_redirect_stdout)
{
    settings_t s;
    char err[64];
    cr_assert_eq(LOAD(no_env, &s, err, "--buf-dur", "-1", "--help"), CONFIG_EXIT);
}

/*  Every EZSHM_* name in config.c's table shows up in --help. */
Test(config, usage_lists_every_variable)
{
    FILE *src = fopen(EZSHM_SOURCE_DIR "/service/config.c", "r");
    cr_assert_not_null(src);
    char *usage = NULL;
    size_t usage_len = 0;
    FILE *out = open_memstream(&usage, &usage_len);
    config_usage(out);
    fclose(out);
    char line[512];
    int names = 0;
    while (fgets(line, sizeof line, src)) {
        for (char *p = strstr(line, "\"EZSHM_"); p; p = strstr(p + 1, "\"EZSHM_")) {
            char name[64];
            cr_assert_eq(sscanf(p + 1, "%63[A-Z_]", name), 1);
            cr_assert(strstr(usage, name) != NULL, "%s missing from --help", name);
            names++;
        }
    }
    fclose(src);
    cr_assert_geq(names, 19);
    cr_assert(strstr(usage, "--sub-curve-client-cert F") != NULL);
    free(usage);
}

/*  The stream table as config_load hands it to the daemon. */
static cJSON *
load_streams(char **env, char **args)
{
    char *argv[64] = { "ezshmd" };
    int argc = 1;
    for (; args[argc - 1] && argc < 64; argc++)
        argv[argc] = args[argc - 1];
    settings_t s;
    cJSON *streams = NULL;
    char err[512] = "";
    cr_assert_eq(config_load(argc, argv, env, &s, &streams, err, sizeof err), CONFIG_OK, "%s", err);
    cr_assert(cJSON_IsArray(streams));
    return streams;
}

static void
expect_stream(const cJSON *streams, int i, const char *topic, const char *name)
{
    const cJSON *decl = cJSON_GetArrayItem(streams, i);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(decl, "topic")), topic);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(decl, "shmem_name")), name);
}

Test(config, streams_from_flags_env_and_file_highest_layer_wins)
{
    cJSON *none = load_streams(no_env, (char *[]) { NULL });
    cr_assert_eq(cJSON_GetArraySize(none), 0);
    cJSON_Delete(none);

    char *path = write_file("{\"buf_dur\": 2, \"streams\": [{\"topic\": \"eeg\", \"shmem_name\": \"rig/eeg\", "
                            "\"buf_dur\": 10, \"header\": \"v1\"}]}");
    cJSON *file = load_streams(no_env, (char *[]) { "--config", path, NULL });
    cr_assert_eq(cJSON_GetArraySize(file), 1);
    expect_stream(file, 0, "eeg", "rig/eeg");
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(file, 0), "buf_dur")), 10);
    cJSON_Delete(file);

    char *env[] = { "EZSHM_STREAMS=a=rig/a,b=c=rig/b", NULL };
    cJSON *from_env = load_streams(env, (char *[]) { "--config", path, NULL });
    cr_assert_eq(cJSON_GetArraySize(from_env), 2);
    expect_stream(from_env, 0, "a", "rig/a");
    expect_stream(from_env, 1, "b=c", "rig/b");
    cJSON_Delete(from_env);

    cJSON *flags = load_streams(env, (char *[]) { "--stream", "x=rig/x", "--stream=y=rig/y", NULL });
    cr_assert_eq(cJSON_GetArraySize(flags), 2);
    expect_stream(flags, 0, "x", "rig/x");
    expect_stream(flags, 1, "y", "rig/y");
    cJSON_Delete(flags);
    unlink(path);
}

Test(config, stream_options_and_their_errors)
{
    settings_t s = load_ok(no_env, (char *[]) { "--stream-per-topic", "rig1/{topic}", "--max-streams", "8",
                                                "--max-stream-bytes", "4096", NULL });
    cr_assert_str_eq(s.stream_per_topic, "rig1/{topic}");
    cr_assert_eq(s.max_streams, 8);
    cr_assert_eq(s.max_stream_bytes, 4096);
    cr_assert_eq(load_ok(no_env, (char *[]) { NULL }).max_streams, SETTINGS_DEFAULT_MAX_STREAMS);
    expect_fail(no_env, "--stream: must be TOPIC=NAME (the exact topic, then the stream's shmem_name)",
                (char *[]) { "--stream", "eeg", NULL });
    expect_fail(no_env, "--stream-per-topic: stream_per_topic must be a name template of 1 to 255 bytes of UTF-8 "
                "containing {topic}, or null (off), got \"rig1\"", (char *[]) { "--stream-per-topic", "rig1", NULL });
    expect_fail(no_env, "--max-streams: max_streams must be an integer from 1 to 4096, got 0",
                (char *[]) { "--max-streams", "0", NULL });
    char *path = write_file("{\"streams\": {\"topic\": \"eeg\"}}");
    char want[256];
    snprintf(want, sizeof want, "%s: streams must be an array of {\"topic\": ..., per-stream fields}", path);
    expect_fail(no_env, want, (char *[]) { "--config", path, NULL });
    unlink(path);
}
