/*  ezshm_time.h — the two clocks ezshm reads, in seconds as a double.

        double t0 = ezshm_time_mono();           // intervals, deadlines, rate limits
        double ts = ezshm_time_wall();           // UNIX time, for messages and status

    The monotonic clock never steps (NTP, an operator's `date`): every interval and timeout
    is measured on it. The wall clock is only for times another process or a person reads.
    A double holds either to well under a microsecond for centuries of uptime.
*/
#ifndef EZSHM_TIME_H
#define EZSHM_TIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  CLOCK_MONOTONIC now, in seconds (arbitrary origin). */
double ezshm_time_mono(void);

/*  CLOCK_REALTIME now: seconds since the UNIX epoch. */
double ezshm_time_wall(void);

/*  The same in integer nanoseconds: exact, for stamps stored next to data (the clock
    segment's ingest wall clock). */
int64_t ezshm_time_wall_ns(void);

#ifdef __cplusplus
}
#endif
#endif
