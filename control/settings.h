/*  settings.h — the one model of ezshmd's settings.

    Field names follow ezmsg-tools' ShMemCircBuffSettings where one exists. Every
    source of settings (defaults, config file, environment, flags, control requests)
    goes through settings_set_field(), so there is one validator and one set of
    error messages.

    Strings live in fixed-size arrays, so a settings_t is a plain value: copy it with
    '=' and drop it without freeing. An empty string means "none" for the optional
    fields (events, the CURVE fields) and "generate a name" for shmem_name.
*/
#ifndef EZSHM_SETTINGS_H
#define EZSHM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SETTINGS_NAME_MAX 255          /* bytes of shmem_name, axis, an endpoint, a topic */
#define SETTINGS_PATH_MAX 1023         /* bytes of a certificate path                    */
#define SETTINGS_LIST_MAX 32           /* entries of sub, sub_bind, topic                */
#define SETTINGS_BUF_DUR_MAX 86400.0
#define SETTINGS_MSG_MAX 512           /* bytes of an error message, NUL included        */

/*  Stable error codes of the control protocol (their names are on the wire). */
typedef enum {
    SETTINGS_OK = 0,
    SETTINGS_ERR_BAD_JSON,       /* "bad_json"      request is not JSON               */
    SETTINGS_ERR_NOT_OBJECT,     /* "not_object"    JSON but not an object            */
    SETTINGS_ERR_BAD_REQUEST,    /* "bad_request"   multi-frame, missing part, dup key */
    SETTINGS_ERR_UNKNOWN_OP,     /* "unknown_op"                                      */
    SETTINGS_ERR_UNKNOWN_FIELD,  /* "unknown_field"                                   */
    SETTINGS_ERR_WRONG_TYPE,     /* "wrong_type"                                      */
    SETTINGS_ERR_OUT_OF_RANGE,   /* "out_of_range"                                    */
    SETTINGS_ERR_NOT_FINITE,     /* "not_finite"    NaN or +-Infinity                 */
    SETTINGS_ERR_IMMUTABLE,      /* "immutable"     startup-only field changed        */
    SETTINGS_ERR_APPLY_FAILED,   /* "apply_failed"  the daemon could not apply it     */
    SETTINGS_ERR_NAME_IN_USE,    /* "name_in_use"   another live writer holds shmem_name */
    SETTINGS_ERR_UNKNOWN_STREAM, /* "unknown_stream" no stream of that name           */
    SETTINGS_ERR_STREAM_EXISTS,  /* "stream_exists"  name or topic already taken      */
    SETTINGS_ERR_FD_LIMIT,       /* "fd_limit"      no file descriptors left for a stream */
    SETTINGS_ERR_NAME_CONFLICT   /* "name_conflict"  the name equals or generates a segment
                                    name of another stream (x/buffer0 beside x)       */
} settings_code_t;

#define SETTINGS_CODE_COUNT (SETTINGS_ERR_NAME_CONFLICT + 1)

typedef struct {
    settings_code_t code;
    char message[SETTINGS_MSG_MAX];
} settings_error_t;

typedef enum { SETTINGS_HEADER_LEGACY, SETTINGS_HEADER_V1 } settings_header_t;

typedef enum {
    SETTINGS_LOG_ERROR,
    SETTINGS_LOG_WARNING,
    SETTINGS_LOG_INFO,
    SETTINGS_LOG_DEBUG
} settings_log_level_t;

typedef struct {
    size_t count;
    char item[SETTINGS_LIST_MAX][SETTINGS_NAME_MAX + 1];
} settings_list_t;

typedef struct {
    /* Changeable at run time. */
    char shmem_name[SETTINGS_NAME_MAX + 1];    /* "" = generate one (settings_resolve) */
    double buf_dur;                            /* seconds, (0, 86400]                  */
    char axis[SETTINGS_NAME_MAX + 1];
    settings_header_t header;
    settings_list_t sub;                       /* endpoints to connect                 */
    settings_list_t sub_bind;                  /* endpoints to bind                    */
    settings_list_t topic;                     /* prefixes; none = everything          */
    settings_log_level_t log_level;
    /* Startup-only. */
    unsigned shm_mode;                         /* 0..0777                              */
    int64_t max_buffer_bytes;                  /* > 0                                  */
    int rcvhwm;                                /* >= 0                                 */
    int64_t maxmsgsize;                        /* -1 = unlimited, else >= 1            */
    char control[SETTINGS_NAME_MAX + 1];
    char events[SETTINGS_NAME_MAX + 1];        /* "" = no events socket                */
    char curve_server_cert[SETTINGS_PATH_MAX + 1];
    char curve_clients_dir[SETTINGS_PATH_MAX + 1];   /* or "*" = any client key        */
    char sub_curve_serverkey[41];              /* Z85 public key of the publisher      */
    char sub_curve_client_cert[SETTINGS_PATH_MAX + 1];
    char ipc_dir[SETTINGS_PATH_MAX + 1];       /* "" = control sets no ipc:// endpoint   */
    settings_list_t control_mutable;           /* fields control may change            */
    int64_t max_stream_bytes;                  /* per-stream ring cap, 0 = none        */
    char stream_per_topic[SETTINGS_NAME_MAX + 1];    /* "" = off, else a name template */
    int max_streams;                           /* 1..4096                              */
} settings_t;

/*  True if item is one of list's entries. */
bool settings_list_has(const settings_list_t *list, const char *item);

