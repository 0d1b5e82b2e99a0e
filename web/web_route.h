/*  web_route.h — what an HTTP request asks for, before any socket is touched.

    Pure functions (no libwebsockets, no ZeroMQ) so that the fuzz harness drives them
    with arbitrary bytes: the router maps a method and a path to an endpoint and the
    stream name it carries; the settings body becomes the control request ezshmd gets;
    a control error code becomes its HTTP status.

    Stream names hold '/' ("rig1/eeg"): /api/v1/streams/{name} takes the whole rest of
    the path as the name, so both /api/v1/streams/rig1/eeg and the percent-encoded
    /api/v1/streams/rig1%2Feeg address the stream "rig1/eeg" (libwebsockets has decoded
    the percent escapes before the router sees the path). docs/http-api.md.
*/
#ifndef EZSHM_WEB_ROUTE_H
#define EZSHM_WEB_ROUTE_H

#include "console_assets.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEB_NAME_MAX 255            /* a shmem_name's longest form, in bytes */
#define WEB_BODY_MAX (64 * 1024)    /* largest settings body accepted        */

typedef enum {
    WEB_NOT_FOUND,
    WEB_METRICS,      /* GET /metrics                      */
    WEB_HEALTHZ,      /* GET /healthz                      */
    WEB_READYZ,       /* GET /readyz                       */
    WEB_STREAMS,      /* GET /api/v1/streams               */
    WEB_STREAM,       /* GET /api/v1/streams/{name}        */
    WEB_SETTINGS,     /* GET /api/v1/settings              */
    WEB_SETTINGS_SET, /* PUT or PATCH /api/v1/settings     */
    WEB_EVENTS,       /* GET /api/v1/events (SSE)          */
    WEB_CONSOLE,      /* GET /api/v1/console (the WebSocket upgrade only) */
    WEB_CONSOLE_CONFIG, /* GET /api/v1/console/config      */
    WEB_ASSET         /* GET /, /console/NAME, /NAME: a page of the console (asset) */
} web_endpoint_t;

typedef struct {
    web_endpoint_t endpoint;
    int status;                    /* 200 routed; 404, 405 (allow says what), 400    */
    const char *allow;             /* the Allow header of a 405                      */
    char name[WEB_NAME_MAX + 1];   /* WEB_STREAM: the stream's name                  */
    const console_asset_t *asset;  /* WEB_ASSET: the page (compiled in)              */
} web_route_t;

/*  Routes method (as libwebsockets names it: "GET", "PUT", ...) and path (decoded, no
    query). Fills *out; returns out->status. */
int web_route(const char *method, const char *path, web_route_t *out);

/*  The control request for a PUT/PATCH body: {"op": "update", "stream": stream (if not
    NULL), "settings": BODY}, with the body's own text kept as sent (so NaN, duplicate keys
    and the like reach ezshmd's validation and get its error codes). Returns a malloc'd
    string; NULL with a control-protocol code ("bad_json", "not_object") and a message
    when the body is no JSON object. */
char *web_settings_request(const char *body, size_t len, const char *stream, const char **code, char *msg,
                           size_t msglen);

/*  The HTTP status for an ezshmd reply: 200 for {"ok": true}, else by its error code
    (400 malformed, 422 invalid value, 403 immutable, 404 unknown stream, 409 conflict,
    500 apply_failed). */
int web_reply_status(const char *code);

#ifdef __cplusplus
}
#endif
#endif
