/*  web_metrics.h — ezshmd's status as the Prometheus text exposition format 0.0.4.

    Pure: replies in, text out (no sockets), so the exposition is tested and fuzzed
    without a daemon. Every family has # HELP and # TYPE; every sample of a family is
    written together; label values are escaped (\\, \", \n) whatever a stream name holds.
    Each value comes from a field of the status, streams or health reply
    (docs/http-api.md lists the mapping); a field absent from the reply is no sample.
*/
#ifndef EZSHM_WEB_METRICS_H
#define EZSHM_WEB_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  One ezshmd as seen by one scrape: its replies, NULL when it gave none in time. */
typedef struct {
    const char *endpoint;     /* its control endpoint: the daemon label        */
    const cJSON *status;      /* {"op":"status"} reply                          */
    const cJSON *streams;     /* {"op":"streams"} reply                         */
    const cJSON *health;      /* {"op":"health"} reply                          */
} web_daemon_view_t;

#define WEB_HTTP_CODES 16     /* distinct HTTP status codes counted */

/*  ezshm-web's own counters. */
typedef struct {
    int codes[WEB_HTTP_CODES];         /* HTTP status code of slot i (0: unused) */
    uint64_t responses[WEB_HTTP_CODES];
    uint64_t control_timeouts;         /* ezshmd calls that got no reply in time */
    uint64_t clients_dropped;          /* clients cut for not reading            */
    uint64_t connections;              /* TCP connections accepted               */
    uint64_t connections_refused;      /* closed before any request was routed   */
    int sse_clients;                   /* event-stream clients now               */
    int console_clients;               /* console WebSocket clients now          */
    uint64_t console_refused;          /* console upgrades refused (origin, token, bound) */
} web_self_stats_t;

/*  Counts one response of HTTP status code in stats (codes beyond the slots: lost). */
void web_self_count(web_self_stats_t *stats, int code);

/*  Writes the exposition of n daemons and ezshm-web itself to out. */
void web_metrics_render(FILE *out, const web_daemon_view_t *daemons, size_t n, const web_self_stats_t *self);

/*  Writes s as a label value (no quotes) with \\, \" and \n escaped. */
void web_metrics_label(FILE *out, const char *s);

#ifdef __cplusplus
}
#endif
#endif