/*  In control_mutable: control may also point sub/sub_bind at endpoints other than
    loopback tcp, inproc and ipc inside ipc_dir. */
#define SETTINGS_REMOTE_ENDPOINTS "remote_endpoints"

/*  Lifecycle actions implied by a change (settings_diff). Bits are independent: the
    daemon decides the order, and RECREATE_META already implies a fresh ring. */
enum {
    SETTINGS_ACT_RECREATE_META = 1u << 0,  /* shmem_name or header changed: destroy ring +
                                              header, create the header under the new name */
    SETTINGS_ACT_RESET_BUFFER = 1u << 1,   /* buf_dur or axis changed: drop the ring; the
                                              next message rebuilds it                     */
    SETTINGS_ACT_RESUBSCRIBE = 1u << 2,    /* sub, sub_bind or topic changed               */
    SETTINGS_ACT_LOG_LEVEL = 1u << 3       /* log_level changed                            */
};

#define SETTINGS_DEFAULT_BUF_DUR 1.0
#define SETTINGS_DEFAULT_AXIS "time"
#define SETTINGS_DEFAULT_SHM_MODE 0600u
#define SETTINGS_DEFAULT_MAX_BUFFER_BYTES (INT64_C(1) << 30)
#define SETTINGS_DEFAULT_RCVHWM 10000
#define SETTINGS_DEFAULT_MAXMSGSIZE (INT64_C(256) << 20)
#define SETTINGS_DEFAULT_CONTROL "tcp://127.0.0.1:5560"
#define SETTINGS_DEFAULT_MAX_STREAMS 64
#define SETTINGS_MAX_STREAMS 4096

/*  Fills s with the defaults (shmem_name "" = to be generated). */
void settings_defaults(settings_t *s);

/*  Wire name of a code ("bad_json", ...); "unknown" for a value outside the enum. */
const char *settings_code_name(settings_code_t code);

/*  Fills err and returns code (for one-line failure paths). printf-style. */
settings_code_t settings_fail(settings_error_t *err, settings_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  True if name is a settings field. */
bool settings_is_field(const char *name);

/*  True if name is a field of ezmsg-tools' ShMemCircBuffSettings that means nothing to ezshmd
    ("conn"): settings_set_field accepts any value under it and changes nothing. Not a field:
    settings_is_field is false for it and get never shows it. */
bool settings_is_ignored(const char *name);

/*  True if name is a startup-only field. */
bool settings_is_startup_only(const char *name);

/*  Sets one field from a JSON value, checking its type and range. JSON null means
    "none" for optional fields and "generate" for shmem_name. On error s is unchanged
    and err says why (unknown_field, wrong_type, out_of_range, not_finite). */
settings_code_t settings_set_field(settings_t *s, const char *name, const cJSON *value,
                                   settings_error_t *err);

/*  Sets every member of a JSON object (all-or-nothing: on error s is unchanged).
    not_object if obj is not an object, bad_request on a duplicated key. */
settings_code_t settings_set_fields(settings_t *s, const cJSON *obj, settings_error_t *err);

/*  True if name is a field each stream has its own value of (shmem_name, buf_dur, axis,
    header, max_stream_bytes); the others are the daemon's, shared by every stream. */
bool settings_is_stream_field(const char *name);

/*  Copies the shared (not per-stream) fields of src into dst. */
void settings_copy_shared(settings_t *dst, const settings_t *src);

/*  Checks rules that span fields (CURVE options come in pairs). */
settings_code_t settings_validate(const settings_t *s, settings_error_t *err);

/*  Gives an empty shmem_name a freshly generated unique one. 0 or -1. */
int settings_resolve(settings_t *s);

/*  out = current + the fields of update, validated, with shmem_name resolved
    (null in the update gives a fresh name). A startup-only field whose value differs
    from current is rejected with immutable. On error out is unspecified. */
settings_code_t settings_merge(const settings_t *current, const cJSON *update, settings_t *out,
                               settings_error_t *err);

/*  The extra rules for a change that comes over the control socket (an update request;
    not SIGHUP, whose settings come from the operator's own files), next being current
    merged with the request:
    - a changed field must be in current->control_mutable (else immutable);
    - a sub/sub_bind endpoint that is new must be inproc://, tcp:// to a loopback host
      (127.0.0.0/8, localhost, [::1]), or ipc:// inside current->ipc_dir, not through a
      symbolic link, and not at an existing path that is not a socket (libzmq unlinks an
      ipc path before binding it) — else out_of_range, unless control_mutable holds
      SETTINGS_REMOTE_ENDPOINTS (then any transport and host, ipc still confined). */
settings_code_t settings_check_control(const settings_t *current, const settings_t *next,
                                       settings_error_t *err);

/*  SETTINGS_ACT_* bits for moving from old to new_ (0 if nothing changed). */
unsigned settings_diff(const settings_t *old, const settings_t *new_);

/*  Every field as a JSON object (NULL on out of memory); parses back to the same. */
cJSON *settings_to_json(const settings_t *s);

/*  Only the per-stream fields (per_stream true: shmem_name, buf_dur, axis, header,
    max_stream_bytes) or only the shared ones, as settings_to_json writes them. */
cJSON *settings_part_to_json(const settings_t *s, bool per_stream);

/*  Text of an enum value ("legacy", "v1" / "error", "warning", "info", "debug"). */
const char *settings_header_name(settings_header_t h);
const char *settings_log_level_name(settings_log_level_t level);

#ifdef __cplusplus
}
#endif
#endif
