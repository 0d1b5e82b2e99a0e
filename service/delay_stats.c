/*  delay_stats.c — a ring of recent delays and nearest-rank percentiles over it. */
#include "delay_stats.h"
#include "ezshm_value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
delay_stats_add(delay_stats_t *self, double seconds)
{
    self->seconds[self->added % DELAY_STATS_N] = seconds;
    self->added++;
}

double
delay_stats_percentile(const delay_stats_t *self, double q)
{
    size_t n = self->added < DELAY_STATS_N ? (size_t) self->added : DELAY_STATS_N;
    if (n == 0)
        return NAN;
    /*  Sorting 1024 doubles per status request costs microseconds; the data path only
        stores one number per message. */
    double sorted[DELAY_STATS_N];
    memcpy(sorted, self->seconds, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, ezshm_value_compare_double);
    size_t rank = (size_t) ceil(q / 100.0 * (double) n);
    return sorted[rank > 0 ? rank - 1 : 0];
}

cJSON *
delay_stats_to_json(const delay_stats_t *self)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    size_t n = self->added < DELAY_STATS_N ? (size_t) self->added : DELAY_STATS_N;
    cJSON_AddNumberToObject(o, "messages", (double) n);
    if (n == 0) {
        cJSON_AddNullToObject(o, "p50_ms");
        cJSON_AddNullToObject(o, "p99_ms");
    }
    else {
        cJSON_AddNumberToObject(o, "p50_ms", delay_stats_percentile(self, 50.0) * 1e3);
        cJSON_AddNumberToObject(o, "p99_ms", delay_stats_percentile(self, 99.0) * 1e3);
    }
    return o;
}
