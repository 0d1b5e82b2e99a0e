/*  test_shm_clock.c — the clock segment: every frame's timestamp (linear and coordinate axes,
    across wraps and rebuilds, both header layouts), writers without a clock, the bytes
    ezmsg-tools sees, hostile clock bytes, and ezshm_mirror_wait (data, timeout, reset,
    rename, shutdown, SIGTERM and SIGKILL of a writer process). */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_clock, .init = s_init, .fini = s_fini);

static const uint64_t s_shape2[1] = {2};

typedef struct {
    const double *src;
} copy_src_t;

static int
s_copy(void *arg, void *dst, uint64_t first, uint64_t count)
{
    const copy_src_t *c = arg;
    memcpy(dst, c->src + first * 2, count * 2 * sizeof(double));
    return 0;
}

/*  Writes n frames {value, -value} with value = frame number, and the chunk's timing. */
static void
s_write_chunk(ezshm_writer_t *w, uint64_t *next, uint64_t n, const ezshm_chunk_time_t *time)
{
    double *buf = malloc(n * 2 * sizeof(double));
    for (uint64_t i = 0; i < n; i++) {
        buf[2 * i] = (double) (*next + i);
        buf[2 * i + 1] = -(double) (*next + i);
    }
    copy_src_t c = {buf};
    cr_assert_eq(ezshm_writer_write_timed(w, n, s_copy, &c, time), EZSHM_OK);
    *next += n;
    free(buf);
}

/*  The sender's clock: chunk k starts at frame F, offset = base + F * gain, as ezmsg's
    LinearAxis offsets are. Expected time of frame i of that chunk: offset + i * gain. */
static void
s_linear_run(ezshm_layout_t layout)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, layout, false);
    const double gain = 1.0 / 500.0, base = 1700000000.25;
    shmt_configure(w, 500.0, 97);
    ezshm_mirror_t *m = shmt_mirror(name);
    double frames[97 * 2], t[97];
    double expect_t[4096];
    uint64_t next = 0, checked = 0, read_from = 0;
    static const uint64_t sizes[] = {1, 7, 13, 40, 3, 96, 5, 29};
    for (int round = 0; round < 40; round++) {
        uint64_t n = sizes[round % 8];
        if (round == 20) {
            /*  A rebuild (new ring length): the reader follows, timestamps go on. */
            shmt_configure(w, 500.0, 89);
            uint64_t got, lost;
            cr_assert_eq(ezshm_mirror_read_ts(m, frames, 97, &got, &lost, t), EZSHM_ERR_STALE);
            next = 0;
            read_from = 0;
        }
        ezshm_chunk_time_t ct = {base + (double) (checked + next) * gain, gain, NULL, 0, (uint64_t) round};
        for (uint64_t i = 0; i < n; i++)
            expect_t[(next + i) % 4096] = ct.t0 + (double) i * gain;
        s_write_chunk(w, &next, n, &ct);
        uint64_t got, lost;
        cr_assert_eq(ezshm_mirror_read_ts(m, frames, 97, &got, &lost, t), EZSHM_OK);
        cr_assert_eq(got + lost, next - read_from);
        for (uint64_t i = 0; i < got; i++) {
            uint64_t p = read_from + lost + i;
            cr_assert_eq(frames[2 * i], (double) p);
            cr_assert_eq(t[i], expect_t[p % 4096], "frame %llu: %.9f, want %.9f",
                         (unsigned long long) p, t[i], expect_t[p % 4096]);
        }
        read_from = next;
    }
    ezshm_newest_t nw;
    cr_assert_eq(ezshm_mirror_newest(m, &nw), EZSHM_OK);
    cr_expect_eq(nw.position, next);
    cr_expect_eq(nw.time, expect_t[(next - 1) % 4096]);
    cr_expect_eq(nw.seq, 39);
    cr_expect_gt(nw.wall_ns, 1600000000LL * 1000000000LL);

    /*  latest_ts: the newest frames and their times. */
    uint64_t n_out;
    cr_assert_eq(ezshm_mirror_latest_ts(m, frames, 10, &n_out, t), EZSHM_OK);
    cr_assert_eq(n_out, 10);
    for (uint64_t i = 0; i < 10; i++)
        cr_expect_eq(t[i], expect_t[(next - 10 + i) % 4096]);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_clock, linear_timestamps_every_frame_legacy) { s_linear_run(EZSHM_LAYOUT_LEGACY); }
