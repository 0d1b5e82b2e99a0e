/*  web_server.h — ezshm-web's HTTP listener and its one event loop.

    libwebsockets' service loop is the only loop: the HTTP listener and connections are
    its own fds, and each ezshmd's control (REQ) and events (SUB) sockets join it as
    adopted file descriptors (a dup of their ZMQ_FD, since libwebsockets closes what it
    adopts), so a reply or an event wakes the loop at once, and an idle ezshm-web sleeps.
    One timer covers the deadlines of calls to ezshmd. docs/http-api.md describes what is
    served; docs/architecture.md why it is built this way.
*/
#ifndef EZSHM_WEB_SERVER_H
#define EZSHM_WEB_SERVER_H

#include <stddef.h>
#include "web_options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _web_server_t web_server_t;

/*  Listens on opt's address and connects to every ezshmd. NULL with err on failure. */
web_server_t *web_server_new(const web_options_t *opt, char *err, size_t errlen);

void web_server_destroy(web_server_t **self_p);

/*  Serves until *stop becomes nonzero (a signal handler sets it). Returns 0. */
int web_server_run(web_server_t *self, volatile int *stop);

#ifdef __cplusplus
}
#endif
#endif
