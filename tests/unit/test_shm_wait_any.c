/*  test_shm_wait_any.c — ezshm_mirror_wait_any: one reader asleep on several streams at
    once. Wakes with the right index on data, rebuild and writer shutdown of any one; times
    out when none publishes; counts itself a waiter on every stream while asleep and leaves
    every count as it found it on each return; polls the streams it cannot sleep on (no
    clock segment, a wake segment of the wrong size or owner, a stream not there yet, more
    than 128 streams, a kernel without futex_waitv); a wake segment truncated under the
    wait detaches that stream only. Bounds are correctness bounds (seconds), not speed. */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void s_init(void) { shmt_setup(); ezshm_guard_enable(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_wait_any, .init = s_init, .fini = s_fini);

#define N 3
#define LATER_MS 50

/*  A stream of name with a ring of L frames. */
static ezshm_writer_t *
s_writer(const char *name, bool no_clock, uint64_t L)
{
    ezshm_writer_t *w = shmt_writer(name, EZSHM_LAYOUT_LEGACY, no_clock);
    shmt_configure(w, 100.0, L);
    return w;
}

/*  Three streams, each with a writer and a mirror attached; stream no_clock_at (-1: none)
    without a clock segment. */
typedef struct {
    const char     *names[N];
    ezshm_writer_t *w[N];
    ezshm_mirror_t *m[N];
} rig_t;

static void
s_rig(rig_t *r, int no_clock_at)
{
    for (int i = 0; i < N; i++) {
        r->names[i] = shmt_unique_name();
        r->w[i] = s_writer(r->names[i], i == no_clock_at, 64);
    }
    for (int i = 0; i < N; i++)
        r->m[i] = shmt_mirror(r->names[i]);
}

static void
s_rig_destroy(rig_t *r)
{
    for (int i = 0; i < N; i++) {
        ezshm_mirror_destroy(&r->m[i]);
        ezshm_writer_destroy(&r->w[i]);
    }
}

/*  The waiter count in a stream's wake segment of generation gen, as every process sees it
    (-1: no wake segment). */
static long
s_waiters(const char *name, uint32_t gen)
{
    size_t size;
    uint8_t *wake = support_read_file(shmt_seg_path(shmt_wake_seg(name, gen)), &size);
    if (!wake || size < 68) {
        free(wake);
        return -1;
    }
    uint32_t n;
    memcpy(&n, wake + 64, sizeof n);
    free(wake);
    return n;
}

static void
s_expect_no_waiters(const rig_t *r, const char *when)
{
    for (int i = 0; i < N; i++) {
        long n = s_waiters(r->names[i], 0);
        cr_expect(n == 0 || n == -1, "%s: stream %d has %ld waiters", when, i, n);
    }
}

/*  Reads every mirror until nothing is left (the news consumed). */
static void
s_drain(rig_t *r)
{
    double buf[64 * 2];
    for (int i = 0; i < N; i++) {
        uint64_t got, lost;
        int rc, reads = 0;
        do
            rc = ezshm_mirror_read(r->m[i], buf, 64, &got, &lost);
        while ((rc == EZSHM_ERR_STALE || (rc == EZSHM_OK && got > 0)) && ++reads < 100);
    }
}

static void
s_write(ezshm_writer_t *w, uint64_t n)
{
    double frames[16 * 2] = {0};
    cr_assert_eq(ezshm_writer_write(w, frames, n), EZSHM_OK);
}

static void
s_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

enum { ACT_WRITE, ACT_REBUILD, ACT_DESTROY, ACT_NONE };

typedef struct {
    rig_t *rig;
    int    target;
    int    action;
    long   waiters[N];   /* each stream's count while the reader sleeps */
} later_t;

/*  Notes each stream's waiter count while the reader sleeps: the highest seen, looking until
    no stream shows 0 (a reader on a loaded machine may take a while to fall asleep) or for
    at most a second. */
static void
s_note_waiters(later_t *l)
{
    for (int i = 0; i < N; i++)
        l->waiters[i] = -1;
    for (int tries = 0; tries < 100; tries++) {
        bool all = true;
        for (int i = 0; i < N; i++) {
            long n = s_waiters(l->rig->names[i], 0);
            if (n > l->waiters[i])
                l->waiters[i] = n;
            all = all && n != 0;
        }
        if (all)
            return;
        s_sleep_ms(10);
    }
}

/*  After LATER_MS and once the reader is seen asleep: acts on one stream. */
static void *
s_later(void *arg)
{
    later_t *l = arg;
    s_sleep_ms(LATER_MS);
    s_note_waiters(l);
    ezshm_writer_t **w = &l->rig->w[l->target];
    if (l->action == ACT_WRITE)
        s_write(*w, 4);
    else if (l->action == ACT_REBUILD)
        shmt_configure(*w, 100.0, 48);
    else if (l->action == ACT_DESTROY)
        ezshm_writer_destroy(w);
    return NULL;
}

/*  Runs wait_any over the rig while s_later acts; returns its result, *ready, the time. */
static int
s_wait_while(rig_t *r, later_t *l, int timeout_ms, size_t *ready, long long *ms)
{
    pthread_t th;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&th, NULL, s_later, l);
    int rc = ezshm_mirror_wait_any(r->m, N, timeout_ms, ready);
    *ms = shmt_ms_since(&t0);
    pthread_join(th, NULL);
    return rc;
}

