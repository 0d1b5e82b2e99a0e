/*  stream.h — one stream of ezshmd: a topic routed to one ShMemCircBuff-compatible ring.

        stream_t *s = stream_new("eeg", &settings, &hooks, err, sizeof err);   // header created
        stream_process(s, frames, nframes);        // decode → ingest → ring, counted
        stream_destroy(&s);                        // unlinks its segments

    Everything a stream owns is here: its exact topic (or every topic), its settings (the
    per-stream fields are its own, the shared ones are the daemon's), its decoder (so a native
    stream keeps its header cache hot among interleaved streams), ingest step, writer, counters
    and health. A message on one stream never touches another stream's state.
*/
#ifndef STREAM_H
#define STREAM_H

#include "control_server.h"
#include "counters.h"
#include "ezshm.h"
#include "settings.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stream_t stream_t;

/*  What a stream reports to its owner. arg is passed back untouched. */
typedef struct {
    /*  A writer lifecycle event of stream self. */
    void (*on_event)(void *arg, stream_t *self, ezshm_event_t code, uint32_t generation);
    /*  May stream self hold a ring of ring_bytes and an aux (metadata) segment of aux_bytes?
        Asked before either is created. DROP_OK or a drop reason with errbuf. */
    int (*budget)(void *arg, stream_t *self, uint64_t ring_bytes, uint64_t aux_bytes, char *errbuf,
                  size_t errlen);
    /*  Optional: unmaps a ring the stream dropped (see ezshm_retire_fn); NULL: at once. */
    void (*retire)(void *arg, void *addr, size_t size, int fd);
    void *arg;
} stream_hooks_t;

/*  A stream for messages of exactly topic (topic NULL: every topic) with settings, which must
    be valid and resolved (a shmem_name). Creates the header segment. NULL with one line in
    err on failure (naming the writer that holds the name); *shm_rc (if not NULL) gets the
    writer's EZSHM_* code. */
stream_t *stream_new(const void *topic, size_t topic_len, const settings_t *settings,
                     const stream_hooks_t *hooks, int *shm_rc, char *err, size_t errlen);

/*  One info line: name, topic, header segment, layout. */
void stream_log(const stream_t *self);

/*  Unlinks the stream's segments and frees it; NULL-safe. */
void stream_destroy(stream_t **self_p);

/*  True when a message of this topic belongs to the stream. */
bool stream_matches(const stream_t *self, const void *topic, size_t len);

/*  True when the stream takes every topic (the single-stream flags of ezshmd). */
bool stream_takes_all(const stream_t *self);

/*  The exact topic (no NUL inside: every way a stream is made refuses one); NULL when the
    stream takes every topic. */
const char *stream_topic(const stream_t *self);

/*  One message: decode, ingest, count. */
void stream_process(stream_t *self, const wire_frame_t *frames, size_t nframes);

/*  Reserves up to max_bytes more of the live ring's pages (rings are created sparse, so a
    rebuild does not stall the loop); true while some remain. A folder that filled up
    meanwhile drops the ring (logged, counted as one no_space drop, health error); the next
    message rebuilds it or counts no_space. */
bool stream_reserve(stream_t *self, uint64_t max_bytes);

/*  The stream's settings in force (updated by stream_apply). */
const settings_t *stream_settings(const stream_t *self);
/*  The live name: during a rename, events already carry the new one. */
const char *stream_name(const stream_t *self);
counters_t *stream_counters(stream_t *self);
/*  The transport delay of the stream's last messages (min/median/max...) as JSON. */
cJSON *stream_delay_json(const stream_t *self);
/*  Coordinate axes left out of the stream metadata (not carried by the aux segment). */
uint64_t stream_axes_left_out(const stream_t *self);
/*  Metadata builds whose attrs were left out as a whole for being over the bound. */
uint64_t stream_attrs_left_out(const stream_t *self);
/*  Native messages whose header came from the decoder's cache. */
uint64_t stream_cache_hits(const stream_t *self);

/*  The ring-side part of a settings update (RECREATE_META, RESET_BUFFER) from the stream's
    settings to next (the writer's events reach the stream hooks' on_event). 0, or -1 with err, having gone back
    to the old settings where possible, or SETTINGS_ERR_NAME_IN_USE when another writer holds
    the new name (nothing changed). On 0 the stream's settings become next. */
int stream_apply(stream_t *self, const settings_t *next, unsigned actions, char *err, size_t errlen);

/*  The shared fields changed (resubscribe, log level): the stream keeps them in its copy. */
void stream_share(stream_t *self, const settings_t *shared);

/*  Ring bytes of the live ring (0 without one). */
uint64_t stream_ring_bytes(const stream_t *self);
/*  Bytes of the stream's published metadata (its aux segment; 0 when none). */
uint64_t stream_aux_bytes(const stream_t *self);

/*  The stream's status object (name, segments, ring fields, counters) into out. */
void stream_status(stream_t *self, cJSON *out);

/*  The stream's one-line summary for the `streams` listing (name, topic, shape, rates,
    health) into out. */
void stream_summary(stream_t *self, cJSON *out);

/*  Health of the stream with an optional detail line. */
control_health_t stream_health(stream_t *self, char *detail, size_t detail_len);

#ifdef __cplusplus
}
#endif
#endif
