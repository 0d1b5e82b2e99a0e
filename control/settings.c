/*  settings.c — see settings.h. One table describes every field; parsing, output,
    the startup-only rule and diffing are all driven by it. */
#include "settings.h"
#include "json_tolerant.h"
#include "ezshm_utf8.h"

#include "ezshm_name.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef enum {
    K_NAME,        /* shmem_name: string, or null = generate */
    K_BUF_DUR,
    K_TEXT,        /* non-empty string */
    K_HEADER,
    K_LOG_LEVEL,
    K_ENDPOINT,    /* "transport://address" */
    K_ENDPOINTS,   /* endpoint or array of endpoints */
    K_TOPICS,      /* string or array of strings */
    K_MODE,        /* integer or octal string */
    K_INT,         /* int member */
    K_INT64,       /* int64_t member */
    K_TEMPLATE,    /* a name template with {topic}, or null = none */
    K_PATH,        /* file or directory path */
    K_KEY,         /* Z85 public key */
    K_FIELDS       /* a runtime field name (or "remote_endpoints"), or an array of them */
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t offset, size;
    bool nullable;        /* JSON null accepted (stored as "") */
    bool startup_only;
    unsigned action;      /* SETTINGS_ACT_* when the value changes */
    int64_t min, max;     /* integer kinds */
    bool nonzero;         /* integer kinds: 0 excluded from [min, max] */
    const char *expect;   /* "must be ..." in every error message about the field */
    bool per_stream;      /* each stream has its own value (see settings_is_stream_field) */
} field_t;

#define MEMBER(m) offsetof(settings_t, m), sizeof(((settings_t *) 0)->m)
#define INT53 (INT64_C(1) << 53)   /* largest integer a JSON double holds exactly */
#define ENDPOINT_TEXT "a ZeroMQ endpoint \"transport://address\" of at most 255 bytes"

