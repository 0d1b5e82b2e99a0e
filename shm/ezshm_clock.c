/*  ezshm_clock.c — the clock segment (anchors, per-frame times) and the wake segment (the
    futex word, the waiter count, the block readers' target). */
#include "ezshm_clock.h"
#include "ezshm_error.h"
#include "ezshm_guard_frame.h"
#include "ezshm_segment.h"
#include "ezshm_time.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*  futex_waitv is syscall 449 on every architecture (asm-generic); older C libraries lack
    the name. */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/*  Control page offsets (docs/shm-layout.md §11), and the three words of the wake segment,
    each on a cache line of its own: the writer bumps wake, readers count themselves in
    waiters and lower target; none should drag another's line around. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_GENERATION = 8,
    OFF_FLAGS = 12,
    OFF_N_FRAMES = 16,
    OFF_CAPACITY = 24,
    OFF_ANCHOR_OFFSET = 32,
    OFF_TIMES_OFFSET = 40,
    OFF_ANCHORS_WRITTEN = 48,
    OFF_STATE = 56,
    OFF_ANCHOR_BYTES = 60,
    OFF_WAKE = 0,          /* in the wake segment */
    OFF_WAITERS = 64,
    OFF_TARGET = 128
};

struct ezshm_clock_t {
    bool            writer;
    ezshm_segment_t seg;           /* the clock segment: read-only for readers */
    ezshm_segment_t wake;          /* the wake segment (writer; reader: its read-only map) */
    uint8_t        *rw;            /* the wake words, writable; NULL: this reader can't sleep */
    uint64_t        n_frames;
    uint64_t        capacity;
    uint64_t        times_offset;  /* 0: no times ring */
    uint64_t        written;       /* writer: anchors published (never read back from shm) */
    uint64_t        chunk_start;   /* writer: the position of the chunk begun last */
    uint64_t        chunk_end;     /* writer: the position that chunk ends at (trimmed: cut short) */
    uint32_t        empty_wakes;   /* writer: FUTEX_WAKEs in a row that found nobody asleep */
    double          empty_since;   /* writer: when that run began (monotonic seconds) */
};

/*  A reader killed inside its wait leaves `waiters` one too high for good. A live waiter is
    asleep in the kernel except for the few microseconds around its count, so wakes that find
    nobody asleep, chunk after chunk for a whole second, mean the count is stale: the writer
    then takes one off it (docs/shm-layout.md §11). */
#define STALE_WAITER_WAKES 50
#define STALE_WAITER_S 1.0

#define U32(base, off) ((uint32_t *) ((uint8_t *) (base) + (off)))
#define U64(base, off) ((uint64_t *) ((uint8_t *) (base) + (off)))
#define CU32(base, off) ((const uint32_t *) ((const uint8_t *) (base) + (off)))
#define CU64(base, off) ((const uint64_t *) ((const uint8_t *) (base) + (off)))

uint64_t
ezshm_clock_anchor_capacity(uint64_t n_frames, double srate)
{
    uint64_t min_chunk = 1;
    if (isfinite(srate) && srate >= 2000.0)
        min_chunk = srate >= 1e12 ? 1000000000ULL : (uint64_t) (srate / 1000.0);
    /*  One anchor per chunk: a window of L frames overlaps at most ceil(L / min_chunk) + 1
        chunks, and the slot the writer is filling is one more. */
    return (n_frames + min_chunk - 1) / min_chunk + 2;
}

/*  The wake segment's mode: the clock's, plus write wherever it grants read, so every reader
    can count itself a waiter. Nothing else lives there: the worst a reader can do is wake
    others early, make them poll, or cost the writer a FUTEX_WAKE per chunk. */
static unsigned
s_wake_mode(unsigned mode)
{
    return mode | ((mode & 0444) >> 1);
}

uint64_t
ezshm_clock_segment_bytes(uint64_t n_frames, uint64_t capacity, bool with_times)
{
    return EZSHM_CLOCK_CONTROL_BYTES + capacity * EZSHM_CLOCK_ANCHOR_BYTES
           + (with_times ? n_frames * sizeof(double) : 0);
}

