/*  ezshm_mirror.c — attach, validate, follow generations, torn-read-safe copies (the wait
    is ezshm_mirror_wait.c; the state both share, ezshm_mirror_state.h). */
#include "ezshm_mirror_state.h"
#include "ezshm_aux.h"
#include "ezshm_clock.h"
#include "ezshm_time.h"
#include "ezshm_dtype.h"
#include "ezshm_error.h"
#include "ezshm_guard_frame.h"
#include "ezshm_ring.h"
#include "ezshm_segment.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*  How long a copy waits for a position with write_index 0 to move on when there is no clock
    segment to tell (s_wrap_by_waiting). */
#define AMBIGUOUS_WAIT_S 0.005

int
ezshm_mirror_new(const char *name, ezshm_mirror_t **out)
{
    if (!name || !*name || !out)
        return EZSHM_ERR_INVAL;
    ezshm_mirror_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name))) {
        free(self);
        return EZSHM_ERR_NOMEM;
    }
    self->wanted = 1;
    *out = self;
    return EZSHM_OK;
}

void
ezshm_mirror_detach_ring(ezshm_mirror_t *self)
{
    ezshm_clock_destroy(&self->clock);
    ezshm_segment_close(&self->ring);
    self->attached = false;
}

void
ezshm_mirror_detach_all(ezshm_mirror_t *self)
{
    ezshm_mirror_detach_ring(self);
    ezshm_segment_close(&self->header);
    self->meta = NULL;
    self->replaced = false;
}

void
ezshm_mirror_detach(ezshm_mirror_t *self)
{
    if (!self)
        return;
    ezshm_mirror_detach_all(self);
    self->was_attached = false;
}

void
ezshm_mirror_destroy(ezshm_mirror_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ezshm_mirror_detach(*self_p);
    free((*self_p)->name);
    free(*self_p);
    *self_p = NULL;
}

int
ezshm_mirror_attach_header(ezshm_mirror_t *self)
{
    char segname[EZSHM_SHORT_NAME_SIZE];
    int rc = ezshm_header_segment_name(self->name, segname);
    if (rc == EZSHM_OK)
        rc = ezshm_segment_open(&self->header, segname);
    if (rc != EZSHM_OK)
        return rc;
    ezshm_layout_t layout;
    rc = ezshm_header_detect(self->header.addr, self->header.size, &layout);
    if (rc != EZSHM_OK) {
        ezshm_segment_close(&self->header);
        return rc;
    }
    /*  A v1 writer's fresh segment is all zeros until it writes the magic, which looks like
        a legacy placeholder. Commit to a layout only once it is unambiguous: a magic, or a
        legacy header with bvalid 1; until then report not-ready and look again next time. */
    if (layout == EZSHM_LAYOUT_LEGACY && !ezshm_header_valid(self->header.addr)) {
        ezshm_segment_close(&self->header);
        return EZSHM_ERR_NOTREADY;
    }
    self->info.layout = layout;
    self->meta = ezshm_header_meta(self->header.addr, layout);
    return EZSHM_OK;
}

/*  Position P of the writer, or false when no consistent pair could be read. */
bool
ezshm_mirror_position(const ezshm_mirror_t *self, uint64_t *pos)
{
    uint64_t index, wraps;
    if (!ezshm_header_position(self->meta, &index, &wraps))
        return false;
    *pos = wraps * self->info.n_frames + index;
    return true;
}

/*  Maps the ring the header currently names, after validating a snapshot of the header.
    from_start: the next read begins at frame 0 of this ring, else at the newest frame. */
