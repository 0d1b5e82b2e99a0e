/*  web_console.h — the console WebSocket's connections and their one pump thread
    (docs/console.md §4, §5).

    The lws thread owns the sockets; one pump thread for all connections owns the reading:
    it sleeps in ezshm_mirror_wait_any over every session's mirror (a futex wait cannot sit
    in lws' poll loop), pumps each session under the console's lock, and hands "something
    to send" to the loop with lws_cancel_service. The loop then asks lws_callback_on_writable
    for the flagged connections (web_console_flush) and writes one message per writable
    callback (web_console_writable). A connection closed by lws is only marked; the pump
    thread destroys its session, so a mirror it sleeps on is never freed under it.

        web_console_new(ctx, max, &c);
        // ws protocol callback:
        ESTABLISHED:             web_console_open(c, wsi, &conn)   (-1: at the bound)
        RECEIVE:                 web_console_receive(conn, in, len, first, final, binary)
        SERVER_WRITEABLE:        web_console_writable(conn)
        CLOSED:                  web_console_close(conn)
        EVENT_WAIT_CANCELLED:    web_console_flush(c)
        web_console_destroy(&c);   // before lws_context_destroy
*/
#ifndef EZSHM_WEB_CONSOLE_H
#define EZSHM_WEB_CONSOLE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _web_console_t web_console_t;
typedef struct _web_console_conn_t web_console_conn_t;

/*  At most max connections; starts the pump thread. 0, or an EZSHM_ERR_* code. */
int web_console_new(struct lws_context *ctx, int max, web_console_t **out);

/*  Stops the pump thread and frees every session. Call before lws_context_destroy. */
void web_console_destroy(web_console_t **self_p);

/*  Connections now (open, or closed and not yet freed by the pump thread). */
int web_console_clients(web_console_t *self);

/*  A new connection for wsi: 0, or -1 when max connections are open (or out of memory). */
int web_console_open(web_console_t *self, struct lws *wsi, web_console_conn_t **out);

/*  A piece of a browser message; the whole message goes to the session at its last piece. */
void web_console_receive(web_console_conn_t *conn, const void *in, size_t len, bool first, bool final, bool binary);

/*  Writes one message (a text first, else the frame when one is due). 0, or -1 to close. */
int web_console_writable(web_console_conn_t *conn);

/*  The connection is gone: the pump thread frees it. */
void web_console_close(web_console_conn_t *conn);

/*  Asks for writable on every connection the pump flagged. lws thread only. */
void web_console_flush(web_console_t *self);

#ifdef __cplusplus
}
#endif
#endif
