/*  config.c — see config.h. */
#include "config.h"
#include "cli_options.h"
#include "json_tolerant.h"

#include "ezshm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define CONFIG_FILE_MAX (1 << 20)

/*  How the text of a flag or variable becomes the JSON value the settings model checks. */
typedef enum {
    V_NONE,     /* flag without a value (--help, --version) */
    V_TEXT,     /* a string */
    V_NUMBER,   /* a number if the whole text is one, else the string (reported as wrong type) */
    V_LIST      /* flag repeats / variable is comma-separated: an array of strings */
} value_kind_t;

typedef struct {
    const char *flag;
    const char *env;     /* NULL: flag only */
    const char *field;   /* settings field; NULL for --config, --help, --version */
    value_kind_t kind;
    const char *metavar;
    const char *help;
} option_t;

/*  THE list of flags and EZSHM_* variables (docs and tests read it from here). */
static const option_t s_options[] = {
    { "--sub", "EZSHM_SUB", "sub", V_LIST, "E", "connect the SUB socket to endpoint E (repeatable)" },
    { "--sub-bind", "EZSHM_SUB_BIND", "sub_bind", V_LIST, "E", "bind the SUB socket to endpoint E (repeatable)" },
    { "--topic", "EZSHM_TOPIC", "topic", V_LIST, "P", "subscribe to topic prefix P (repeatable; none = all)" },
    { "--shmem-name", "EZSHM_SHMEM_NAME", "shmem_name", V_TEXT, "N", "stream name (default: generated)" },
    { "--buf-dur", "EZSHM_BUF_DUR", "buf_dur", V_NUMBER, "S", "ring duration in seconds (default 1)" },
    { "--axis", "EZSHM_AXIS", "axis", V_TEXT, "A", "axis to buffer along (default time)" },
    { "--header", "EZSHM_HEADER", "header", V_TEXT, "H", "header layout: legacy (default) or v1" },
    { "--shm-mode", "EZSHM_SHM_MODE", "shm_mode", V_TEXT, "MODE", "octal permissions of the segments (default 0600)" },
    { "--max-buffer-bytes", "EZSHM_MAX_BUFFER_BYTES", "max_buffer_bytes", V_NUMBER, "N", "most ring bytes, all streams together (default 1 GiB)" },
    { "--rcvhwm", "EZSHM_RCVHWM", "rcvhwm", V_NUMBER, "N", "SUB receive high-water mark (default 10000)" },
    { "--maxmsgsize", "EZSHM_MAXMSGSIZE", "maxmsgsize", V_NUMBER, "N", "largest message in bytes, -1 = any (default 256 MiB)" },
    { "--control", "EZSHM_CONTROL", "control", V_TEXT, "E", "control endpoint (default " SETTINGS_DEFAULT_CONTROL ")" },
    { "--events", "EZSHM_EVENTS", "events", V_TEXT, "E", "publish lifecycle events on endpoint E (default none)" },
    { "--curve-server-cert", "EZSHM_CURVE_SERVER_CERT", "curve_server_cert", V_TEXT, "F", "CURVE certificate of the control socket" },
    { "--curve-clients-dir", "EZSHM_CURVE_CLIENTS_DIR", "curve_clients_dir", V_TEXT, "D", "directory of allowed client certificates (* = any)" },
    { "--sub-curve-serverkey", "EZSHM_SUB_CURVE_SERVERKEY", "sub_curve_serverkey", V_TEXT, "K", "publisher's CURVE public key (Z85)" },
    { "--sub-curve-client-cert", "EZSHM_SUB_CURVE_CLIENT_CERT", "sub_curve_client_cert", V_TEXT, "F", "CURVE certificate of the SUB socket" },
    { "--log-level", "EZSHM_LOG_LEVEL", "log_level", V_TEXT, "L", "error, warning, info (default) or debug" },
    { "--ipc-dir", "EZSHM_IPC_DIR", "ipc_dir", V_TEXT, "D", "directory for ipc:// endpoints set over control (default: none)" },
    { "--control-mutable", "EZSHM_CONTROL_MUTABLE", "control_mutable", V_LIST, "F", "a field control may change (repeatable; default: every runtime field)" },
    { "--stream", "EZSHM_STREAMS", "streams", V_LIST, "T=N", "messages of exact topic T into stream N (repeatable)" },
    { "--stream-per-topic", "EZSHM_STREAM_PER_TOPIC", "stream_per_topic", V_TEXT, "TPL", "a stream per new topic, named TPL with {topic} replaced" },
    { "--max-streams", "EZSHM_MAX_STREAMS", "max_streams", V_NUMBER, "N", "most streams (default 64)" },
    { "--max-stream-bytes", "EZSHM_MAX_STREAM_BYTES", "max_stream_bytes", V_NUMBER, "N", "largest ring of one stream, 0 = no cap beside max_buffer_bytes (default 0)" },
    { "--config", "EZSHM_CONFIG", NULL, V_TEXT, "F", "JSON file of settings (field names as in ezshm-ctl get)" },
    { "--help", NULL, NULL, V_NONE, NULL, "print this help and exit" },
    { "--version", NULL, NULL, V_NONE, NULL, "print the version and exit" },
};
#define N_OPTIONS (sizeof s_options / sizeof s_options[0])

