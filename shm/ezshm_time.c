/*  ezshm_time.c — clock_gettime() as seconds. */
#include "ezshm_time.h"

#include <time.h>

static double
s_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

double
ezshm_time_mono(void)
{
    return s_seconds(CLOCK_MONOTONIC);
}

double
ezshm_time_wall(void)
{
    return s_seconds(CLOCK_REALTIME);
}

int64_t
ezshm_time_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
