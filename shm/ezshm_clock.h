/*  ezshm_clock.h — the two clocks ezshm reads, in seconds as a double.

        double t0 = ezshm_clock_mono();          // intervals, deadlines, rate limits
        double ts = ezshm_clock_wall();          // UNIX time, for messages and status

    The monotonic clock never steps (NTP, an operator's `date`): every interval and timeout
    is measured on it. The wall clock is only for times another process or a person reads.
    A double holds either to well under a microsecond for centuries of uptime.
*/
#ifndef EZSHM_CLOCK_H
#define EZSHM_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/*  CLOCK_MONOTONIC now, in seconds (arbitrary origin). */
double ezshm_clock_mono(void);

/*  CLOCK_REALTIME now: seconds since the UNIX epoch. */
double ezshm_clock_wall(void);

#ifdef __cplusplus
}
#endif
#endif
