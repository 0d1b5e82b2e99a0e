/*  test_shm_mirror.c — the reader: attach states, continuity, overflow accounting, latest(),
    write_index 0 (a writer at rest, or between the two stores of a wrap: the chunk anchors
    decide), following generations and writer restarts, hostile header bytes, and the
    ezshm-mirror tool's exit codes and CSV output. */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_mirror, .init = s_init, .fini = s_fini);

/*  uint32 frames of 2 elements: frame i = {i, i ^ 0xA5A5A5A5}. */
#define ELEMS 2
typedef struct {
    ezshm_writer_t *w;
    uint64_t        next;
} src_t;

static void
s_src_open_with(src_t *s, const char *name, uint64_t L, ezshm_layout_t layout, bool no_clock)
{
    memset(s, 0, sizeof *s);
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    opt.no_clock = no_clock;
    cr_assert_eq(ezshm_writer_new(name, &opt, &s->w), EZSHM_OK);
    static const uint64_t shape[1] = {ELEMS};
    ezshm_ring_spec_t spec = {'I', 1000.0, L, 1, shape, "counter", 7};
    cr_assert_eq(ezshm_writer_configure(s->w, &spec), EZSHM_OK);
}

static void
s_src_open(src_t *s, const char *name, uint64_t L, ezshm_layout_t layout)
{
    s_src_open_with(s, name, L, layout, false);
}

static void
s_src_write(src_t *s, uint64_t n)
{
    uint32_t *buf = malloc((n ? n : 1) * ELEMS * 4);
    for (uint64_t i = 0; i < n; i++) {
        buf[i * ELEMS] = (uint32_t) (s->next + i);
        buf[i * ELEMS + 1] = (uint32_t) (s->next + i) ^ 0xA5A5A5A5u;
    }
    cr_assert_eq(ezshm_writer_write(s->w, buf, n), EZSHM_OK);
    s->next += n;
    free(buf);
}

static void
s_expect_frames(const uint32_t *buf, uint64_t n, uint64_t first)
{
    for (uint64_t i = 0; i < n; i++) {
        cr_assert_eq(buf[i * ELEMS], (uint32_t) (first + i), "frame %llu holds %u, want %llu",
                     (unsigned long long) i, buf[i * ELEMS], (unsigned long long) (first + i));
        cr_assert_eq(buf[i * ELEMS + 1], (uint32_t) (first + i) ^ 0xA5A5A5A5u);
    }
}

Test(shm_mirror, attach_before_writer_then_works)
{
    const char *name = shmt_unique_name();
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_expect_str_eq(ezshm_mirror_name(m), name);
    cr_expect_eq(ezshm_mirror_attach(m), EZSHM_ERR_NOENT);
    uint32_t buf[64 * ELEMS];
    uint64_t got = 9, lost = 9;
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_NOENT);
    cr_expect_eq(got, 0);
    cr_expect_eq(lost, 0);
    ezshm_stream_info_t info;
    cr_expect_eq(ezshm_mirror_info(m, &info), EZSHM_ERR_NOTREADY);

    /*  Header only (no ring yet): not ready. */
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_attach(m), EZSHM_ERR_NOTREADY);
    ezshm_writer_destroy(&w);

    src_t s;
    s_src_open(&s, name, 64, EZSHM_LAYOUT_LEGACY);
    s_src_write(&s, 5);   /* before attach: not returned (reading starts at the newest) */
    /*  The mirror may have kept the old (unlinked) header mapped; reads converge. */
    int rc = EZSHM_OK;
    for (int i = 0; i < 100; i++) {
        rc = ezshm_mirror_attach(m);
        if (rc == EZSHM_OK)
            break;
        rc = ezshm_mirror_read(m, buf, 64, &got, &lost);
        if (rc == EZSHM_ERR_STALE || rc == EZSHM_OK)
            break;
        usleep(20000);
    }
    ezshm_mirror_destroy(&m);
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
    cr_expect_eq(info.layout, EZSHM_LAYOUT_LEGACY);
    cr_expect_eq(info.dtype, 'I');
    cr_expect_eq(info.itemsize, 4);
    cr_expect_eq(info.srate, 1000.0);
    cr_expect_eq(info.n_frames, 64);
    cr_expect_eq(info.ndim, 2);
    cr_expect_eq(info.shape[0], 64);
    cr_expect_eq(info.shape[1], ELEMS);
    cr_expect_eq(info.frame_bytes, ELEMS * 4);
    cr_expect_eq(info.generation, 0);
    cr_expect_str_eq(info.key, "counter");
    cr_expect_eq(info.key_len, 7);
    cr_expect_str_eq(info.header_segment, shmt_header_seg(name));
    cr_expect_str_eq(info.ring_segment, shmt_ring_seg(name, 0));
    cr_expect_eq(ezshm_mirror_written(m), 5);

    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 0);
    s_src_write(&s, 10);
    cr_assert_eq(ezshm_mirror_read(m, buf, 4, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 4);
    cr_expect_eq(lost, 0);
    s_expect_frames(buf, 4, 5);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 6);
    s_expect_frames(buf, 6, 9);
    /*  Across the ring's end, many small chunks. */
    for (int round = 0; round < 40; round++) {
        uint64_t first = s.next;
        s_src_write(&s, 1 + (uint64_t) round % 37);
        cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
        cr_assert_eq(lost, 0);
        cr_assert_eq(got, s.next - first);
        s_expect_frames(buf, got, first);
    }
    ezshm_mirror_destroy(&m);
    cr_expect_null(m);
    ezshm_writer_destroy(&s.w);
}