/*  Waits on the rig while l acts; expects expect_rc for l's stream, well within the bound. */
static void
s_expect_woken(rig_t *r, later_t *l, int expect_rc)
{
    size_t ready = 99;
    long long ms;
    int rc = s_wait_while(r, l, 10000, &ready, &ms);
    cr_expect_eq(rc, expect_rc, "stream %d, action %d: %s", l->target, l->action, ezshm_strerror(rc));
    cr_expect_eq(ready, (size_t) l->target);
    cr_expect_lt(ms, 5000, "stream %d, action %d: woke after %lld ms", l->target, l->action, ms);
}

Test(shm_wait_any, wakes_on_data_of_any_one_with_its_index)
{
    rig_t r;
    s_rig(&r, -1);
    size_t ready = 99;
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 0, &ready), EZSHM_ERR_TIMEOUT);
    for (int target = N - 1; target >= 0; target--) {
        later_t l = {&r, target, ACT_WRITE, {0}};
        s_expect_woken(&r, &l, EZSHM_OK);
        for (int i = 0; i < N; i++)
            cr_expect_eq(l.waiters[i], 1, "asleep: counted a waiter on stream %d (%ld)", i, l.waiters[i]);
        s_expect_no_waiters(&r, "after data");
        /*  Unread news answers at once, with the same index. */
        cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 10000, &ready), EZSHM_OK);
        cr_expect_eq(ready, (size_t) target);
        s_drain(&r);
        cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 0, &ready), EZSHM_ERR_TIMEOUT);
    }
    s_rig_destroy(&r);
}

Test(shm_wait_any, lowest_index_with_news_and_ready_optional)
{
    rig_t r;
    s_rig(&r, -1);
    s_write(r.w[2], 1);
    s_write(r.w[1], 1);
    size_t ready = 99;
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 1000, &ready), EZSHM_OK);
    cr_expect_eq(ready, 1);
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 1000, NULL), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_wait_any(NULL, N, 0, &ready), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_mirror_wait_any(r.m, 0, 0, &ready), EZSHM_ERR_INVAL);
    ezshm_mirror_t *holes[2] = {r.m[0], NULL};
    cr_expect_eq(ezshm_mirror_wait_any(holes, 2, 0, &ready), EZSHM_ERR_INVAL);
    s_rig_destroy(&r);
}