bool
ezshm_clock_transport_delay(double sample_time, int64_t wall_ns, double *seconds)
{
    if (!isfinite(sample_time) || sample_time < EZSHM_WALL_CLOCK_MIN || wall_ns <= 0)
        return false;
    double d = (double) wall_ns * 1e-9 - sample_time;
    if (fabs(d) > EZSHM_DELAY_MAX)
        return false;
    *seconds = d;
    return true;
}

uint64_t
ezshm_clock_footprint(uint64_t n_frames, double srate)
{
    uint64_t clock = ezshm_clock_segment_bytes(n_frames, ezshm_clock_anchor_capacity(n_frames, srate), srate == 0.0);
    return ezshm_segment_pages(clock) + ezshm_segment_pages(EZSHM_WAKE_BYTES);
}

int
ezshm_clock_create(const char *name, uint32_t generation, uint64_t n_frames, double srate,
                   unsigned mode, ezshm_clock_t **out, bool *replaced)
{
    if (!name || !out || n_frames == 0 || n_frames > UINT32_MAX)
        return EZSHM_ERR_INVAL;
    *out = NULL;
    ezshm_clock_t *self = calloc(1, sizeof *self);
    if (!self)
        return EZSHM_ERR_NOMEM;
    bool with_times = srate == 0.0;
    self->writer = true;
    self->n_frames = n_frames;
    self->capacity = ezshm_clock_anchor_capacity(n_frames, srate);
    self->times_offset = with_times ? EZSHM_CLOCK_CONTROL_BYTES + self->capacity * EZSHM_CLOCK_ANCHOR_BYTES : 0;
    char segname[EZSHM_SHORT_NAME_SIZE], wakename[EZSHM_SHORT_NAME_SIZE];
    bool wake_replaced = false;
    int rc = ezshm_clock_segment_name(name, generation, segname);
    if (rc == EZSHM_OK)
        rc = ezshm_wake_segment_name(name, generation, wakename);
    if (rc == EZSHM_OK)
        rc = ezshm_segment_create(&self->wake, wakename, EZSHM_WAKE_BYTES, s_wake_mode(mode), &wake_replaced);
    if (rc == EZSHM_OK) {
        rc = ezshm_segment_create(&self->seg, segname,
                                  (size_t) ezshm_clock_segment_bytes(n_frames, self->capacity, with_times),
                                  mode, replaced);
        if (rc != EZSHM_OK) {
            ezshm_segment_unlink_own(&self->wake);
            ezshm_segment_close(&self->wake);
        }
    }
    if (rc != EZSHM_OK) {
        free(self);
        return rc;
    }
    if (replaced)
        *replaced = *replaced || wake_replaced;
    self->rw = self->wake.addr;
    *U64(self->rw, OFF_TARGET) = EZSHM_WAKE_NO_TARGET;
    uint8_t *b = self->seg.addr;
    *U32(b, OFF_VERSION) = EZSHM_CLOCK_VERSION;
    *U32(b, OFF_GENERATION) = generation;
    *U32(b, OFF_FLAGS) = with_times ? EZSHM_CLOCK_FLAG_TIMES : 0;
    *U64(b, OFF_N_FRAMES) = n_frames;
    *U64(b, OFF_CAPACITY) = self->capacity;
    *U64(b, OFF_ANCHOR_OFFSET) = EZSHM_CLOCK_CONTROL_BYTES;
    *U64(b, OFF_TIMES_OFFSET) = self->times_offset;
    *U32(b, OFF_STATE) = EZSHM_CLOCK_LIVE;
    *U32(b, OFF_ANCHOR_BYTES) = EZSHM_CLOCK_ANCHOR_BYTES;
    /*  The magic last: a reader that sees it sees every field above. */
    __atomic_store_n(U32(b, OFF_MAGIC), EZSHM_CLOCK_MAGIC, __ATOMIC_RELEASE);
    *out = self;
    return EZSHM_OK;
}