/*  A reader that found the header before any ring existed attaches to the first ring like any
    first attach: STALE from the read that attached (its info is new), then from the newest
    frame on. Both layouts behave alike (a legacy placeholder is not even kept mapped). */
static void
s_header_before_first_ring(ezshm_layout_t layout)
{
    const char *name = shmt_unique_name();
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_ERR_NOTREADY);
    uint32_t buf[64 * ELEMS];
    uint64_t got = 9, lost = 9;
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_NOTREADY);

    static const uint64_t shape[1] = {ELEMS};
    ezshm_ring_spec_t spec = {'I', 1000.0, 64, 1, shape, "counter", 7};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    src_t s = { w, 0 };
    s_src_write(&s, 5);
    int rc = ezshm_mirror_read(m, buf, 64, &got, &lost);
    cr_assert_eq(rc, EZSHM_ERR_STALE, "layout %d: rc %d", layout, rc);
    cr_expect_eq(got, 0);
    ezshm_stream_info_t info;
    cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
    cr_expect_eq(info.layout, layout);
    cr_expect_eq(info.n_frames, 64);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 0, "frames written before the attach are not returned");
    s_src_write(&s, 3);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 3);
    cr_expect_eq(lost, 0);
    s_expect_frames(buf, 3, 5);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_mirror, header_before_first_ring_attaches_like_a_first_attach)
{
    s_header_before_first_ring(EZSHM_LAYOUT_LEGACY);
    s_header_before_first_ring(EZSHM_LAYOUT_V1);
}

Test(shm_mirror, overflow_reports_exact_lost_count)
{
    const char *name = shmt_unique_name();
    src_t s;
    s_src_open(&s, name, 100, EZSHM_LAYOUT_V1);   /* guard 7: 93 frames are readable */
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    uint32_t buf[100 * ELEMS];
    uint64_t got, lost;
    s_src_write(&s, 250);
    cr_assert_eq(ezshm_mirror_read(m, buf, 100, &got, &lost), EZSHM_OK);
    cr_expect_eq(lost, 250 - 93);
    cr_expect_eq(got, 93);
    s_expect_frames(buf, got, 157);
    /*  Exactly the readable window: no loss. */
    s_src_write(&s, 93);
    cr_assert_eq(ezshm_mirror_read(m, buf, 100, &got, &lost), EZSHM_OK);
    cr_expect_eq(lost, 0);
    cr_expect_eq(got, 93);
    s_expect_frames(buf, 93, 250);
    /*  One more than the window: one lost. Partial reads keep the rest. */
    s_src_write(&s, 94);
    cr_assert_eq(ezshm_mirror_read(m, buf, 10, &got, &lost), EZSHM_OK);
    cr_expect_eq(lost, 1);
    cr_expect_eq(got, 10);
    s_expect_frames(buf, 10, 344);
    cr_assert_eq(ezshm_mirror_read(m, buf, 100, &got, &lost), EZSHM_OK);
    cr_expect_eq(lost, 0);
    cr_expect_eq(got, 83);
    s_expect_frames(buf, 83, 354);
    /*  A chunk of many laps. */
    s_src_write(&s, 1234);
    cr_assert_eq(ezshm_mirror_read(m, buf, 100, &got, &lost), EZSHM_OK);
    cr_expect_eq(lost, 1234 - 93);
    s_expect_frames(buf, got, s.next - 93);
    cr_expect_eq(ezshm_mirror_written(m), s.next);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&s.w);
}

