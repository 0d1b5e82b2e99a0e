/*  test_delay_stats.c — transport delay percentiles for `status`. */
#include "delay_stats.h"

#include <criterion/criterion.h>
#include <math.h>

Test(delay_stats, nearest_rank_over_the_last_messages)
{
    static delay_stats_t d;
    cr_expect(isnan(delay_stats_percentile(&d, 50)));
    cJSON *j = delay_stats_to_json(&d);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "p50_ms")));
    cJSON_Delete(j);
    for (int i = 1; i <= 100; i++)
        delay_stats_add(&d, i * 1e-3);
    cr_expect_eq(delay_stats_percentile(&d, 50), 50e-3);
    cr_expect_eq(delay_stats_percentile(&d, 99), 99e-3);
    /*  Only the newest DELAY_STATS_N count: 5000 slow messages push the fast ones out. */
    for (int i = 0; i < 5000; i++)
        delay_stats_add(&d, 2.0);
    cr_expect_eq(delay_stats_percentile(&d, 50), 2.0);
    j = delay_stats_to_json(&d);
    cr_expect_eq(cJSON_GetObjectItem(j, "messages")->valuedouble, DELAY_STATS_N);
    cr_expect_eq(cJSON_GetObjectItem(j, "p99_ms")->valuedouble, 2000.0);
    cJSON_Delete(j);
}