int
ezshm_clock_validate(const void *base, size_t size, uint32_t generation, uint64_t n_frames,
                     uint64_t *capacity, uint64_t *times_offset)
{
    if (!base || size < EZSHM_CLOCK_CONTROL_BYTES)
        return EZSHM_ERR_HEADER;
    if (__atomic_load_n(CU32(base, OFF_MAGIC), __ATOMIC_ACQUIRE) != EZSHM_CLOCK_MAGIC)
        return EZSHM_ERR_NOTREADY;
    uint32_t flags = *CU32(base, OFF_FLAGS);
    uint64_t cap = *CU64(base, OFF_CAPACITY), times = *CU64(base, OFF_TIMES_OFFSET);
    if (*CU32(base, OFF_VERSION) != EZSHM_CLOCK_VERSION || *CU32(base, OFF_GENERATION) != generation
        || *CU64(base, OFF_N_FRAMES) != n_frames || n_frames == 0
        || *CU32(base, OFF_ANCHOR_BYTES) != EZSHM_CLOCK_ANCHOR_BYTES
        || *CU64(base, OFF_ANCHOR_OFFSET) != EZSHM_CLOCK_CONTROL_BYTES || (flags & ~EZSHM_CLOCK_FLAG_TIMES))
        return EZSHM_ERR_HEADER;
    uint64_t room = size - EZSHM_CLOCK_CONTROL_BYTES;
    if (cap < 2 || cap > room / EZSHM_CLOCK_ANCHOR_BYTES)
        return EZSHM_ERR_HEADER;
    uint64_t anchors_end = EZSHM_CLOCK_CONTROL_BYTES + cap * EZSHM_CLOCK_ANCHOR_BYTES;
    if (flags & EZSHM_CLOCK_FLAG_TIMES) {
        if (times < anchors_end || times % sizeof(double) || times > size
            || n_frames > (size - times) / sizeof(double))
            return EZSHM_ERR_HEADER;
    }
    else if (times != 0)
        return EZSHM_ERR_HEADER;
    *capacity = cap;
    *times_offset = times;
    return EZSHM_OK;
}

int
ezshm_clock_open(const char *name, uint32_t generation, uint64_t n_frames, long owner, ezshm_clock_t **out)
{
    if (!name || !out)
        return EZSHM_ERR_INVAL;
    *out = NULL;
    ezshm_clock_t *self = calloc(1, sizeof *self);
    if (!self)
        return EZSHM_ERR_NOMEM;
    char segname[EZSHM_SHORT_NAME_SIZE], wakename[EZSHM_SHORT_NAME_SIZE];
    int rc = ezshm_clock_segment_name(name, generation, segname);
    if (rc == EZSHM_OK)
        rc = ezshm_segment_open_owned(&self->seg, segname, owner);
    if (rc == EZSHM_OK)
        rc = ezshm_clock_validate(self->seg.addr, self->seg.size, generation, n_frames,
                                  &self->capacity, &self->times_offset);
    if (rc != EZSHM_OK) {
        ezshm_segment_close(&self->seg);
        free(self);
        return rc;
    }
    /*  Without the wake segment (or write permission on it) timestamps still work; waiting
        falls back to polling. */
    void *head = NULL;
    if (ezshm_wake_segment_name(name, generation, wakename) == EZSHM_OK
        && ezshm_segment_open_head_rw(&self->wake, wakename, owner, EZSHM_WAKE_BYTES, &head) == EZSHM_OK)
        self->rw = head;
    else
        ezshm_segment_close(&self->wake);
    self->n_frames = n_frames;
    *out = self;
    return EZSHM_OK;
}

static long
s_futex_wake(uint32_t *word, uint32_t bits)
{
    return syscall(SYS_futex, word, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, bits);
}

/*  A wake that found nobody asleep while `waiters` said n. After enough of them in a row a
    probe wakes every waiter, whatever its bits: a reader asleep for a far target is alive
    and only sleeps on (the probe costs it one spurious wake-up a second); when the probe too
    finds nobody, one waiter is taken back (CAS, so a count that moved meanwhile is left for
    the next run). A live reader caught between its count and its sleep then sleeps one
    slice (200 ms) unwoken, once; readers never take the count below 0 (§11), so it cannot
    go wrong for longer. */