void
config_usage(FILE *out)
{
    fprintf(out, "usage: ezshmd [OPTION]...\n"
                 "Ingest ezmsg AxisArray messages from ZeroMQ into a shared-memory ring.\n"
                 "Precedence: flags > environment > config file > defaults.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        cli_usage_line(out, 26, s_options[i].flag, s_options[i].metavar, s_options[i].help, s_options[i].env);
}

/*  The JSON value of text for an option of kind (a list gets text split at commas). */
static cJSON *
s_value(value_kind_t kind, const char *text)
{
    double v;
    if (kind == V_NUMBER)
        return ezshm_value_parse_double(text, &v) ? cJSON_CreateNumber(v) : cJSON_CreateString(text);
    if (kind != V_LIST)
        return cJSON_CreateString(text);
    cJSON *array = cJSON_CreateArray();
    for (const char *p = text; array && *p;) {
        size_t n = strcspn(p, ",");
        char *item = strndup(p, n);
        if (!item || !cJSON_AddItemToArray(array, cJSON_CreateString(item))) {
            cJSON_Delete(array);
            array = NULL;
        }
        free(item);
        p += n + (p[n] == ',');
    }
    return array;
}

static int
s_set(settings_t *s, const char *where, const char *field, const cJSON *value, char *errbuf,
      size_t errlen)
{
    settings_error_t err;
    if (!value)
        return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", where, "out of memory");
    if (settings_set_field(s, field, value, &err) != SETTINGS_OK)
        return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", where, err.message);
    return CONFIG_OK;
}

/*  Reads the flags into the object flags (field -> value; a repeated list flag
    appends, a repeated scalar flag replaces). Sets *config_path for --config. */
static int
s_parse_flags(int argc, char **argv, cJSON *flags, const char **config_path, char *errbuf,
              size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        const option_t *o = strncmp(arg, "--", 2) == 0
                                ? cli_find_flag(s_options, N_OPTIONS, sizeof s_options[0], arg,
                                                eq ? (size_t) (eq - arg) : strlen(arg))
                                : NULL;
        if (!o)
            return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", arg, "unknown option (see --help)");
        if (o->kind == V_NONE) {
            if (eq)
                return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", o->flag, "takes no value");
            if (strcmp(o->flag, "--help") == 0)
                config_usage(stdout);
            else
                printf("ezshmd %s\n", EZSHM_VERSION);
            return CONFIG_EXIT;
        }
        if (!eq && i + 1 >= argc)
            return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", o->flag, "needs a value");
        const char *text = eq ? eq + 1 : argv[++i];
        if (!o->field) {
            *config_path = text;
            continue;
        }
        cJSON *value = s_value(o->kind == V_LIST ? V_TEXT : o->kind, text);
        bool ok;
        if (o->kind == V_LIST) {
            cJSON *list = cJSON_GetObjectItemCaseSensitive(flags, o->field);
            list = list ? list : cJSON_AddArrayToObject(flags, o->field);
            ok = list && cJSON_AddItemToArray(list, value);
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(flags, o->field);
            ok = cJSON_AddItemToObject(flags, o->field, value);
        }
        if (!ok) {
            cJSON_Delete(value);
            return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", o->flag, "out of memory");
        }
    }
    return CONFIG_OK;
}

/*  Up to size bytes of the regular file at path (symbolic links followed) into text; the
    byte count, or -1 with errno (EINVAL: not a regular file). Opened non-blocking and checked
    before any read: a FIFO (or a device) at the path would otherwise hold the loop in open()
    or read() until someone writes to it, at startup or on SIGHUP. */
static ssize_t
s_read_regular(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ssize_t n = 0;
    if (fstat(fd, &st) != 0)
        n = -1;
    else if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        n = -1;
    }
    while (n >= 0 && (size_t) n < size) {
        ssize_t got = read(fd, text + n, size - (size_t) n);
        if (got == 0)
            break;
        if (got > 0)
            n += got;
        else if (errno != EINTR)
            n = -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return n;
}

static int
s_load_file(settings_t *s, cJSON **streams, const char *path, char *errbuf, size_t errlen)
{
    char *text = malloc(CONFIG_FILE_MAX + 1);
    if (!text)
        return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", path, "out of memory");
    ssize_t got = s_read_regular(path, text, CONFIG_FILE_MAX + 1);
    if (got < 0) {
        int e = errno;
        free(text);
        return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", path,
                          e == EINVAL ? "not a regular file" : strerror(e));
    }
    size_t n = (size_t) got;
    char why[SETTINGS_MSG_MAX];
    cJSON *root = NULL;
    if (n > CONFIG_FILE_MAX)
        snprintf(why, sizeof why, "larger than %d bytes", CONFIG_FILE_MAX);
    else
        root = json_parse_tolerant(text, n, why, sizeof why);
    free(text);
    settings_error_t err;
    int rc = CONFIG_OK;
    /*  "streams" is not a setting but the stream table: taken out before the fields. */
    cJSON *file_streams = cJSON_IsObject(root) ? cJSON_DetachItemFromObjectCaseSensitive(root, "streams") : NULL;
    if (file_streams && !cJSON_IsArray(file_streams))
        rc = ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: streams must be an array of {\"topic\": ..., "
                        "per-stream fields}", path);
    else if (file_streams) {
        cJSON_Delete(*streams);
        *streams = file_streams;
        file_streams = NULL;
    }
    cJSON_Delete(file_streams);
    if (rc != CONFIG_OK)
        ;
    else if (!root)
        rc = ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", path, why);
    else if (settings_set_fields(s, root, &err) != SETTINGS_OK)
        rc = ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", path,
                    err.code == SETTINGS_ERR_NOT_OBJECT ? "must hold a JSON object" : err.message);
    cJSON_Delete(root);
    return rc;
}

