/*  log.h — ezshmd's log: one line per event on stderr, with level and UTC timestamp, and a
    rate limit per reason so a flood of bad messages cannot flood the log. */
#ifndef EZSHM_LOG_H
#define EZSHM_LOG_H

#include "settings.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void log_set_level(settings_log_level_t level);
bool log_enabled(settings_log_level_t level);

/*  Writes one line if level is enabled. */
void log_msg(settings_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  A rate-limited channel: at most one line per second; the next line that passes says how
    many were suppressed in between. Zero-initialise one per reason. */
typedef struct {
    double   next;         /* monotonic seconds before which lines are suppressed */
    uint64_t suppressed;
} log_limit_t;

void log_limited(log_limit_t *limit, settings_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
