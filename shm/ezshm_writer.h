/*  ezshm_writer.h — the ring writer, ShMemCircBuff semantics.

    A writer owns one stream: a header segment short(name) and, once the first chunk told it
    the data's shape, a ring short(name + "/buffer" + generation). Each chunk comes with its
    ring spec (dtype, srate, ring length, frame shape, key); when the spec differs from the
    live ring's, the ring is rebuilt under generation + 1.

        ezshm_writer_t *w;
        ezshm_writer_options_t opt;
        ezshm_writer_options_init(&opt);
        int rc = ezshm_writer_new("my-stream", &opt, &w);
        rc = ezshm_writer_configure(w, &spec);          // per chunk: cheap when unchanged
        rc = ezshm_writer_write(w, frames, n);          // buffered axis first, C order
        ezshm_writer_destroy(&w);                       // unlinks both segments

    Not thread-safe: one thread drives a writer. A writer only ever unlinks segments it
    created (checked by device and inode just before). With ezshm_guard_enable(), a segment
    truncated by another process makes the call that faulted return EZSHM_ERR_BUS instead of
    killing the process: a lost ring is dropped and the next configure rebuilds it as a new
    generation; a lost header is recreated at once (ezshm_writer_faults counts them).
*/
#ifndef EZSHM_WRITER_H
#define EZSHM_WRITER_H

#include "ezshm_clock.h"
#include "ezshm_header.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ezshm_writer_t ezshm_writer_t;

/*  The writer's lifecycle, in ShMemCircBuff's words (ezshm_event_name gives them). */
typedef enum {
    EZSHM_EVENT_META_RESET,       /* "meta reset":     header created, placeholders         */
    EZSHM_EVENT_BEGIN_UPDATE,     /* "begin update":   a rebuild starts (bvalid 0)          */
    EZSHM_EVENT_META_UPDATED,     /* "meta updated":   the header holds the new ring's spec */
    EZSHM_EVENT_BUFFER_CLEANUP,   /* "buffer cleanup": a ring was unlinked                  */
    EZSHM_EVENT_BUFFER_RESET,     /* "buffer reset":   the new ring exists (bvalid 1 next)  */
    EZSHM_EVENT_META_CLEANUP,     /* "meta cleanup":   the header was unlinked              */
    EZSHM_EVENT_CLOSE             /* "close":          the writer is gone                   */
} ezshm_event_t;

/*  The event's text, as ezmsg-tools logs it and ezshmd publishes it ("buffer reset");
    "unknown" outside the enum. */
const char *ezshm_event_name(ezshm_event_t event);

/*  Lifecycle callback; generation is the header's buffer_generation after the event
    (for EZSHM_EVENT_BUFFER_CLEANUP: the generation of the ring dropped). */
typedef void (ezshm_event_fn)(void *arg, ezshm_event_t event, uint32_t generation);

/*  Log callback for conditions the caller should hear about but that are not errors
    (a stale segment reclaimed). */
typedef void (ezshm_log_fn)(void *arg, const char *message);

/*  Takes a dropped ring's mapping (its name already unlinked) off the writer's hands: the
    callee unmaps addr/size and closes fd when it is not -1 — now or later, from any thread.
    Freeing a ring's pages when its last mapping goes takes ≈ 0.25 ms per MB, which an event
    loop may rather not wait for. A rebuild whose new ring does not fit in the free space
    beside the old ring's pages frees them itself, at once. */
typedef void (ezshm_retire_fn)(void *arg, void *addr, size_t size, int fd);

typedef struct {
    ezshm_layout_t  layout;           /* default EZSHM_LAYOUT_LEGACY */
    unsigned        mode;             /* segment permission bits, default 0600 */
    uint64_t        max_ring_bytes;   /* default 1 GiB */
    bool            no_clock;         /* true: no clock segment (no timestamps, readers poll);
                                         default false, true when $EZSHM_CLOCK is "0" */
    bool            reserve_in_steps; /* true: a new ring is only checked against the free
                                         space; its pages are reserved by the caller's
                                         ezshm_writer_reserve() calls (an event loop's rebuild
                                         then takes ~0.1 ms, not ~1.5 ms per 2 MB); default false */
    ezshm_retire_fn *on_retire;       /* optional: who unmaps a dropped ring (default: the
                                         writer, at once) */
    ezshm_event_fn *on_event;         /* optional */
    ezshm_log_fn   *on_log;           /* optional */
    void           *arg;              /* passed to the callbacks */
} ezshm_writer_options_t;

/*  What a chunk needs of the ring. frame_shape has frame_ndim entries (0..63). */
typedef struct {
    char            dtype;
    double          srate;
    uint64_t        n_frames;
    uint32_t        frame_ndim;
    const uint64_t *frame_shape;
    const char     *key;
    size_t          key_len;
} ezshm_ring_spec_t;

