/*  web_backend.h — one ezshmd as ezshm-web's peer: its control socket (REQ) and its
    events (SUB).

    Calls are queued and sent one at a time (REQ); each has a deadline counted from the
    call, and a call past it is answered with NULL ("no answer") while the socket moves
    on: ZMQ_REQ_RELAXED lets the next request go without the late reply, which
    ZMQ_REQ_CORRELATE then discards. ZMQ_IMMEDIATE keeps a request out of ZeroMQ's pipes
    while no connection to ezshmd is complete: it waits in the queue for one (until its
    deadline), so an update never reaches a restarted daemon long after it timed out.

    No thread and no blocking call: the caller polls the two fds (ZMQ_FD: a change of the
    socket's state, edge-style) with its other fds and calls web_backend_process when one
    fires and when web_backend_deadline passes. The events endpoint is learned from
    ezshmd's own settings ("events" of a get reply; a wildcard host becomes the control
    endpoint's host), so there is nothing to configure twice.
*/
#ifndef EZSHM_WEB_BACKEND_H
#define EZSHM_WEB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _web_backend_t web_backend_t;

/*  A call's answer: the parsed reply object (the callee owns it), or NULL when ezshmd gave
    none in time (or not a JSON object). */
typedef void(web_reply_fn)(void *arg, cJSON *reply);

/*  One event from the events socket: its JSON text (frame 2), NUL-terminated. */
typedef void(web_event_fn)(void *arg, web_backend_t *from, const char *json, size_t len);

/*  Sockets for the control endpoint (connect only: nothing is sent yet). timeout: seconds
    a call may take; curve_client/curve_server: both or neither. NULL with err on failure. */
web_backend_t *web_backend_new(const char *endpoint, double timeout, const char *curve_client,
                               const char *curve_server, web_event_fn *on_event, void *event_arg, char *err,
                               size_t errlen);

void web_backend_destroy(web_backend_t **self_p);

const char *web_backend_endpoint(const web_backend_t *self);

/*  Queues the request text (copied); fn(arg, reply) is called exactly once, from
    web_backend_process or web_backend_destroy. Returns 0, or -1 when out of memory (fn is
    not called). */
int web_backend_call(web_backend_t *self, const char *request, web_reply_fn *fn, void *arg);

/*  The ZMQ_FD of the REQ and of the SUB socket. */
int web_backend_req_fd(web_backend_t *self);
int web_backend_sub_fd(web_backend_t *self);

/*  Receives what waits (replies, events), sends the next request, fails calls past their
    deadline. now: CLOCK_MONOTONIC seconds. */
void web_backend_process(web_backend_t *self, double now);

/*  The earliest deadline of a pending call (monotonic seconds), 0 when none is pending. */
double web_backend_deadline(const web_backend_t *self);

/*  Calls that got no reply in time, since the start. */
uint64_t web_backend_timeouts(const web_backend_t *self);

#ifdef __cplusplus
}
#endif
#endif