Test(shm_mirror, latest_n)
{
    const char *name = shmt_unique_name();
    src_t s;
    s_src_open(&s, name, 100, EZSHM_LAYOUT_LEGACY);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    uint32_t buf[100 * ELEMS];
    uint64_t got = 99;
    cr_assert_eq(ezshm_mirror_latest(m, buf, 10, &got), EZSHM_OK);   /* attaches */
    cr_expect_eq(got, 0);
    s_src_write(&s, 50);
    cr_assert_eq(ezshm_mirror_latest(m, buf, 10, &got), EZSHM_OK);
    cr_expect_eq(got, 10);
    s_expect_frames(buf, 10, 40);
    cr_assert_eq(ezshm_mirror_latest(m, buf, 80, &got), EZSHM_OK);
    cr_expect_eq(got, 50);
    s_expect_frames(buf, 50, 0);
    s_src_write(&s, 250);
    cr_assert_eq(ezshm_mirror_latest(m, buf, 100, &got), EZSHM_OK);
    cr_expect_eq(got, 93);
    s_expect_frames(buf, 93, 300 - 93);
    /*  latest does not consume: read still sees frames after the attach point. */
    uint64_t n, lost;
    cr_assert_eq(ezshm_mirror_read(m, buf, 100, &n, &lost), EZSHM_OK);
    cr_expect_eq(n + lost, 300);
    cr_assert_eq(ezshm_mirror_latest(m, NULL, 0, &got), EZSHM_OK);
    cr_expect_eq(got, 0);
    cr_expect_eq(ezshm_mirror_latest(m, NULL, 1, &got), EZSHM_ERR_INVAL);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&s.w);
}

Test(shm_mirror, follows_generation_change)
{
    const char *name = shmt_unique_name();
    src_t s;
    s_src_open(&s, name, 64, EZSHM_LAYOUT_LEGACY);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    uint32_t buf[128 * ELEMS];
    uint64_t got, lost;
    s_src_write(&s, 10);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 10);

    /*  7 more frames the mirror never reads before the rebuild: the read that follows the
        rebuild reports them lost (the old clock's newest anchor says where that ring stopped). */
    s_src_write(&s, 7);
    /*  Rebuild: ring length 128, generation 1. */
    static const uint64_t shape[1] = {ELEMS};
    ezshm_ring_spec_t spec = {'I', 1000.0, 128, 1, shape, "counter", 7};
    cr_assert_eq(ezshm_writer_configure(s.w, &spec), EZSHM_OK);
    s.next = 0;
    s_src_write(&s, 20);
    cr_assert_eq(ezshm_mirror_read(m, buf, 128, &got, &lost), EZSHM_ERR_STALE);
    cr_expect_eq(got, 0);
    cr_expect_eq(lost, 7, "the old ring's unread tail: %llu", (unsigned long long) lost);
    ezshm_stream_info_t info;
    cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
    cr_expect_eq(info.generation, 1);
    cr_expect_eq(info.n_frames, 128);
    cr_expect_str_eq(info.ring_segment, shmt_ring_seg(name, 1));
    /*  The next read starts at frame 0 of the new ring. */
    cr_assert_eq(ezshm_mirror_read(m, buf, 128, &got, &lost), EZSHM_OK);
    cr_expect_eq(lost, 0);
    cr_expect_eq(got, 20);
    s_expect_frames(buf, 20, 0);

    /*  reset_buffer: not ready while no ring; then the rebuilt ring from frame 0. */
    cr_assert_eq(ezshm_writer_reset_buffer(s.w), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_read(m, buf, 128, &got, &lost), EZSHM_ERR_NOTREADY);
    cr_assert_eq(ezshm_writer_configure(s.w, &spec), EZSHM_OK);
    s.next = 0;
    s_src_write(&s, 3);
    cr_assert_eq(ezshm_mirror_read(m, buf, 128, &got, &lost), EZSHM_ERR_STALE);
    cr_assert_eq(ezshm_mirror_read(m, buf, 128, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 3);
    s_expect_frames(buf, 3, 0);
    cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
    cr_expect_eq(info.generation, 2);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&s.w);
}