/*  Copies frames [first, first + count) of the current chunk, buffered axis first and
    C order, to dst (count * frame_bytes bytes). Lets a caller transpose straight into the
    ring. Returns 0, or a non-zero value that aborts the write. */
typedef int (ezshm_copy_fn)(void *arg, void *dst, uint64_t first, uint64_t count);

/*  The ezshm_copy_fn of frames that already lie buffered axis first, C order, end to end:
    arg is an ezshm_contiguous_t. */
typedef struct {
    const void *frames;
    uint64_t    frame_bytes;
} ezshm_contiguous_t;
int ezshm_copy_contiguous(void *arg, void *dst, uint64_t first, uint64_t count);

void ezshm_writer_options_init(ezshm_writer_options_t *opt);

/*  Creates the header segment with placeholders and publishes it atomically under the
    stream's lock (see ezshm_claim.h). name NULL: a generated unique name (ezshm_writer_name
    tells it). opt NULL: defaults. EZSHM_ERR_INUSE when another live writer holds the name
    (nothing touched; ezshm_claim_holder names it); a leftover of a dead writer is reclaimed. */
int ezshm_writer_new(const char *name, const ezshm_writer_options_t *opt, ezshm_writer_t **out);

/*  Removes what writers that died (SIGKILL, a crash) left in the segment folder, whatever
    their names — a stream renamed before the kill is never claimed again under a restart's
    configured name — but only what is provably dead: a recorded header (a renamed stream's)
    nobody holds the lock of, with the ring,
    clock, wake and aux segments it names; a hidden temporary header nobody holds whose
    creator is gone (ezshm_claim_reclaim_dead). Each removal is logged through log (NULL:
    silent); *removed (if not NULL) counts headers and temporary files. A daemon calls it at
    start-up. */
int ezshm_writer_reclaim_dead(ezshm_log_fn *log, void *arg, unsigned *removed);

/*  Unlinks ring and header (event "close"), frees, sets *self_p NULL. */
void ezshm_writer_destroy(ezshm_writer_t **self_p);

/*  Makes the live ring match spec: nothing when it does already; else bvalid 0, fields,
    counters 0, generation + 1, old ring unlinked, new ring created, bvalid 1. n_frames must
    be at least EZSHM_RING_MIN_FRAMES. The ring, its clock and wake segments must fit in the
    folder's free space together before any is created (EZSHM_ERR_NOSPACE, no generation
    used); a generation whose ring or clock name a live header holds (another stream named
    "<name>/buffer<g>") is skipped for the next, a few at most (then EZSHM_ERR_INUSE).
    EZSHM_ERR_TOOBIG / EZSHM_ERR_OVERFLOW / EZSHM_ERR_NOSPACE / EZSHM_ERR_INUSE leave no ring
    (bvalid 0);
    EZSHM_ERR_INVAL / EZSHM_ERR_DTYPE change nothing. */
int ezshm_writer_configure(ezshm_writer_t *self, const ezshm_ring_spec_t *spec);

/*  With opt.reserve_in_steps: reserves up to max_bytes more of the ring's pages (the writer
    may already have touched some: those cost nothing). *pending gets the bytes still to
    reserve (0: all done, or no ring). EZSHM_ERR_NOSPACE when the folder filled up meanwhile:
    the ring is dropped (bvalid 0, "buffer cleanup"), as a full folder would have refused it,
    and the next configure makes it again when it fits. */
int ezshm_writer_reserve(ezshm_writer_t *self, uint64_t max_bytes, uint64_t *pending);

/*  Appends n frames (n * frame_bytes bytes) with wrap-around; a chunk longer than the ring
    keeps its newest frames and counts every lap. EZSHM_ERR_NOTREADY without a ring. */
int ezshm_writer_write(ezshm_writer_t *self, const void *frames, uint64_t n);

/*  Same, with the caller copying each contiguous piece itself. */
int ezshm_writer_write_with(ezshm_writer_t *self, uint64_t n, ezshm_copy_fn *copy, void *arg);

/*  Same, with the chunk's timing for the clock segment (NULL: time unknown, wall clock now):
    its anchor is published before its frames, a coordinate axis' times (time->times, n
    values) piece by piece before the piece's frames, and waiting readers are woken after
    the last piece. */
int ezshm_writer_write_timed(ezshm_writer_t *self, uint64_t n, ezshm_copy_fn *copy, void *arg,
                             const ezshm_chunk_time_t *time);

/*  Drops the ring (bvalid 0, "buffer cleanup"); the next configure rebuilds it. */
int ezshm_writer_reset_buffer(ezshm_writer_t *self);

