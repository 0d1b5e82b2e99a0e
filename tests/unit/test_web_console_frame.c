/*  test_web_console_frame.c — the columns frame's bytes (docs/console.md): header fields at
    their offsets, rows oldest column first across the slot ring's wrap, the two bitmaps, a
    buffer too small, a delta frame of the changed columns, and frames of a real decimator. */
#include "support_shm.h"
#include "console_frame.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(web_console_frame, .init = s_init, .fini = s_fini);

static uint32_t s_get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24; }
static uint64_t s_get64(const uint8_t *p) { return s_get32(p) | (uint64_t) s_get32(p + 4) << 32; }
static double s_getf64(const uint8_t *p) { uint64_t b = s_get64(p); double v; memcpy(&v, &b, 8); return v; }
static float s_getf32(const uint8_t *p) { uint32_t b = s_get32(p); float v; memcpy(&v, &b, 4); return v; }

Test(web_console_frame, header_rows_and_bitmaps)
{
    enum { C = 10, N = 2 };
    float mn[N * C], mx[N * C];
    uint8_t flags[C];
    /*  Slot s holds column (s - start) mod C: value 100·channel + column. */
    const uint32_t start = 3;
    for (uint32_t s = 0; s < C; s++) {
        uint32_t k = (s + C - start) % C;
        for (uint32_t ch = 0; ch < N; ch++) {
            mn[ch * C + s] = (float) (100 * ch + k);
            mx[ch * C + s] = (float) (100 * ch + k) + 0.5f;
        }
        flags[s] = k == 4 ? 0 : k == 5 ? (CONSOLE_COLUMN_DATA | CONSOLE_COLUMN_LOST) : CONSOLE_COLUMN_DATA;
    }
    console_columns_t c = {
        .attached = true, .generation = 7, .rebuilds = 2, .channels_total = 9, .channel_first = 3,
        .channels = N, .columns = C, .window = 2.5, .first_column = -12345678901LL,
        .t0 = 1024.5, .t1 = 1027.0, .t_newest = 1026.9, .clock = true, .start = start,
        .min = mn, .max = mx, .flags = flags, .frames = 1ull << 40, .lost = 77};
    console_frame_ids_t ids = {.subscription = 42, .sequence = 5, .flags = CONSOLE_FRAME_PAUSED};
    size_t need = console_frame_size(&c, false);
    cr_assert_eq(need, 112 + 8 * N * C + 2 * 2);
    uint8_t *buf = malloc(need);
    size_t len = 0;
    cr_expect_eq(console_frame_encode(&c, &ids, buf, need - 1, &len), EZSHM_ERR_INVAL);
    cr_expect_eq(len, 0);
    cr_assert_eq(console_frame_encode(&c, &ids, buf, need, &len), EZSHM_OK);
    cr_assert_eq(len, need);
    cr_expect_eq(memcmp(buf, "EZC1", 4), 0);
    cr_expect_eq(buf[4] | buf[5] << 8, 1);
    cr_expect_eq(buf[6] | buf[7] << 8, 1);
    cr_expect_eq(s_get32(buf + 8), 112);
    cr_expect_eq(s_get32(buf + 12), CONSOLE_FRAME_CLOCK | CONSOLE_FRAME_PAUSED);
    cr_expect_eq(s_get32(buf + 16), 42);
    cr_expect_eq(s_get32(buf + 20), 5);
    cr_expect_eq(s_get32(buf + 24), 7);
    cr_expect_eq(s_get32(buf + 28), 2);
    cr_expect_eq(s_get32(buf + 32), C);
    cr_expect_eq(s_get32(buf + 36), N);
    cr_expect_eq(s_get32(buf + 40), 3);
    cr_expect_eq(s_get32(buf + 44), 9);
    cr_expect_eq(s_getf64(buf + 48), 1024.5);
    cr_expect_eq(s_getf64(buf + 56), 1027.0);
    cr_expect_eq(s_getf64(buf + 64), 1026.9);
    cr_expect_eq((int64_t) s_get64(buf + 72), -12345678901LL);
    cr_expect_eq(s_get64(buf + 80), 1ull << 40);
    cr_expect_eq(s_get64(buf + 88), 77);
    cr_expect_eq(s_get32(buf + 96), 0, "span: from column 0");
    cr_expect_eq(s_get32(buf + 100), C, "span: every column");
    for (uint32_t ch = 0; ch < N; ch++)
        for (uint32_t k = 0; k < C; k++) {
            cr_expect_eq(s_getf32(buf + 112 + 4 * (ch * C + k)), (float) (100 * ch + k));
            cr_expect_eq(s_getf32(buf + 112 + 4 * (N * C + ch * C + k)), (float) (100 * ch + k) + 0.5f);
        }
    const uint8_t *gap = buf + 112 + 8 * N * C, *lost = gap + 2;
    cr_expect_eq(gap[0], 1u << 4);
    cr_expect_eq(gap[1], 0);
    cr_expect_eq(lost[0], 1u << 5);
    cr_expect_eq(lost[1], 0);

    /*  Delta: columns 4..9 changed — across the slot ring's wrap (slots 7..9, 0..2). */
    c.changed_first = 4;
    ids.delta = true;
    size_t delta = console_frame_size(&c, true);
    cr_assert_eq(delta, 112 + 8 * N * 6 + 2 * 1);
    cr_assert_eq(console_frame_encode(&c, &ids, buf, delta, &len), EZSHM_OK);
    cr_assert_eq(len, delta);
    cr_expect_eq(s_get32(buf + 12), CONSOLE_FRAME_CLOCK | CONSOLE_FRAME_PAUSED | CONSOLE_FRAME_DELTA);
    cr_expect_eq(s_get32(buf + 96), 4);
    cr_expect_eq(s_get32(buf + 100), 6);
    for (uint32_t ch = 0; ch < N; ch++)
        for (uint32_t j = 0; j < 6; j++) {
            cr_expect_eq(s_getf32(buf + 112 + 4 * (ch * 6 + j)), (float) (100 * ch + 4 + j));
            cr_expect_eq(s_getf32(buf + 112 + 4 * (N * 6 + ch * 6 + j)), (float) (100 * ch + 4 + j) + 0.5f);
        }
    cr_expect_eq(buf[112 + 8 * N * 6], 1u << 0, "column 4 is the span's first: a gap");
    cr_expect_eq(buf[112 + 8 * N * 6 + 1], 1u << 1, "column 5 lost");
    /*  Nothing changed: the header alone (times, counters) and empty bitmaps. */
    c.changed_first = C;
    cr_expect_eq(console_frame_size(&c, true), 112);
    cr_assert_eq(console_frame_encode(&c, &ids, buf, 112, &len), EZSHM_OK);
    cr_expect_eq(s_get32(buf + 100), 0);
    free(buf);
}