Test(shm_mirror, reattaches_across_writer_restart)
{
    const char *name = shmt_unique_name();
    src_t s;
    s_src_open(&s, name, 64, EZSHM_LAYOUT_LEGACY);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    uint32_t buf[64 * ELEMS];
    uint64_t got, lost;
    s_src_write(&s, 7);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 7);

    ezshm_writer_destroy(&s.w);
    int rc = ezshm_mirror_read(m, buf, 64, &got, &lost);
    cr_expect(rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY, "rc %d after the writer left", rc);

    /*  Same name, same generation numbers (a new writer starts at generation 0 again). */
    s_src_open(&s, name, 64, EZSHM_LAYOUT_V1);
    s_src_write(&s, 11);
    rc = EZSHM_OK;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        rc = ezshm_mirror_read(m, buf, 64, &got, &lost);
        cr_assert_eq(got, 0, "frames returned before the restart was noticed");
        if (rc == EZSHM_ERR_STALE)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        cr_assert_lt(t.tv_sec - t0.tv_sec, 3, "restart not noticed (last rc %d)", rc);
        usleep(10000);
    }
    ezshm_stream_info_t info;
    cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
    cr_expect_eq(info.layout, EZSHM_LAYOUT_V1);
    cr_expect_eq(info.generation, 0);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 11);
    s_expect_frames(buf, 11, 0);

    /*  An idle stream that restarts with the very same spec and no data yet. */
    ezshm_writer_destroy(&s.w);
    s_src_open(&s, name, 64, EZSHM_LAYOUT_V1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        rc = ezshm_mirror_read(m, buf, 64, &got, &lost);
        if (rc == EZSHM_ERR_STALE)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        cr_assert_lt(t.tv_sec - t0.tv_sec, 3, "idle restart not noticed (last rc %d)", rc);
        usleep(10000);
    }
    s_src_write(&s, 2);
    cr_assert_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 2);
    s_expect_frames(buf, 2, 0);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&s.w);
}

/*  ---- write_index 0 (docs/shm-layout.md §6): the writer rests at the ring's end, or it is
    between its two stores of a wrap. The tests put the header's counters by hand into the
    state a reader sees between the stores (write_index 0 stored, wrap_counter one lap
    behind), which lasts as long as the writer stays preempted there, or forever when it died
    there: single-threaded, deterministic. */

#define WRAP_L 100   /* guard 7: 93 frames readable */

typedef struct {
    src_t           s;
    ezshm_mirror_t *m;
    ezshm_meta_t   *meta;    /* the header, mapped writable */
    void           *header;
    size_t          header_size;
    uint32_t        buf[WRAP_L * ELEMS];
} wrap_t;

/*  A writer (with or without its clock segment), a reader attached at frame 0, and chunks
    of the given sizes (0 ends the list) written before the counters are touched. */
