/*  ezshm_mirror_wait.c — sleep until data lands: ezshm_mirror_wait, _wait_frames and
    _wait_any, one loop for one stream or several (docs/shm-layout.md §11: the waiter
    protocol, wake bits, several streams). */
#include "ezshm_mirror_state.h"
#include "ezshm_error.h"
#include "ezshm_guard_frame.h"
#include "ezshm_time.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>

/*  ezshm_mirror_wait(_any): the longest single sleep (so a writer that died without waking us is
    noticed when restarted), the poll period without a clock segment (an ezmsg-tools writer,
    or no write permission on the clock), and while no ring is attached. */
#define WAIT_SLICE_S REPLACED_CHECK_S
#define POLL_ATTACHED_S 0.001
#define POLL_DETACHED_S 0.01

/*  The position the wait in progress returns at: `wanted` frames past the cursor, at most
    half the ring (more would hand the oldest of them to the writer before they are read). */
static uint64_t
s_target(const ezshm_mirror_t *self)
{
    uint64_t half = self->info.n_frames / 2;
    return self->cursor + (self->wanted < half ? self->wanted : half > 1 ? half : 1);
}

/*  Attached: the frames the wait wants past the cursor, or the ring is no longer the one
    attached. */
static bool
s_has_news(void *arg)
{
    ezshm_mirror_t *self = arg;
    if (!ezshm_header_valid(self->meta) || ezshm_header_generation(self->meta) != self->info.generation)
        return true;
    uint64_t pos;
    return ezshm_mirror_position(self, &pos) && pos >= s_target(self);
}

/*  The position the sleep of an attached mirror registers as its target: 0 (woken by any
    publish) when one frame will do, else the block's end (woken by the publish that
    reaches it, §11). */
static uint64_t
s_wake_target(const ezshm_mirror_t *self)
{
    return s_target(self) > self->cursor + 1 ? s_target(self) : 0;
}

/*  Sleeps until deadline or at most max_s seconds. */
static void
s_nap(double deadline, double max_s)
{
    double s = deadline - ezshm_time_mono();
    if (s > max_s)
        s = max_s;
    if (s <= 0)
        return;
    struct timespec ts = {(time_t) s, (long) ((s - (double) (time_t) s) * 1e9)};
    nanosleep(&ts, NULL);
}

/*  One look at a mirror for a wait: EZSHM_OK when it has the unread frames the wait wants,
    EZSHM_ERR_STALE when its stream changed, else EZSHM_ERR_TIMEOUT (not yet) with what to
    sleep on: *clock, its word *seen and the *target position to register (clock NULL:
    nothing, poll), and the longest sleep *period before this mirror must be looked at again. */
static int
s_look(ezshm_mirror_t *self, ezshm_clock_t **clock, uint32_t *seen, uint64_t *target, double *period)
{
    *clock = NULL;
    if (!self->attached) {
        /*  Nothing mapped to sleep on: look for the stream (again) now and then. The read
            that follows attaches and says EZSHM_ERR_STALE. */
        if (!self->meta)
            ezshm_mirror_attach_header(self);
        if (self->meta && (ezshm_header_valid(self->meta) || ezshm_mirror_header_replaced(self)))
            return EZSHM_ERR_STALE;
        *period = POLL_DETACHED_S;
        return EZSHM_ERR_TIMEOUT;
    }
    /*  The word before the checks: a publish after the checks moves it, and the sleep then
        returns at once. */
    bool sleepable = ezshm_clock_can_sleep(self->clock) && !ezshm_clock_closed(self->clock);
    *seen = sleepable ? ezshm_clock_wake_word(self->clock) : 0;
    if (!ezshm_header_valid(self->meta) || ezshm_header_generation(self->meta) != self->info.generation) {
        /*  Reset, rebuild, rename or shutdown: say so once; until the stream is ready again
            the waits poll it (detached) instead of returning at once. */
        ezshm_mirror_detach_ring(self);
        return EZSHM_ERR_STALE;
    }
    if (s_has_news(self))
        return EZSHM_OK;
    if (ezshm_mirror_header_replaced(self))
        return EZSHM_ERR_STALE;
    *clock = sleepable ? self->clock : NULL;
    *target = s_wake_target(self);
    *period = sleepable ? WAIT_SLICE_S : POLL_ATTACHED_S;
    return EZSHM_ERR_TIMEOUT;
}

typedef struct {
    ezshm_mirror_t *const *mirrors;
    size_t                 n;
} wait_set_t;

/*  The sleep's last check, after it counted itself a waiter: news on any attached mirror. */
static bool
s_any_news(void *arg)
{
    const wait_set_t *set = arg;
    for (size_t i = 0; i < set->n; i++)
        if (set->mirrors[i]->attached && s_has_news(set->mirrors[i]))
            return true;
    return false;
}

/*  A segment of mirror self holds the fault address. */
static bool
s_hit(const ezshm_mirror_t *self, const void *fault)
{
    return ezshm_guard_hit(fault, self->header.addr, self->header.size)
           || ezshm_guard_hit(fault, self->ring.addr, self->ring.size) || ezshm_clock_hit(self->clock, fault);
}