static int
s_attach_ring(ezshm_mirror_t *self, bool from_start)
{
    ezshm_mirror_detach_ring(self);
    if (!ezshm_header_valid(self->meta))
        return EZSHM_ERR_NOTREADY;
    uint32_t gen = ezshm_header_generation(self->meta);
    ezshm_meta_t snap;
    memcpy(&snap, self->meta, sizeof snap);
    /*  A rebuild that began during the copy leaves a half-written snapshot: that is "not
        ready", not "invalid". Only a snapshot taken while bvalid and generation held is judged. */
    atomic_thread_fence(memory_order_acquire);
    if (!ezshm_header_valid(self->meta) || ezshm_header_generation(self->meta) != gen
        || snap.buffer_generation != gen)
        return EZSHM_ERR_NOTREADY;
    uint64_t frame_bytes, ring_bytes;
    int rc = ezshm_header_validate(&snap, &frame_bytes, &ring_bytes);
    if (rc != EZSHM_OK)
        return rc;

    ezshm_stream_info_t *info = &self->info;
    char ring_name[EZSHM_SHORT_NAME_SIZE];
    rc = ezshm_ring_segment_name(self->name, snap.buffer_generation, ring_name);
    /*  The ring must belong to the header's owner: nobody else can slip in a ring of theirs. */
    if (rc == EZSHM_OK)
        rc = ezshm_segment_open_populated(&self->ring, ring_name, (long) self->header.uid);
    if (rc == EZSHM_ERR_NOENT)
        return EZSHM_ERR_NOTREADY;   /* the writer is between unlink and create */
    if (rc != EZSHM_OK)
        return rc;
    if (self->ring.size < ring_bytes) {
        ezshm_segment_close(&self->ring);
        return EZSHM_ERR_HEADER;
    }
    /*  The snapshot counts only if the header did not change while we mapped the ring. */
    if (!ezshm_header_valid(self->meta) || ezshm_header_generation(self->meta) != snap.buffer_generation) {
        ezshm_segment_close(&self->ring);
        return EZSHM_ERR_NOTREADY;
    }
    info->dtype = snap.dtype;
    info->itemsize = ezshm_dtype_itemsize(snap.dtype);
    info->srate = snap.srate;
    info->n_frames = snap.shape[0];
    info->ndim = snap.ndim;
    memcpy(info->shape, snap.shape, sizeof info->shape);
    info->frame_bytes = frame_bytes;
    info->generation = snap.buffer_generation;
    info->key_len = snap.key_len;
    memcpy(info->key, snap.key, snap.key_len);
    info->key[snap.key_len] = '\0';
    memcpy(info->header_segment, self->header.name, sizeof info->header_segment);
    memcpy(info->ring_segment, ring_name, sizeof info->ring_segment);
    self->guard = ezshm_ring_guard(info->n_frames);
    /*  No clock segment, or one that isn't valid for this ring, is not an error: an
        ezmsg-tools writer has none; timestamps are then NaN and waits poll. Like the ring,
        it must belong to the header's owner. */
    if (ezshm_clock_open(self->name, snap.buffer_generation, info->n_frames, (long) self->header.uid,
                         &self->clock) != EZSHM_OK)
        self->clock = NULL;
    self->attached = true;
    self->was_attached = true;
    uint64_t pos = 0;
    if (!from_start && !ezshm_mirror_position(self, &pos)) {
        ezshm_mirror_detach_ring(self);
        return EZSHM_ERR_NOTREADY;
    }
    self->cursor = pos;
    return EZSHM_OK;
}

static int
s_attach(ezshm_mirror_t *self)
{
    if (self->attached)
        return EZSHM_OK;
    if (!self->meta) {
        int rc = ezshm_mirror_attach_header(self);
        if (rc != EZSHM_OK)
            return rc;
    }
    return s_attach_ring(self, false);
}

/*  The mapped header of the writer now: a replaced one (writer restarted) is dropped with the
    ring, so the next read reports STALE as usual. */
static int
s_current_header(ezshm_mirror_t *self)
{
    if (self->meta && ezshm_segment_replaced(&self->header))
        ezshm_mirror_detach_all(self);
    return self->meta ? EZSHM_OK : ezshm_mirror_attach_header(self);
}