Test(shm_clock, linear_timestamps_every_frame_v1) { s_linear_run(EZSHM_LAYOUT_V1); }

static void
s_coordinate_run(ezshm_layout_t layout)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, layout, false);
    shmt_configure(w, 0.0, 50);   /* srate 0: coordinate axis, per-frame times ring */
    ezshm_mirror_t *m = shmt_mirror(name);
    double frames[50 * 2], t[50], coords[64];
    uint64_t next = 0, read_from = 0;
    double now = 12.5;
    for (int round = 0; round < 30; round++) {
        uint64_t n = 1 + (uint64_t) (round * 7) % 40;
        for (uint64_t i = 0; i < n; i++) {
            now += 0.001 * (1 + (double) ((round + i) % 5)) + 1e-9 * (double) i;   /* irregular */
            coords[i] = now;
        }
        ezshm_chunk_time_t ct = {coords[0], NAN, coords, 0, EZSHM_SEQ_NONE};
        double expect[64];
        memcpy(expect, coords, n * sizeof(double));
        s_write_chunk(w, &next, n, &ct);
        uint64_t got, lost;
        cr_assert_eq(ezshm_mirror_read_ts(m, frames, 50, &got, &lost, t), EZSHM_OK);
        cr_assert_eq(lost, 0);
        cr_assert_eq(got, n);
        for (uint64_t i = 0; i < got; i++) {
            cr_assert_eq(frames[2 * i], (double) (read_from + i));
            cr_assert_eq(t[i], expect[i], "round %d frame %llu", round, (unsigned long long) i);
        }
        read_from = next;
    }
    ezshm_newest_t nw;
    cr_assert_eq(ezshm_mirror_newest(m, &nw), EZSHM_OK);
    cr_expect_eq(nw.time, now);
    cr_expect_eq(nw.seq, EZSHM_SEQ_NONE);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_clock, coordinate_timestamps_every_value_across_wraps_legacy) { s_coordinate_run(EZSHM_LAYOUT_LEGACY); }
Test(shm_clock, coordinate_timestamps_every_value_across_wraps_v1) { s_coordinate_run(EZSHM_LAYOUT_V1); }

