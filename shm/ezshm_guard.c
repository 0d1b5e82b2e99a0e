/*  ezshm_guard.c — the SIGBUS handler and the per-thread stack of guard frames. */
#include "ezshm_guard_frame.h"
#include "ezshm_error.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

static _Thread_local ezshm_guard_frame_t *s_top;
static struct sigaction s_previous;
static bool s_enabled;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

static void
s_on_sigbus(int sig, siginfo_t *info, void *context)
{
    ezshm_guard_frame_t *frame = s_top;
    if (!frame) {
        /*  Not an access we guard: give SIGBUS back to whoever had it before. Returning
            re-executes the faulting instruction, which then meets that disposition (by
            default: death, as without the guard). */
        (void) sig;
        (void) context;
        sigaction(SIGBUS, &s_previous, NULL);
        return;
    }
    s_top = frame->prev;
    frame->fault = info ? info->si_addr : NULL;
    siglongjmp(frame->env, 1);
}

int
ezshm_guard_enable(void)
{
    pthread_mutex_lock(&s_lock);
    int rc = EZSHM_OK;
    if (!s_enabled) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = s_on_sigbus;
        /*  SA_NODEFER: the jump out of the handler leaves SIGBUS unblocked without the
            sigprocmask call a mask-saving sigsetjmp would cost on every guarded access. */
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &s_previous) == 0)
            s_enabled = true;
        else
            rc = EZSHM_ERR_SYS;
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

bool
ezshm_guard_enabled(void)
{
    return s_enabled;
}

void
ezshm_guard_push(ezshm_guard_frame_t *frame)
{
    frame->fault = NULL;
    frame->prev = s_top;
    s_top = frame;
}

void
ezshm_guard_pop(ezshm_guard_frame_t *frame)
{
    s_top = frame->prev;
}

bool
ezshm_guard_hit(const void *fault, const void *base, size_t size)
{
    uintptr_t f = (uintptr_t) fault, b = (uintptr_t) base;
    return base && f >= b && f - b < size;
}
