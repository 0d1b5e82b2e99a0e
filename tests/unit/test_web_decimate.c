/*  test_web_decimate.c — the console's decimator against a real writer: exact min/max per
    pixel column of a known pattern (every dtype, a slice of a 3-D stream), columns without
    frames and frames lost as gaps, a rebuild followed, a stream without a clock, the view's
    bounds.

    The grid is dyadic (128 frames/s, columns of 1/8 s) so every time and column edge is
    exact in binary: frame p at time T0 + p/128 lies in grid column 8·T0 + p/16.
*/
#include "support_shm.h"
#include "console_decimate.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(web_decimate, .init = s_init, .fini = s_fini);

#define RATE 128.0
#define T0 1024.0                 /* the sender's time of frame 0 */
#define PER_COLUMN 16             /* frames per column at window 1 s, 8 columns */

/*  The pattern: element (channel c, slice index f) of frame p is p·(c+1) + 40·f (the int8
    test keeps it under 128). */
static double
s_value(uint64_t p, uint32_t c, uint32_t f)
{
    return (double) (p * (c + 1) + 40 * f);
}

/*  One element of dtype code into dst. */
static void
s_store(char dtype, void *dst, double v)
{
    switch (dtype) {
    case '?': { uint8_t x = v != 0; memcpy(dst, &x, 1); break; }
    case 'b': { int8_t x = (int8_t) v; memcpy(dst, &x, 1); break; }
    case 'B': { uint8_t x = (uint8_t) v; memcpy(dst, &x, 1); break; }
    case 'h': { int16_t x = (int16_t) v; memcpy(dst, &x, 2); break; }
    case 'H': { uint16_t x = (uint16_t) v; memcpy(dst, &x, 2); break; }
    case 'i': { int32_t x = (int32_t) v; memcpy(dst, &x, 4); break; }
    case 'I': { uint32_t x = (uint32_t) v; memcpy(dst, &x, 4); break; }
    case 'l': case 'q': { int64_t x = (int64_t) v; memcpy(dst, &x, 8); break; }
    case 'L': case 'Q': { uint64_t x = (uint64_t) v; memcpy(dst, &x, 8); break; }
    case 'f': { float x = (float) v; memcpy(dst, &x, 4); break; }
    case 'd': memcpy(dst, &v, 8); break;
    case 'F': { float z[2] = {(float) v, 0}; memcpy(dst, z, 8); break; }
    case 'D': { double z[2] = {v, 0}; memcpy(dst, z, 16); break; }
    default: cr_assert_fail("dtype %c", dtype);
    }
}

typedef struct {
    ezshm_writer_t *w;
    char            dtype;
    uint32_t        channels, freqs;   /* freqs 0: frames of [channels] */
    uint64_t        next;              /* frames written (the pattern's p)  */
    double          time_skip;         /* seconds added to every later frame's time */
} rig_t;

static void
s_configure(rig_t *r, uint64_t ring)
{
    uint64_t shape[2] = {r->channels, r->freqs};
    ezshm_ring_spec_t spec = {r->dtype, RATE, ring, r->freqs ? 2u : 1u, shape, "k", 1};
    cr_assert_eq(ezshm_writer_configure(r->w, &spec), EZSHM_OK);
    r->next = 0;
}

static rig_t
s_rig(const char *name, char dtype, uint32_t channels, uint32_t freqs, uint64_t ring, bool no_clock)
{
    rig_t r = {shmt_writer(name, EZSHM_LAYOUT_V1, no_clock), dtype, channels, freqs, 0, 0};
    s_configure(&r, ring);
    return r;
}

