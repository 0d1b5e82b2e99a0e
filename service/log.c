/*  log.c — leveled, rate-limited lines on stderr. */
#include "log.h"
#include "ezshm_time.h"

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
    double now = ezshm_time_wall();
    time_t seconds = (time_t) now;
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /*  Milliseconds truncated, never rounded up to 1000. */
    int ms = (int) ((now - (double) seconds) * 1000.0);
    fprintf(stderr, "%s.%03dZ ezshmd %s: ", stamp, ms > 999 ? 999 : ms, settings_log_level_name(level));
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
    double now = ezshm_time_mono();
    if (now < limit->next) {
        limit->suppressed++;
        return;
    }
    char suffix[64] = "";
    if (limit->suppressed)
        snprintf(suffix, sizeof suffix, " (%llu similar suppressed)", (unsigned long long) limit->suppressed);
    limit->suppressed = 0;
    limit->next = now + 1.0;
    va_list ap;
    va_start(ap, fmt);
    s_vline(level, suffix, fmt, ap);
    va_end(ap);
}