Test(shm_wait_any, wakes_on_a_rebuild_and_a_writer_shutdown_of_one)
{
    static const int actions[2] = {ACT_REBUILD, ACT_DESTROY};
    for (int a = 0; a < 2; a++) {
        rig_t r;
        s_rig(&r, -1);
        later_t l = {&r, a == 0 ? 1 : 2, actions[a], {0}};
        s_expect_woken(&r, &l, EZSHM_ERR_STALE);
        for (int i = 0; i < N; i++)
            cr_expect_eq(l.waiters[i], 1);
        s_expect_no_waiters(&r, "after a stale stream");
        if (a == 0)
            cr_expect_eq(s_waiters(r.names[1], 1), 0, "the new generation's count");
        /*  Once read (followed), quiet again; the others still wake it. */
        s_drain(&r);
        size_t ready = 99;
        cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 60, &ready), EZSHM_ERR_TIMEOUT);
        s_write(r.w[0], 2);
        cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 5000, &ready), EZSHM_OK);
        cr_expect_eq(ready, 0);
        s_rig_destroy(&r);
    }
}

Test(shm_wait_any, times_out_when_none_publishes_and_restores_every_count)
{
    rig_t r;
    s_rig(&r, -1);
    later_t l = {&r, 0, ACT_NONE, {0}};
    size_t ready = 99;
    long long ms;
    /*  Longer than one 200 ms slice: the counts survive the loop too. */
    int rc = s_wait_while(&r, &l, 450, &ready, &ms);
    cr_expect_eq(rc, EZSHM_ERR_TIMEOUT, "%s", ezshm_strerror(rc));
    cr_expect_geq(ms, 449);
    for (int i = 0; i < N; i++)
        cr_expect_eq(l.waiters[i], 1);
    s_expect_no_waiters(&r, "after a timeout");
    /*  A count another (killed) reader left behind is left as it was, not reset. */
    size_t size;
    uint8_t *wake = shmt_map_rw(shmt_wake_seg(r.names[1], 0), &size);
    cr_assert_not_null(wake);
    uint32_t leftover = 5;
    memcpy(wake + 64, &leftover, sizeof leftover);
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 30, &ready), EZSHM_ERR_TIMEOUT);
    cr_expect_eq(s_waiters(r.names[1], 0), 5);
    cr_expect_eq(s_waiters(r.names[0], 0), 0);
    munmap(wake, size);
    s_rig_destroy(&r);
}

Test(shm_wait_any, polls_a_stream_without_a_clock_and_still_wakes)
{
    rig_t r;
    s_rig(&r, 1);
    cr_expect_eq(s_waiters(r.names[1], 0), -1, "no wake segment");
    later_t l = {&r, 1, ACT_WRITE, {0}};
    s_expect_woken(&r, &l, EZSHM_OK);
    cr_expect_eq(l.waiters[0], 1, "the others are slept on meanwhile");
    cr_expect_eq(l.waiters[2], 1);
    s_expect_no_waiters(&r, "after data on the polled stream");
    s_drain(&r);
    l.target = 2;
    s_expect_woken(&r, &l, EZSHM_OK);
    s_rig_destroy(&r);
}

Test(shm_wait_any, a_stream_not_there_yet_is_polled)
{
    rig_t r;
    s_rig(&r, -1);
    const char *late = shmt_unique_name();
    ezshm_mirror_t *m[N + 1] = {r.m[0], r.m[1], r.m[2], NULL};
    cr_assert_eq(ezshm_mirror_new(late, &m[N]), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_attach(m[N]), EZSHM_ERR_NOENT);
    size_t ready = 99;
    cr_expect_eq(ezshm_mirror_wait_any(m, N + 1, 50, &ready), EZSHM_ERR_TIMEOUT);
    s_write(r.w[2], 1);
    cr_expect_eq(ezshm_mirror_wait_any(m, N + 1, 5000, &ready), EZSHM_OK);
    cr_expect_eq(ready, 2);
    s_drain(&r);
    ezshm_writer_t *w = s_writer(late, false, 32);
    cr_expect_eq(ezshm_mirror_wait_any(m, N + 1, 5000, &ready), EZSHM_ERR_STALE);
    cr_expect_eq(ready, N);
    ezshm_writer_destroy(&w);
    ezshm_mirror_destroy(&m[N]);
    s_rig_destroy(&r);
}