Test(web_console_frame, empty_plot_and_bad_arguments)
{
    console_decimate_t *d = NULL;
    console_view_t v = {.window = 1, .columns = 16};
    cr_assert_eq(console_decimate_new(shmt_unique_name(), &v, &d), EZSHM_OK);
    console_columns_t c;
    console_decimate_columns(d, &c);
    console_frame_ids_t ids = {0};
    uint8_t buf[CONSOLE_FRAME_HEADER_BYTES];
    size_t len;
    cr_assert_eq(console_frame_size(&c, false), 112);
    cr_assert_eq(console_frame_encode(&c, &ids, buf, sizeof buf, &len), EZSHM_OK);
    cr_expect_eq(len, 112);
    cr_expect(isnan(s_getf64(buf + 48)));
    cr_expect_eq(console_frame_encode(NULL, &ids, buf, sizeof buf, &len), EZSHM_ERR_INVAL);
    cr_expect_eq(console_frame_encode(&c, NULL, buf, sizeof buf, &len), EZSHM_ERR_INVAL);
    cr_expect_eq(console_frame_encode(&c, &ids, NULL, sizeof buf, &len), EZSHM_ERR_INVAL);
    console_decimate_destroy(&d);
}

Test(web_console_frame, frame_of_a_live_decimator)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_V1, false);
    shmt_configure(w, 128.0, 512);          /* 2 float64 channels */
    double frames[64 * 2];
    for (int p = 0; p < 64; p++) {
        frames[2 * p] = p;
        frames[2 * p + 1] = -p;
    }
    ezshm_contiguous_t src = {frames, 16};
    ezshm_chunk_time_t ct = {8.0, 1.0 / 128, NULL, 0, EZSHM_SEQ_NONE};
    cr_assert_eq(ezshm_writer_write_timed(w, 64, ezshm_copy_contiguous, &src, &ct), EZSHM_OK);
    console_view_t v = {.window = 1, .columns = 8};
    console_decimate_t *d = NULL;
    cr_assert_eq(console_decimate_new(name, &v, &d), EZSHM_OK);
    cr_assert_eq(console_decimate_pump(d, 1000, NULL), EZSHM_OK);
    console_columns_t c;
    console_decimate_columns(d, &c);
    uint8_t *buf = malloc(CONSOLE_FRAME_MAX_BYTES);
    size_t len;
    console_frame_ids_t ids = {1, 0, 0, false};
    cr_assert_eq(console_frame_encode(&c, &ids, buf, CONSOLE_FRAME_MAX_BYTES, &len), EZSHM_OK);
    cr_assert_eq(len, 112 + 8 * 2 * 8 + 2);
    /*  Frames 0..63 from t = 8 s: grid columns 64..67 are the plot's last four. */
    cr_expect_eq((int64_t) s_get64(buf + 72), 67 - 7);
    for (uint32_t k = 4; k < 8; k++) {
        float lo = (float) ((k - 4) * 16), hi = lo + 15;
        cr_expect_eq(s_getf32(buf + 112 + 4 * k), lo);                     /* ch 0 min */
        cr_expect_eq(s_getf32(buf + 112 + 4 * (8 + k)), -hi);              /* ch 1 min */
        cr_expect_eq(s_getf32(buf + 112 + 4 * (16 + k)), hi);              /* ch 0 max */
        cr_expect_eq(s_getf32(buf + 112 + 4 * (24 + k)), -lo);             /* ch 1 max */
    }
    cr_expect_eq(buf[112 + 128], 0x0f, "columns 0..3 are gaps");
    cr_expect_eq(buf[112 + 129], 0, "nothing lost");

    /*  Cleaned, then 16 more frames (64..79: grid column 68): the window slid by one, and
        only the newest column changed. */
    console_decimate_clean(d);
    for (int p = 0; p < 16; p++) {
        frames[2 * p] = 64 + p;
        frames[2 * p + 1] = -(64 + p);
    }
    ct.t0 = 8.5;
    cr_assert_eq(ezshm_writer_write_timed(w, 16, ezshm_copy_contiguous, &src, &ct), EZSHM_OK);
    cr_assert_eq(console_decimate_pump(d, 1000, NULL), EZSHM_OK);
    console_decimate_columns(d, &c);
    cr_expect_eq(c.changed_first, 7);
    ids.delta = true;
    cr_assert_eq(console_frame_encode(&c, &ids, buf, CONSOLE_FRAME_MAX_BYTES, &len), EZSHM_OK);
    cr_assert_eq(len, 112 + 8 * 2 + 2);
    cr_expect_eq(s_get32(buf + 96), 7);
    cr_expect_eq(s_get32(buf + 100), 1);
    cr_expect_eq(s_getf32(buf + 112), 64.0f);              /* ch 0 min */
    cr_expect_eq(s_getf32(buf + 112 + 4), -79.0f);         /* ch 1 min */
    cr_expect_eq(s_getf32(buf + 112 + 8), 79.0f);          /* ch 0 max */
    cr_expect_eq(s_getf32(buf + 112 + 12), -64.0f);        /* ch 1 max */
    free(buf);
    console_decimate_destroy(&d);
    ezshm_writer_destroy(&w);
}