static const field_t s_fields[] = {
    { "shmem_name", K_NAME, MEMBER(shmem_name), true, false, SETTINGS_ACT_RECREATE_META, 0, 0,
      false, "a string of 1 to 255 bytes of UTF-8 without NUL, or null (generate one)", true },
    { "buf_dur", K_BUF_DUR, MEMBER(buf_dur), false, false, SETTINGS_ACT_RESET_BUFFER, 0, 0,
      false, "a finite number > 0 and <= 86400", true },
    { "axis", K_TEXT, MEMBER(axis), false, false, SETTINGS_ACT_RESET_BUFFER, 0, 0, false,
      "a non-empty string of at most 255 bytes of UTF-8", true },
    { "header", K_HEADER, MEMBER(header), false, false, SETTINGS_ACT_RECREATE_META, 0, 0,
      false, "\"legacy\" or \"v1\"", true },
    { "sub", K_ENDPOINTS, MEMBER(sub), false, false, SETTINGS_ACT_RESUBSCRIBE, 0, 0, false,
      ENDPOINT_TEXT ", or an array of at most 32 of them", false },
    { "sub_bind", K_ENDPOINTS, MEMBER(sub_bind), false, false, SETTINGS_ACT_RESUBSCRIBE, 0, 0,
      false, ENDPOINT_TEXT ", or an array of at most 32 of them", false },
    { "topic", K_TOPICS, MEMBER(topic), false, false, SETTINGS_ACT_RESUBSCRIBE, 0, 0, false,
      "a string of at most 255 bytes of UTF-8, or an array of at most 32 of them", false },
    { "log_level", K_LOG_LEVEL, MEMBER(log_level), false, false, SETTINGS_ACT_LOG_LEVEL, 0, 0,
      false, "\"error\", \"warning\", \"info\" or \"debug\"", false },
    { "shm_mode", K_MODE, MEMBER(shm_mode), false, true, 0, 0, 0777, false,
      "an integer or an octal string (\"0660\") from 0 to 0777", false },
    { "max_buffer_bytes", K_INT64, MEMBER(max_buffer_bytes), false, true, 0, 1, INT53, false,
      "an integer from 1 to 9007199254740992", false },
    { "rcvhwm", K_INT, MEMBER(rcvhwm), false, true, 0, 0, INT_MAX, false,
      "an integer from 0 to 2147483647", false },
    { "maxmsgsize", K_INT64, MEMBER(maxmsgsize), false, true, 0, -1, INT53, true,
      "-1 (unlimited) or an integer from 1 to 9007199254740992", false },
    { "control", K_ENDPOINT, MEMBER(control), false, true, 0, 0, 0, false, ENDPOINT_TEXT, false },
    { "events", K_ENDPOINT, MEMBER(events), true, true, 0, 0, 0, false,
      ENDPOINT_TEXT ", or null (no events)", false },
    { "curve_server_cert", K_PATH, MEMBER(curve_server_cert), true, true, 0, 0, 0, false,
      "a certificate file path of 1 to 1023 bytes, or null", false },
    { "curve_clients_dir", K_PATH, MEMBER(curve_clients_dir), true, true, 0, 0, 0, false,
      "a directory path of 1 to 1023 bytes, \"*\" (any client key), or null", false },
    { "sub_curve_serverkey", K_KEY, MEMBER(sub_curve_serverkey), true, true, 0, 0, 0, false,
      "a 40-character Z85 public key, or null", false },
    { "sub_curve_client_cert", K_PATH, MEMBER(sub_curve_client_cert), true, true, 0, 0, 0,
      false, "a certificate file path of 1 to 1023 bytes, or null", false },
    { "ipc_dir", K_PATH, MEMBER(ipc_dir), true, true, 0, 0, 0, false,
      "a directory path of 1 to 1023 bytes, or null (control sets no ipc:// endpoint)", false },
    { "control_mutable", K_FIELDS, MEMBER(control_mutable), false, true, 0, 0, 0, false,
      "a runtime field name or \"" SETTINGS_REMOTE_ENDPOINTS "\", or an array of at most 32 of them", false },
    { "max_stream_bytes", K_INT64, MEMBER(max_stream_bytes), false, true, 0, 0, INT53, false,
      "0 (no cap) or an integer from 1 to 9007199254740992", true },
    { "stream_per_topic", K_TEMPLATE, MEMBER(stream_per_topic), true, true, 0, 0, 0, false,
      "a name template of 1 to 255 bytes of UTF-8 containing {topic}, or null (off)", false },
    { "max_streams", K_INT, MEMBER(max_streams), false, true, 0, 1, SETTINGS_MAX_STREAMS, false,
      "an integer from 1 to 4096", false },
};
#define N_FIELDS (sizeof s_fields / sizeof s_fields[0])

static const char *const s_code_names[] = {
    "ok", "bad_json", "not_object", "bad_request", "unknown_op", "unknown_field",
    "wrong_type", "out_of_range", "not_finite", "immutable", "apply_failed",
    "name_in_use", "unknown_stream", "stream_exists", "fd_limit", "name_conflict",
};
_Static_assert(sizeof s_code_names / sizeof s_code_names[0] == SETTINGS_CODE_COUNT,
               "one name per settings_code_t");
static const char *const s_header_names[] = { "legacy", "v1" };
static const char *const s_log_level_names[] = { "error", "warning", "info", "debug" };

void
settings_defaults(settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->buf_dur = SETTINGS_DEFAULT_BUF_DUR;
    strcpy(s->axis, SETTINGS_DEFAULT_AXIS);
    s->header = SETTINGS_HEADER_LEGACY;
    s->log_level = SETTINGS_LOG_INFO;
    s->shm_mode = SETTINGS_DEFAULT_SHM_MODE;
    s->max_buffer_bytes = SETTINGS_DEFAULT_MAX_BUFFER_BYTES;
    s->rcvhwm = SETTINGS_DEFAULT_RCVHWM;
    s->maxmsgsize = SETTINGS_DEFAULT_MAXMSGSIZE;
    strcpy(s->control, SETTINGS_DEFAULT_CONTROL);
    s->max_streams = SETTINGS_DEFAULT_MAX_STREAMS;
    /*  Control may change every runtime field, endpoints confined (settings_check_control). */
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!s_fields[i].startup_only)
            strcpy(s->control_mutable.item[s->control_mutable.count++], s_fields[i].name);
}

