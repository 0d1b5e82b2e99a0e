/*  control_server.h — ezshmd's control endpoint (REP) and events publisher (PUB).

    The server owns the current settings. Each request gets exactly one reply, and an
    update is validated in full (merge + startup-only rule + cross-field rules) before
    the daemon's apply callback sees it: all or nothing. The server knows settings,
    never the ring; the daemon does the work in its callbacks.

    Wiring into a poll() loop (the daemon's; see docs/control-protocol.md). ZeroMQ signals
    the REP socket's fd edge-style, so each time it fires, drain it:

        control_server_t *ctl = control_server_new(&settings, &callbacks, daemon, err, len);
        struct pollfd pfd = {control_server_fd(ctl), POLLIN, 0};
        bool more = true;                        // requests may already wait
        while (!quit_requested) {                // set by callbacks.quit
            poll(&pfd, 1, more ? 0 : -1);
            more = control_server_drain(ctl, 64) == 64;
        }
        control_server_destroy(&ctl);
*/
#ifndef EZSHM_CONTROL_SERVER_H
#define EZSHM_CONTROL_SERVER_H

#include <czmq.h>
#include <cjson/cJSON.h>
#include "settings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _control_server_t control_server_t;

typedef enum {
    CONTROL_HEALTH_INGESTING,   /* messages are arriving and being written       */
    CONTROL_HEALTH_IDLE,        /* ready (header exists, subscribed), no traffic */
    CONTROL_HEALTH_ERROR        /* cannot ingest; detail says why                */
} control_health_t;

/*  The daemon's side. apply, status, health and quit are required; the stream table
    (find, add_stream, remove_stream, list) is optional: without it the server's own settings
    are the one stream. A stream is named by its shmem_name and identified, in the calls
    below, by the settings pointer find returned for it (or the server's own settings, see
    control_server_settings, for "the daemon's defaults" when there is no stream). ctx is
    passed back untouched.*/
typedef struct {
    /*  Move the stream whose settings are old to new_ (already validated; actions != 0 is
        the SETTINGS_ACT_* set; RESUBSCRIBE and LOG_LEVEL concern the whole daemon). Append
        each lifecycle event name, in order, to the array applied ("meta cleanup",
        "buffer cleanup", "meta reset", "begin update", "meta updated", "buffer reset",
        "close"), and publish them with control_server_publish_event() if wanted. Return 0
        with new_ in force for that stream and the shared fields of new_ for every stream;
        or, with a message in err, having left old in force, -1 (reported as apply_failed)
        or the settings_code_t to report (e.g. SETTINGS_ERR_NAME_IN_USE). */
    int (*apply)(void *ctx, const settings_t *old, const settings_t *new_, unsigned actions,
                 cJSON *applied, char *err, size_t errlen);
    /*  Add whatever describes the running state of stream (NULL: the whole daemon) to the
        (empty) object out. */
    void (*status)(void *ctx, const settings_t *stream, cJSON *out);
    /*  Health of stream (NULL: the whole daemon, the worst of its streams); an optional
        one-line detail into detail ("" by default). */
    control_health_t (*health)(void *ctx, const settings_t *stream, char *detail, size_t detail_len);
    /*  Called after the reply to "quit" is sent: the caller's loop should end. */
    void (*quit)(void *ctx);
    /*  The settings of the stream named name, NULL if there is none; name NULL: the only
        stream, NULL when there are none or several. *count gets the number of streams. */
    const settings_t *(*find)(void *ctx, const char *name, size_t *count);
    /*  Creates a stream for messages of exactly topic with settings s (validated and
        resolved; no stream of that name exists). SETTINGS_OK, or a code with err filled
        (stream_exists for a topic already routed, apply_failed, out_of_range for the ring
        budget or the stream limit). */
    settings_code_t (*add_stream)(void *ctx, const char *topic, const settings_t *s, cJSON *applied,
                                  settings_error_t *err);
    /*  Removes the stream (unlinking its segments). SETTINGS_OK or a code with err. */
    settings_code_t (*remove_stream)(void *ctx, const settings_t *stream, cJSON *applied,
                                     settings_error_t *err);
    /*  One summary object per stream appended to the array streams. */
    void (*list)(void *ctx, cJSON *streams);
} control_callbacks_t;

