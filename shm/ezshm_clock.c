/*  ezshm_clock.c — clock_gettime() as seconds. */
#include "ezshm_clock.h"

#include <time.h>

static double
s_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

double
ezshm_clock_mono(void)
{
    return s_seconds(CLOCK_MONOTONIC);
}

double
ezshm_clock_wall(void)
{
    return s_seconds(CLOCK_REALTIME);
}