/*  Writes frames [next, next + n) of the pattern as one chunk, its times T0 + p/128. */
static void
s_write(rig_t *r, uint64_t n)
{
    uint32_t per = r->freqs ? r->freqs : 1;
    size_t item = ezshm_dtype_itemsize(r->dtype);
    uint8_t *buf = calloc(n * r->channels * per, item);
    for (uint64_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < r->channels; c++)
            for (uint32_t f = 0; f < per; f++)
                s_store(r->dtype, buf + ((i * r->channels + c) * per + f) * item, s_value(r->next + i, c, f));
    ezshm_contiguous_t src = {buf, r->channels * per * item};
    ezshm_chunk_time_t ct = {T0 + r->time_skip + (double) r->next / RATE, 1.0 / RATE, NULL, 0, EZSHM_SEQ_NONE};
    cr_assert_eq(ezshm_writer_write_timed(r->w, n, ezshm_copy_contiguous, &src, &ct), EZSHM_OK);
    r->next += n;
    free(buf);
}

static void
s_write_chunks(rig_t *r, uint64_t n, uint64_t chunk)
{
    while (n) {
        uint64_t k = n < chunk ? n : chunk;
        s_write(r, k);
        n -= k;
    }
}

static console_decimate_t *
s_decimate(const char *name, const console_view_t *view)
{
    console_decimate_t *d = NULL;
    cr_assert_eq(console_decimate_new(name, view, &d), EZSHM_OK);
    return d;
}

static void
s_pump(console_decimate_t *d)
{
    bool more = true;
    cr_assert_eq(console_decimate_pump(d, 1u << 20, &more), EZSHM_OK);
    cr_expect_not(more);
}

/*  Column k of c, min and max of channel ch. */
static float s_min(const console_columns_t *c, uint32_t ch, uint32_t k)
{
    return c->min[(size_t) ch * c->columns + (c->start + k) % c->columns];
}
static float s_max(const console_columns_t *c, uint32_t ch, uint32_t k)
{
    return c->max[(size_t) ch * c->columns + (c->start + k) % c->columns];
}
static uint8_t s_flags(const console_columns_t *c, uint32_t k)
{
    return c->flags[(c->start + k) % c->columns];
}

/*  Frames first..last of the pattern lie in column k: its min/max per channel are exact. */
static void
s_expect_column(const console_columns_t *c, uint32_t k, uint64_t first, uint64_t last, uint32_t f)
{
    cr_expect_eq(s_flags(c, k) & CONSOLE_COLUMN_DATA, CONSOLE_COLUMN_DATA, "column %u has no data", k);
    for (uint32_t ch = 0; ch < c->channels; ch++) {
        uint32_t abs = c->channel_first + ch;
        cr_expect_eq(s_min(c, ch, k), (float) s_value(first, abs, f), "column %u channel %u min %g, want %g",
                     k, abs, (double) s_min(c, ch, k), s_value(first, abs, f));
        cr_expect_eq(s_max(c, ch, k), (float) s_value(last, abs, f), "column %u channel %u max %g, want %g",
                     k, abs, (double) s_max(c, ch, k), s_value(last, abs, f));
    }
}

static const console_view_t s_view8 = {.window = 1.0, .columns = 8};

/*  A rig and a decimator of its stream, attached; c: the plot after the last s_look. */
typedef struct {
    rig_t               r;
    console_decimate_t *d;
    console_columns_t   c;
} plot_t;

static plot_t
s_plot(char dtype, uint32_t channels, uint32_t freqs, uint64_t ring, bool no_clock, const console_view_t *view)
{
    const char *name = shmt_unique_name();
    plot_t p = {s_rig(name, dtype, channels, freqs, ring, no_clock), s_decimate(name, view), {0}};
    s_pump(p.d);
    return p;
}

/*  Takes what arrived into the plot and returns it. */
static const console_columns_t *
s_look(plot_t *p)
{
    s_pump(p->d);
    console_decimate_columns(p->d, &p->c);
    return &p->c;
}

static void
s_close(plot_t *p)
{
    console_decimate_destroy(&p->d);
    cr_expect_null(p->d);
    ezshm_writer_destroy(&p->r.w);
}