/*  The wake segment of stream 1 replaced by a hostile one before the readers attach: the
    stream is polled (never a crash, never a write there), the others still slept on. */
static void
s_hostile_wake(bool other_owner)
{
    if (other_owner && geteuid() != 0)
        cr_skip_test("needs root to chown a file");
    rig_t r;
    for (int i = 0; i < N; i++) {
        r.names[i] = shmt_unique_name();
        r.w[i] = s_writer(r.names[i], false, 64);
    }
    const char *path = shmt_seg_path(shmt_wake_seg(r.names[1], 0));
    uint8_t junk[EZSHM_WAKE_BYTES];
    memset(junk, 0xA5, sizeof junk);
    cr_assert_eq(unlink(path), 0);
    cr_assert(shmt_write_file(path, junk, other_owner ? sizeof junk : 68));
    if (other_owner)
        cr_assert_eq(chown(path, 12345, 12345), 0);
    for (int i = 0; i < N; i++)
        r.m[i] = shmt_mirror(r.names[i]);
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 30, NULL), EZSHM_ERR_TIMEOUT);
    later_t l = {&r, 1, ACT_WRITE, {0}};
    s_expect_woken(&r, &l, EZSHM_OK);
    cr_expect_eq(l.waiters[0], 1);
    cr_expect_eq(l.waiters[2], 1);
    size_t size;
    uint8_t *after = support_read_file(path, &size);
    cr_expect_eq(size, other_owner ? sizeof junk : 68);
    cr_expect_eq(memcmp(after, junk, size), 0, "the reader wrote nothing into it");
    free(after);
    unlink(path);
    s_rig_destroy(&r);
}

Test(shm_wait_any, wake_segment_of_the_wrong_size_is_polled) { s_hostile_wake(false); }
Test(shm_wait_any, wake_segment_of_another_owner_is_polled) { s_hostile_wake(true); }

typedef struct {
    const char *path;
} truncate_t;

static void *
s_truncate_later(void *arg)
{
    const truncate_t *t = arg;
    s_sleep_ms(LATER_MS);
    cr_assert_eq(truncate(t->path, 0), 0);
    return NULL;
}

/*  Another process truncates stream 1's wake segment while the reader sleeps on it: the
    wait ends with EZSHM_ERR_BUS naming stream 1 (SIGBUS caught), which is detached; the
    other streams keep their mirrors and get their counts back. */
Test(shm_wait_any, truncated_wake_segment_detaches_that_stream_only)
{
    rig_t r;
    s_rig(&r, -1);
    truncate_t t = {shmt_seg_path(shmt_wake_seg(r.names[1], 0))};
    pthread_t th;
    pthread_create(&th, NULL, s_truncate_later, &t);
    size_t ready = 99;
    int rc = ezshm_mirror_wait_any(r.m, N, 10000, &ready);
    pthread_join(th, NULL);
    cr_expect_eq(rc, EZSHM_ERR_BUS, "%s", ezshm_strerror(rc));
    cr_expect_eq(ready, 1);
    cr_expect_eq(s_waiters(r.names[0], 0), 0);
    cr_expect_eq(s_waiters(r.names[2], 0), 0);
    ezshm_stream_info_t info;
    cr_expect_eq(ezshm_mirror_info(r.m[1], &info), EZSHM_ERR_NOTREADY, "detached");
    cr_expect_eq(ezshm_mirror_info(r.m[0], &info), EZSHM_OK, "untouched");
    cr_expect_eq(ezshm_mirror_info(r.m[2], &info), EZSHM_OK, "untouched");
    /*  Its size back (the writer still maps it), the streams go on. */
    cr_assert_eq(truncate(t.path, EZSHM_WAKE_BYTES), 0);
    s_write(r.w[2], 1);
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 5000, &ready), EZSHM_ERR_STALE, "stream 1 attaches afresh");
    cr_expect_eq(ready, 1);
    s_drain(&r);
    s_write(r.w[0], 1);
    cr_expect_eq(ezshm_mirror_wait_any(r.m, N, 5000, &ready), EZSHM_OK);
    cr_expect_eq(ready, 0);
    s_rig_destroy(&r);
}