const char *
settings_code_name(settings_code_t code)
{
    if ((unsigned) code < sizeof s_code_names / sizeof s_code_names[0])
        return s_code_names[code];
    return "unknown";
}

const char *
settings_header_name(settings_header_t h)
{
    return (unsigned) h < 2 ? s_header_names[h] : "unknown";
}

const char *
settings_log_level_name(settings_log_level_t level)
{
    return (unsigned) level < 4 ? s_log_level_names[level] : "unknown";
}

settings_code_t
settings_fail(settings_error_t *err, settings_code_t code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

static const field_t *
s_find(const char *name)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(s_fields[i].name, name) == 0)
            return &s_fields[i];
    return NULL;
}

bool
settings_is_field(const char *name)
{
    return s_find(name) != NULL;
}

bool
settings_is_stream_field(const char *name)
{
    const field_t *f = s_find(name);
    return f && f->per_stream;
}

void
settings_copy_shared(settings_t *dst, const settings_t *src)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!s_fields[i].per_stream)
            memcpy((char *) dst + s_fields[i].offset, (const char *) src + s_fields[i].offset, s_fields[i].size);
}

bool
settings_is_startup_only(const char *name)
{
    const field_t *f = s_find(name);
    return f && f->startup_only;
}

/*  "got ..." part of a message; strings are quoted excerpts (see json_excerpt). */
static void
s_describe(const cJSON *v, char *buf, size_t len)
{
    char excerpt[64];
    if (cJSON_IsString(v)) {
        json_excerpt(v->valuestring, excerpt, sizeof excerpt);
        snprintf(buf, len, "\"%s\"", excerpt);
    } else if (cJSON_IsNumber(v))
        json_format_number(v->valuedouble, buf, len);
    else if (cJSON_IsBool(v))
        snprintf(buf, len, cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, len, "null");
    else if (cJSON_IsArray(v))
        snprintf(buf, len, "an array");
    else
        snprintf(buf, len, "an object");
}

static settings_code_t
s_bad(settings_error_t *err, settings_code_t code, const char *label, const char *expect,
      const cJSON *v)
{
    char got[128];
    s_describe(v, got, sizeof got);
    return settings_fail(err, code, "%s must be %s, got %s", label, expect, got);
}

static bool
s_is_endpoint(const char *s)
{
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || sep[3] == '\0')
        return false;
    for (const char *p = s; p < sep; p++)
        if (!(*p >= 'a' && *p <= 'z'))
            return false;
    if (sep - s != 3 || strncmp(s, "tcp", 3) != 0)
        return true;
    /*  tcp://host:port: the port is "*" (any free one, for a bind) or 1..65535 — libzmq would
        take 0 as "any" and wrap larger numbers silently. */
    const char *colon = strrchr(sep + 3, ':');
    if (!colon || strchr(colon, ']'))
        return false;
    if (strcmp(colon + 1, "*") == 0)
        return true;
    long port = 0;
    const char *p = colon + 1;
    for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (*p - '0');
    return *p == '\0' && p > colon + 1 && port >= 1 && port <= 65535;
}

static bool
s_is_z85_key(const char *s)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    return strlen(s) == 40 && strspn(s, z85) == 40;
}

/*  One string value of kind k (a list element for the list kinds) into dst, which
    holds size bytes. Checks type, length, UTF-8 and the kind's syntax. */
static settings_code_t
s_string(const cJSON *v, kind_t k, const char *label, const char *expect, char *dst,
         size_t size, settings_error_t *err)
{
    if (!cJSON_IsString(v))
        return s_bad(err, SETTINGS_ERR_WRONG_TYPE, label, expect, v);
    const char *s = v->valuestring;
    size_t n = strlen(s);
    bool ok = n < size && ezshm_utf8_valid(s, n) && (n > 0 || k == K_TOPICS);
    if (ok && (k == K_ENDPOINT || k == K_ENDPOINTS))
        ok = s_is_endpoint(s);
    if (ok && k == K_KEY)
        ok = s_is_z85_key(s);
    if (ok && k == K_TEMPLATE)
        ok = strstr(s, "{topic}") != NULL;
    if (ok && k == K_FIELDS)
        ok = strcmp(s, SETTINGS_REMOTE_ENDPOINTS) == 0 || (settings_is_field(s) && !settings_is_startup_only(s));
    if (!ok)
        return s_bad(err, SETTINGS_ERR_OUT_OF_RANGE, label, expect, v);
    memset(dst, 0, size);
    memcpy(dst, s, n);
    return SETTINGS_OK;
}

