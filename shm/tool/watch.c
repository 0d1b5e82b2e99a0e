/*  watch.c — `ezshm-mirror --watch`: a live terminal view of a stream.

    Plain ANSI (cursor home + clear), so it works over ssh and needs no ncurses. Each refresh
    drains the ring through ezshm_mirror_read (so rates and losses are the reader's real ones),
    keeps per channel the newest value at each refresh, and draws one row per channel:
    its level as a bar between the channel's running min and max, and a sparkline of the
    history. When stdout is not a terminal it prints one summary line per refresh instead.
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
} watch_t;

static int
s_prepare(watch_t *w, ezshm_mirror_t *m)
{
    free(w->buf);
    free(w->channels);
    free(w->latest);
    ezshm_mirror_info(m, &w->info);
    w->per_frame = w->info.frame_bytes / w->info.itemsize;
    w->buf = malloc(w->info.n_frames * w->info.frame_bytes);
    w->channels = calloc(w->per_frame, sizeof *w->channels);
    w->latest = calloc(w->per_frame, sizeof *w->latest);
    w->have_frame = false;
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

static int
s_terminal_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        return ws.ws_row;
    return 24;
}

static void
s_draw(const watch_t *w, const char *name)
{
    static const char *spark[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    const ezshm_stream_info_t *in = &w->info;
    printf("\033[H\033[2J");
    printf("ezshm-mirror --watch  %s   (Ctrl-C to quit)\n", name);
    printf("layout %s  dtype %c  shape [", ezshm_layout_name(in->layout), in->dtype);
    for (uint32_t d = 0; d < in->ndim; d++)
        printf("%s%u", d ? "," : "", in->shape[d]);
    printf("]  srate %.6g Hz  generation %u  key '%s'\n", in->srate, in->generation, in->key);
    printf("ingest %.1f frames/s  %.3f MB/s   lost %llu (total %llu)\n\n", w->fps, w->mbps,
           (unsigned long long) w->lost_window, (unsigned long long) w->lost_total);
    int rows = s_terminal_rows() - 6;
    uint64_t shown = w->per_frame < (uint64_t) (rows > 1 ? rows : 1) ? w->per_frame : (uint64_t) rows;
    for (uint64_t ch = 0; ch < shown && w->have_frame; ch++) {
        const channel_t *c = &w->channels[ch];
        double v = c->count ? c->values[c->count - 1] : 0.0;
        int bar = (int) lround(s_level(c, v) * 20.0);
        printf("ch%-4llu %12.5g |", (unsigned long long) ch, v);
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
    fflush(stdout);
}

static void
s_line(const watch_t *w, const char *name)
{
    printf("%s gen=%u dtype=%c frames/s=%.1f MB/s=%.3f lost=%llu", name, w->info.generation,
           w->info.dtype, w->fps, w->mbps, (unsigned long long) w->lost_window);
    for (uint64_t ch = 0; ch < w->per_frame && ch < 8 && w->have_frame; ch++)
        printf(" ch%llu=%.5g", (unsigned long long) ch,
               w->channels[ch].count ? w->channels[ch].values[w->channels[ch].count - 1] : NAN);
    printf("\n");
    fflush(stdout);
}

int
mirror_watch(ezshm_mirror_t *m, double refresh_hz)
{
    watch_t w;
    memset(&w, 0, sizeof w);
    if (s_prepare(&w, m) != 0)
        return MIRROR_EXIT_ERROR;
    bool tty = isatty(STDOUT_FILENO);
    double period = 1.0 / refresh_hz, next = ezshm_clock_mono();
    w.window_start = next;
    int rc = EZSHM_OK;
    while (!mirror_interrupted) {
        uint64_t got = 0, lost = 0;
        rc = ezshm_mirror_read(m, w.buf, w.info.n_frames, &got, &lost);
        if (rc == EZSHM_ERR_STALE) {
            if (s_prepare(&w, m) != 0)
                return MIRROR_EXIT_ERROR;
            continue;
        }
        if (rc != EZSHM_OK && rc != EZSHM_ERR_NOTREADY && rc != EZSHM_ERR_NOENT)
            break;
        rc = EZSHM_OK;
        w.frames += got;
        w.lost_window += lost;
        w.lost_total += lost;
        if (got) {
            const uint8_t *last = w.buf + (got - 1) * w.info.frame_bytes;
            for (uint64_t ch = 0; ch < w.per_frame; ch++)
                w.latest[ch] = ezshm_value_to_double(w.info.dtype, last + ch * w.info.itemsize);
            w.have_frame = true;
        }
        double now = ezshm_clock_mono();
        if (now >= next) {
            /*  Each refresh adds the newest value of every channel to its history. */
            for (uint64_t ch = 0; ch < w.per_frame && w.have_frame; ch++)
                s_push(&w.channels[ch], w.latest[ch]);
            double dt = now - w.window_start;
            w.fps = dt > 0 ? w.frames / dt : 0.0;
            w.mbps = dt > 0 ? w.frames * (double) w.info.frame_bytes / dt / 1e6 : 0.0;
            if (tty)
                s_draw(&w, ezshm_mirror_name(m));
            else
                s_line(&w, ezshm_mirror_name(m));
            w.frames = 0;
            w.lost_window = 0;
            w.window_start = now;
            next = now + period;
        }
        if (!got)
            mirror_sleep(0.005);
    }
    free(w.buf);
    free(w.channels);
    free(w.latest);
    return mirror_exit_code(rc);
}