static void
s_wrap_open(wrap_t *t, ezshm_layout_t layout, bool no_clock, const uint64_t *chunks)
{
    const char *name = shmt_unique_name();
    s_src_open_with(&t->s, name, WRAP_L, layout, no_clock);
    cr_assert_eq(ezshm_mirror_new(name, &t->m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(t->m), EZSHM_OK);
    for (; *chunks; chunks++)
        s_src_write(&t->s, *chunks);
    t->header = shmt_map_rw(shmt_header_seg(name), &t->header_size);
    cr_assert_not_null(t->header);
    t->meta = ezshm_header_meta(t->header, layout);
}

static void
s_wrap_close(wrap_t *t)
{
    munmap(t->header, t->header_size);
    ezshm_mirror_destroy(&t->m);
    ezshm_writer_destroy(&t->s.w);
}

/*  The writer just wrapped: it stored write_index 0, its wrap_counter store not yet. */
static void
s_wrap_stall(wrap_t *t)
{
    cr_assert_eq(t->meta->write_index, 0);
    t->meta->wrap_counter -= 1;
}

static void
s_wrap_finish(wrap_t *t)
{
    t->meta->wrap_counter += 1;
}

static void
s_expect_read(wrap_t *t, uint64_t want_got, uint64_t want_lost, uint64_t first)
{
    uint64_t got = 99, lost = 99;
    cr_assert_eq(ezshm_mirror_read(t->m, t->buf, WRAP_L, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, want_got, "got %llu frames, want %llu", (unsigned long long) got,
                 (unsigned long long) want_got);
    cr_expect_eq(lost, want_lost, "lost %llu frames, want %llu", (unsigned long long) lost,
                 (unsigned long long) want_lost);
    s_expect_frames(t->buf, got, first);
}

/*  Caught between the stores of the wrap at 200, the reader sees position 100 and copies
    slots that already hold frames 107..199: with the chunk anchors it knows the truth and
    reports every copied frame lost, without a wait; once the store lands, the next read
    goes on at 107 (100 + 7 lost: the gap is exactly accounted). */
static void
s_torn_wrap_is_lost(ezshm_layout_t layout, const uint64_t *chunks)
{
    wrap_t t;
    s_wrap_open(&t, layout, false, chunks);
    s_wrap_stall(&t);
    s_expect_read(&t, 0, 100, 0);
    uint64_t got = 99;
    cr_assert_eq(ezshm_mirror_latest(t.m, t.buf, 10, &got), EZSHM_OK);
    cr_expect_eq(got, 0, "latest: the slots of frames 90..99 hold 190..199");
    s_wrap_finish(&t);
    s_expect_read(&t, 93, 7, 107);
    cr_assert_eq(ezshm_mirror_latest(t.m, t.buf, 10, &got), EZSHM_OK);
    cr_expect_eq(got, 10);
    s_expect_frames(t.buf, got, 190);
    s_wrap_close(&t);
}

Test(shm_mirror, torn_wrap_newest_chunk_after_the_seen_position_is_lost_not_returned)
{
    /*  Newest anchor [160, 200) begins after the position seen (100): truth 200. */
    static const uint64_t chunks[] = {50, 50, 60, 40, 0};
    s_torn_wrap_is_lost(EZSHM_LAYOUT_V1, chunks);
    s_torn_wrap_is_lost(EZSHM_LAYOUT_LEGACY, chunks);
}

Test(shm_mirror, torn_wrap_inside_a_chunk_of_a_whole_lap_is_lost_not_returned)
{
    /*  Newest anchor [100, 200) spans the lap: undecidable, so the worst case is assumed. */
    static const uint64_t lap[] = {50, 50, 100, 0};
    s_torn_wrap_is_lost(EZSHM_LAYOUT_V1, lap);
    static const uint64_t laps[] = {30, 170, 0};   /* [30, 200): more than a lap */
    s_torn_wrap_is_lost(EZSHM_LAYOUT_LEGACY, laps);
}

Test(shm_mirror, writer_resting_at_the_ring_end_loses_nothing)
{
    /*  Newest anchor ends at the position seen (or, a chunk longer than the ring, less than a
        lap past its start): the writer rests there, every copied frame is intact. */
    static const uint64_t rest[] = {50, 50, 0}, long_chunk[] = {20, 180, 0};
    wrap_t t;
    s_wrap_open(&t, EZSHM_LAYOUT_V1, false, rest);
    s_expect_read(&t, 93, 7, 7);
    s_wrap_close(&t);
    s_wrap_open(&t, EZSHM_LAYOUT_LEGACY, false, long_chunk);
    s_expect_read(&t, 93, 107, 107);
    s_wrap_close(&t);
    /*  Without a clock segment (an ezmsg-tools writer) nothing tells: the read waits a few
        ms for the position to move, then trusts it. */
    s_wrap_open(&t, EZSHM_LAYOUT_V1, true, rest);
    s_expect_read(&t, 93, 7, 7);
    s_wrap_close(&t);
}

Test(shm_mirror, write_index_0_without_an_intact_anchor_assumes_a_wrap)
{
    /*  A clock segment whose anchor count says none was published (it cannot be trusted):
        a writer at rest is taken for one between its stores, and the frames are reported
        lost rather than possibly torn. */
    static const uint64_t rest[] = {50, 50, 0};
    wrap_t t;
    s_wrap_open(&t, EZSHM_LAYOUT_V1, false, rest);
    size_t clock_size = 0;
    uint8_t *clock = shmt_map_rw(shmt_clock_seg(ezshm_mirror_name(t.m), 0), &clock_size);
    cr_assert_not_null(clock);
    uint64_t none = 0;
    memcpy(clock + 48, &none, sizeof none);   /* anchors_written, docs/shm-layout.md §11 */
    s_expect_read(&t, 0, 100, 0);
    munmap(clock, clock_size);
    s_wrap_close(&t);
}

/*  A hand-made legacy or v1 header (+ ring) in the segment directory. */
typedef struct {
    uint8_t       bytes[1334];
    ezshm_meta_t *meta;
    bool          v1;
} fake_t;

static void
s_fake(fake_t *f, bool v1)
{
    ezshm_header_init(f->bytes, v1 ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY);
    f->v1 = v1;
    f->meta = ezshm_header_meta(f->bytes, v1 ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY);
    f->meta->bvalid = 1;
    f->meta->dtype = 'f';
    f->meta->srate = 100.0;
    f->meta->ndim = 2;
    f->meta->shape[0] = 50;
    f->meta->shape[1] = 3;
    f->meta->buffer_generation = 4;
    f->meta->key_len = 1;
    f->meta->key[0] = 'k';
}

static void
s_fake_store(const fake_t *f, const char *name, size_t header_bytes, long long ring_bytes)
{
    cr_assert(shmt_write_file(shmt_seg_path(shmt_header_seg(name)), f->bytes, header_bytes));
    if (ring_bytes >= 0) {
        uint8_t *ring = calloc(1, (size_t) ring_bytes + 1);
        cr_assert(shmt_write_file(shmt_seg_path(shmt_ring_seg(name, 4)), ring, (size_t) ring_bytes));
        free(ring);
    }
}

static int
s_attach_fake(const fake_t *f, size_t header_bytes, long long ring_bytes)
{
    const char *name = shmt_unique_name();
    s_fake_store(f, name, header_bytes, ring_bytes);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    int rc = ezshm_mirror_attach(m);
    /*  read and latest must agree and never crash. */
    uint8_t buf[64 * 12];
    uint64_t got = 0, lost = 0;
    int rc_read = ezshm_mirror_read(m, buf, 64, &got, &lost);
    cr_expect(rc == EZSHM_OK || rc_read == rc, "attach %d, read %d", rc, rc_read);
    int rc_latest = ezshm_mirror_latest(m, buf, 64, &got);
    cr_expect(rc == EZSHM_OK || rc_latest == rc, "attach %d, latest %d", rc, rc_latest);
    ezshm_mirror_destroy(&m);
    return rc;
}

Test(shm_mirror, hand_made_valid_headers_attach)
{
    fake_t f;
    for (int v1 = 0; v1 < 2; v1++) {
        s_fake(&f, v1);
        cr_expect_eq(s_attach_fake(&f, v1 ? 1334 : 1318, 600), EZSHM_OK);
        cr_expect_eq(s_attach_fake(&f, v1 ? 1334 : 1318, 4096), EZSHM_OK, "bigger ring is fine");
    }
}

Test(shm_mirror, a_segment_still_all_zeros_is_not_ready_then_attaches_as_v1)
{
    shmt_setup();
    fake_t f;
    s_fake(&f, true);
    const char *name = shmt_unique_name();
    uint8_t zeros[1334] = {0};
    cr_assert(shmt_write_file(shmt_seg_path(shmt_header_seg(name)), zeros, sizeof zeros));
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_ERR_NOTREADY, "zeros could still become a v1 header");
    s_fake_store(&f, name, sizeof f.bytes, 600);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    ezshm_stream_info_t info;
    cr_assert_eq(ezshm_mirror_info(m, &info), EZSHM_OK);
    cr_assert_eq(info.layout, EZSHM_LAYOUT_V1);
    ezshm_mirror_destroy(&m);
}

Test(shm_mirror, python_full_not_wrapped_write_index_equals_length)
{
    /*  Legacy ShMemCircBuff leaves write_index == shape[0] after exactly L frames. */
    const char *name = shmt_unique_name();
    fake_t f;
    s_fake(&f, false);
    f.meta->dtype = 'd';
    f.meta->ndim = 1;
    f.meta->shape[0] = 32;
    f.meta->write_index = 32;
    f.meta->wrap_counter = 0;
    s_fake_store(&f, name, 1318, -1);
    double ring[32];
    for (int i = 0; i < 32; i++)
        ring[i] = i;
    cr_assert(shmt_write_file(shmt_seg_path(shmt_ring_seg(name, 4)), ring, sizeof ring));
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_written(m), 32);
    double out[32];
    uint64_t got = 0;
    cr_assert_eq(ezshm_mirror_latest(m, out, 5, &got), EZSHM_OK);
    cr_expect_eq(got, 5);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(out[i], 27 + i);
    ezshm_mirror_destroy(&m);
}