static settings_code_t
s_list(const field_t *f, const cJSON *v, settings_list_t *dst, settings_error_t *err)
{
    settings_list_t list;
    memset(&list, 0, sizeof list);
    const char *item_expect = f->kind == K_ENDPOINTS ? ENDPOINT_TEXT
                              : f->kind == K_FIELDS  ? "a runtime field name or \"" SETTINGS_REMOTE_ENDPOINTS "\""
                                                     : "a string of at most 255 bytes of UTF-8";
    if (cJSON_IsString(v)) {
        settings_code_t rc = s_string(v, f->kind, f->name, f->expect, list.item[0],
                                      sizeof list.item[0], err);
        if (rc)
            return rc;
        list.count = 1;
    } else if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) > SETTINGS_LIST_MAX)
            return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                                 "%s must have at most %d entries, got %d", f->name,
                                 SETTINGS_LIST_MAX, cJSON_GetArraySize(v));
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            char label[64];
            snprintf(label, sizeof label, "%s[%zu]", f->name, list.count);
            settings_code_t rc = s_string(item, f->kind, label, item_expect,
                                          list.item[list.count], sizeof list.item[0], err);
            if (rc)
                return rc;
            list.count++;
        }
    } else
        return s_bad(err, SETTINGS_ERR_WRONG_TYPE, f->name, f->expect, v);
    *dst = list;
    return SETTINGS_OK;
}

/*  A JSON number that is an integer within the field's range. */
static settings_code_t
s_integer(const field_t *f, const cJSON *v, int64_t *out, settings_error_t *err)
{
    if (!cJSON_IsNumber(v))
        return s_bad(err, SETTINGS_ERR_WRONG_TYPE, f->name, f->expect, v);
    double d = v->valuedouble;
    if (!isfinite(d))
        return s_bad(err, SETTINGS_ERR_NOT_FINITE, f->name, f->expect, v);
    if (d != floor(d))
        return s_bad(err, SETTINGS_ERR_WRONG_TYPE, f->name, f->expect, v);
    if (d < (double) f->min || d > (double) f->max || (f->nonzero && d == 0))
        return s_bad(err, SETTINGS_ERR_OUT_OF_RANGE, f->name, f->expect, v);
    *out = (int64_t) d;
    return SETTINGS_OK;
}

/*  shm_mode: a JSON integer, or a string read as octal like chmod ("660", "0660",
    "0o660"), because 0660 written as a JSON number would be a syntax error. */
static settings_code_t
s_mode(const field_t *f, const cJSON *v, int64_t *out, settings_error_t *err)
{
    if (!cJSON_IsString(v))
        return s_integer(f, v, out, err);
    const char *s = v->valuestring;
    if (strncmp(s, "0o", 2) == 0 || strncmp(s, "0O", 2) == 0)
        s += 2;
    if (*s == '\0' || strlen(s) > 4 || strspn(s, "01234567") != strlen(s))
        return s_bad(err, SETTINGS_ERR_OUT_OF_RANGE, f->name, f->expect, v);
    int64_t mode = 0;
    for (; *s; s++)
        mode = mode * 8 + (*s - '0');
    if (mode > f->max)
        return s_bad(err, SETTINGS_ERR_OUT_OF_RANGE, f->name, f->expect, v);
    *out = mode;
    return SETTINGS_OK;
}

static settings_code_t
s_choice(const field_t *f, const cJSON *v, const char *const *names, int n, int *out,
         settings_error_t *err)
{
    if (!cJSON_IsString(v))
        return s_bad(err, SETTINGS_ERR_WRONG_TYPE, f->name, f->expect, v);
    for (int i = 0; i < n; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return SETTINGS_OK;
        }
    return s_bad(err, SETTINGS_ERR_OUT_OF_RANGE, f->name, f->expect, v);
}

