/*  ezshm_guard_frame.h — the guard frames inside libezshm (not installed: it needs POSIX's
    sigjmp_buf, which a consumer compiled as plain C11 does not see). What the guard does and
    why: ezshm_guard.h.
*/
#ifndef EZSHM_GUARD_FRAME_H
#define EZSHM_GUARD_FRAME_H

#include "ezshm_guard.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ezshm_guard_frame {
    sigjmp_buf                env;
    void                     *fault;   /* the faulting address, after a jump */
    struct ezshm_guard_frame *prev;
} ezshm_guard_frame_t;

/*  Internal to the two macros below. */
void ezshm_guard_push(ezshm_guard_frame_t *frame);
void ezshm_guard_pop(ezshm_guard_frame_t *frame);

/*  Arms a frame in the calling function; true on entry, false after a SIGBUS inside it (the
    frame is then already disarmed and frame->fault holds the address). Every true path must
    end with EZSHM_GUARD_LEAVE. Locals changed after entry are not reliable after a fault. */
#define EZSHM_GUARD_ENTER(frame) (ezshm_guard_push(frame), sigsetjmp((frame)->env, 0) == 0)
#define EZSHM_GUARD_LEAVE(frame) ezshm_guard_pop(frame)

/*  True when addr lies inside [base, base + size). */
bool ezshm_guard_hit(const void *fault, const void *base, size_t size);

#endif