Test(shm_mirror, every_invalid_header_is_rejected)
{
    fake_t f;
    /*  v1 magic with an unknown struct_version. */
    s_fake(&f, true);
    f.bytes[4] = 2;
    cr_expect_eq(s_attach_fake(&f, 1334, 600), EZSHM_ERR_HEADER, "v1 struct_version 2");
    /*  Legacy whose first byte is no bool (a foreign magic). */
    s_fake(&f, false);
    memcpy(f.bytes, "\x7f" "ELF", 4);
    cr_expect_eq(s_attach_fake(&f, 1318, 600), EZSHM_ERR_HEADER, "bad magic");
    s_fake(&f, false);
    f.meta->bvalid = 2;
    cr_expect_eq(s_attach_fake(&f, 1318, 600), EZSHM_ERR_HEADER, "bvalid 2");
    s_fake(&f, true);
    f.meta->bvalid = 2;   /* v1: bvalid at byte 8 is validated too? at least never valid data */
    int rc = s_attach_fake(&f, 1334, 600);
    cr_expect(rc == EZSHM_ERR_HEADER || rc == EZSHM_OK, "v1 bvalid 2: %d", rc);
    for (int v1 = 0; v1 < 2; v1++) {
        size_t hs = v1 ? 1334 : 1318;
        s_fake(&f, v1);
        f.meta->ndim = 0;
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_HEADER, "ndim 0");
        s_fake(&f, v1);
        f.meta->ndim = 65;
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_HEADER, "ndim 65");
        s_fake(&f, v1);
        f.meta->dtype = 'z';
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_DTYPE, "dtype z");
        s_fake(&f, v1);
        f.meta->key_len = 1025;
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_HEADER, "key_len 1025");
        s_fake(&f, v1);
        f.meta->write_index = 51;
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_HEADER, "write_index > shape[0]");
        s_fake(&f, v1);
        f.meta->shape[0] = 0;
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_HEADER, "shape[0] 0");
        s_fake(&f, v1);
        f.meta->shape[1] = 0xFFFFFFFFu;
        f.meta->ndim = 4;
        f.meta->shape[2] = 0xFFFFFFFFu;
        f.meta->shape[3] = 0xFFFFFFFFu;
        cr_expect_eq(s_attach_fake(&f, hs, 600), EZSHM_ERR_HEADER, "frame size overflow");
        s_fake(&f, v1);
        cr_expect_eq(s_attach_fake(&f, hs, 599), EZSHM_ERR_HEADER, "ring smaller than header implies");
        cr_expect_eq(s_attach_fake(&f, hs, 1), EZSHM_ERR_HEADER, "ring of 1 byte");
        s_fake(&f, v1);
        cr_expect_eq(s_attach_fake(&f, hs - 1, 600), EZSHM_ERR_HEADER, "header truncated by 1");
        cr_expect_eq(s_attach_fake(&f, 100, 600), EZSHM_ERR_HEADER, "header of 100 bytes");
        cr_expect_eq(s_attach_fake(&f, 1, 600), EZSHM_ERR_HEADER, "header of 1 byte");
        /*  Not yet sized by its writer: retryable. */
        rc = s_attach_fake(&f, 0, 600);
        cr_expect(rc == EZSHM_ERR_NOTREADY || rc == EZSHM_ERR_HEADER, "empty header: %d", rc);
        /*  bvalid 0 and no ring: not ready. */
        s_fake(&f, v1);
        f.meta->bvalid = 0;
        cr_expect_eq(s_attach_fake(&f, hs, -1), EZSHM_ERR_NOTREADY, "bvalid 0");
        /*  valid header, ring missing: not ready (writer between unlink and create). */
        s_fake(&f, v1);
        cr_expect_eq(s_attach_fake(&f, hs, -1), EZSHM_ERR_NOTREADY, "ring missing");
    }
}