/*  Fields of ezmsg-tools' ShMemCircBuffSettings that mean nothing to ezshmd: a Python client
    sending dataclasses.asdict(settings) includes them. Any value is accepted and ignored. */
static const char *const s_ignored[] = {"conn"};

bool
settings_is_ignored(const char *name)
{
    for (size_t i = 0; i < sizeof s_ignored / sizeof s_ignored[0]; i++)
        if (strcmp(name, s_ignored[i]) == 0)
            return true;
    return false;
}

settings_code_t
settings_set_field(settings_t *s, const char *name, const cJSON *value, settings_error_t *err)
{
    const field_t *f = s_find(name);
    char excerpt[64];
    if (!f && settings_is_ignored(name))
        return SETTINGS_OK;
    if (!f) {
        json_excerpt(name, excerpt, sizeof excerpt);
        return settings_fail(err, SETTINGS_ERR_UNKNOWN_FIELD, "unknown field \"%s\"", excerpt);
    }
    char *member = (char *) s + f->offset;
    if (cJSON_IsNull(value) && f->nullable) {
        memset(member, 0, f->size);
        return SETTINGS_OK;
    }
    settings_code_t rc;
    int64_t integer = 0;
    int choice = 0;
    switch (f->kind) {
    case K_BUF_DUR:
        if (!cJSON_IsNumber(value))
            return s_bad(err, SETTINGS_ERR_WRONG_TYPE, f->name, f->expect, value);
        if (!isfinite(value->valuedouble))
            return s_bad(err, SETTINGS_ERR_NOT_FINITE, f->name, f->expect, value);
        if (!(value->valuedouble > 0 && value->valuedouble <= SETTINGS_BUF_DUR_MAX))
            return s_bad(err, SETTINGS_ERR_OUT_OF_RANGE, f->name, f->expect, value);
        s->buf_dur = value->valuedouble;
        return SETTINGS_OK;
    case K_HEADER:
        rc = s_choice(f, value, s_header_names, 2, &choice, err);
        if (rc == SETTINGS_OK)
            s->header = (settings_header_t) choice;
        return rc;
    case K_LOG_LEVEL:
        rc = s_choice(f, value, s_log_level_names, 4, &choice, err);
        if (rc == SETTINGS_OK)
            s->log_level = (settings_log_level_t) choice;
        return rc;
    case K_ENDPOINTS:
    case K_TOPICS:
    case K_FIELDS:
        return s_list(f, value, (settings_list_t *) member, err);
    case K_MODE:
        rc = s_mode(f, value, &integer, err);
        if (rc == SETTINGS_OK)
            s->shm_mode = (unsigned) integer;
        return rc;
    case K_INT:
        rc = s_integer(f, value, &integer, err);
        if (rc == SETTINGS_OK)
            *(int *) member = (int) integer;
        return rc;
    case K_INT64:
        rc = s_integer(f, value, &integer, err);
        if (rc == SETTINGS_OK)
            *(int64_t *) member = integer;
        return rc;
    default:   /* the string kinds */
        return s_string(value, f->kind, f->name, f->expect, member, f->size, err);
    }
}

settings_code_t
settings_set_fields(settings_t *s, const cJSON *obj, settings_error_t *err)
{
    if (!cJSON_IsObject(obj))
        return settings_fail(err, SETTINGS_ERR_NOT_OBJECT, "settings must be a JSON object");
    settings_t next = *s;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        for (const cJSON *prev = obj->child; prev != item; prev = prev->next)
            if (strcmp(prev->string, item->string) == 0)
                return settings_fail(err, SETTINGS_ERR_BAD_REQUEST,
                                     "field \"%s\" appears more than once", item->string);
        settings_code_t rc = settings_set_field(&next, item->string, item, err);
        if (rc)
            return rc;
    }
    *s = next;
    return SETTINGS_OK;
}