uint32_t
ezshm_mirror_meta_generation(ezshm_mirror_t *self)
{
    ezshm_guard_frame_t frame;
    if (!self)
        return 0;
    if (!EZSHM_GUARD_ENTER(&frame)) {
        ezshm_mirror_detach_all(self);
        return 0;
    }
    uint32_t gen = s_current_header(self) == EZSHM_OK && self->info.layout == EZSHM_LAYOUT_V1
                   ? ezshm_aux_generation(self->header.addr) : 0;
    EZSHM_GUARD_LEAVE(&frame);
    return gen;
}

int
ezshm_mirror_meta(ezshm_mirror_t *self, ezshm_tree_t *tree, uint32_t *generation, char *err,
                  size_t errlen)
{
    if (generation)
        *generation = 0;
    if (!self || !tree)
        return EZSHM_ERR_INVAL;
    ezshm_guard_frame_t frame;
    if (!EZSHM_GUARD_ENTER(&frame)) {
        ezshm_mirror_detach_all(self);
        return EZSHM_ERR_BUS;
    }
    int rc = s_current_header(self);
    if (rc == EZSHM_OK && self->info.layout != EZSHM_LAYOUT_V1)
        rc = EZSHM_ERR_NOENT;
    /*  The aux segment must belong to the header's owner, as the ring must. */
    if (rc == EZSHM_OK)
        rc = ezshm_aux_read(self->name, self->header.addr, (long) self->header.uid, tree,
                            generation, err, errlen);
    EZSHM_GUARD_LEAVE(&frame);
    return rc;
}

int
ezshm_mirror_info(const ezshm_mirror_t *self, ezshm_stream_info_t *info)
{
    if (!self || !info)
        return EZSHM_ERR_INVAL;
    if (!self->attached)
        return EZSHM_ERR_NOTREADY;
    *info = self->info;
    return EZSHM_OK;
}

/*  A restarted writer unlinks our header and makes a new one; the old mapping then never
    changes again. Checked at most every REPLACED_CHECK_S, only when nothing new arrives. */
bool
ezshm_mirror_header_replaced(ezshm_mirror_t *self)
{
    double now = ezshm_time_mono();
    if (self->replaced || now < self->next_replaced_check)
        return self->replaced;
    self->next_replaced_check = now + REPLACED_CHECK_S;
    /*  Sticky until followed: a wait that notices it leaves it for the read. */
    self->replaced = ezshm_segment_replaced(&self->header);
    return self->replaced;
}

/*  Copies frames [from, from + n) out of the ring, splitting at its end. */
static void
s_copy_out(const ezshm_mirror_t *self, uint8_t *dst, uint64_t from, uint64_t n)
{
    uint64_t len = self->info.n_frames, fb = self->info.frame_bytes;
    uint64_t slot = from % len;
    uint64_t first = n < len - slot ? n : len - slot;
    const uint8_t *ring = self->ring.addr;
    memcpy(dst, ring + slot * fb, first * fb);
    if (n > first)
        memcpy(dst + first * fb, ring, (n - first) * fb);
}

/*  The ring attached is still the one the header names, and usable. */
static bool
s_same_ring(const ezshm_mirror_t *self)
{
    return ezshm_header_generation(self->meta) == self->info.generation && ezshm_header_valid(self->meta);
}

/*  A position read after a copy with write_index 0, after = w*L > 0, is ambiguous: the writer
    rests there after a chunk that ended exactly at the ring's end, or it is between its two
    stores of a wrap (write_index 0 stored, wrap_counter w+1 not yet; a writer preempted, or
    dead, right there stays so): then the truth is (w+1)*L and every slot copied may hold the
    next lap. The newest anchor [S, E), published before any frame of its chunk and loaded
    after the position, bounds the truth T: S <= T <= E. E < after + L: the writer rests,
    T = after. S > after: T = after + L. Otherwise (a chunk of L frames or more spans the
    wrap), or no intact anchor: assume after + L, so frames are reported lost, never
    returned torn. No waiting. */
