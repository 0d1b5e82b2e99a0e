/*  ezshm_mirror.h — the reader: attaches to a stream by its long name, follows rebuilds,
    and copies frames out without ever handing out a pointer into live shared memory.

        ezshm_mirror_t *m;
        ezshm_mirror_new("my-stream", &m);
        for (;;) {
            uint64_t got, lost;
            int rc = ezshm_mirror_read(m, buf, max_frames, &got, &lost);
            if (rc == EZSHM_ERR_STALE)      -> ring rebuilt: ezshm_mirror_info() again
            else if (rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY) -> retry later
            else if (rc != EZSHM_OK)        -> header invalid: give up or retry
        }

    Frames are returned only when they were intact after the copy (see docs/shm-layout.md
    §6): never duplicated, never torn; every frame skipped is counted in *lost. (Without a
    clock segment — an ezmsg-tools writer — a writer stalled for over 5 ms between its two
    stores of a wrap can still slip one lap past the check: §6, reader step 5.)

    Hostile segments: the ring must belong to the header's owner (EZSHM_ERR_OWNER); a FIFO,
    symlink, directory or socket at a segment's name is an error naming it (ezshm_segment.h).
    A segment truncated under the mapping raises SIGBUS; with ezshm_guard_enable() called once
    by the program, the call returns EZSHM_ERR_BUS instead, everything is unmapped, and the
    next call attaches afresh. A ring is unmapped as soon as a call sees bvalid 0 or a new
    generation, so a rebuild on a tight /dev/shm never waits for this reader.
*/
#ifndef EZSHM_MIRROR_H
#define EZSHM_MIRROR_H

#include "ezshm_clock.h"
#include "ezshm_header.h"
#include "ezshm_name.h"
#include "ezshm_tree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ezshm_mirror_t ezshm_mirror_t;

typedef struct {
    ezshm_layout_t layout;
    char           dtype;
    size_t         itemsize;
    double         srate;
    uint64_t       n_frames;                    /* ring length, shape[0] */
    uint32_t       ndim;                        /* 1 + frame dims */
    uint32_t       shape[EZSHM_MAX_NDIM];
    uint64_t       frame_bytes;
    uint32_t       generation;
    char           key[EZSHM_MAX_KEYLEN + 1];   /* NUL-terminated copy */
    size_t         key_len;
    char           header_segment[EZSHM_SHORT_NAME_SIZE];
    char           ring_segment[EZSHM_SHORT_NAME_SIZE];
} ezshm_stream_info_t;

/*  Creates a mirror of the stream name; nothing is attached yet. */
int ezshm_mirror_new(const char *name, ezshm_mirror_t **out);

/*  Unmaps everything, frees, sets *self_p NULL. */
void ezshm_mirror_destroy(ezshm_mirror_t **self_p);

/*  Attaches header and ring if not attached. EZSHM_OK when a valid ring is mapped;
    EZSHM_ERR_NOENT (no header yet) and EZSHM_ERR_NOTREADY (ring being built) are retryable;
    EZSHM_ERR_HEADER / EZSHM_ERR_DTYPE mean the bytes are not a valid stream. Reading starts
    at the newest frame, also when the header was found before its first ring. */
int ezshm_mirror_attach(ezshm_mirror_t *self);

/*  Copies the attached stream's description. EZSHM_ERR_NOTREADY when not attached. */
int ezshm_mirror_info(const ezshm_mirror_t *self, ezshm_stream_info_t *info);

/*  Copies up to max_frames unread frames, oldest first, contiguous, into dst
    (max_frames * frame_bytes bytes). *n_read: frames returned; *n_lost: frames overwritten
    before they could be read since the last call. EZSHM_ERR_STALE: the writer rebuilt the
    ring (or was restarted); the mirror followed it, nothing was copied, the next read starts
    at the first frame of the new ring; call ezshm_mirror_info again. The read that notices a
    rebuild puts in *n_lost the old ring's frames it never returned (known when that ring had
    a clock segment, else 0). A read that makes the
    first attach (the stream appeared after ezshm_mirror_attach said NOENT/NOTREADY) also
    returns EZSHM_ERR_STALE, and reading starts at the newest frame, as for attach. */
int ezshm_mirror_read(ezshm_mirror_t *self, void *dst, uint64_t max_frames, uint64_t *n_read,
                      uint64_t *n_lost);

/*  ezshm_mirror_read, and t[i] (t holds max_frames doubles) the time of returned frame i in
    the sender's axis unit: t0 + k * gain of its chunk (linear axis), the coordinate value
    (coordinate axis), NaN when unknown (no clock segment — an ezmsg-tools writer —, the
    sender gave none, or the frame is older than the anchors kept). */
int ezshm_mirror_read_ts(ezshm_mirror_t *self, void *dst, uint64_t max_frames, uint64_t *n_read,
                         uint64_t *n_lost, double *t);

/*  Copies the newest n frames without consuming them; *n_out may be smaller when fewer are
    intact (at most n_frames - guard). */
int ezshm_mirror_latest(ezshm_mirror_t *self, void *dst, uint64_t n, uint64_t *n_out);

/*  Same, with the frames' times (t holds n doubles) as ezshm_mirror_read_ts. */
int ezshm_mirror_latest_ts(ezshm_mirror_t *self, void *dst, uint64_t n, uint64_t *n_out, double *t);