Test(shm_mirror, random_header_bytes_never_crash)
{
    /*  Deterministic garbage: whatever the bytes, attach returns a code, never crashes. */
    srand(12345);
    fake_t f;
    for (int i = 0; i < 300; i++) {
        s_fake(&f, i % 2);
        size_t hs = i % 2 ? 1334 : 1318;
        int flips = 1 + rand() % 8;
        for (int k = 0; k < flips; k++) {
            /*  Mostly the fields that matter: first 300 bytes and the counters. */
            size_t at = rand() % 2 ? (size_t) rand() % 300 : hs - 16 + (size_t) rand() % 16;
            f.bytes[at] = (uint8_t) rand();
        }
        int rc = s_attach_fake(&f, hs, 600);
        cr_assert(rc == EZSHM_OK || rc == EZSHM_ERR_HEADER || rc == EZSHM_ERR_DTYPE
                  || rc == EZSHM_ERR_NOTREADY, "case %d: rc %d", i, rc);
    }
}

/*  Runs the ezshm-mirror tool; returns its exit status, output in out (static). */
static int
s_tool(const char *args, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/ezshm-mirror' %s 2>/dev/null", EZSHM_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "ezshm-mirror did not exit normally");
    return WEXITSTATUS(status);
}

Test(shm_mirror, tool_exit_codes_and_csv)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ezshm-mirror", EZSHM_BIN);
    if (access(path, X_OK) != 0)
        cr_skip_test("ezshm-mirror not built at %s", path);
    static char out[65536];
    const char *missing = shmt_unique_name();
    char args[512];
    snprintf(args, sizeof args, "--dump csv --latest 3 '%s'", missing);
    cr_expect_eq(s_tool(args, out, sizeof out), 2, "missing stream");
    cr_expect_eq(s_tool("--latest 3", out, sizeof out), 64, "usage");

    /*  Invalid header: exit 3. */
    fake_t f;
    s_fake(&f, false);
    f.meta->ndim = 65;
    const char *bad = shmt_unique_name();
    s_fake_store(&f, bad, 1318, 600);
    snprintf(args, sizeof args, "--dump csv --latest 3 '%s'", bad);
    cr_expect_eq(s_tool(args, out, sizeof out), 3, "invalid header");
    s_fake(&f, false);
    f.meta->dtype = '!';
    s_fake_store(&f, bad, 1318, 600);
    cr_expect_eq(s_tool(args, out, sizeof out), 3, "bad dtype");

    /*  complex64 frames of two elements. */
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
    static const uint64_t shape[1] = {2};
    ezshm_ring_spec_t spec = {'F', 10.0, 20, 1, shape, "z", 1};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    float z[4 * 4] = {1.5f, -2.0f, 3.0f, 0.25f,    0.0f, 0.0f, -1.0f, 1e-3f,
                      0.1f, 1.0f, 2.0f, -0.5f,     7.0f, 8.0f, 9.0f, 10.0f};
    cr_assert_eq(ezshm_writer_write(w, z, 4), EZSHM_OK);
    snprintf(args, sizeof args, "--dump csv --latest 3 '%s'", name);
    cr_expect_eq(s_tool(args, out, sizeof out), 0);
    cr_expect_str_eq(out,
        "0+0j,-1+0.00100000005j\n"
        "0.100000001+1j,2-0.5j\n"
        "7+8j,9+10j\n");
    ezshm_writer_destroy(&w);

    /*  float64 and int16 scalars. */
    name = shmt_unique_name();
    cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
    ezshm_ring_spec_t dspec = {'d', 10.0, 20, 0, NULL, "d", 1};
    cr_assert_eq(ezshm_writer_configure(w, &dspec), EZSHM_OK);
    double d[3] = {0.1, -2.5, 1e300};
    cr_assert_eq(ezshm_writer_write(w, d, 3), EZSHM_OK);
    snprintf(args, sizeof args, "--dump csv --latest 5 '%s'", name);
    cr_expect_eq(s_tool(args, out, sizeof out), 0);
    cr_expect_str_eq(out, "0.10000000000000001\n-2.5\n1.0000000000000001e+300\n");
    ezshm_ring_spec_t hspec = {'h', 10.0, 20, 1, shape, "h", 1};
    cr_assert_eq(ezshm_writer_configure(w, &hspec), EZSHM_OK);
    int16_t h[4] = {-32768, 32767, 0, -1};
    cr_assert_eq(ezshm_writer_write(w, h, 2), EZSHM_OK);
    cr_expect_eq(s_tool(args, out, sizeof out), 0);
    cr_expect_str_eq(out, "-32768,32767\n0,-1\n");
    ezshm_writer_destroy(&w);
}

