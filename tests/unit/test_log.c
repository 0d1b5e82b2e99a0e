/*  test_log.c — ezshmd's log lines: level filter, line format, the per-reason rate limit. */
#include "log.h"
#include "support_file.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_path[64];

/*  Sends stderr to a fresh file for the test. */
static void
s_capture(void)
{
    snprintf(s_path, sizeof s_path, "/tmp/ezshm-test-log-%d.txt", (int) getpid());
    cr_assert_not_null(freopen(s_path, "w", stderr));
}

/*  What was logged so far (caller frees). */
static char *
s_logged(void)
{
    fflush(stderr);
    return (char *) support_read_file(s_path, NULL);
}

static int
s_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(log, level_filter_and_line_format, .init = s_capture)
{
    log_set_level(SETTINGS_LOG_WARNING);
    cr_expect(log_enabled(SETTINGS_LOG_ERROR));
    cr_expect(log_enabled(SETTINGS_LOG_WARNING));
    cr_expect_not(log_enabled(SETTINGS_LOG_INFO));
    log_msg(SETTINGS_LOG_INFO, "hidden %d", 1);
    log_msg(SETTINGS_LOG_WARNING, "shown %d", 2);
    char *text = s_logged();
    cr_assert_not_null(text);
    cr_expect_null(strstr(text, "hidden"));
    regex_t re;
    cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ezshmd warning: shown 2\n$",
                         REG_EXTENDED), 0);
    cr_expect_eq(regexec(&re, text, 0, NULL, 0), 0, "line: %s", text);
    regfree(&re);
    free(text);
    unlink(s_path);
}

Test(log, rate_limit_counts_the_suppressed, .init = s_capture)
{
    log_set_level(SETTINGS_LOG_INFO);
    log_limit_t limit = {0};
    for (int i = 0; i < 5; i++)
        log_limited(&limit, SETTINGS_LOG_WARNING, "flood %d", i);
    char *text = s_logged();
    cr_expect_eq(s_count(text, "flood"), 1, "one line a second: %s", text);
    cr_expect_eq(limit.suppressed, 4);
    free(text);
    /*  As if the second had passed: the next line says how many were held back. */
    limit.next = 0;
    log_limited(&limit, SETTINGS_LOG_WARNING, "flood again");
    text = s_logged();
    cr_expect_neq(strstr(text, "flood again (4 similar suppressed)"), NULL, "%s", text);
    cr_expect_eq(limit.suppressed, 0);
    free(text);
    log_limited(&limit, SETTINGS_LOG_DEBUG, "below the level");
    cr_expect_eq(limit.suppressed, 0, "a disabled level is not counted as suppressed");
    unlink(s_path);
}