static uint64_t
s_wrap_by_anchor(const ezshm_mirror_t *self, uint64_t after)
{
    uint64_t len = self->info.n_frames;
    ezshm_anchor_t a;
    if (!ezshm_clock_newest_anchor(self->clock, &a) || a.position > after)
        return after + len;
    /*  E < after + L as count < (after - S) + L, which cannot overflow on hostile values. */
    uint64_t behind = after - a.position;
    return behind > UINT64_MAX - len || a.count < behind + len ? after : after + len;
}

/*  The same ambiguity without a clock segment (an ezmsg-tools writer, EZSHM_CLOCK=0):
    nothing bounds the writer, so wait (bounded) for the position to move on and use the
    newer value; a writer that really rests at 0 costs this read the wait, once. A writer
    stalled between its stores for longer than the wait makes the copy count as intact
    (the residual risk of docs/shm-layout.md §6). False when the ring changed meanwhile. */
static bool
s_wrap_by_waiting(const ezshm_mirror_t *self, uint64_t *after)
{
    double deadline = ezshm_time_mono() + AMBIGUOUS_WAIT_S;
    uint64_t again;
    while (*after % self->info.n_frames == 0 && ezshm_time_mono() < deadline) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
        if (!s_same_ring(self))
            return false;
        if (ezshm_mirror_position(self, &again) && again > *after)
            *after = again;
    }
    return true;
}

/*  After a copy of frames [from, from + n): how many of the oldest are possibly overwritten.
    Returns n + 1 when the ring changed identity under the copy (everything suspect). The
    copy's loads come before the acquire fence of the first header load here, so everything
    judged below was loaded after the copy. */
static uint64_t
s_torn_frames(const ezshm_mirror_t *self, uint64_t before, uint64_t from, uint64_t n)
{
    uint64_t after = 0;
    int spins = 0;
    /*  after < before happens only inside the writer's two-store publication (a lap behind):
        wait it out briefly. */
    while (s_same_ring(self) && ezshm_mirror_position(self, &after) && after < before && spins < 1000) {
        spins++;
        sched_yield();
    }
    if (!s_same_ring(self) || after < before)
        return n + 1;
    if (after % self->info.n_frames == 0 && after > 0) {
        if (self->clock)
            after = s_wrap_by_anchor(self, after);
        else if (!s_wrap_by_waiting(self, &after))
            return n + 1;
    }
    uint64_t reach = after + self->guard;
    uint64_t first_safe = reach > self->info.n_frames ? reach - self->info.n_frames : 0;
    if (first_safe <= from)
        return 0;
    return first_safe - from < n ? first_safe - from : n;
}

/*  Follows a rebuilt ring or a restarted writer. Returns EZSHM_ERR_STALE when a new ring is
    attached, or the reason it could not be. */
static int
s_follow(ezshm_mirror_t *self)
{
    bool replaced = ezshm_mirror_header_replaced(self);
    if (replaced) {
        ezshm_mirror_detach_all(self);
        int rc = ezshm_mirror_attach_header(self);
        if (rc != EZSHM_OK)
            return rc;
    }
    else if (!ezshm_header_valid(self->meta)) {
        /*  Let go of the old ring at once: on a tight /dev/shm its pages are what the writer
            needs for the new one. */
        ezshm_mirror_detach_ring(self);
        return EZSHM_ERR_NOTREADY;
    }
    else if (self->attached && ezshm_header_generation(self->meta) == self->info.generation)
        return EZSHM_OK;
    /*  A mirror that had a ring starts at frame 0 of the new one (it missed none of it); one
        that never had a ring starts at the newest frame, as ezshm_mirror_attach does. */
    int rc = s_attach_ring(self, self->was_attached);
    return rc == EZSHM_OK ? EZSHM_ERR_STALE : rc;
}