settings_code_t
settings_validate(const settings_t *s, settings_error_t *err)
{
    if (*s->curve_server_cert && !*s->curve_clients_dir)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                             "curve_server_cert needs curve_clients_dir (a directory of allowed "
                             "client certificates, or \"*\" for any client)");
    if (*s->curve_clients_dir && !*s->curve_server_cert)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                             "curve_clients_dir needs curve_server_cert (the server's certificate)");
    /*  A client certificate alone is meaningless; a server key alone is fine: the daemon
        then uses a throwaway client key (publishers without a ZAP handler accept any). */
    if (*s->sub_curve_client_cert && !*s->sub_curve_serverkey)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                             "sub_curve_client_cert needs sub_curve_serverkey (the publisher's public key)");
    return SETTINGS_OK;
}

int
settings_resolve(settings_t *s)
{
    if (*s->shmem_name)
        return 0;
    return ezshm_generate_name(s->shmem_name, sizeof s->shmem_name) == 0 ? 0 : -1;
}

settings_code_t
settings_merge(const settings_t *current, const cJSON *update, settings_t *out,
               settings_error_t *err)
{
    *out = *current;
    settings_code_t rc = settings_set_fields(out, update, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field_t *f = &s_fields[i];
        if (f->startup_only && memcmp((const char *) current + f->offset,
                                      (const char *) out + f->offset, f->size) != 0)
            return settings_fail(err, SETTINGS_ERR_IMMUTABLE,
                                 "%s is startup-only: restart ezshmd to change it", f->name);
    }
    rc = settings_validate(out, err);
    if (rc)
        return rc;
    if (settings_resolve(out))
        return settings_fail(err, SETTINGS_ERR_APPLY_FAILED, "could not generate a shmem_name");
    return SETTINGS_OK;
}

bool
settings_list_has(const settings_list_t *list, const char *item)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->item[i], item) == 0)
            return true;
    return false;
}

/*  addr is what follows "tcp://": a loopback host and a port, without an interface or
    source address ("eth0;…" forms). */
static bool
s_loopback_tcp(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || strchr(addr, ';'))
        return false;
    size_t n = (size_t) (colon - addr);
    if ((n == 9 && strncmp(addr, "localhost", 9) == 0) || (n == 5 && strncmp(addr, "[::1]", 5) == 0))
        return true;
    if (n < 5 || strncmp(addr, "127.", 4) != 0)
        return false;
    for (size_t i = 4; i < n; i++)
        if (!(addr[i] == '.' || (addr[i] >= '0' && addr[i] <= '9')))
            return false;
    return true;
}

/*  An ipc:// path set over control: inside ipc_dir once every symbolic link of its directory
    is resolved, and not an existing non-socket (libzmq unlinks the path before it binds). */
static settings_code_t
s_ipc_allowed(const settings_t *current, const char *label, const char *path, settings_error_t *err)
{
    if (!*current->ipc_dir)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                             "%s: an ipc:// endpoint set over control must be inside ipc_dir, which is not set",
                             label);
    const char *slash = strrchr(path, '/');
    const char *leaf = slash ? slash + 1 : path;
    if (*path != '/' || !*leaf || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE, "%s: ipc path %s is not an absolute file path",
                             label, path);
    char dir[PATH_MAX], parent[PATH_MAX], given[PATH_MAX];
    size_t parent_len = slash == path ? 1 : (size_t) (slash - path);
    if (parent_len >= sizeof given)
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE, "%s: ipc path too long", label);
    memcpy(given, path, parent_len);
    given[parent_len] = '\0';
    if (!realpath(current->ipc_dir, dir))
        return settings_fail(err, SETTINGS_ERR_APPLY_FAILED, "ipc_dir %s: %s", current->ipc_dir, strerror(errno));
    size_t dir_len = strlen(dir);
    if (!realpath(given, parent) || strncmp(parent, dir, dir_len) != 0
        || (parent[dir_len] != '\0' && parent[dir_len] != '/' && strcmp(dir, "/") != 0))
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                             "%s: ipc path %s is not inside ipc_dir %s", label, path, current->ipc_dir);
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                             "%s: %s exists and is not a socket (a bind would unlink it)", label, path);
    return SETTINGS_OK;
}

