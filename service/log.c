/*  log.c — leveled, rate-limited lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static settings_log_level_t s_level = SETTINGS_LOG_INFO;

void
log_set_level(settings_log_level_t level)
{
    s_level = level;
}

bool
log_enabled(settings_log_level_t level)
{
    return level <= s_level;
}

static void
s_vline(settings_log_level_t level, const char *suffix, const char *fmt, va_list ap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ ezshmd %s: ", stamp, ts.tv_nsec / 1000000L, settings_log_level_name(level));
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "%s\n", suffix);
}

void
log_msg(settings_log_level_t level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    s_vline(level, "", fmt, ap);
    va_end(ap);
}

void
log_limited(log_limit_t *limit, settings_log_level_t level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (now < limit->next_ns) {
        limit->suppressed++;
        return;
    }
    char suffix[64] = "";
    if (limit->suppressed)
        snprintf(suffix, sizeof suffix, " (%llu similar suppressed)", (unsigned long long) limit->suppressed);
    limit->suppressed = 0;
    limit->next_ns = now + 1000000000LL;
    va_list ap;
    va_start(ap, fmt);
    s_vline(level, suffix, fmt, ap);
    va_end(ap);
}