/*  Resident kB of this process's read-only shared mapping of segment segname (the mirror's;
    the writer's own is read-write), -1 when there is none. */
static long
s_reader_rss_kb(const char *segname)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    bool in = false;
    long rss = -1;
    while (fgets(line, sizeof line, f)) {
        if (strchr(line, '-') && strstr(line, " r--s ")) {
            in = strstr(line, segname) != NULL;
            continue;
        }
        if (strchr(line, '-') && strstr(line, " rw-s "))
            in = false;
        if (in && sscanf(line, "Rss: %ld kB", &rss) == 1)
            break;
    }
    fclose(f);
    return rss;
}

/*  A reader's first lap takes no page faults: attaching fills its page tables for the pages
    the ring has — and only those, since faulting in one it lacks would allocate it. */
Test(shm_mirror, attach_populates_what_the_ring_has_and_nothing_else)
{
    src_t s;
    const char *name = shmt_unique_name();
    s_src_open(&s, name, 20000, EZSHM_LAYOUT_LEGACY);             /* 160 000 bytes, reserved */
    ezshm_mirror_t *m;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_expect_geq(s_reader_rss_kb(shmt_ring_seg(name, 0)), 156, "populated whole");
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&s.w);

    /*  A sparse ring (an ezmsg-tools writer's, in its first lap): what is written, no more. */
    name = shmt_unique_name();
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.reserve_in_steps = true;
    cr_assert_eq(ezshm_writer_new(name, &opt, &s.w), EZSHM_OK);
    static const uint64_t shape[1] = {ELEMS};
    ezshm_ring_spec_t spec = {'I', 1000.0, 20000, 1, shape, "counter", 7};
    cr_assert_eq(ezshm_writer_configure(s.w, &spec), EZSHM_OK);
    s.next = 0;
    s_src_write(&s, 2048);                                         /* 16 KiB: 4 pages */
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_expect_eq(s_reader_rss_kb(shmt_ring_seg(name, 0)), 16, "the written pages only");
    cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, 0)), 160000);
    struct stat st;
    cr_assert_eq(stat(shmt_seg_path(shmt_ring_seg(name, 0)), &st), 0);
    cr_expect_eq((long long) st.st_blocks * 512, 16384, "the reader allocated nothing");
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&s.w);
}
