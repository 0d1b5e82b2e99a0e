/*  delay_stats.h — transport delay (ingest wall clock − sample time) over the last
    DELAY_STATS_N messages, for `status`: a rig operator sees a lagging network at a glance.

        delay_stats_t d = {0};
        delay_stats_add(&d, 0.0012);
        cJSON *j = delay_stats_to_json(&d);   // {"messages": 1, "p50_ms": 1.2, "p99_ms": 1.2}
*/
#ifndef DELAY_STATS_H
#define DELAY_STATS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DELAY_STATS_N 1024

typedef struct {
    double   seconds[DELAY_STATS_N];   /* ring of the newest delays */
    uint64_t added;                    /* delays ever added */
} delay_stats_t;

/*  Records one message's delay in seconds. */
void delay_stats_add(delay_stats_t *self, double seconds);

/*  Percentile q (0..100) of the kept delays, nearest rank; NaN when there are none. */
double delay_stats_percentile(const delay_stats_t *self, double q);

/*  {"messages": kept count, "p50_ms", "p99_ms"}; p50/p99 null without delays. NULL on out
    of memory. */
cJSON *delay_stats_to_json(const delay_stats_t *self);

#ifdef __cplusplus
}
#endif
#endif