/*  Past the kernel's 128 words: the first 128 are slept on, the rest polled, every one still
    wakes the wait. 129 mirrors of one idle stream, then the stream that publishes. */
Test(shm_wait_any, more_than_128_streams_are_polled_and_still_wake)
{
    enum { MANY = EZSHM_CLOCK_SLEEP_MAX + 2 };
    const char *idle = shmt_unique_name(), *busy = shmt_unique_name();
    ezshm_writer_t *wi = s_writer(idle, false, 64), *wb = s_writer(busy, false, 64);
    ezshm_mirror_t *m[MANY];
    for (int i = 0; i < MANY - 1; i++)
        m[i] = shmt_mirror(idle);
    m[MANY - 1] = shmt_mirror(busy);
    size_t ready = 0;
    cr_expect_eq(ezshm_mirror_wait_any(m, MANY, 30, &ready), EZSHM_ERR_TIMEOUT);
    cr_expect_eq(s_waiters(idle, 0), 0);
    s_write(wb, 1);
    cr_expect_eq(ezshm_mirror_wait_any(m, MANY, 5000, &ready), EZSHM_OK);
    cr_expect_eq(ready, MANY - 1);
    cr_expect_eq(s_waiters(idle, 0), 0);
    cr_expect_eq(s_waiters(busy, 0), 0);
    for (int i = 0; i < MANY; i++)
        ezshm_mirror_destroy(&m[i]);
    ezshm_writer_destroy(&wi);
    ezshm_writer_destroy(&wb);
}

/*  A seccomp filter that fails futex_waitv with ENOSYS, as a kernel older than 5.16 does. */
static bool
s_deny_futex_waitv(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex_waitv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short) (sizeof code / sizeof code[0]), code};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
           && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

/*  In a child process (the filter stays for its life): without futex_waitv the wait polls
    several streams and still wakes with the right index, and counts nothing left. Exit
    codes: 0 passed, 2 no seccomp here, 1 + a failed step otherwise. */
static int
s_enosys_child(void)
{
    rig_t r;
    s_rig(&r, -1);
    if (!s_deny_futex_waitv())
        return 2;
    size_t ready = 99;
    if (ezshm_mirror_wait_any(r.m, N, 30, &ready) != EZSHM_ERR_TIMEOUT)
        return 10;
    later_t l = {&r, 2, ACT_WRITE, {0}};
    long long ms;
    if (s_wait_while(&r, &l, 10000, &ready, &ms) != EZSHM_OK || ready != 2)
        return 11;
    for (int i = 0; i < N; i++)
        if (l.waiters[i] != 0)
            return 14;   /* polled: counted nowhere */
    for (int i = 0; i < N; i++)
        if (s_waiters(r.names[i], 0) != 0)
            return 12;
    /*  One stream alone still sleeps in FUTEX_WAIT. */
    later_t one = {&r, 0, ACT_WRITE, {0}};
    s_drain(&r);
    pthread_t th;
    pthread_create(&th, NULL, s_later, &one);
    int rc = ezshm_mirror_wait(r.m[0], 10000);
    pthread_join(th, NULL);
    if (rc != EZSHM_OK || one.waiters[0] != 1)
        return 13;
    s_rig_destroy(&r);
    return 0;
}

Test(shm_wait_any, a_kernel_without_futex_waitv_is_polled)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(s_enosys_child());
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died: status %d", status);
    if (WEXITSTATUS(status) == 2)
        cr_skip_test("no seccomp filters here");
    cr_expect_eq(WEXITSTATUS(status), 0, "failed step %d", WEXITSTATUS(status));
}