/*  Sleeps until unread frames are there (EZSHM_OK), the stream changed — reset, rebuild,
    rename, writer shut down or restarted (EZSHM_ERR_STALE: read next, it follows) —, or
    timeout_ms passed (EZSHM_ERR_TIMEOUT; < 0: no deadline). Blocks in FUTEX_WAIT on the
    wake segment's word, never longer than 200 ms at a time, so a writer killed without
    waking anyone is noticed once restarted; without a usable clock segment it polls every
    1 ms, and every 10 ms while no ring is attached. Never returns the same STALE twice in a
    row while the stream stays not ready. */
int ezshm_mirror_wait(ezshm_mirror_t *self, int timeout_ms);

/*  ezshm_mirror_wait until at least min_frames unread frames are there (0 and 1: one; at most
    half the ring's length, more would hand the oldest to the writer before they are read),
    the stream changed, or timeout_ms passed. For a reader that takes frames in blocks — a
    display, a decoder fed 50 ms windows — it wakes once per block instead of at every
    chunk: it stores the position it needs as the wake segment's target and sleeps in
    FUTEX_WAIT_BITSET until the writer publishes that position (docs/shm-layout.md §11);
    several block readers share the lowest target, and each one woken early sleeps again.
    A writer older than the target wakes it at every chunk: same answers, more wake-ups. */
int ezshm_mirror_wait_frames(ezshm_mirror_t *self, uint64_t min_frames, int timeout_ms);

/*  ezshm_mirror_wait for n mirrors at once (several streams, or one stream twice): sleeps
    until any of them has news and returns what ezshm_mirror_wait would for the lowest index
    with news, that index in *ready (ready may be NULL): EZSHM_OK (unread frames) or
    EZSHM_ERR_STALE (its stream changed); EZSHM_ERR_TIMEOUT when none had news within
    timeout_ms (< 0: no deadline). Read every mirror with news before waiting again (a
    mirror whose news is not read is the answer again at once, and hides the higher ones):
    draining all n after each wake-up is the simple way. It sleeps in the kernel on every
    stream's wake word at once (futex_waitv, Linux >= 5.16; one stream: FUTEX_WAIT), counted
    a waiter on each so their writers wake it, never longer than 200 ms at a time; streams
    it cannot sleep on are polled at the single wait's rules — every 1 ms without a usable
    wake segment (an ezmsg-tools writer, no write permission, a wake segment of the wrong
    size or owner), every 10 ms while no ring is attached, every 1 ms beyond the first 128
    sleepable streams or on a kernel without futex_waitv (ENOSYS). Waiter counts are
    restored on every return. EZSHM_ERR_BUS: a segment of mirrors[*ready] was truncated
    under the wait (SIGBUS caught, ezshm_guard_enable): that mirror is detached as after any
    call's fault, the others are untouched. EZSHM_ERR_INVAL: mirrors NULL, n 0, or a NULL
    mirror. */
int ezshm_mirror_wait_any(ezshm_mirror_t *const *mirrors, size_t n, int timeout_ms, size_t *ready);

/*  The newest published frame: its position + 1, its time, its chunk's ingest wall clock and
    sequence number. */
typedef struct {
    uint64_t position;   /* frames written; the newest is position - 1 (0: none yet)      */
    double   time;       /* the newest frame's time (axis unit), NaN when unknown          */
    int64_t  wall_ns;    /* CLOCK_REALTIME when its chunk was ingested, 0 when unknown     */
    uint64_t seq;        /* its chunk's message sequence number, EZSHM_SEQ_NONE unknown    */
} ezshm_newest_t;

/*  Fills *out for the attached ring: every field describes the same frame, position - 1
    (a read the writer overtook is made again, at most 64 times). EZSHM_ERR_NOTREADY when
    not attached, while the ring is being rebuilt or replaced (the next read follows it), or
    when the writer overtook every try. */
int ezshm_mirror_newest(ezshm_mirror_t *self, ezshm_newest_t *out);

/*  Frames written to the attached ring so far (wrap_counter * n_frames + write_index). */
uint64_t ezshm_mirror_written(const ezshm_mirror_t *self);

/*  The long name. */
const char *ezshm_mirror_name(const ezshm_mirror_t *self);

/*  The stream metadata (the aux segment of a v1 stream: channel labels, units, axes, attrs)
    decoded into tree (docs/shm-layout.md; ezshm_tree.h walks it); *generation gets its
    meta_generation. Attaches the header if needed. EZSHM_ERR_NOENT: nothing published (or a
    legacy stream, which has none); EZSHM_ERR_NOTREADY: being replaced, or no header yet;
    EZSHM_ERR_TOOBIG: the blob is over the reader's limit (err says its size);
    EZSHM_ERR_PICKLE: the blob was refused (err says why). */
int ezshm_mirror_meta(ezshm_mirror_t *self, ezshm_tree_t *tree, uint32_t *generation,
                      char *err, size_t errlen);

/*  The header's meta_generation now (0: none, legacy, or no header): poll it and call
    ezshm_mirror_meta when it changed. */
uint32_t ezshm_mirror_meta_generation(ezshm_mirror_t *self);

/*  Detaches (unmaps); the next call attaches again from scratch. */
void ezshm_mirror_detach(ezshm_mirror_t *self);

#ifdef __cplusplus
}
#endif
#endif
