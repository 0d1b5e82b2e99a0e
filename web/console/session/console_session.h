/*  console_session.h — one browser's console WebSocket without the socket: the messages of
    docs/console.md §3 parsed and answered, the subscription's decimator, the flow control of
    §4. The server owns the connection and the clock; this class decides.

        console_session_t *s;
        console_session_new(known_fn, server, &s);
        // lws RECEIVE (a whole text message):
        console_session_receive(s, text, len);                 // then send every next_text
        // the pump thread (or the loop), asleep in the wait API between turns:
        ezshm_mirror_wait_frames(console_session_mirror(s, &block), block, 200);
        console_session_pump(s, 65536, &more);
        if (console_session_frame_due(s, now)) -> lws_callback_on_writable
        // lws SERVER_WRITEABLE:
        while ((text = console_session_next_text(s))) { lws_write TEXT; free(text); }
        if (console_session_frame_due(s, now))
            console_session_encode(s, now, buf + LWS_PRE, cap, &len) -> lws_write BINARY

    Bounded: one encoded frame per client (the caller's buffer, CONSOLE_FRAME_MAX_BYTES at
    most), sent only after the browser's "drawn" for the previous one; text messages wait in
    an outbox of CONSOLE_SESSION_OUTBOX (a newer one drops the oldest when it is full: they
    are states and errors, the newest says what holds). Not thread-safe: a lock per
    connection around every call when a pump thread and the lws thread share it.
*/
#ifndef CONSOLE_SESSION_H
#define CONSOLE_SESSION_H

#include "console_frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONSOLE_MESSAGE_MAX 4096      /* bytes of one browser message       */
#define CONSOLE_SESSION_OUTBOX 8      /* text messages waiting to be sent   */
#define CONSOLE_FPS_DEFAULT 30
#define CONSOLE_FPS_MAX 60

typedef struct console_session_t console_session_t;

/*  Whether a stream of that name exists on a configured ezshmd (the server's view, e.g. its
    last "streams" replies). NULL: every name is accepted (an absent one waits). */
typedef bool (console_stream_known_fn)(void *arg, const char *name);

int console_session_new(console_stream_known_fn *known, void *arg, console_session_t **out);
void console_session_destroy(console_session_t **self_p);

/*  One text message from the browser. NULL when it was taken; else the error code it got
    ("too_big", "bad_json", "unknown_type", "bad_request", "unknown_stream"), with an error
    message in the outbox, and nothing else changed. */
const char *console_session_receive(console_session_t *self, const char *text, size_t len);

/*  Carries out the browser's requests since the last call (a new stream, view, resume,
    unsubscribe: the only place a decimator is made or dropped), takes what arrived into the
    plot (console_decimate_pump) and notes changes of state and of the stream for the
    browser. Nothing to read (no subscription, paused): EZSHM_OK, *more false. Otherwise the
    pump's result (EZSHM_ERR_NOMEM when the decimator could not be made). */
int console_session_pump(console_session_t *self, uint64_t max_frames, bool *more);

/*  The mirror a pump thread sleeps on and the frames per wake-up (srate / fps, at least 1;
    1 before the first attach). NULL with *block 0: a request waits for the next pump (call
    it now); NULL with *block 1: nothing to read (no subscription, paused: sleep on the
    connection's own signal). The mirror stays valid until the next console_session_pump
    (receive never frees one: a pump thread may be asleep on it), so a pump thread that
    sleeps on it without the lock is safe; it sees a new request at its next wake-up (the
    wait's timeout bounds how late). */
ezshm_mirror_t *console_session_mirror(console_session_t *self, uint64_t *block);

/*  The next text message for the browser (malloc'd, NUL-terminated; the caller frees it),
    NULL when none waits. Send them before any frame. */
char *console_session_next_text(console_session_t *self);

/*  True when a text message waits (console_session_next_text would give one). */
bool console_session_has_text(const console_session_t *self);

/*  True when a frame may go now: a subscription with a ring, the previous frame
    acknowledged, 1/fps since it went, and a plot that changed since (or the frozen frame
    of a pause not sent yet). */
bool console_session_frame_due(const console_session_t *self, double now);

/*  Bytes the next frame needs. */
size_t console_session_frame_size(const console_session_t *self);

/*  Encodes the frame into dst (cap bytes) and counts it sent at now: the next waits for its
    "drawn". EZSHM_ERR_INVAL when no frame is due or cap is too small. */
int console_session_encode(console_session_t *self, double now, uint8_t *dst, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