/*  Columns k in [from, to) of c have no frame: flags 0, min/max NaN. */
static void
s_expect_empty(const console_columns_t *c, uint32_t from, uint32_t to)
{
    for (uint32_t k = from; k < to; k++) {
        cr_expect_eq(s_flags(c, k), 0, "column %u", k);
        for (uint32_t ch = 0; ch < c->channels; ch++)
            cr_expect(isnan(s_min(c, ch, k)) && isnan(s_max(c, ch, k)), "column %u channel %u", k, ch);
    }
}

Test(web_decimate, exact_min_max_per_column_and_time_axis)
{
    plot_t p = s_plot('d', 3, 0, 1024, false, &s_view8);
    s_write_chunks(&p.r, 200, 7);         /* frames 0..199, in chunks that straddle columns */
    const console_columns_t *c = s_look(&p);
    cr_assert(c->attached);
    cr_expect_eq(c->channels, 3);
    cr_expect_eq(c->channels_total, 3);
    cr_expect_eq(c->columns, 8);
    cr_expect(c->clock);
    cr_expect_eq(c->frames, 200);
    cr_expect_eq(c->lost, 0);
    /*  Frame 199 is in grid column 8·1024 + 12: the plot is columns 8197..8204. */
    cr_expect_eq(c->first_column, 8192 + 12 - 7);
    cr_expect_eq(c->t0, T0 + 5.0 / 8);
    cr_expect_eq(c->t1, T0 + 13.0 / 8);
    cr_expect_eq(c->t_newest, T0 + 199.0 / RATE);
    for (uint32_t k = 0; k < 7; k++)
        s_expect_column(c, k, (k + 5) * PER_COLUMN, (k + 5) * PER_COLUMN + 15, 0);
    s_expect_column(c, 7, 12 * PER_COLUMN, 199, 0);   /* the newest, partly filled */

    /*  One more frame moves nothing but the newest column's max. */
    uint64_t changes = c->changes;
    s_write(&p.r, 1);
    c = s_look(&p);
    cr_expect_gt(c->changes, changes);
    cr_expect_eq(c->first_column, 8192 + 12 - 7);
    s_expect_column(c, 7, 12 * PER_COLUMN, 200, 0);
    s_close(&p);
}

Test(web_decimate, every_dtype)
{
    static const char dtypes[] = "bBhHiIlLqQfdFD";
    for (const char *dt = dtypes; *dt; dt++) {
        plot_t p = s_plot(*dt, 2, 0, 512, false, &s_view8);
        s_write_chunks(&p.r, 60, 5);   /* values up to 59·2 = 118: int8 holds them */
        const console_columns_t *c = s_look(&p);
        cr_assert_eq(c->dtype, *dt);
        cr_assert_eq(c->channels, 2, "dtype %c", *dt);
        /*  Frames 0..59: columns 8192..8195 hold 16 frames each but the last (12). */
        cr_expect_eq(c->first_column, 8192 + 3 - 7, "dtype %c", *dt);
        for (uint32_t k = 4; k < 7; k++)
            s_expect_column(c, k, (k - 4) * PER_COLUMN, (k - 4) * PER_COLUMN + 15, 0);
        s_expect_column(c, 7, 48, 59, 0);
        s_expect_empty(c, 0, 4);
        s_close(&p);
    }
}

Test(web_decimate, bool_dtype_is_zero_or_one)
{
    plot_t p = s_plot('?', 2, 0, 512, false, &s_view8);
    s_write_chunks(&p.r, 32, 8);   /* channel values p·(c+1): false only at p = 0 */
    const console_columns_t *c = s_look(&p);
    cr_expect_eq(s_min(c, 0, 6), 0.0f);
    cr_expect_eq(s_max(c, 0, 6), 1.0f);
    cr_expect_eq(s_min(c, 1, 7), 1.0f);
    cr_expect_eq(s_max(c, 1, 7), 1.0f);
    s_close(&p);
}

