/*  test_counters.c — drops counted one counter per reason, sequence gaps per topic, the
    status view. */
#include "counters.h"
#include "drop_reason.h"

#include <criterion/criterion.h>
#include <string.h>

static double
s_reason(const cJSON *json, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "dropped_by_reason"), name);
    cr_assert(cJSON_IsNumber(v), "no counter %s", name);
    return v->valuedouble;
}

Test(counters, every_reason_has_its_own_counter)
{
    static counters_t c;
    log_set_level(SETTINGS_LOG_ERROR);   /* the drop warnings are log's business, not this test's */
    for (int code = -1; code > -DROP_REASON_COUNT; code--)
        for (int k = 0; k < -code; k++)
            counters_drop(&c, (drop_reason_t) code, "why");
    cJSON *json = counters_to_json(&c);
    cr_assert_not_null(json);
    const cJSON *by_reason = cJSON_GetObjectItemCaseSensitive(json, "dropped_by_reason");
    cr_expect_eq(cJSON_GetArraySize(by_reason), DROP_REASON_COUNT - 1, "one counter per reason, no 'ok'");
    double total = 0;
    for (int code = -1; code > -DROP_REASON_COUNT; code--) {
        cr_expect_eq(s_reason(json, drop_reason_name(code)), -code, "%s", drop_reason_name(code));
        total += -code;
    }
    cr_expect_eq(cJSON_GetObjectItemCaseSensitive(json, "dropped")->valuedouble, total);
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(json, "last_error");
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(last, "reason")->valuestring,
                     drop_reason_name(1 - DROP_REASON_COUNT), "the last one dropped");
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(last, "message")->valuestring, "why");
    cJSON_Delete(json);
}

Test(counters, names_are_distinct_and_stable)
{
    cr_expect_str_eq(drop_reason_name(DROP_OK), "ok");
    cr_expect_str_eq(drop_reason_name(DROP_SIZE_OVERFLOW), "size_overflow");
    cr_expect_str_eq(drop_reason_name(INGEST_ERR_NO_SPACE), "no_space");
    cr_expect_str_eq(drop_reason_name(-DROP_REASON_COUNT), "unknown");
    cr_expect_str_eq(drop_reason_name(1), "unknown");
    for (int a = 0; a > -DROP_REASON_COUNT; a--)
        for (int b = a - 1; b > -DROP_REASON_COUNT; b--)
            cr_expect_str_neq(drop_reason_name(a), drop_reason_name(b));
}

Test(counters, sequence_gaps_per_topic)
{
    static counters_t c;
    log_set_level(SETTINGS_LOG_ERROR);
    cr_expect_eq(counters_seq(&c, "a", 1, 10), 0, "the first seq of a topic is no gap");
    cr_expect_eq(counters_seq(&c, "a", 1, 11), 0);
    cr_expect_eq(counters_seq(&c, "b", 1, 500), 0, "topics are counted apart");
    cr_expect_eq(counters_seq(&c, "a", 1, 15), 3);
    cr_expect_eq(counters_seq(&c, "a", 1, 2), 0, "a lower seq is a restarted sender");
    cr_expect_eq(counters_seq(&c, "a", 1, 3), 0);
    cr_expect_eq(counters_seq(&c, "b", 1, 502), 1);
    cr_expect_eq(c.seq_gaps, 4);
}

Test(counters, written_and_empty_status)
{
    static counters_t c;
    cJSON *json = counters_to_json(&c);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(json, "last_error")), "no error yet");
    cJSON_Delete(json);
    counters_written(&c, 10, 400);
    counters_written(&c, 5, 200);
    cr_expect_eq(c.written, 2);
    cr_expect_eq(c.frames, 15);
    cr_expect_eq(c.bytes, 600);
    cr_expect_gt(c.last_write_mono, 0.0);
}

Test(counters, an_implausible_seq_jump_is_a_restart)
{
    static counters_t c;
    log_set_level(SETTINGS_LOG_ERROR);
    cr_expect_eq(counters_seq(&c, "t", 1, 5), 0);
    cr_expect_eq(counters_seq(&c, "t", 1, 5 + (UINT64_C(1) << 63)), 0, "2^63 messages were not lost");
    cr_expect_eq(counters_seq(&c, "t", 1, 7 + (UINT64_C(1) << 63)), 1, "counting resumes from the new numbering");
    cr_expect_eq(counters_seq(&c, "t", 1, UINT64_MAX), 0);
    cr_expect_eq(counters_seq(&c, "t", 1, 0), 0, "after UINT64_MAX");
    cr_expect_eq(counters_seq(&c, "t", 1, 1 + COUNTERS_SEQ_MAX_GAP), COUNTERS_SEQ_MAX_GAP, "the largest plausible gap");
    cr_expect_eq(c.seq_gaps, 1 + COUNTERS_SEQ_MAX_GAP);
}