/*  After a SIGBUS in a wait: the mirror whose segment was truncated lets everything go
    without another look at it (the next call attaches afresh), as after a fault in any
    call; its index. An address of none of them (not expected): all let go, index 0. */
static size_t
s_detach_hit(ezshm_mirror_t *const *mirrors, size_t n, const void *fault)
{
    for (size_t i = 0; i < n; i++)
        if (s_hit(mirrors[i], fault)) {
            ezshm_mirror_detach_all(mirrors[i]);
            return i;
        }
    for (size_t i = 0; i < n; i++)
        ezshm_mirror_detach_all(mirrors[i]);
    return 0;
}

/*  A kernel without futex_waitv (ENOSYS) is remembered: several streams are then polled. */
static atomic_bool s_no_waitv;

/*  The waits of one mirror and of several are this one loop: look at each mirror (the
    lowest index with news ends the wait), then sleep in the kernel on every sleepable
    mirror's wake word at once, for no longer than the shortest period a mirror without one
    must be polled at (1 ms attached without a wake segment, 10 ms detached), the 200 ms
    slice that notices a restarted writer, or what is left of the timeout. */
static int
s_wait_any(ezshm_mirror_t *const *mirrors, size_t n, int timeout_ms, size_t *ready)
{
    double deadline = timeout_ms < 0 ? INFINITY : ezshm_time_mono() + timeout_ms * 1e-3;
    ezshm_clock_t *clocks[EZSHM_CLOCK_SLEEP_MAX];
    uint32_t seen[EZSHM_CLOCK_SLEEP_MAX];
    uint64_t target = 0;
    wait_set_t set = {mirrors, n};
    for (;;) {
        size_t k = 0;
        double slice = WAIT_SLICE_S;
        for (size_t i = 0; i < n; i++) {
            ezshm_clock_t *clock;
            uint32_t word;
            uint64_t t;
            double period;
            int rc = s_look(mirrors[i], &clock, &word, &t, &period);
            if (rc != EZSHM_ERR_TIMEOUT) {
                *ready = i;
                return rc;
            }
            if (clock && k == EZSHM_CLOCK_SLEEP_MAX)
                period = POLL_ATTACHED_S;   /* past the kernel's limit: polled */
            else if (clock) {
                clocks[k] = clock;
                target = t;   /* used when this is the only clock */
                seen[k++] = word;
            }
            if (period < slice)
                slice = period;
        }
        double left = deadline - ezshm_time_mono();
        if (left <= 0)
            return EZSHM_ERR_TIMEOUT;
        int rc = EZSHM_ERR_SYS;
        if (k == 1 || (k > 1 && !atomic_load_explicit(&s_no_waitv, memory_order_relaxed))) {
            void *fault = NULL;
            rc = ezshm_clock_sleep_any(clocks, seen, k, left < slice ? left : slice, k == 1 ? target : 0,
                                       s_any_news, &set, &fault);
            if (rc == EZSHM_ERR_BUS) {
                *ready = s_detach_hit(mirrors, n, fault);
                return rc;
            }
            if (rc == EZSHM_ERR_SYS && errno == ENOSYS)
                atomic_store_explicit(&s_no_waitv, true, memory_order_relaxed);
        }
        if (k == 0)
            s_nap(deadline, slice);
        else if (rc == EZSHM_ERR_SYS)
            s_nap(deadline, slice < POLL_ATTACHED_S ? slice : POLL_ATTACHED_S);
    }
}

/*  The wait in a guard frame: a fault lets go of the mirror it hit only. */
static int
s_guarded_wait(ezshm_mirror_t *const *mirrors, size_t n, int timeout_ms, size_t *ready)
{
    ezshm_guard_frame_t frame;
    if (EZSHM_GUARD_ENTER(&frame)) {
        int rc = s_wait_any(mirrors, n, timeout_ms, ready);
        EZSHM_GUARD_LEAVE(&frame);
        return rc;
    }
    *ready = s_detach_hit(mirrors, n, frame.fault);
    return EZSHM_ERR_BUS;
}

int
ezshm_mirror_wait_any(ezshm_mirror_t *const *mirrors, size_t n, int timeout_ms, size_t *ready)
{
    size_t which = 0;
    if (!mirrors || n == 0)
        return EZSHM_ERR_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!mirrors[i])
            return EZSHM_ERR_INVAL;
    int rc = s_guarded_wait(mirrors, n, timeout_ms, &which);
    if (ready)
        *ready = which;
    return rc;
}

int
ezshm_mirror_wait(ezshm_mirror_t *self, int timeout_ms)
{
    return ezshm_mirror_wait_any(&self, 1, timeout_ms, NULL);
}

int
ezshm_mirror_wait_frames(ezshm_mirror_t *self, uint64_t min_frames, int timeout_ms)
{
    if (!self)
        return EZSHM_ERR_INVAL;
    self->wanted = min_frames > 1 ? min_frames : 1;
    int rc = ezshm_mirror_wait_any(&self, 1, timeout_ms, NULL);
    self->wanted = 1;
    return rc;
}