Test(web_decimate, slice_of_a_three_dim_stream_and_channel_range)
{
    console_view_t v = {.window = 1.0, .columns = 8, .channel_first = 1, .channel_count = 2,
                        .n_slice = 1, .slice = {2}};
    plot_t p = s_plot('f', 4, 3, 512, false, &v);   /* time × 4 ch × 3 freq */
    s_write_chunks(&p.r, 64, 16);
    const console_columns_t *c = s_look(&p);
    cr_expect_eq(c->channels_total, 4);
    cr_expect_eq(c->channel_first, 1);
    cr_expect_eq(c->channels, 2);
    cr_expect_eq(c->n_slice, 1);
    cr_expect_eq(c->slice[0], 2);
    for (uint32_t k = 4; k < 8; k++)
        s_expect_column(c, k, (k - 4) * PER_COLUMN, (k - 4) * PER_COLUMN + 15, 2);

    /*  A slice beyond the dim is taken as 0; the plot restarts from the ring's frames. */
    v.slice[0] = 7;
    cr_assert_eq(console_decimate_set_view(p.d, &v), EZSHM_OK);
    c = s_look(&p);
    cr_expect_eq(c->slice[0], 0);
    for (uint32_t k = 4; k < 8; k++)
        s_expect_column(c, k, (k - 4) * PER_COLUMN, (k - 4) * PER_COLUMN + 15, 0);
    s_close(&p);
}

Test(web_decimate, new_view_refills_the_window_from_the_ring)
{
    const char *name = shmt_unique_name();
    plot_t p = {s_rig(name, 'h', 2, 0, 1024, false), NULL, {0}};
    s_write_chunks(&p.r, 100, 10);    /* before the decimator exists */
    p.d = s_decimate(name, &s_view8);
    const console_columns_t *c = s_look(&p);
    /*  Attached after the frames: they fill the window all the same. */
    cr_expect_eq(c->first_column, 8192 + 6 - 7);
    for (uint32_t k = 1; k < 7; k++)
        s_expect_column(c, k, (k - 1) * PER_COLUMN, (k - 1) * PER_COLUMN + 15, 0);
    s_expect_column(c, 7, 96, 99, 0);

    /*  Twice the columns over half the window: 32 columns of 1/64 s (2 frames each). */
    console_view_t v = {.window = 0.5, .columns = 32};
    cr_assert_eq(console_decimate_set_view(p.d, &v), EZSHM_OK);
    c = s_look(&p);
    cr_expect_eq(c->columns, 32);
    cr_expect_eq(c->window, 0.5);
    cr_expect_eq(c->first_column, 1024 * 64 + 49 - 31);
    for (uint32_t k = 0; k < 32; k++)
        s_expect_column(c, k, (18 + k) * 2, (18 + k) * 2 + 1, 0);
    s_close(&p);
}

/*  Frames 0..31 at the sender's times, then 32..63 with skip seconds added to their times. */
static const console_columns_t *
s_two_runs(plot_t *p, double skip)
{
    s_write(&p->r, 32);              /* columns 8192, 8193 */
    p->r.time_skip = skip;
    s_write(&p->r, 32);
    return s_look(p);
}

Test(web_decimate, time_without_frames_is_a_gap)
{
    plot_t p = s_plot('d', 1, 0, 1024, false, &s_view8);
    /*  The sender sent nothing for three columns: the second run is in columns 8197, 8198. */
    const console_columns_t *c = s_two_runs(&p, 3.0 / 8);
    cr_expect_eq(c->first_column, 8198 - 7);
    cr_expect_eq(c->lost, 0);
    s_expect_empty(c, 0, 1);
    s_expect_column(c, 1, 0, 15, 0);
    s_expect_column(c, 2, 16, 31, 0);
    s_expect_empty(c, 3, 6);
    s_expect_column(c, 6, 32, 47, 0);
    s_expect_column(c, 7, 48, 63, 0);
    s_close(&p);
}

