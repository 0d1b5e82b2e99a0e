/*  test_shm_wait_frames.c — block readers (docs/shm-layout.md §11, the wake segment's
    target): ezshm_mirror_wait_frames returns at the publish that completes the block after
    one wake-up instead of one per chunk, two block readers with different blocks each get
    theirs, an unfinished block times out unwoken, reset, rename and shutdown still wake at
    once, and the stale-waiter repair never takes back a live reader whose target is far. */
#define _GNU_SOURCE
#include "support_shm.h"
#include "ezshm.h"
#include "ezshm_clock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_wait_frames, .init = s_init, .fini = s_fini);

typedef struct {
    ezshm_writer_t *w;
    int             chunks, frames, gap_ms;
} pacer_t;

static void *
s_pace(void *arg)
{
    pacer_t *p = arg;
    double *buf = calloc((size_t) p->frames * 2, sizeof(double));
    for (int i = 0; i < p->chunks; i++) {
        nanosleep(&(struct timespec) {0, p->gap_ms * 1000L * 1000L}, NULL);
        cr_assert_eq(ezshm_writer_write(p->w, buf, (uint64_t) p->frames), EZSHM_OK);
    }
    free(buf);
    return NULL;
}

static long
s_sleeps(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
}

/*  30-frame chunks every 5 ms, a block of 300: the wait returns once the 10th chunk is in
    (not one chunk later), after one wake-up; ezshm_mirror_wait would have taken ten. */
Test(shm_wait_frames, returns_at_the_chunk_that_completes_the_block_after_one_wakeup)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_V1, false);
    shmt_configure(w, 1000.0, 4096);
    ezshm_mirror_t *m = shmt_mirror(name);
    double *buf = malloc(4096 * 2 * sizeof(double));
    uint64_t got, lost;
    for (int block = 0; block < 3; block++) {
        pacer_t p = {w, 14, 30, 5};
        pthread_t th;
        pthread_create(&th, NULL, s_pace, &p);
        long s0 = s_sleeps();
        int rc = ezshm_mirror_wait_frames(m, 300, 10000);
        long sleeps = s_sleeps() - s0;
        uint64_t written = ezshm_mirror_written(m);
        cr_expect_eq(rc, EZSHM_OK, "%s", ezshm_strerror(rc));
        cr_expect_leq(sleeps, 2, "block %d: %ld wake-ups for 10 chunks", block, sleeps);
        pthread_join(th, NULL);
        cr_expect_eq(ezshm_mirror_read(m, buf, 300, &got, &lost), EZSHM_OK);
        cr_expect_eq(got, 300);
        cr_expect_eq(lost, 0);
        /*  Returned at the 10th chunk: the reader saw 300 or 330 frames written (it may
            look a chunk later when the machine is slow, not 2). */
        cr_expect(written >= (uint64_t) block * 420 + 300 && written <= (uint64_t) block * 420 + 330,
                  "block %d: woke with %llu written", block, (unsigned long long) written);
        cr_expect_eq(ezshm_mirror_read(m, buf, 4096, &got, &lost), EZSHM_OK);   /* the rest of the 14 */
        cr_expect_eq(got, 120);
    }
    free(buf);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_wait_frames, fewer_frames_than_asked_time_out_unwoken)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, false);
    shmt_configure(w, 1000.0, 4096);
    ezshm_mirror_t *m = shmt_mirror(name);
    pacer_t p = {w, 20, 2, 10};   /* 40 frames over 200 ms, the target is 100 */
    pthread_t th;
    pthread_create(&th, NULL, s_pace, &p);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long s0 = s_sleeps();
    int rc = ezshm_mirror_wait_frames(m, 100, 300);
    long sleeps = s_sleeps() - s0;
    pthread_join(th, NULL);
    cr_expect_eq(rc, EZSHM_ERR_TIMEOUT, "%s", ezshm_strerror(rc));
    cr_expect_geq(shmt_ms_since(&t0), 299);
    cr_expect_leq(sleeps, 3, "%ld wake-ups: the 20 chunks should not wake it", sleeps);
    cr_expect_eq(ezshm_mirror_wait_frames(m, 40, 0), EZSHM_OK, "40 are there");
    cr_expect_eq(ezshm_mirror_wait_frames(m, 3000, 0), EZSHM_ERR_TIMEOUT);
    double *more = calloc(2008 * 2, sizeof(double));
    cr_assert_eq(ezshm_writer_write(w, more, 2008), EZSHM_OK);
    free(more);
    cr_expect_eq(ezshm_mirror_wait_frames(m, 3000, 0), EZSHM_OK, "2048 there: asks at most half the ring");
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

typedef struct {
    ezshm_mirror_t *m;
    uint64_t        block;
    int             rc;
    uint64_t        written;   /* what the reader saw written when it returned */
    long            sleeps;
} block_reader_t;

static void *
s_read_block(void *arg)
{
    block_reader_t *b = arg;
    long s0 = s_sleeps();
    b->rc = ezshm_mirror_wait_frames(b->m, b->block, 10000);
    b->sleeps = s_sleeps() - s0;
    b->written = ezshm_mirror_written(b->m);
    return NULL;
}

/*  Two block readers share the target (the lower one): the one with the larger block is
    woken once early, registers its own target again, and returns at its own block. */