Test(shm_clock, coordinate_chunks_without_values_read_nan_not_an_old_lap)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, false);
    shmt_configure(w, 0.0, 8);
    ezshm_mirror_t *m = shmt_mirror(name);
    double coords[8] = {1, 2, 3, 4, 5, 6, 7, 8}, frames[16], t[8];
    ezshm_chunk_time_t ct = {1, NAN, coords, 0, EZSHM_SEQ_NONE};
    uint64_t next = 0, got, lost;
    s_write_chunk(w, &next, 6, &ct);   /* slots 0..5 hold 1..6 */
    cr_assert_eq(ezshm_mirror_read_ts(m, frames, 8, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got, 6);
    s_write_chunk(w, &next, 6, NULL);  /* the next lap over slots 6, 7, 0..3: no values */
    cr_assert_eq(ezshm_mirror_read_ts(m, frames, 8, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got + lost, 6);
    for (uint64_t i = 0; i < got; i++)
        cr_expect(isnan(t[i]), "frame %llu: %f", (unsigned long long) (next - got + i), t[i]);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_clock, writer_without_clock_reads_nan_and_wait_polls)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, true);
    shmt_configure(w, 100.0, 40);
    cr_expect_str_eq(ezshm_writer_clock_segment(w), "");
    cr_expect_not(shmt_seg_exists(shmt_clock_seg(name, 0)));
    ezshm_mirror_t *m = shmt_mirror(name);
    uint64_t next = 0;
    ezshm_chunk_time_t ct = {3.0, 0.01, NULL, 0, 1};
    s_write_chunk(w, &next, 5, &ct);
    cr_expect_eq(ezshm_mirror_wait(m, 1000), EZSHM_OK);
    double frames[80], t[40];
    uint64_t got, lost;
    cr_assert_eq(ezshm_mirror_read_ts(m, frames, 40, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got, 5);
    for (int i = 0; i < 5; i++)
        cr_expect(isnan(t[i]));
    cr_expect_eq(ezshm_mirror_wait(m, 30), EZSHM_ERR_TIMEOUT);
    ezshm_newest_t nw;
    cr_assert_eq(ezshm_mirror_newest(m, &nw), EZSHM_OK);
    cr_expect_eq(nw.position, 5);
    cr_expect(isnan(nw.time));
    cr_expect_eq(nw.wall_ns, 0);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_clock, ezmsg_tools_view_unchanged_by_the_clock)
{
    /*  Same chunks through a writer with and one without a clock segment: header and ring
        bytes are identical (the names differ, the header does not hold them). */
    const char *a = shmt_unique_name(), *b = shmt_unique_name();
    for (int layout = 0; layout < 2; layout++) {
        ezshm_writer_t *wa = shmt_writer(a, (ezshm_layout_t) layout, false);
        ezshm_writer_t *wb = shmt_writer(b, (ezshm_layout_t) layout, true);
        shmt_configure(wa, 250.0, 33);
        shmt_configure(wb, 250.0, 33);
        uint64_t na = 0, nb = 0;
        for (int k = 0; k < 9; k++) {
            ezshm_chunk_time_t ct = {k * 0.1, 0.004, NULL, 0, (uint64_t) k};
            s_write_chunk(wa, &na, 11, &ct);
            s_write_chunk(wb, &nb, 11, NULL);
        }
        size_t hs = ezshm_header_size((ezshm_layout_t) layout);
        size_t la, lb;
        uint8_t *ha = support_read_file(shmt_seg_path(ezshm_writer_header_segment(wa)), &la);
        uint8_t *hb = support_read_file(shmt_seg_path(ezshm_writer_header_segment(wb)), &lb);
        cr_assert_eq(la, hs);
        cr_assert_eq(lb, hs);
        cr_expect_eq(memcmp(ha, hb, hs), 0, "header bytes differ");
        free(ha);
        free(hb);
        uint8_t *ra = support_read_file(shmt_seg_path(ezshm_writer_ring_segment(wa)), &la);
        uint8_t *rb = support_read_file(shmt_seg_path(ezshm_writer_ring_segment(wb)), &lb);
        cr_assert_eq(la, 33 * 2 * 8);
        cr_assert_eq(lb, la);
        cr_expect_eq(memcmp(ra, rb, la), 0, "ring bytes differ");
        free(ra);
        free(rb);
        ezshm_writer_destroy(&wa);
        ezshm_writer_destroy(&wb);
    }
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_clock, chunks_smaller_than_planned_lose_old_times_not_new_ones)
{
    /*  30 kHz plans for 30-frame chunks; 1-frame chunks overrun the anchors: the oldest
        frames' times become NaN, the newest stay exact. */
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, false);
    shmt_configure(w, 30000.0, 3000);
    uint64_t cap = ezshm_clock_anchor_capacity(3000, 30000.0);
    cr_expect_eq(cap, 3000 / 30 + 2);
    cr_expect_eq(shmt_seg_size(ezshm_writer_clock_segment(w)),
                 (long long) ezshm_clock_segment_bytes(3000, cap, false));
    ezshm_mirror_t *m = shmt_mirror(name);
    uint64_t next = 0;
    for (int k = 0; k < 2000; k++) {
        ezshm_chunk_time_t ct = {k / 30000.0, 1 / 30000.0, NULL, 0, (uint64_t) k};
        s_write_chunk(w, &next, 1, &ct);
    }
    double *frames = malloc(3000 * 16), t[3000];
    uint64_t got, lost;
    cr_assert_eq(ezshm_mirror_read_ts(m, frames, 3000, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got, 2000);
    int known = 0;
    for (uint64_t i = 0; i < got; i++)
        if (!isnan(t[i])) {
            cr_assert_eq(t[i], (double) i / 30000.0);
            known++;
        }
    cr_expect_eq(known, (int) cap - 1);
    cr_expect(!isnan(t[got - 1]));
    free(frames);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_clock, hostile_clock_bytes_mean_no_timestamps)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, true);
    shmt_configure(w, 100.0, 20);
    /*  Another process put garbage where the clock segment would be. */
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t) (i * 131 + 7);
    memcpy(junk, "ZCLK", 4);
    cr_assert(shmt_write_file(shmt_seg_path(shmt_clock_seg(name, 0)), junk, sizeof junk));
    ezshm_mirror_t *m = shmt_mirror(name);
    uint64_t next = 0;
    s_write_chunk(w, &next, 3, NULL);
    double frames[40], t[20];
    uint64_t got, lost;
    cr_assert_eq(ezshm_mirror_read_ts(m, frames, 20, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got, 3);
    cr_expect(isnan(t[0]) && isnan(t[2]));
    cr_expect_eq(ezshm_mirror_wait(m, 20), EZSHM_ERR_TIMEOUT);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

typedef struct {
    ezshm_writer_t *w;
    int             action;   /* 0 write, 1 reset, 2 rename, 3 destroy */
    uint64_t        next;
} later_t;

static void *
s_later(void *arg)
{
    later_t *l = arg;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    if (l->action == 0)
        s_write_chunk(l->w, &l->next, 4, NULL);
    else if (l->action == 1)
        ezshm_writer_reset_buffer(l->w);
    else if (l->action == 2)
        ezshm_writer_rename(l->w, "ezshm-test-renamed-elsewhere", EZSHM_LAYOUT_LEGACY);
    else
        ezshm_writer_destroy(&l->w);
    return NULL;
}

/*  Each wake-up reason: a wait with a long timeout returns the right code, long before
    the timeout (10 s: the bound is correctness, not speed). */
Test(shm_clock, wait_wakes_on_data_reset_rename_and_shutdown)
{
    static const int expect[4] = {EZSHM_OK, EZSHM_ERR_STALE, EZSHM_ERR_STALE, EZSHM_ERR_STALE};
    for (int action = 0; action < 4; action++) {
        const char *name = shmt_unique_name();
        later_t l = {shmt_writer(name, EZSHM_LAYOUT_LEGACY, false), action, 0};
        shmt_configure(l.w, 100.0, 64);
        ezshm_mirror_t *m = shmt_mirror(name);
        cr_expect_eq(ezshm_mirror_wait(m, 0), EZSHM_ERR_TIMEOUT);
        pthread_t th;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pthread_create(&th, NULL, s_later, &l);
        int rc = ezshm_mirror_wait(m, 10000);
        long long ms = shmt_ms_since(&t0);
        pthread_join(th, NULL);
        cr_expect_eq(rc, expect[action], "action %d: %s", action, ezshm_strerror(rc));
        cr_expect_lt(ms, 5000, "action %d woke after %lld ms", action, ms);
        if (action == 1) {
            /*  Reset: the next wait polls quietly until the ring is back, then says STALE. */
            cr_expect_eq(ezshm_mirror_wait(m, 30), EZSHM_ERR_TIMEOUT);
            shmt_configure(l.w, 100.0, 64);
            cr_expect_eq(ezshm_mirror_wait(m, 5000), EZSHM_ERR_STALE);
            uint64_t got, lost;
            double buf[128];
            cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_STALE);
            cr_expect_eq(ezshm_mirror_wait(m, 0), EZSHM_ERR_TIMEOUT);
        }
        ezshm_mirror_destroy(&m);
        ezshm_writer_destroy(&l.w);
    }
}