/*  Claims a new name (NULL: generated) with a fresh header (placeholders) in layout, then
    destroys the old ring and header. On failure (EZSHM_ERR_INUSE: another live writer holds
    the name) nothing changed. Only a new layout under the same name drops the old header
    first: if that fails the writer keeps no segments; a later rename may succeed. */
int ezshm_writer_rename(ezshm_writer_t *self, const char *name, ezshm_layout_t layout);

/*  The bytes of the ring spec describes (n_frames * frame bytes) into *bytes, whatever the
    writer's max_ring_bytes. EZSHM_ERR_DTYPE / EZSHM_ERR_INVAL for a spec configure would
    refuse, EZSHM_ERR_OVERFLOW when the size does not fit. */
int ezshm_writer_ring_bytes_for(const ezshm_ring_spec_t *spec, uint64_t *bytes);

/*  True when configure(spec) would change nothing: the live ring is spec's ring, length
    included. False without a ring (a configure would build one). */
bool ezshm_writer_matches(const ezshm_writer_t *self, const ezshm_ring_spec_t *spec);

/*  True when the live ring holds frames of spec's kind: same dtype, srate, frame shape and
    key, whatever spec->n_frames says. A caller that estimates the ring length from jittering
    timestamps keeps the live length (ezshm_writer_meta()->shape[0]) then, instead of
    rebuilding for every new estimate. False without a ring. */
bool ezshm_writer_keeps_ring(const ezshm_writer_t *self, const ezshm_ring_spec_t *spec);

/*  Publishes blob as the stream metadata: the aux segment of docs/shm-layout.md (a pickle,
    see ezshm_pickle.h), v1 layout only (legacy: EZSHM_ERR_INVAL). Bytes equal to the
    published ones cost a comparison. A ring reset keeps it; a rename, a layout change and
    destroy retract it. Errors as ezshm_aux_publish; the previous blob then stays. */
int ezshm_writer_publish_aux(ezshm_writer_t *self, const void *blob, size_t len);

/*  Retracts the blob: meta_generation and aux_nbytes 0, segment unlinked. EZSHM_OK (also
    when there is nothing to retract: legacy layout, no header), EZSHM_ERR_INVAL without a
    writer, EZSHM_ERR_BUS when the header was truncated under it (then recreated, as for a
    write: it names no blob). */
int ezshm_writer_retract_aux(ezshm_writer_t *self);

/*  The published generation and byte count (0 when nothing is published). */
uint32_t ezshm_writer_aux_generation(const ezshm_writer_t *self);
size_t ezshm_writer_aux_bytes(const ezshm_writer_t *self);

/*  Sets the maximum ring size for later rebuilds. */
void ezshm_writer_set_max_ring_bytes(ezshm_writer_t *self, uint64_t max_ring_bytes);

/*  Introspection for status reports. */
const char *ezshm_writer_name(const ezshm_writer_t *self);
const char *ezshm_writer_header_segment(const ezshm_writer_t *self);
const char *ezshm_writer_ring_segment(const ezshm_writer_t *self);   /* "" without a ring */
const char *ezshm_writer_clock_segment(const ezshm_writer_t *self);  /* "" without a clock */
/*  Readers asleep on the stream's wake word, as they count themselves in the wake segment
    (0 without a clock). EZSHM_ERR_BUS when a reader truncated the segment (dropped, rebuilt
    with the next ring). */
int ezshm_writer_readers_waiting(ezshm_writer_t *self, uint32_t *out);
ezshm_layout_t ezshm_writer_layout(const ezshm_writer_t *self);
bool ezshm_writer_has_ring(const ezshm_writer_t *self);
uint64_t ezshm_writer_frame_bytes(const ezshm_writer_t *self);
uint64_t ezshm_writer_ring_bytes(const ezshm_writer_t *self);
/*  Segments found truncated under the writer (SIGBUS caught, see ezshm_guard.h) so far. */
uint64_t ezshm_writer_faults(const ezshm_writer_t *self);
/*  A copy of the live header fields, taken inside the SIGBUS guard: EZSHM_ERR_NOENT without
    a header, EZSHM_ERR_BUS when it was truncated (then recreated, as for a write). */
int ezshm_writer_snapshot(ezshm_writer_t *self, ezshm_meta_t *out);
/*  The live header fields (read-only view of the mapped segment; NULL without a header).
    Reading through it is not guarded: prefer ezshm_writer_snapshot where another process
    could truncate the segment. */
const ezshm_meta_t *ezshm_writer_meta(const ezshm_writer_t *self);

#ifdef __cplusplus
}
#endif
#endif