Test(shm_wait_frames, two_block_readers_each_return_at_their_own_block)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_V1, false);
    shmt_configure(w, 1000.0, 4096);
    block_reader_t r[2] = {{shmt_mirror(name), 100, -1, 0, 0}, {shmt_mirror(name), 250, -1, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, s_read_block, &r[i]);
    nanosleep(&(struct timespec) {0, 50 * 1000 * 1000}, NULL);
    pacer_t p = {w, 30, 10, 5};
    s_pace(&p);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(r[i].rc, EZSHM_OK, "reader %d: %s", i, ezshm_strerror(r[i].rc));
        cr_expect(r[i].written >= r[i].block && r[i].written <= r[i].block + 10,
                  "reader %d (block %llu) woke with %llu written", i, (unsigned long long) r[i].block,
                  (unsigned long long) r[i].written);
        cr_expect_leq(r[i].sleeps, 3, "reader %d: %ld wake-ups", i, r[i].sleeps);
        ezshm_mirror_destroy(&r[i].m);
    }
    ezshm_writer_destroy(&w);
}

typedef struct {
    ezshm_writer_t *w;
    int             action;   /* 1 reset, 2 rename, 3 destroy */
} event_t;

static void *
s_event_later(void *arg)
{
    event_t *e = arg;
    nanosleep(&(struct timespec) {0, 50 * 1000 * 1000}, NULL);
    if (e->action == 1)
        ezshm_writer_reset_buffer(e->w);
    else if (e->action == 2)
        ezshm_writer_rename(e->w, "ezshm-test-wait-frames-renamed", EZSHM_LAYOUT_LEGACY);
    else
        ezshm_writer_destroy(&e->w);
    return NULL;
}

/*  A reader asleep for a far target is woken by the writer closing the clock (every bit). */
Test(shm_wait_frames, reset_rename_and_shutdown_wake_a_block_reader)
{
    for (int action = 1; action <= 3; action++) {
        const char *name = shmt_unique_name();
        event_t e = {shmt_writer(name, EZSHM_LAYOUT_LEGACY, false), action};
        shmt_configure(e.w, 1000.0, 4096);
        ezshm_mirror_t *m = shmt_mirror(name);
        pthread_t th;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pthread_create(&th, NULL, s_event_later, &e);
        long s0 = s_sleeps();
        int rc = ezshm_mirror_wait_frames(m, 2000, 10000);
        long sleeps = s_sleeps() - s0;
        long long ms = shmt_ms_since(&t0);
        pthread_join(th, NULL);
        cr_expect_eq(rc, EZSHM_ERR_STALE, "action %d: %s", action, ezshm_strerror(rc));
        cr_expect_lt(ms, 190, "action %d: woken by the writer, not by the 200 ms slice (%lld ms)", action, ms);
        /*  A rename closes the old clock before the new header is in place: a look in
            between finds a closed clock and naps 1 ms at a time until it is. */
        cr_expect_leq(sleeps, 8, "action %d: %ld sleeps", action, sleeps);
        ezshm_mirror_destroy(&m);
        ezshm_writer_destroy(&e.w);
    }
}

typedef struct {
    ezshm_clock_t *clock;
    uint32_t       seen;
    int            rc;
    double         woke;   /* seconds after the start */
    struct timespec t0;
} sleeper_t;

static void *
s_sleep_far(void *arg)
{
    sleeper_t *s = arg;
    s->rc = ezshm_clock_sleep_any(&s->clock, &s->seen, 1, 2.8, 1u << 20, NULL, NULL, NULL);
    s->woke = (double) shmt_ms_since(&s->t0) / 1000.0;
    return NULL;
}

/*  A live reader asleep until position 2^20 is never woken by the 1-frame chunks, so every
    wake finds nobody; after a second of those the writer probes with every bit: the probe
    finds the reader (woken once, spuriously) and its count is left alone. Sampled: the count
    stays 1 all the while the reader sleeps. */
Test(shm_wait_frames, stale_waiter_repair_spares_a_reader_asleep_for_a_far_target)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, false);
    shmt_configure(w, 1000.0, 4096);
    ezshm_clock_t *clock = NULL;
    cr_assert_eq(ezshm_clock_open(name, 0, 4096, EZSHM_ANY_OWNER, &clock), EZSHM_OK);
    cr_assert(ezshm_clock_can_sleep(clock));
    size_t size = 0;
    uint8_t *wake = shmt_map_rw(shmt_wake_seg(name, 0), &size);
    const uint32_t *waiters = (const uint32_t *) (wake + 64);
    sleeper_t s = {clock, ezshm_clock_wake_word(clock), -1, 0, {0, 0}};
    clock_gettime(CLOCK_MONOTONIC, &s.t0);
    pthread_t th;
    pthread_create(&th, NULL, s_sleep_far, &s);
    enum { N = 130 };
    double at[N];
    uint32_t count[N];
    double frame[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        nanosleep(&(struct timespec) {0, 20 * 1000 * 1000}, NULL);
        count[i] = __atomic_load_n(waiters, __ATOMIC_SEQ_CST);
        at[i] = (double) shmt_ms_since(&s.t0) / 1000.0;
        cr_assert_eq(ezshm_writer_write(w, frame, 1), EZSHM_OK);
    }
    pthread_join(th, NULL);
    cr_expect_eq(s.rc, EZSHM_OK, "woken by the probe: %s", ezshm_strerror(s.rc));
    cr_expect(s.woke > 0.9 && s.woke < 2.5, "woke after %.3f s", s.woke);
    for (int i = 0; i < N; i++)
        if (at[i] > 0.1 && at[i] < s.woke - 0.05)
            cr_expect_eq(count[i], 1, "count %u at %.3f s while the reader slept", count[i], at[i]);
    cr_expect_eq(__atomic_load_n(waiters, __ATOMIC_SEQ_CST), 0);
    munmap(wake, size);
    ezshm_clock_destroy(&clock);
    ezshm_writer_destroy(&w);
}