Test(shm_clock, readers_may_write_the_wake_segment_only)
{
    /*  A group-readable stream: the clock is as read-only to the group as the ring; the wake
        segment (nothing but the wake words) gets group write so group readers can sleep. */
    const char *name = shmt_unique_name();
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.mode = 0640;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    shmt_configure(w, 100.0, 64);
    cr_expect_eq(shmt_seg_mode(shmt_ring_seg(name, 0)), 0640);
    cr_expect_eq(shmt_seg_mode(shmt_clock_seg(name, 0)), 0640);
    cr_expect_eq(shmt_seg_mode(shmt_wake_seg(name, 0)), 0660);
    ezshm_writer_destroy(&w);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_clock, wait_times_out_and_leaves_no_waiter_counted)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_V1, false);
    shmt_configure(w, 100.0, 64);
    ezshm_mirror_t *m = shmt_mirror(name);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_expect_eq(ezshm_mirror_wait(m, 120), EZSHM_ERR_TIMEOUT);
    cr_expect_geq(shmt_ms_since(&t0), 119);
    size_t size;
    uint8_t *clock = support_read_file(shmt_seg_path(ezshm_writer_clock_segment(w)), &size);
    uint8_t *wake = support_read_file(shmt_seg_path(shmt_wake_seg(name, 0)), &size);
    uint32_t waiters, magic, word;
    memcpy(&magic, clock, 4);
    memcpy(&word, wake, 4);
    memcpy(&waiters, wake + 64, 4);
    cr_expect_eq(magic, EZSHM_CLOCK_MAGIC);
    cr_expect_eq(size, EZSHM_WAKE_BYTES);
    cr_expect_eq(waiters, 0);
    cr_expect_eq(word, 0, "no chunk written, no close: the word never moved");
    free(clock);
    free(wake);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