/*  A restarted writer was noticed while its header was gone (nothing is mapped): attach
    again from frame 0 and say EZSHM_ERR_STALE, so the caller refreshes its info (frame size,
    ring length) before anything is copied with it. */
static int
s_reattach(ezshm_mirror_t *self)
{
    int rc = ezshm_mirror_attach_header(self);
    if (rc != EZSHM_OK)
        return rc;
    rc = s_attach_ring(self, true);
    return rc == EZSHM_OK ? EZSHM_ERR_STALE : rc;
}

/*  Times of frames [from, from + n) when asked for (t not NULL), taken with the frames and
    before the torn check that judges both: a coordinate axis' values copied from the times
    ring, a linear axis' computed from the anchors (the writer reuses an anchor's slot only
    about a ring after its frames, so anchors read after the check could be gone for frames
    it kept), NaN without a clock segment. */
static void
s_copy_times(const ezshm_mirror_t *self, double *t, uint64_t from, uint64_t n)
{
    if (!t)
        return;
    if (ezshm_clock_has_times(self->clock))
        ezshm_clock_copy_times(self->clock, from, n, t);
    else if (self->clock)
        ezshm_clock_times(self->clock, from, n, t);
    else
        for (uint64_t i = 0; i < n; i++)
            t[i] = NAN;
}

/*  Drops the torn oldest frames (and their times) from the front of dst. */
static void
s_drop_front(const ezshm_mirror_t *self, void *dst, double *t, uint64_t n, uint64_t torn)
{
    uint64_t fb = self->info.frame_bytes;
    memmove(dst, (uint8_t *) dst + torn * fb, (n - torn) * fb);
    if (t)
        memmove(t, t + torn, (n - torn) * sizeof *t);
}

/*  Frames of the ring being left (a rebuild: bvalid 0 or a new generation) that were written
    but never read. The writer writes no frame of a ring after it set bvalid 0, so the old
    clock's newest anchor ends where that ring stopped. 0 without a clock segment (an
    ezmsg-tools writer): then the count is unknown. */
static uint64_t
s_unread_tail(const ezshm_mirror_t *self)
{
    ezshm_anchor_t a;
    if (!self->attached || !ezshm_clock_newest_anchor(self->clock, &a))
        return 0;
    uint64_t end = a.position + a.count;
    return end > self->cursor ? end - self->cursor : 0;
}

static int
s_read(ezshm_mirror_t *self, void *dst, uint64_t max_frames, uint64_t *n_read, uint64_t *n_lost, double *t)
{
    if (!self->attached && !self->meta) {
        if (self->was_attached)
            return s_reattach(self);
        /*  The read that attaches says STALE, whichever path got there: the caller has no
            info yet. */
        int rc = s_attach(self);
        return rc == EZSHM_OK ? EZSHM_ERR_STALE : rc;
    }
    if (!self->attached || !ezshm_header_valid(self->meta)
        || ezshm_header_generation(self->meta) != self->info.generation) {
        *n_lost = s_unread_tail(self);   /* counted once: following detaches the old ring */
        return s_follow(self);
    }

    uint64_t pos;
    if (!ezshm_mirror_position(self, &pos) || pos < self->cursor)
        return EZSHM_OK;   /* publication in progress: nothing new yet */
    uint64_t avail = pos - self->cursor;
    if (avail == 0) {
        int rc = s_follow(self);
        return rc == EZSHM_OK ? EZSHM_OK : rc;
    }
    uint64_t safe = self->info.n_frames - self->guard;
    if (avail > safe) {
        *n_lost = avail - safe;
        self->cursor += avail - safe;
        avail = safe;
    }
    uint64_t n = avail < max_frames ? avail : max_frames;
    if (n == 0)
        return EZSHM_OK;
    s_copy_out(self, dst, self->cursor, n);
    s_copy_times(self, t, self->cursor, n);
    uint64_t torn = s_torn_frames(self, pos, self->cursor, n);
    if (torn > n) {
        *n_lost += n;
        self->cursor += n;
        return EZSHM_OK;
    }
    if (torn) {
        s_drop_front(self, dst, t, n, torn);
        *n_lost += torn;
    }
    self->cursor += n;
    *n_read = n - torn;
    return EZSHM_OK;
}

