/*  test_reaper.c — dropped rings unmapped off the loop: by the reaper's thread, or by the
    caller when there is no reaper; the writer hands its old ring over on every drop. */
#include "reaper.h"
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(reaper, .init = s_init, .fini = s_fini);

/*  True when addr starts a mapping of this process (/proc/self/maps). */
static bool
s_mapped(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo = 0;
        found = sscanf(line, "%lx-", &lo) == 1 && lo == (unsigned long) (uintptr_t) addr;
    }
    fclose(f);
    return found;
}

static bool
s_open_fd(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

Test(reaper, unmaps_and_closes_on_its_thread_and_drains_on_destroy)
{
    char err[256];
    reaper_t *r = reaper_new(err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    enum { N = 200 };
    void *addr[N];
    int fd[N];
    for (int i = 0; i < N; i++) {
        addr[i] = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq(addr[i], MAP_FAILED);
        memset(addr[i], i, 65536);
        fd[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd[i], 0);
    }
    /*  All opened first: no descriptor number is reused while the thread closes them. */
    for (int i = 0; i < N; i++)
        reaper_retire(r, addr[i], 65536, i % 2 ? fd[i] : -1);
    reaper_destroy(&r);
    cr_expect_null(r);
    for (int i = 0; i < N; i++) {
        cr_expect_not(s_mapped(addr[i]), "mapping %d still there", i);
        cr_expect_eq(s_open_fd(fd[i]), i % 2 == 0, "fd %d: closed only when handed over", i);
        if (i % 2 == 0)
            close(fd[i]);
    }
    reaper_destroy(&r);   /* NULL-safe */
}

Test(reaper, without_a_reaper_the_caller_unmaps_at_once)
{
    void *a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(a, MAP_FAILED);
    reaper_retire(NULL, a, 4096, -1);
    cr_expect_not(s_mapped(a));
}

typedef struct {
    int    calls;
    void  *addr;
    size_t size;
    int    fd;
} retired_t;

static void
s_on_retire(void *arg, void *addr, size_t size, int fd)
{
    retired_t *r = arg;
    r->calls++;
    r->addr = addr;
    r->size = size;
    r->fd = fd;
    munmap(addr, size);
    if (fd >= 0)
        close(fd);
}

/*  The writer gives every ring it drops to on_retire, name already unlinked, and never
    touches it again. */
Test(reaper, the_writer_hands_each_dropped_ring_over)
{
    retired_t got = {0};
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.on_retire = s_on_retire;
    opt.reserve_in_steps = true;   /* the ring keeps its fd: handed over with it */
    opt.arg = &got;
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    static const uint64_t shape[1] = {4};
    ezshm_ring_spec_t spec = {'f', 100.0, 1000, 1, shape, "", 0};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    char ring[64];
    snprintf(ring, sizeof ring, "%s", ezshm_writer_ring_segment(w));
    cr_expect_eq(got.calls, 0);
    spec.n_frames = 2000;
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);   /* a rebuild drops the first ring */
    cr_expect_eq(got.calls, 1);
    cr_expect_eq(got.size, 1000u * 4 * 4);
    cr_expect_geq(got.fd, 0);
    cr_expect_not(shmt_seg_exists(ring), "unlinked before it is handed over");
    cr_expect_not(s_mapped(got.addr));
    ezshm_writer_destroy(&w);
    cr_expect_eq(got.calls, 2, "and the last one on destroy");
    cr_expect_eq(shmt_count_files(), 0);
}
