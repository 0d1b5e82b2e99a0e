/*  watch.c — `ezshm-mirror --watch`: a live terminal view of one stream or several.

    Plain ANSI (cursor home + clear), so it works over ssh and needs no ncurses. Each refresh
    drains every ring through ezshm_mirror_read (so rates and losses are the reader's real
    ones), keeps per channel the newest value at each refresh, and draws per stream a title
    line and one row per channel: its level as a bar between the channel's running min and
    max, and a sparkline of the history. Several streams share the terminal's rows evenly.
    When stdout is not a terminal it prints one summary line per stream and refresh instead.
    Between refreshes it sleeps in ezshm_mirror_wait_any on all the streams at once, so it
    wakes when data lands on any of them, not on a fixed poll (one stream: in
    ezshm_mirror_wait_frames for a refresh period's worth of frames); each refresh shows
    the newest frame's stream time and its transport delay (ingest wall clock − sample time)
    when the writer has a clock segment.
    Channels are named by the stream metadata when the stream publishes it (labels of the
    first frame dim's coordinate axis, and its unit), else ch0, ch1, ...
*/
#include "mirror_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define HISTORY 48

typedef struct {
    double values[HISTORY];
    int    count;
    double lo, hi;
} channel_t;

typedef struct {
    ezshm_stream_info_t info;
    uint8_t  *buf;
    uint64_t  per_frame;      /* elements (channels) per frame */
    channel_t *channels;
    uint64_t  frames, lost_total, lost_window;
    double    window_start;
    double    fps, mbps;
    double   *latest;         /* per channel: the newest value read */
    bool      have_frame;
    char      clock[96];      /* "stream time … transport delay …" of the newest frame */
    /*  From the stream metadata (v1 streams that publish it): channel names and their unit. */
    ezshm_tree_t *tree;
    uint32_t  meta_generation;
    char    **labels;         /* per_frame names, NULL without metadata */
    char      unit[32];
} watch_t;

/*  Labels and unit again when the metadata generation moved (or the frame shape did). */
static void
s_labels(watch_t *w, ezshm_mirror_t *m, bool force)
{
    uint32_t gen = ezshm_mirror_meta_generation(m);
    if (!force && gen == w->meta_generation)
        return;
    ezshm_labels_free(w->labels, w->per_frame);
    w->labels = NULL;
    w->unit[0] = '\0';
    w->meta_generation = gen;
    char err[64];
    if (gen && w->tree && ezshm_mirror_meta(m, w->tree, &gen, err, sizeof err) == EZSHM_OK)
        w->labels = ezshm_frame_labels(ezshm_tree_root(w->tree), &w->info, w->unit, sizeof w->unit);
}

/*  The name of channel ch: its label, or "ch<index>". */
static const char *
s_name(const watch_t *w, uint64_t ch, char *buf, size_t len)
{
    if (w->labels && w->labels[ch])
        return w->labels[ch];
    snprintf(buf, len, "ch%llu", (unsigned long long) ch);
    return buf;
}

static int
s_prepare(watch_t *w, ezshm_mirror_t *m)
{
    ezshm_labels_free(w->labels, w->per_frame);
    w->labels = NULL;
    free(w->buf);
    free(w->channels);
    free(w->latest);
    ezshm_mirror_info(m, &w->info);
    w->per_frame = w->info.frame_bytes / w->info.itemsize;
    w->buf = malloc(w->info.n_frames * w->info.frame_bytes);
    w->channels = calloc(w->per_frame, sizeof *w->channels);
    w->latest = calloc(w->per_frame, sizeof *w->latest);
    w->have_frame = false;
    s_labels(w, m, true);
    return w->buf && w->channels && w->latest ? 0 : -1;
}

static void
s_push(channel_t *c, double v)
{
    if (!isfinite(v))
        return;
    if (c->count == HISTORY)
        memmove(c->values, c->values + 1, (HISTORY - 1) * sizeof(double));
    else
        c->count++;
    c->values[c->count - 1] = v;
    if (c->count == 1 || v < c->lo)
        c->lo = v;
    if (c->count == 1 || v > c->hi)
        c->hi = v;
}

static double
s_level(const channel_t *c, double v)
{
    return c->hi > c->lo ? (v - c->lo) / (c->hi - c->lo) : 0.5;
}

/*  The newest frame's stream time and transport delay, as text. Returns EZSHM_ERR_BUS when
    a segment was truncated under the reader (the mode ends), else EZSHM_OK. */