static volatile sig_atomic_t s_stop;
static void s_on_term(int sig) { (void) sig; s_stop = 1; }

/*  A writer in a child process: configures, writes one chunk, tells the parent, then idles
    until SIGTERM (destroys its writer cleanly) or SIGKILL. */
static pid_t
s_child_writer(const char *name)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGTERM, s_on_term);
        ezshm_writer_options_t opt;
        ezshm_writer_options_init(&opt);
        ezshm_writer_t *w = NULL;
        if (ezshm_writer_new(name, &opt, &w) != EZSHM_OK)
            _exit(1);
        ezshm_ring_spec_t spec = {'d', 100.0, 64, 1, s_shape2, "k", 1};
        double chunk[4] = {0};
        if (ezshm_writer_configure(w, &spec) != EZSHM_OK || ezshm_writer_write(w, chunk, 2) != EZSHM_OK)
            _exit(1);
        if (write(fds[1], "r", 1) != 1)
            _exit(1);
        while (!s_stop)
            pause();
        ezshm_writer_destroy(&w);
        _exit(0);
    }
    close(fds[1]);
    char c;
    cr_assert_eq(read(fds[0], &c, 1), 1);
    close(fds[0]);
    return pid;
}

static void *
s_signal_later(void *arg)
{
    const int *sig_pid = arg;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    kill(sig_pid[1], sig_pid[0]);
    return NULL;
}

Test(shm_clock, wait_wakes_on_writer_sigterm_and_times_out_after_sigkill)
{
    static const int sigs[2] = {SIGTERM, SIGKILL};
    for (int i = 0; i < 2; i++) {
        const char *name = shmt_unique_name();
        pid_t pid = s_child_writer(name);
        ezshm_mirror_t *m = shmt_mirror(name);
        int sig_pid[2] = {sigs[i], pid};
        pthread_t th;
        pthread_create(&th, NULL, s_signal_later, sig_pid);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = ezshm_mirror_wait(m, i == 0 ? 10000 : 600);
        long long ms = shmt_ms_since(&t0);
        pthread_join(th, NULL);
        int status;
        waitpid(pid, &status, 0);
        if (sigs[i] == SIGTERM) {
            cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            cr_expect_eq(rc, EZSHM_ERR_STALE, "%s", ezshm_strerror(rc));
            cr_expect_lt(ms, 5000);
        }
        else {
            /*  Nobody woke us: the timeout does; the segments it left are reclaimable. */
            cr_expect(WIFSIGNALED(status));
            cr_expect_eq(rc, EZSHM_ERR_TIMEOUT, "%s", ezshm_strerror(rc));
            cr_expect_geq(ms, 599);
        }
        ezshm_mirror_destroy(&m);
        shmt_teardown();
        shmt_setup();
    }
}

/*  Readers killed inside their wait (here: two counted by hand, nobody asleep) leave
    `waiters` too high; the writer's wakes find nobody and, after a second of them, it takes
    the count back down one a second — not below what live sleepers need. */
Test(shm_clock, waiters_left_by_killed_readers_are_taken_back)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, false);
    shmt_configure(w, 1000.0, 256);
    size_t size = 0;
    uint8_t *wake = shmt_map_rw(shmt_wake_seg(name, 0), &size);
    cr_assert_not_null(wake);
    uint32_t *waiters = (uint32_t *) (wake + 64);
    __atomic_store_n(waiters, 2, __ATOMIC_SEQ_CST);
    uint64_t next = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t first_second = 2;
    /*  160 chunks ≥ 20 ms apart: two runs of 50 empty wakes, each at least a second long. */
    for (int i = 0; i < 160; i++) {
        s_write_chunk(w, &next, 1, NULL);
        nanosleep(&(struct timespec) {0, 20 * 1000 * 1000}, NULL);
        if (shmt_ms_since(&t0) < 900)
            first_second = __atomic_load_n(waiters, __ATOMIC_SEQ_CST);
    }
    cr_expect_eq(first_second, 2, "untouched within the first second");
    cr_expect_eq(__atomic_load_n(waiters, __ATOMIC_SEQ_CST), 0, "both taken back, one a second");
    munmap(wake, size);
    ezshm_writer_destroy(&w);
}

