/*  daemon.h — ezshmd: one event loop over the SUB socket, the control socket and signals.

        daemon_t *d = daemon_new(&settings, err, sizeof err);   // binds, creates the header
        int rc = daemon_run(d);                                 // until SIGINT/SIGTERM/quit
        daemon_destroy(&d);                                     // unlinks the segments

    The loop is one poll() over the SUB and control sockets' ZMQ_FDs and a signalfd. The data
    path (SUB → wire → ingest → writer) drains up to 1024 waiting messages or 10 ms per turn;
    control requests and signals are served between two batches, so they wait 10 ms plus one
    message at most, and an update pauses ingest for the time of one update only.
*/
#ifndef EZSHM_DAEMON_H
#define EZSHM_DAEMON_H

#include "settings.h"

#include <cjson/cJSON.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct daemon_t daemon_t;

/*  Sets everything up from validated settings and the declared streams (a JSON array of
    {"topic": exact topic, per-stream fields...}; NULL or empty: none). No stream declared and
    no stream_per_topic: one stream takes every topic, as ezshmd always did. NULL with one
    line in err on failure (bad endpoint, address in use, segment error, bad declaration). */
daemon_t *daemon_new(const settings_t *settings, const cJSON *streams, char *err, size_t errlen);

/*  Where SIGHUP gets fresh settings (flags, environment, config file again): fills out and
    *streams (the declared streams as daemon_new takes them; the caller deletes it), or
    returns -1 with one line in err. */
typedef int (daemon_reload_fn)(void *arg, settings_t *out, cJSON **streams, char *err, size_t errlen);

/*  Enables reload on SIGHUP (without it SIGHUP is logged and ignored). */
void daemon_set_reload(daemon_t *self, daemon_reload_fn *reload, void *arg);

/*  Blocks SIGINT, SIGTERM and SIGHUP in the calling thread; call it first thing in main,
    before any ZeroMQ context exists, so every thread inherits the mask. The daemon reads
    them from a signalfd inside its loop: deterministic, whichever thread they hit. */
int daemon_block_signals(void);

/*  Runs until a signal or a quit request. Returns 0 on a clean stop, -1 if poll() failed. */
int daemon_run(daemon_t *self);

/*  Closes sockets, unlinks the segments, frees. */
void daemon_destroy(daemon_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