static settings_code_t
s_endpoint_allowed(const settings_t *current, const char *label, const char *endpoint, settings_error_t *err)
{
    if (strncmp(endpoint, "ipc://", 6) == 0)
        return s_ipc_allowed(current, label, endpoint + 6, err);
    if (settings_list_has(&current->control_mutable, SETTINGS_REMOTE_ENDPOINTS) || strncmp(endpoint, "inproc://", 9) == 0
        || (strncmp(endpoint, "tcp://", 6) == 0 && s_loopback_tcp(endpoint + 6)))
        return SETTINGS_OK;
    return settings_fail(err, SETTINGS_ERR_OUT_OF_RANGE,
                         "%s: %s is not loopback tcp, inproc or ipc inside ipc_dir; control may set it only "
                         "with \"%s\" in control_mutable", label, endpoint, SETTINGS_REMOTE_ENDPOINTS);
}

settings_code_t
settings_check_control(const settings_t *current, const settings_t *next, settings_error_t *err)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field_t *f = &s_fields[i];
        if (!f->startup_only && !settings_list_has(&current->control_mutable, f->name)
            && memcmp((const char *) current + f->offset, (const char *) next + f->offset, f->size) != 0)
            return settings_fail(err, SETTINGS_ERR_IMMUTABLE,
                                 "%s may not be changed over control (it is not in control_mutable)", f->name);
    }
    const struct {
        const char *name;
        const settings_list_t *now, *then;
    } lists[] = {{"sub", &current->sub, &next->sub}, {"sub_bind", &current->sub_bind, &next->sub_bind}};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l].then->count; i++) {
            if (settings_list_has(lists[l].now, lists[l].then->item[i]))
                continue;
            char label[32];
            snprintf(label, sizeof label, "%s[%zu]", lists[l].name, i);
            settings_code_t rc = s_endpoint_allowed(current, label, lists[l].then->item[i], err);
            if (rc)
                return rc;
        }
    return SETTINGS_OK;
}

unsigned
settings_diff(const settings_t *old, const settings_t *new_)
{
    unsigned actions = 0;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field_t *f = &s_fields[i];
        if (memcmp((const char *) old + f->offset, (const char *) new_ + f->offset, f->size))
            actions |= f->action;
    }
    return actions;
}

static cJSON *
s_field_json(const settings_t *s, const field_t *f)
{
    const char *member = (const char *) s + f->offset;
    char text[8];
    switch (f->kind) {
    case K_BUF_DUR:
        return cJSON_CreateNumber(s->buf_dur);
    case K_HEADER:
        return cJSON_CreateString(settings_header_name(s->header));
    case K_LOG_LEVEL:
        return cJSON_CreateString(settings_log_level_name(s->log_level));
    case K_ENDPOINTS:
    case K_TOPICS:
    case K_FIELDS: {
        const settings_list_t *list = (const settings_list_t *) member;
        cJSON *array = cJSON_CreateArray();
        for (size_t i = 0; array && i < list->count; i++)
            if (!cJSON_AddItemToArray(array, cJSON_CreateString(list->item[i]))) {
                cJSON_Delete(array);
                return NULL;
            }
        return array;
    }
    case K_MODE:
        snprintf(text, sizeof text, "%04o", s->shm_mode);
        return cJSON_CreateString(text);
    case K_INT:
        return cJSON_CreateNumber(*(const int *) member);
    case K_INT64:
        return cJSON_CreateNumber((double) *(const int64_t *) member);
    default:   /* the string kinds; "" is null where null is allowed */
        return *member || !f->nullable ? cJSON_CreateString(member) : cJSON_CreateNull();
    }
}

/*  The fields of s as a JSON object: every field (part < 0), the shared ones (0) or the
    per-stream ones (1). */
static cJSON *
s_to_json(const settings_t *s, int part)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < N_FIELDS; i++) {
        if (part >= 0 && s_fields[i].per_stream != (part == 1))
            continue;
        cJSON *value = s_field_json(s, &s_fields[i]);
        if (!value || !cJSON_AddItemToObject(obj, s_fields[i].name, value)) {
            cJSON_Delete(value);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

cJSON *
settings_to_json(const settings_t *s)
{
    return s_to_json(s, -1);
}

cJSON *
settings_part_to_json(const settings_t *s, bool per_stream)
{
    return s_to_json(s, per_stream ? 1 : 0);
}
