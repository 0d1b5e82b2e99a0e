/*  subscriber.h — the SUB socket: endpoints, topic prefixes, HWM, size limit, CURVE, and a
    zero-copy receive that hands the frames to the decoder without copying them. */
#ifndef EZSHM_SUBSCRIBER_H
#define EZSHM_SUBSCRIBER_H

#include "settings.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct subscriber_t subscriber_t;

/*  A SUB socket with s's rcvhwm, maxmsgsize, CURVE client settings, connected to s->sub,
    bound to s->sub_bind and subscribed to s->topic (everything when empty). NULL with one
    line in err on failure. */
subscriber_t *subscriber_new(const settings_t *s, char *err, size_t errlen);
void subscriber_destroy(subscriber_t **self_p);

/*  The socket's ZMQ_FD, for the event loop's poll(). ZeroMQ signals it edge-style: it becomes
    readable when the socket's state changes, not for as long as messages wait. So after it
    fires, and after any other operation on the socket (subscriber_update), receive until
    subscriber_recv returns 0 before sleeping on it again. */
int subscriber_fd(subscriber_t *self);

/*  Receives one whole message without blocking. Returns 1 with its frames in frames[0..*n)
    (valid until the next call; a message of more than max frames reports max frames, so the
    decoder rejects it), or 0 when nothing is waiting (which also resets the fd above). */
int subscriber_recv(subscriber_t *self, wire_frame_t *frames, size_t max, size_t *n);

/*  Moves to next's endpoints and topics: new ones added, dropped ones removed. When an
    endpoint is refused the subscription is restored and -1 returned with err set. */
int subscriber_update(subscriber_t *self, const settings_t *next, char *err, size_t errlen);

/*  Adds "connect", "bind" (as configured), "bound_endpoints" (as resolved: the real port of
    a "tcp://127.0.0.1:*" bind) and "topics" arrays to out. */
void subscriber_status(const subscriber_t *self, cJSON *out);

#ifdef __cplusplus
}
#endif
#endif