Test(web_decimate, a_restarted_sender_clock_starts_the_plot_again)
{
    plot_t p = s_plot('d', 1, 0, 512, false, &s_view8);
    /*  The sender's clock now starts at 0: the second run is in columns 2, 3. */
    const console_columns_t *c = s_two_runs(&p, -T0);
    cr_expect_eq(c->first_column, 3 - 7);
    s_expect_empty(c, 0, 6);
    s_expect_column(c, 6, 32, 47, 0);
    s_expect_column(c, 7, 48, 63, 0);
    cr_expect_eq(c->t_newest, 63.0 / RATE);
    s_close(&p);
}

Test(web_decimate, frames_lost_by_a_slow_reader_are_marked)
{
    console_view_t v = {.window = 4.0, .columns = 32};   /* 1/8 s columns over 4 s */
    plot_t p = s_plot('d', 2, 0, 64, false, &v);           /* a ring of half a second */
    s_write(&p.r, 16);               /* column 8192 read */
    s_look(&p);
    s_write_chunks(&p.r, 200, 8);    /* 200 more: the oldest ~150 are overwritten unread */
    const console_columns_t *c = s_look(&p);
    cr_assert_gt(c->lost, 100);
    cr_expect_eq(c->frames + c->lost, 216);
    uint64_t first_read = 216 - (c->frames - 16);  /* the first frame read after the loss */
    int64_t lost_from = 8192 + 1, lost_to = 8192 + (int64_t) (first_read / PER_COLUMN);
    cr_expect_eq(c->first_column, 8192 + 13 - 31);
    for (uint32_t k = 0; k < 32; k++) {
        int64_t b = c->first_column + k;
        uint8_t f = s_flags(c, k);
        bool lost = b >= lost_from && b <= lost_to;
        cr_expect_eq(!!(f & CONSOLE_COLUMN_LOST), lost, "grid column %lld flags %u", (long long) b, f);
        bool data = b == 8192 || (b >= lost_to && b <= 8192 + 13);
        cr_expect_eq(!!(f & CONSOLE_COLUMN_DATA), data, "grid column %lld flags %u", (long long) b, f);
    }
    s_expect_column(c, (uint32_t) (8192 - c->first_column), 0, 15, 0);
    s_expect_column(c, 31, 13 * PER_COLUMN, 215, 0);
    s_close(&p);
}

Test(web_decimate, rebuild_is_followed_with_the_new_shape)
{
    plot_t p = s_plot('d', 2, 0, 512, false, &s_view8);
    s_write_chunks(&p.r, 40, 8);
    const console_columns_t *c = s_look(&p);
    uint32_t gen = c->generation;
    cr_expect_eq(c->rebuilds, 0);
    cr_expect_eq(c->channels, 2);

    p.r.channels = 5;                /* a new shape: generation + 1 */
    s_configure(&p.r, 512);
    s_write_chunks(&p.r, 24, 8);
    c = s_look(&p);
    cr_expect_eq(c->generation, gen + 1);
    cr_expect_eq(c->rebuilds, 1);
    cr_expect_eq(c->channels, 5);
    cr_expect_eq(c->channels_total, 5);
    /*  Only the new ring's frames (0..23 again): the old ones are gone from the plot. */
    cr_expect_eq(c->first_column, 8192 + 1 - 7);
    s_expect_column(c, 6, 0, 15, 0);
    s_expect_column(c, 7, 16, 23, 0);
    s_expect_empty(c, 0, 6);
    s_close(&p);
}

Test(web_decimate, without_a_clock_frames_are_spaced_by_srate)
{
    plot_t p = s_plot('d', 1, 0, 512, true, &s_view8);
    s_write_chunks(&p.r, 40, 8);     /* without a wake segment the frames are simply there */
    const console_columns_t *c = s_look(&p);
    cr_expect_not(c->clock);
    cr_expect_eq(c->frames, 40);
    /*  Time = frame count / 128 from the first frame read: columns 0..2. */
    cr_expect_eq(c->first_column, 2 - 7);
    s_expect_column(c, 5, 0, 15, 0);
    s_expect_column(c, 7, 32, 39, 0);
    s_close(&p);
}