static void
s_empty_wake(ezshm_clock_t *self, uint32_t n)
{
    double now = ezshm_time_mono();
    if (self->empty_wakes++ == 0)
        self->empty_since = now;
    if (self->empty_wakes < STALE_WAITER_WAKES || now - self->empty_since < STALE_WAITER_S)
        return;
    if (s_futex_wake(U32(self->rw, OFF_WAKE), EZSHM_WAKE_ANY) == 0)
        __atomic_compare_exchange_n(U32(self->rw, OFF_WAITERS), &n, n - 1, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
    self->empty_wakes = 0;
}

/*  The lowest position a block reader waits for has been published: the target is cleared
    (CAS: a lower one a reader stored meanwhile is kept, and wakes at the next chunk). Every
    block reader is woken by the target bit and registers its own target again. */
static bool
s_target_reached(ezshm_clock_t *self)
{
    uint64_t t = __atomic_load_n(U64(self->rw, OFF_TARGET), __ATOMIC_SEQ_CST);
    if (self->chunk_end < t)
        return false;
    __atomic_compare_exchange_n(U64(self->rw, OFF_TARGET), &t, EZSHM_WAKE_NO_TARGET, false, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return true;
}

/*  The increment is a full barrier: the frames' publication is visible before the waiter
    count and the target are read, and a reader that counted itself before these loads is
    woken, one that does so after them sees the new word and does not sleep. A cleared
    target takes a second increment: a block reader that read the word after the first one
    but offered its target while a lower one still stood stored nothing; the second
    increment makes it look again (and offer its target to the cleared word) instead of
    sleeping on a target nobody holds. */
static void
s_wake(ezshm_clock_t *self, uint32_t bits)
{
    __atomic_fetch_add(U32(self->rw, OFF_WAKE), 1, __ATOMIC_SEQ_CST);
    uint32_t n = __atomic_load_n(U32(self->rw, OFF_WAITERS), __ATOMIC_SEQ_CST);
    if (n == 0)
        return;
    if (bits != EZSHM_WAKE_ANY && s_target_reached(self)) {
        bits |= EZSHM_WAKE_TARGET;
        __atomic_fetch_add(U32(self->rw, OFF_WAKE), 1, __ATOMIC_SEQ_CST);
    }
    if (s_futex_wake(U32(self->rw, OFF_WAKE), bits) > 0)
        self->empty_wakes = 0;
    else
        s_empty_wake(self, n);
}

void
ezshm_clock_notify(ezshm_clock_t *self)
{
    if (!self || !self->rw)
        return;
    s_wake(self, EZSHM_WAKE_DATA);
}

void
ezshm_clock_destroy(ezshm_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ezshm_clock_t *self = *self_p;
    if (self->writer) {
        __atomic_store_n(U32(self->seg.addr, OFF_STATE), EZSHM_CLOCK_CLOSED, __ATOMIC_RELEASE);
        if (self->rw)
            s_wake(self, EZSHM_WAKE_ANY);
    }
    ezshm_clock_abandon(self_p);
}

const char *
ezshm_clock_hit_segment(const ezshm_clock_t *self, const void *fault)
{
    if (!self)
        return NULL;
    if (ezshm_guard_hit(fault, self->seg.addr, self->seg.size))
        return self->seg.name;
    /*  A reader writes the wake words through a map of their own (rw), apart from the
        read-only one. */
    if (ezshm_guard_hit(fault, self->wake.addr, self->wake.size) || ezshm_guard_hit(fault, self->rw, EZSHM_WAKE_BYTES))
        return self->wake.name;
    return NULL;
}

bool
ezshm_clock_hit(const ezshm_clock_t *self, const void *fault)
{
    return ezshm_clock_hit_segment(self, fault) != NULL;
}

void
ezshm_clock_abandon(ezshm_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ezshm_clock_t *self = *self_p;
    if (self->writer) {
        ezshm_segment_unlink_own(&self->seg);
        ezshm_segment_unlink_own(&self->wake);
    }
    else if (self->rw)
        munmap(self->rw, EZSHM_WAKE_BYTES);
    ezshm_segment_close(&self->seg);
    ezshm_segment_close(&self->wake);
    free(self);
    *self_p = NULL;
}

const char *
ezshm_clock_segment(const ezshm_clock_t *self)
{
    return self ? self->seg.name : "";
}

void
ezshm_clock_begin_chunk(ezshm_clock_t *self, uint64_t position, uint64_t count,
                        const ezshm_chunk_time_t *time)
{
    if (!self || !self->writer)
        return;
    ezshm_anchor_t a = {position, count, NAN, NAN, 0, EZSHM_SEQ_NONE};
    if (time) {
        a.t0 = time->t0;
        a.gain = time->gain;
        a.wall_ns = time->wall_ns;
        a.seq = time->seq;
    }
    if (a.wall_ns == 0)
        a.wall_ns = ezshm_time_wall_ns();
    uint8_t *slot = (uint8_t *) self->seg.addr + EZSHM_CLOCK_CONTROL_BYTES
                    + (self->written % self->capacity) * EZSHM_CLOCK_ANCHOR_BYTES;
    memcpy(slot, &a, sizeof a);
    self->chunk_start = position;
    self->chunk_end = position + count;
    self->written++;
    __atomic_store_n(U64(self->seg.addr, OFF_ANCHORS_WRITTEN), self->written, __ATOMIC_RELEASE);
}

void
ezshm_clock_trim_chunk(ezshm_clock_t *self, uint64_t count)
{
    if (!self || !self->writer || self->written == 0)
        return;
    uint8_t *slot = (uint8_t *) self->seg.addr + EZSHM_CLOCK_CONTROL_BYTES
                    + ((self->written - 1) % self->capacity) * EZSHM_CLOCK_ANCHOR_BYTES;
    __atomic_store_n((uint64_t *) (slot + offsetof(ezshm_anchor_t, count)), count, __ATOMIC_RELEASE);
    self->chunk_end = self->chunk_start + count;
}

void
ezshm_clock_put_times(ezshm_clock_t *self, uint64_t slot, const double *times, uint64_t count)
{
    if (!self || !self->writer || !self->times_offset || slot >= self->n_frames
        || count > self->n_frames - slot)
        return;
    double *ring = (double *) ((uint8_t *) self->seg.addr + self->times_offset) + slot;
    if (times)
        memcpy(ring, times, count * sizeof(double));
    else
        for (uint64_t i = 0; i < count; i++)
            ring[i] = NAN;   /* a chunk without coordinates: unknown, not a stale lap's time */
}

/*  Anchor k, if it was still intact after it was copied (the writer reuses slot k mod C for
    anchor k + C, and may be writing anchor A now). */
static bool
s_anchor(const ezshm_clock_t *self, uint64_t k, ezshm_anchor_t *a)
{
    const uint64_t *slot = (const uint64_t *) ((const uint8_t *) self->seg.addr + EZSHM_CLOCK_CONTROL_BYTES
                                               + (k % self->capacity) * EZSHM_CLOCK_ANCHOR_BYTES);
    uint64_t raw[6];
    for (int i = 0; i < 6; i++)
        raw[i] = __atomic_load_n(slot + i, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint64_t written = __atomic_load_n(CU64(self->seg.addr, OFF_ANCHORS_WRITTEN), __ATOMIC_RELAXED);
    if (k >= written || written - k > self->capacity - 1)
        return false;
    memcpy(a, raw, sizeof *a);
    return true;
}

static uint64_t
s_written(const ezshm_clock_t *self)
{
    return __atomic_load_n(CU64(self->seg.addr, OFF_ANCHORS_WRITTEN), __ATOMIC_ACQUIRE);
}

/*  The newest anchor index k in [lo, hi) whose position is <= p: galloping back from the
    newest (hi - 1, hi - 2, hi - 4, ...), then bisection between the last two steps. Readers
    mostly ask for recent frames, and the oldest anchors kept are the slots the writer
    reuses next: starting there, a search would lose the race to a busy writer. False when
    p is older than every anchor kept, or an anchor read was reused under us. */
static bool
s_bisect(const ezshm_clock_t *self, uint64_t lo, uint64_t hi, uint64_t p, uint64_t *k)
{
    ezshm_anchor_t a;
    uint64_t step = 1, bottom;
    if (lo >= hi)
        return false;
    for (;;) {   /* anchors [hi, ...) start after p */
        bottom = hi - lo > step ? hi - step : lo;
        if (!s_anchor(self, bottom, &a))
            return false;
        if (a.position <= p)
            break;
        if (bottom == lo)
            return false;
        hi = bottom;
        step *= 2;
    }
    for (lo = bottom; hi - lo > 1;) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (!s_anchor(self, mid, &a))
            return false;
        if (a.position <= p)
            lo = mid;
        else
            hi = mid;
    }
    *k = lo;
    return true;
}

/*  How often a search the writer overtook is run again before it gives up. */
#define FIND_TRIES 64

/*  The anchors kept are [*lo, *hi); *k the newest of them whose position is <= p, *a its
    intact copy. A search that failed while anchors_written moved (the writer reused a slot
    it read) is run again, at most FIND_TRIES times: false means that no anchor kept starts
    at or before p, unless the writer overtook every try. */
static bool
s_find(const ezshm_clock_t *self, uint64_t p, uint64_t *lo, uint64_t *hi, uint64_t *k, ezshm_anchor_t *a)
{
    for (int i = 0; i < FIND_TRIES; i++) {
        *hi = s_written(self);
        *lo = *hi > self->capacity - 1 ? *hi - (self->capacity - 1) : 0;
        if (s_bisect(self, *lo, *hi, p, k) && s_anchor(self, *k, a))
            return true;
        if (s_written(self) == *hi)
            return false;
    }
    return false;
}

double
ezshm_clock_anchor_time(const ezshm_anchor_t *a, uint64_t p)
{
    if (!isfinite(a->t0) || !isfinite(a->gain))
        return NAN;
    return a->t0 + (double) (p - a->position) * a->gain;
}

void
ezshm_clock_times(const ezshm_clock_t *self, uint64_t first, uint64_t n, double *t)
{
    for (uint64_t i = 0; i < n; i++)
        t[i] = NAN;
    if (!self || n == 0)
        return;
    uint64_t lo, hi, k;
    ezshm_anchor_t found;
    if (!s_find(self, first, &lo, &hi, &k, &found))
        k = lo;   /* the first frames are older than every anchor kept: NaN for them */
    /*  Anchors are in position order within a generation; walking them forward fills every
        frame in at most n + C steps, whatever a hostile segment holds. */
    for (uint64_t i = 0; i < n && k < hi; k++) {
        ezshm_anchor_t a;
        if (!s_anchor(self, k, &a))
            continue;
        if (a.position > first + i)
            i = a.position - first < n ? a.position - first : n;
        for (; i < n && first + i - a.position < a.count; i++)
            t[i] = ezshm_clock_anchor_time(&a, first + i);
    }
}

bool
ezshm_clock_has_times(const ezshm_clock_t *self)
{
    return self && self->times_offset != 0;
}

void
ezshm_clock_copy_times(const ezshm_clock_t *self, uint64_t first, uint64_t n, double *t)
{
    if (!ezshm_clock_has_times(self) || n == 0)
        return;
    const uint8_t *ring = (const uint8_t *) self->seg.addr + self->times_offset;
    uint64_t len = self->n_frames, slot = first % len;
    uint64_t head = n < len - slot ? n : len - slot;
    memcpy(t, ring + slot * sizeof(double), head * sizeof(double));
    if (n > head)
        memcpy(t + head, ring, (n - head) * sizeof(double));
}

bool
ezshm_clock_anchor_of(const ezshm_clock_t *self, uint64_t p, ezshm_anchor_t *anchor)
{
    if (!self || !anchor)
        return false;
    uint64_t lo, hi, k;
    return s_find(self, p, &lo, &hi, &k, anchor) && p - anchor->position < anchor->count;
}

bool
ezshm_clock_newest_anchor(const ezshm_clock_t *self, ezshm_anchor_t *anchor)
{
    if (!self || !anchor)
        return false;
    uint64_t written = s_written(self);
    return written > 0 && s_anchor(self, written - 1, anchor);
}

uint32_t
ezshm_clock_waiters(const ezshm_clock_t *self)
{
    return self && self->rw ? __atomic_load_n(CU32(self->rw, OFF_WAITERS), __ATOMIC_ACQUIRE) : 0;
}

uint32_t
ezshm_clock_wake_word(const ezshm_clock_t *self)
{
    return self && self->rw ? __atomic_load_n(CU32(self->rw, OFF_WAKE), __ATOMIC_ACQUIRE) : 0;
}

bool
ezshm_clock_closed(const ezshm_clock_t *self)
{
    return __atomic_load_n(CU32(self->seg.addr, OFF_STATE), __ATOMIC_ACQUIRE) != EZSHM_CLOCK_LIVE;
}

bool
ezshm_clock_can_sleep(const ezshm_clock_t *self)
{
    return self && self->rw && !self->writer;
}

_Static_assert(EZSHM_CLOCK_SLEEP_MAX == FUTEX_WAITV_MAX, "one futex_waitv call sleeps on every clock");

/*  Reader: the wake segment's words, on the read-write map. */
#define WAKE_WORD(clock) U32((clock)->rw, OFF_WAKE)
#define WAITERS(clock) U32((clock)->rw, OFF_WAITERS)
#define TARGET(clock) U64((clock)->rw, OFF_TARGET)

/*  Lowers the target to position t (never raises it: another block reader may need less). */
static void
s_lower_target(uint64_t *target, uint64_t t)
{
    uint64_t cur = __atomic_load_n(target, __ATOMIC_SEQ_CST);
    while (t < cur
           && !__atomic_compare_exchange_n(target, &cur, t, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
}

/*  Takes this reader's count off a waiter count, never below 0: the writer may have taken
    it back meanwhile (s_empty_wake). */
static void
s_uncount_word(uint32_t *waiters)
{
    uint32_t n = __atomic_load_n(waiters, __ATOMIC_SEQ_CST);
    while (n && !__atomic_compare_exchange_n(waiters, &n, n - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
}

/*  Uncounts this reader on one clock in a frame of its own: a second truncated wake
    segment is skipped instead of ending the restore of the others. */
static void
s_uncount_one(ezshm_clock_t *clock)
{
    ezshm_guard_frame_t frame;
    if (EZSHM_GUARD_ENTER(&frame)) {
        s_uncount_word(WAITERS(clock));
        EZSHM_GUARD_LEAVE(&frame);
    }
}

/*  Uncounts this reader on clocks [0, n) but a clock whose wake segment fault lies in: that
    page is gone. */
static void
s_uncount(ezshm_clock_t *const *clocks, size_t n, const void *fault)
{
    for (size_t i = 0; i < n; i++)
        if (!ezshm_clock_hit(clocks[i], fault))
            s_uncount_one(clocks[i]);
}

static bool
s_moved(ezshm_clock_t *const *clocks, const uint32_t *seen, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (__atomic_load_n(WAKE_WORD(clocks[i]), __ATOMIC_ACQUIRE) != seen[i])
            return true;
    return false;
}

/*  timeout_s from now as an absolute CLOCK_MONOTONIC time (FUTEX_WAIT_BITSET, futex_waitv). */
static struct timespec
s_monotonic_after(double timeout_s)
{
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    double end = (double) at.tv_nsec * 1e-9 + timeout_s;
    at.tv_sec += (time_t) end;
    at.tv_nsec = (long) ((end - (double) (time_t) end) * 1e9);
    return at;
}

/*  The kernel sleep itself: FUTEX_WAIT (relative timeout) for one word woken by anything, so
    the plain wait works on any kernel; FUTEX_WAIT_BITSET for one word woken only by the
    wake-ups whose bits it names (a block: target reached, or closed); futex_waitv
    (Linux >= 5.16) for several words, woken by anything. All shared (no FUTEX_PRIVATE_FLAG):
    the writer is another process. */
static int
s_futex_sleep(ezshm_clock_t *const *clocks, const uint32_t *seen, size_t n, double timeout_s, uint32_t bits)
{
    long r;
    if (n == 1 && bits == EZSHM_WAKE_ANY) {
        struct timespec ts = {(time_t) timeout_s, (long) ((timeout_s - (double) (time_t) timeout_s) * 1e9)};
        r = syscall(SYS_futex, WAKE_WORD(clocks[0]), FUTEX_WAIT, seen[0], &ts, NULL, 0);
    }
    else if (n == 1) {
        struct timespec at = s_monotonic_after(timeout_s);
        r = syscall(SYS_futex, WAKE_WORD(clocks[0]), FUTEX_WAIT_BITSET, seen[0], &at, NULL, bits);
    }
    else {
        struct futex_waitv v[EZSHM_CLOCK_SLEEP_MAX];
        memset(v, 0, n * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            v[i].val = seen[i];
            v[i].uaddr = (uint64_t) (uintptr_t) WAKE_WORD(clocks[i]);
            v[i].flags = FUTEX_32;
        }
        struct timespec at = s_monotonic_after(timeout_s);
        r = syscall(SYS_futex_waitv, v, (unsigned) n, 0u, &at, CLOCK_MONOTONIC);
    }
    if (r >= 0 || errno == EAGAIN)
        return EZSHM_OK;   /* woken, or a word had moved already */
    if (errno == ETIMEDOUT || errno == EINTR)
        return EZSHM_ERR_TIMEOUT;
    return EZSHM_ERR_SYS;
}

int
ezshm_clock_sleep_any(ezshm_clock_t *const *clocks, const uint32_t *seen, size_t n, double timeout_s,
                      uint64_t target, bool (*ready)(void *arg), void *arg, void **fault)
{
    if (!clocks || !seen || n == 0 || n > EZSHM_CLOCK_SLEEP_MAX || !(timeout_s > 0) || (n > 1 && target)
        || target == EZSHM_WAKE_NO_TARGET)
        return EZSHM_ERR_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!ezshm_clock_can_sleep(clocks[i]))
            return EZSHM_ERR_INVAL;
    /*  Clocks [0, counted) count this reader: what a fault anywhere below (a wake segment, or
        a header ready() reads, truncated by another process) must give back. */
    volatile size_t counted = 0;
    ezshm_guard_frame_t frame;
    if (!EZSHM_GUARD_ENTER(&frame)) {
        s_uncount(clocks, counted, frame.fault);
        if (fault)
            *fault = frame.fault;
        return EZSHM_ERR_BUS;
    }
    for (; counted < n; counted++)
        __atomic_fetch_add(WAITERS(clocks[counted]), 1, __ATOMIC_SEQ_CST);
    if (target)
        s_lower_target(TARGET(clocks[0]), target);
    /*  Counted (and the target offered) first, checked second (the writer publishes first,
        reads the count and the target second, and moves the word again when it clears the
        target): one of the two sees the other, so neither a publish nor a reached target is
        missed by a sleeper. The fence keeps the checks below after the counts on weakly
        ordered CPUs too. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int rc = EZSHM_OK;
    if (!s_moved(clocks, seen, n) && !(ready && ready(arg)))
        rc = s_futex_sleep(clocks, seen, n, timeout_s,
                           target ? EZSHM_WAKE_TARGET | EZSHM_WAKE_CLOSED : EZSHM_WAKE_ANY);
    for (; counted > 0; counted--)
        s_uncount_word(WAITERS(clocks[counted - 1]));
    EZSHM_GUARD_LEAVE(&frame);
    return rc;
}