static int
s_clock_text(watch_t *w, ezshm_mirror_t *m)
{
    ezshm_newest_t nw;
    double delay;
    int rc = ezshm_mirror_newest(m, &nw);
    if (rc == EZSHM_ERR_BUS)
        return rc;
    if (rc != EZSHM_OK || !isfinite(nw.time))
        snprintf(w->clock, sizeof w->clock, "stream time unknown");
    else if (ezshm_clock_transport_delay(nw.time, nw.wall_ns, &delay))
        snprintf(w->clock, sizeof w->clock, "stream time %.6f  transport delay %.3f ms", nw.time, delay * 1e3);
    else
        snprintf(w->clock, sizeof w->clock, "stream time %.6f  transport delay n/a", nw.time);
    return EZSHM_OK;
}

static int
s_terminal_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        return ws.ws_row;
    return 24;
}

/*  One stream's block: name, header fields, rates, then at most rows channel rows. */
static void
s_draw(const watch_t *w, const char *name, int rows)
{
    static const char *spark[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    const ezshm_stream_info_t *in = &w->info;
    printf("%s  layout %s  dtype %c  shape [", name, ezshm_layout_name(in->layout), in->dtype);
    for (uint32_t d = 0; d < in->ndim; d++)
        printf("%s%u", d ? "," : "", in->shape[d]);
    printf("]  srate %.6g Hz  generation %u  key '%s'\n", in->srate, in->generation, in->key);
    printf("  ingest %.1f frames/s  %.3f MB/s   lost %llu (total %llu)%s%s\n  %s\n", w->fps, w->mbps,
           (unsigned long long) w->lost_window, (unsigned long long) w->lost_total,
           w->unit[0] ? "   unit " : "", w->unit, w->clock);
    uint64_t shown = w->per_frame < (uint64_t) (rows > 1 ? rows : 1) ? w->per_frame : (uint64_t) rows;
    for (uint64_t ch = 0; ch < shown && w->have_frame; ch++) {
        const channel_t *c = &w->channels[ch];
        double v = c->count ? c->values[c->count - 1] : 0.0;
        int bar = (int) lround(s_level(c, v) * 20.0);
        char label[32];
        printf("%-10.10s %12.5g%s%-4.4s |", s_name(w, ch, label, sizeof label), v, w->unit[0] ? " " : "",
               w->unit);
        for (int i = 0; i < 20; i++)
            fputs(i < bar ? "#" : " ", stdout);
        fputs("| ", stdout);
        for (int i = 0; i < c->count; i++)
            fputs(spark[(int) lround(s_level(c, c->values[i]) * 7.0)], stdout);
        fputc('\n', stdout);
    }
    if (shown < w->per_frame)
        printf("… %llu more channels\n", (unsigned long long) (w->per_frame - shown));
    if (!w->have_frame)
        printf("(waiting for data)\n");
}

static void
s_line(const watch_t *w, const char *name)
{
    printf("%s gen=%u dtype=%c frames/s=%.1f MB/s=%.3f lost=%llu %s", name, w->info.generation,
           w->info.dtype, w->fps, w->mbps, (unsigned long long) w->lost_window, w->clock);
    if (w->unit[0])
        printf(" unit=%s", w->unit);
    for (uint64_t ch = 0; ch < w->per_frame && ch < 8 && w->have_frame; ch++) {
        char buf[32];
        printf(" %s=%.5g", s_name(w, ch, buf, sizeof buf),
               w->channels[ch].count ? w->channels[ch].values[w->channels[ch].count - 1] : NAN);
    }
    printf("\n");
    fflush(stdout);
}

/*  One read of stream w: true when frames came. *rc: EZSHM_OK to go on, else the error. */
static bool
s_poll(watch_t *w, ezshm_mirror_t *m, int *rc)
{
    uint64_t got = 0, lost = 0;
    *rc = ezshm_mirror_read(m, w->buf, w->info.n_frames, &got, &lost);
    if (*rc == EZSHM_ERR_STALE) {
        *rc = s_prepare(w, m) == 0 ? EZSHM_OK : EZSHM_ERR_NOMEM;
        return true;
    }
    if (*rc != EZSHM_OK && *rc != EZSHM_ERR_NOTREADY && *rc != EZSHM_ERR_NOENT)
        return false;
    *rc = EZSHM_OK;
    w->frames += got;
    w->lost_window += lost;
    w->lost_total += lost;
    if (got) {
        const uint8_t *last = w->buf + (got - 1) * w->info.frame_bytes;
        for (uint64_t ch = 0; ch < w->per_frame; ch++)
            w->latest[ch] = ezshm_value_to_double(w->info.dtype, last + ch * w->info.itemsize);
        w->have_frame = true;
    }
    return got != 0;
}

/*  Each refresh adds the newest value of every channel to its history, and the rates of
    the window that ends now. */
static void
s_refresh(watch_t *w, double now)
{
    for (uint64_t ch = 0; ch < w->per_frame && w->have_frame; ch++)
        s_push(&w->channels[ch], w->latest[ch]);
    double dt = now - w->window_start;
    w->fps = dt > 0 ? w->frames / dt : 0.0;
    w->mbps = dt > 0 ? w->frames * (double) w->info.frame_bytes / dt / 1e6 : 0.0;
}

static void
s_reset_window(watch_t *w, double now)
{
    w->frames = 0;
    w->lost_window = 0;
    w->window_start = now;
}

/*  The frames one refresh period brings at the stream's rate (1 when it has none). */
static uint64_t
s_frames_per_refresh(const watch_t *w, double period)
{
    double f = w->info.srate * period;
    return isfinite(f) && f >= 1.0 && f < 1e15 ? (uint64_t) f : 1;
}

int
mirror_watch(ezshm_mirror_t **mirrors, size_t n, double refresh_hz)
{
    watch_t *w = calloc(n, sizeof *w);
    int rc = w ? EZSHM_OK : EZSHM_ERR_NOMEM;
    for (size_t i = 0; i < n && rc == EZSHM_OK; i++) {
        w[i].tree = ezshm_tree_new();
        rc = s_prepare(&w[i], mirrors[i]) == 0 ? EZSHM_OK : EZSHM_ERR_NOMEM;
    }
    bool tty = isatty(STDOUT_FILENO);
    double period = 1.0 / refresh_hz, next = ezshm_time_mono();
    for (size_t i = 0; i < n && rc == EZSHM_OK; i++)
        w[i].window_start = next;
    size_t failed = 0;
    while (!mirror_interrupted && rc == EZSHM_OK) {
        bool any = false;
        for (size_t i = 0; i < n && rc == EZSHM_OK; i++) {
            any |= s_poll(&w[i], mirrors[i], &rc);
            failed = i;
        }
        double now = ezshm_time_mono();
        if (rc == EZSHM_OK && now >= next) {
            /*  The rows left under the title go to the streams in equal shares. */
            int rows = (s_terminal_rows() - 1) / (int) n - 4;
            if (tty)
                printf("\033[H\033[2Jezshm-mirror --watch  %zu stream%s   (Ctrl-C to quit)\n", n, n == 1 ? "" : "s");
            for (size_t i = 0; i < n && rc == EZSHM_OK; i++) {
                s_refresh(&w[i], now);
                s_labels(&w[i], mirrors[i], false);
                if ((rc = s_clock_text(&w[i], mirrors[i])) != EZSHM_OK) {
                    failed = i;
                    break;
                }
                if (tty)
                    s_draw(&w[i], ezshm_mirror_name(mirrors[i]), rows > 1 ? rows : 1);
                else
                    s_line(&w[i], ezshm_mirror_name(mirrors[i]));
                s_reset_window(&w[i], now);
            }
            fflush(stdout);
            next = now + period;
        }
        if (!any && rc == EZSHM_OK) {
            /*  Asleep on every stream at once until data lands on one or the next refresh
                is due; one stream: until a refresh period's worth of frames is there, one
                wake-up per refresh instead of one per chunk. */
            double left = next - ezshm_time_mono();
            rc = mirror_wait(mirrors, n, s_frames_per_refresh(&w[0], period),
                             left > 0 ? (int) (left * 1000.0) + 1 : 0, &failed);
        }
    }
    for (size_t i = 0; w && i < n; i++) {
        ezshm_labels_free(w[i].labels, w[i].per_frame);
        ezshm_tree_destroy(&w[i].tree);
        free(w[i].buf);
        free(w[i].channels);
        free(w[i].latest);
    }
    free(w);
    if (rc != EZSHM_OK)
        mirror_report(mirrors[failed], rc);
    return mirror_exit_code(rc);
}