static int
s_latest(ezshm_mirror_t *self, void *dst, uint64_t n, uint64_t *n_out, double *t)
{
    if (self->was_attached && !self->attached) {
        int rc = self->meta ? s_follow(self) : s_reattach(self);
        if (rc != EZSHM_OK)
            return rc;   /* EZSHM_ERR_STALE: the stream changed under the caller's info */
    }
    int rc = s_attach(self);
    if (rc != EZSHM_OK)
        return rc;
    if (!ezshm_header_valid(self->meta) || ezshm_header_generation(self->meta) != self->info.generation)
        return s_follow(self);
    uint64_t pos;
    if (!ezshm_mirror_position(self, &pos))
        return EZSHM_ERR_NOTREADY;
    uint64_t safe = self->info.n_frames - self->guard;
    if (n > safe)
        n = safe;
    if (n > pos)
        n = pos;
    if (n == 0)
        return EZSHM_OK;
    uint64_t from = pos - n;
    s_copy_out(self, dst, from, n);
    s_copy_times(self, t, from, n);
    uint64_t torn = s_torn_frames(self, pos, from, n);
    if (torn > n)
        return EZSHM_ERR_NOTREADY;
    if (torn)
        s_drop_front(self, dst, t, n, torn);
    *n_out = n - torn;
    return EZSHM_OK;
}

/*  One frame's answer, whole: the position P, then the anchor of frame P - 1 (its wall
    clock, seq and, on a linear axis, its time). The anchor is immutable once found intact;
    a coordinate axis' time comes from the times ring, which the writer's next lap
    overwrites: judged by the ring reader's torn check, and read again (with a newer P) when
    torn. An anchor not found while the writer moved on (this reader was preempted for
    a ring's worth of anchors) is looked for again with a newer P; a frame with no anchor
    kept while the writer held still (no clock segment, hostile bytes) has unknown time,
    wall clock and seq. EZSHM_ERR_NOTREADY: not attached, the ring changed under the read
    (the next read follows it), or NEWEST_TRIES torn reads in a row. */
#define NEWEST_TRIES 64

static int
s_newest(ezshm_mirror_t *self, ezshm_newest_t *out)
{
    *out = (ezshm_newest_t) {0, NAN, 0, EZSHM_SEQ_NONE};
    for (int i = 0; i < NEWEST_TRIES && self->attached && s_same_ring(self); i++) {
        ezshm_newest_t nw = {0, NAN, 0, EZSHM_SEQ_NONE};
        ezshm_anchor_t a;
        if (!ezshm_mirror_position(self, &nw.position))
            continue;
        bool found = nw.position > 0 && ezshm_clock_anchor_of(self->clock, nw.position - 1, &a);
        bool times_ring = found && ezshm_clock_has_times(self->clock);
        if (found) {
            nw.wall_ns = a.wall_ns;
            nw.seq = a.seq;
            if (times_ring)
                ezshm_clock_copy_times(self->clock, nw.position - 1, 1, &nw.time);
            else
                nw.time = ezshm_clock_anchor_time(&a, nw.position - 1);
        }
        if (!s_same_ring(self))
            break;
        if (times_ring && s_torn_frames(self, nw.position, nw.position - 1, 1))
            continue;
        uint64_t again;
        if (!found && self->clock && (!ezshm_mirror_position(self, &again) || again != nw.position))
            continue;   /* the writer moved on meanwhile: the anchor may be gone, not missing */
        *out = nw;
        return EZSHM_OK;
    }
    return EZSHM_ERR_NOTREADY;
}

/*  ---- the public calls: each runs inside a guard frame (see ezshm_guard.h) ---------- */