Test(web_decimate, budget_bounds_one_pump)
{
    plot_t p = s_plot('d', 1, 0, 1024, false, &s_view8);
    s_write_chunks(&p.r, 100, 10);
    bool more = false;
    cr_assert_eq(console_decimate_pump(p.d, 30, &more), EZSHM_OK);
    cr_expect(more);
    console_decimate_columns(p.d, &p.c);
    cr_expect_eq(p.c.frames, 30);
    cr_expect_eq(s_look(&p)->frames, 100);
    s_close(&p);
}

Test(web_decimate, no_stream_yet_then_it_appears)
{
    const char *name = shmt_unique_name();
    plot_t p = {{0}, s_decimate(name, &s_view8), {0}};
    cr_expect_eq(console_decimate_pump(p.d, 100, NULL), EZSHM_ERR_NOENT);
    console_decimate_columns(p.d, &p.c);
    cr_expect_not(p.c.attached);
    cr_expect_eq(p.c.columns, 0);
    cr_expect(isnan(p.c.t0));
    p.r = s_rig(name, 'd', 1, 0, 512, false);
    s_write(&p.r, 8);
    const console_columns_t *c = s_look(&p);
    cr_expect(c->attached);
    s_expect_column(c, 7, 0, 7, 0);
    s_close(&p);
}

Test(web_decimate, view_bounds_and_the_cell_cap)
{
    console_view_t v = {.window = 1.0, .columns = 8};
    console_decimate_t *d = NULL;
    v.columns = 0;
    cr_expect_eq(console_decimate_new("x", &v, &d), EZSHM_ERR_INVAL);
    v.columns = CONSOLE_DECIMATE_MAX_COLUMNS + 1;
    cr_expect_eq(console_decimate_new("x", &v, &d), EZSHM_ERR_INVAL);
    v.columns = 8;
    v.window = 0;
    cr_expect_eq(console_decimate_new("x", &v, &d), EZSHM_ERR_INVAL);
    v.window = NAN;
    cr_expect_eq(console_decimate_new("x", &v, &d), EZSHM_ERR_INVAL);
    v.window = CONSOLE_DECIMATE_MAX_WINDOW * 2;
    cr_expect_eq(console_decimate_new("x", &v, &d), EZSHM_ERR_INVAL);
    v.window = 1;
    v.n_slice = CONSOLE_DECIMATE_MAX_SLICE + 1;
    cr_expect_eq(console_decimate_new("x", &v, &d), EZSHM_ERR_INVAL);
    cr_expect_null(d);
    v.n_slice = 0;

    /*  300 channels at the widest plot: cut to the cells the cap allows. */
    console_view_t wide = {.window = 1.0, .columns = CONSOLE_DECIMATE_MAX_COLUMNS};
    plot_t p = s_plot('h', 300, 0, 256, false, &wide);
    const console_columns_t *c = s_look(&p);
    cr_expect_eq(c->channels_total, 300);
    cr_expect_eq(c->channels, CONSOLE_DECIMATE_MAX_CELLS / CONSOLE_DECIMATE_MAX_COLUMNS);
    cr_expect_eq(console_decimate_set_view(p.d, &v), EZSHM_OK);
    v.columns = 0;
    cr_expect_eq(console_decimate_set_view(p.d, &v), EZSHM_ERR_INVAL);
    c = s_look(&p);
    cr_expect_eq(c->columns, 8, "the invalid view did not replace the valid one");
    cr_expect_eq(c->channels, 300);
    s_close(&p);
}

Test(web_decimate, sleeps_on_its_mirror)
{
    plot_t p = s_plot('d', 1, 0, 512, false, &s_view8);
    ezshm_mirror_t *m = console_decimate_mirror(p.d);
    cr_expect_eq(ezshm_mirror_wait(m, 0), EZSHM_ERR_TIMEOUT);
    s_write(&p.r, 4);
    cr_expect_eq(ezshm_mirror_wait(m, 0), EZSHM_OK);
    s_look(&p);
    cr_expect_eq(ezshm_mirror_wait(m, 0), EZSHM_ERR_TIMEOUT);
    s_close(&p);
}