/*  "TOPIC=NAME" items (split at the last '=') as the stream table; replaces *streams. */
static int
s_set_streams(cJSON **streams, const char *where, const cJSON *items, char *errbuf, size_t errlen)
{
    cJSON *table = cJSON_CreateArray();
    const cJSON *item;
    cJSON_ArrayForEach(item, items) {
        const char *text = cJSON_GetStringValue(item);
        const char *eq = text ? strrchr(text, '=') : NULL;
        if (!eq || !eq[1]) {
            cJSON_Delete(table);
            return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: must be TOPIC=NAME (the exact topic, then the "
                              "stream's shmem_name)", where);
        }
        char *topic = strndup(text, (size_t) (eq - text));
        cJSON *decl = cJSON_CreateObject();
        bool ok = topic && decl && cJSON_AddStringToObject(decl, "topic", topic)
                  && cJSON_AddStringToObject(decl, "shmem_name", eq + 1) && cJSON_AddItemToArray(table, decl);
        free(topic);
        if (!ok) {
            cJSON_Delete(decl);
            cJSON_Delete(table);
            return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", where, "out of memory");
        }
    }
    if (!table)
        return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", where, "out of memory");
    cJSON_Delete(*streams);
    *streams = table;
    return CONFIG_OK;
}

/*  One value of a layer: the stream table, or a settings field. */
static int
s_apply_value(settings_t *s, cJSON **streams, const option_t *o, const char *where, const cJSON *value,
              char *errbuf, size_t errlen)
{
    if (strcmp(o->field, "streams") == 0)
        return value ? s_set_streams(streams, where, value, errbuf, errlen)
                     : ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", where, "out of memory");
    return s_set(s, where, o->field, value, errbuf, errlen);
}

/*  Environment layer: each EZSHM_* variable that is set and not empty. */
static int
s_load_env(settings_t *s, cJSON **streams, char **envp, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &s_options[i];
        const char *text = o->env && o->field ? cli_getenv(envp, o->env) : NULL;
        if (!text)
            continue;
        cJSON *value = s_value(o->kind, text);
        int rc = s_apply_value(s, streams, o, o->env, value, errbuf, errlen);
        cJSON_Delete(value);
        if (rc != CONFIG_OK)
            return rc;
    }
    return CONFIG_OK;
}

/*  Flag layer, in table order, each error named by its flag. */
static int
s_load_flags(settings_t *s, cJSON **streams, const cJSON *flags, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &s_options[i];
        const cJSON *value = o->field ? cJSON_GetObjectItemCaseSensitive(flags, o->field) : NULL;
        if (value && s_apply_value(s, streams, o, o->flag, value, errbuf, errlen) != CONFIG_OK)
            return CONFIG_ERROR;
    }
    return CONFIG_OK;
}

int
config_load(int argc, char **argv, char **envp, settings_t *out, cJSON **streams, char *errbuf, size_t errlen)
{
    envp = envp ? envp : environ;
    settings_t s;
    settings_defaults(&s);
    cJSON *flags = cJSON_CreateObject();
    cJSON *table = cJSON_CreateArray();
    if (!flags || !table) {
        cJSON_Delete(flags);
        cJSON_Delete(table);
        return ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", "ezshmd", "out of memory");
    }
    const char *config_path = cli_getenv(envp, "EZSHM_CONFIG");
    int rc = s_parse_flags(argc, argv, flags, &config_path, errbuf, errlen);
    if (rc == CONFIG_OK && config_path)
        rc = s_load_file(&s, &table, config_path, errbuf, errlen);
    if (rc == CONFIG_OK)
        rc = s_load_env(&s, &table, envp, errbuf, errlen);
    if (rc == CONFIG_OK)
        rc = s_load_flags(&s, &table, flags, errbuf, errlen);
    cJSON_Delete(flags);
    settings_error_t err;
    if (rc == CONFIG_OK && settings_validate(&s, &err) != SETTINGS_OK)
        rc = ezshm_fail(errbuf, errlen, CONFIG_ERROR, "%s: %s", "settings", err.message);
    if (rc == CONFIG_OK)
        *out = s;
    if (rc == CONFIG_OK && streams) {
        *streams = table;
        table = NULL;
    }
    cJSON_Delete(table);
    return rc;
}