typedef struct {
    int       op;            /* which call */
    void     *dst;
    uint64_t  n;
    uint64_t *out1, *out2;
    double   *t;             /* frame times (read, latest) */
} mirror_call_t;

enum { CALL_ATTACH, CALL_READ, CALL_LATEST, CALL_WRITTEN, CALL_NEWEST };

static int
s_call(ezshm_mirror_t *self, const mirror_call_t *c)
{
    switch (c->op) {
    case CALL_ATTACH: return s_attach(self);
    case CALL_READ:   return s_read(self, c->dst, c->n, c->out1, c->out2, c->t);
    case CALL_LATEST: return s_latest(self, c->dst, c->n, c->out1, c->t);
    case CALL_NEWEST: return s_newest(self, c->dst);
    default:
        *c->out1 = 0;
        if (self->attached && !ezshm_mirror_position(self, c->out1))
            *c->out1 = 0;
        return EZSHM_OK;
    }
}

/*  A segment shrank under the copy (another process truncated it): everything is unmapped
    without another look at it, and the next call attaches afresh (EZSHM_ERR_STALE). */
static int
s_guarded(ezshm_mirror_t *self, const mirror_call_t *call)
{
    ezshm_guard_frame_t frame;
    if (EZSHM_GUARD_ENTER(&frame)) {
        int rc = s_call(self, call);
        EZSHM_GUARD_LEAVE(&frame);
        return rc;
    }
    ezshm_mirror_detach_all(self);
    return EZSHM_ERR_BUS;
}

int
ezshm_mirror_attach(ezshm_mirror_t *self)
{
    if (!self)
        return EZSHM_ERR_INVAL;
    mirror_call_t call = {CALL_ATTACH, NULL, 0, NULL, NULL, NULL};
    return s_guarded(self, &call);
}

int
ezshm_mirror_read_ts(ezshm_mirror_t *self, void *dst, uint64_t max_frames, uint64_t *n_read,
                     uint64_t *n_lost, double *t)
{
    if (!self || !n_read || !n_lost || (max_frames && !dst))
        return EZSHM_ERR_INVAL;
    *n_read = 0;
    *n_lost = 0;
    mirror_call_t call = {CALL_READ, dst, max_frames, n_read, n_lost, t};
    return s_guarded(self, &call);
}

int
ezshm_mirror_read(ezshm_mirror_t *self, void *dst, uint64_t max_frames, uint64_t *n_read,
                  uint64_t *n_lost)
{
    return ezshm_mirror_read_ts(self, dst, max_frames, n_read, n_lost, NULL);
}

int
ezshm_mirror_latest_ts(ezshm_mirror_t *self, void *dst, uint64_t n, uint64_t *n_out, double *t)
{
    if (!self || !n_out || (n && !dst))
        return EZSHM_ERR_INVAL;
    *n_out = 0;
    mirror_call_t call = {CALL_LATEST, dst, n, n_out, NULL, t};
    return s_guarded(self, &call);
}

int
ezshm_mirror_latest(ezshm_mirror_t *self, void *dst, uint64_t n, uint64_t *n_out)
{
    return ezshm_mirror_latest_ts(self, dst, n, n_out, NULL);
}

int
ezshm_mirror_newest(ezshm_mirror_t *self, ezshm_newest_t *out)
{
    if (!self || !out)
        return EZSHM_ERR_INVAL;
    mirror_call_t call = {CALL_NEWEST, out, 0, NULL, NULL, NULL};
    return s_guarded(self, &call);
}

uint64_t
ezshm_mirror_written(const ezshm_mirror_t *self)
{
    uint64_t pos = 0;
    if (!self)
        return 0;
    mirror_call_t call = {CALL_WRITTEN, NULL, 0, &pos, NULL, NULL};
    return s_guarded((ezshm_mirror_t *) self, &call) == EZSHM_OK ? pos : 0;
}

const char *
ezshm_mirror_name(const ezshm_mirror_t *self)
{
    return self->name;
}