/*  Largest request the control socket accepts; bigger ones are dropped by ZeroMQ
    (the peer is disconnected and its request times out). */
#define CONTROL_REQUEST_MAX (1 << 20)

/*  Binds settings->control (REP) and, if set, settings->events (PUB). With
    curve_server_cert set, both sockets are CURVE servers and a zauth actor admits
    only the client certificates in curve_clients_dir ("*" = any client key).
    settings is copied and must already be valid and resolved. Returns NULL with one
    line in err on failure (bad certificate, missing directory, bind error). */
control_server_t *control_server_new(const settings_t *settings, const control_callbacks_t *callbacks,
                                     void *ctx, char *err, size_t errlen);

/*  Closes the sockets and stops the zauth actor; *self_p becomes NULL. */
void control_server_destroy(control_server_t **self_p);

/*  Receives one request and sends its one reply. Blocks if nothing is waiting.
    Returns 0; 1 if the request was quit (reply sent, quit callback called); or -1
    if nothing was received or the reply could not be sent. */
int control_server_handle(control_server_t *self);

/*  The REP socket's ZMQ_FD, for a caller's poll() loop: readable when the socket's state
    changed (edge-style), not for as long as requests wait; see control_server_drain. */
int control_server_fd(control_server_t *self);

/*  Answers the requests that are waiting, up to max, without blocking, and leaves the fd
    above reset when it returns less than max. Returns the number answered (max: more may
    wait, call again), or -1 when a reply could not be sent (the socket stays usable: the
    next call goes on with the next request). A quit request is answered and reported through callbacks.quit;
    the requests after it stay queued. */
int control_server_drain(control_server_t *self, int max);

/*  Applies an update as an "update" request naming stream (NULL: none named) would (merge,
    validation, the apply callback, all or nothing) but without the rules for what control
    may change (control_mutable, endpoint confinement: settings_check_control) — for the
    daemon's own reload path (SIGHUP), whose settings come from the operator's files. Returns
    the reply object the request would have got (caller deletes), or NULL when out of memory. */
cJSON *control_server_update(control_server_t *self, const char *stream, const cJSON *fields);

/*  Adds a stream as an "add_stream" request {"stream": name, "topic": topic, "settings":
    fields} would (fields: per-stream fields only, or NULL; the same checks and the add_stream
    callback), without settings_check_control — for the reload of the declared streams. The
    reply object, or NULL when out of memory. */
cJSON *control_server_add_stream(control_server_t *self, const char *name, const char *topic,
                                 const cJSON *fields);

/*  Removes stream name as a "remove_stream" request would (its segments unlinked). The reply
    object, or NULL when out of memory. */
cJSON *control_server_remove_stream(control_server_t *self, const char *name);

/*  The daemon-wide settings in force: the shared fields, and the per-stream fields new
    streams start from. With one stream and no stream table, that stream's settings. */
const settings_t *control_server_settings(control_server_t *self);

/*  Takes the per-stream fields of defaults but shmem_name (buf_dur, axis, header,
    max_stream_bytes) as those new streams start from (add_stream; "get" without a stream
    shows them); the shared fields stay as they are. For a reload with a stream table, whose
    per-stream defaults no request changes. */
void control_server_set_defaults(control_server_t *self, const settings_t *defaults);

/*  Publishes ["ezshm.event", {"event": event, ...fields}] on the events socket;
    fields (an object, or NULL) is copied, not taken. No events socket: does nothing.
    Returns 0 or -1. */
int control_server_publish_event(control_server_t *self, const char *event, const cJSON *fields);

/*  Wire name of a health state: "ingesting", "idle", "error". */
const char *control_health_name(control_health_t health);

#ifdef __cplusplus
}
#endif
#endif