/*  A writer thread as fast as it can go: chunks of 1 to 3 frames, frame p carries the value
    p, its time p / 2 (exact in binary), chunk k the seq k; linear (an anchor per chunk) or
    coordinate (a times ring, srate 0) axis. */
typedef struct {
    ezshm_writer_t *w;
    bool            coordinate;
    uint64_t        chunks;
    uint64_t       *seq_at;     /* seq_at[p]: the seq of frame p's chunk */
    volatile int    done;
    int             rc;
} racer_t;

static int
s_copy_values(void *arg, void *dst, uint64_t first, uint64_t count)
{
    const uint64_t *start = arg;
    double *d = dst;
    for (uint64_t i = 0; i < count; i++)
        d[2 * i] = d[2 * i + 1] = (double) (*start + first + i);
    return 0;
}

static void *
s_racer(void *arg)
{
    racer_t *r = arg;
    uint64_t p = 0;
    double times[3];
    for (uint64_t k = 0; k < r->chunks && r->rc == EZSHM_OK; k++) {
        uint64_t n = 1 + k % 3;
        for (uint64_t i = 0; i < n; i++) {
            times[i] = (double) (p + i) * 0.5;
            r->seq_at[p + i] = k;
        }
        ezshm_chunk_time_t ct = {(double) p * 0.5, r->coordinate ? NAN : 0.5, r->coordinate ? times : NULL, 0, k};
        r->rc = ezshm_writer_write_timed(r->w, n, s_copy_values, &p, &ct);
        p += n;
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/*  ezshm_mirror_newest and ezshm_mirror_read_ts while the writer races on: every answer is
    one frame's, whole — position, time and seq of frame position - 1; every frame read has
    its own time. Before, newest looked its anchor up from the oldest one kept, the first
    the writer reuses, and said "no seq, no time" whenever it did. */
static void
s_race(bool coordinate)
{
    const char *name = shmt_unique_name();
    racer_t r = {shmt_writer(name, EZSHM_LAYOUT_V1, false), coordinate, 300000, NULL, 0, EZSHM_OK};
    shmt_configure(r.w, coordinate ? 0.0 : 100.0, 64);
    r.seq_at = calloc(2 * r.chunks + 3, sizeof *r.seq_at);
    ezshm_mirror_t *m = shmt_mirror(name);
    pthread_t th;
    pthread_create(&th, NULL, s_racer, &r);
    uint64_t calls = 0, bad_newest = 0, reads = 0, bad_times = 0;
    double frames[64 * 2], t[64];
    while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
        ezshm_newest_t nw;
        int rc = ezshm_mirror_newest(m, &nw);
        calls++;
        if (rc != EZSHM_OK || (nw.position > 0 && (nw.seq != r.seq_at[nw.position - 1]
                                                   || nw.time != (double) (nw.position - 1) * 0.5)))
            bad_newest++;
        uint64_t got = 0, lost = 0;
        if (ezshm_mirror_read_ts(m, frames, 64, &got, &lost, t) == EZSHM_OK && got) {
            reads++;
            for (uint64_t i = 0; i < got; i++)
                bad_times += t[i] != frames[2 * i] * 0.5;
        }
    }
    pthread_join(th, NULL);
    cr_assert_eq(r.rc, EZSHM_OK);
    cr_expect_gt(calls, 0);
    cr_expect_eq(bad_newest, 0, "%llu of %llu newest calls inconsistent", (unsigned long long) bad_newest,
                 (unsigned long long) calls);
    cr_expect_eq(bad_times, 0, "%llu frames without their time in %llu reads", (unsigned long long) bad_times,
                 (unsigned long long) reads);
    free(r.seq_at);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&r.w);
}

Test(shm_clock, newest_and_read_ts_are_consistent_under_a_racing_writer_linear) { s_race(false); }
Test(shm_clock, newest_and_read_ts_are_consistent_under_a_racing_writer_coordinate) { s_race(true); }
