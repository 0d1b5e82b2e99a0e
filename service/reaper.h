/*  reaper.h — unmaps dropped rings on a thread of its own, so a rebuild does not hold up the
    event loop while the kernel frees the old ring's pages.

        reaper_t *r = reaper_new(err, sizeof err);
        reaper_retire(r, addr, size, fd);  // from a writer's on_retire (ezshmd: daemon.c's
                                           // s_retire); munmap + close happen on the thread
        reaper_destroy(&r);                // unmaps what is still queued, joins the thread

    Why a thread: when a ring's last mapping goes, the kernel frees its pages, ≈ 0.25 ms per
    MB (0.45 ms of a 2 MB rebuild, 2.5 ms of a 20 MB one, measured: docs/benchmarks.md fix 6),
    and nothing else can move that cost off the loop: punching the old ring out in slices
    would show zeros to an ezmsg-tools reader still copying from it. The thread only ever
    unmaps and closes what the loop handed over; it shares no other state.
*/
#ifndef REAPER_H
#define REAPER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct reaper_t reaper_t;

/*  Starts the thread. NULL with one line in err on failure. Create it after the daemon's
    signals are blocked: the thread inherits the mask and must never take them. */
reaper_t *reaper_new(char *err, size_t errlen);

/*  Unmaps addr/size and closes fd (-1: none) on the thread; done in the caller when the queue
    is full or the thread is gone, so nothing is ever leaked. NULL self: done in the caller. */
void reaper_retire(reaper_t *self, void *addr, size_t size, int fd);

/*  Lets the thread finish what is queued, joins it, frees; NULL-safe. */
void reaper_destroy(reaper_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
