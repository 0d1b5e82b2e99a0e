/*  test_shm_hostile.c — the shm library against hostile neighbours: the writer's lock on its
    stream name, atomic header publication, FIFOs/symlinks/directories at segment names,
    segments truncated under writer and reader (SIGBUS guard), small rings, and readers that
    let go of a ring as soon as it is invalid. */
#include "support_shm.h"
#include "ezshm.h"
#include "ezshm_guard_frame.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void s_init(void) { shmt_setup(); ezshm_guard_enable(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_hostile, .init = s_init, .fini = s_fini);

static const uint64_t s_shape[1] = {2};

static ezshm_ring_spec_t
s_spec(uint64_t L)
{
    ezshm_ring_spec_t spec = {'I', 100.0, L, 1, s_shape, "k", 1};
    return spec;
}

/*  Writes frames [first, first + n) of the pattern frame i = {i, ~i}. */
static void
s_write(ezshm_writer_t *w, uint64_t first, uint64_t n)
{
    uint32_t *buf = malloc(n * 2 * sizeof *buf);
    for (uint64_t i = 0; i < n; i++) {
        buf[2 * i] = (uint32_t) (first + i);
        buf[2 * i + 1] = ~(uint32_t) (first + i);
    }
    cr_assert_eq(ezshm_writer_write(w, buf, n), EZSHM_OK);
    free(buf);
}

/*  A writer of name with its ring built to spec. */
static ezshm_writer_t *
s_stream(const char *name, const ezshm_ring_spec_t *spec)
{
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
    cr_assert_eq(ezshm_writer_configure(w, spec), EZSHM_OK);
    return w;
}

/*  Hidden temporary headers (".sm_…-<pid>-<n>"), not the records of live headers. */
static int
s_count_hidden(void)
{
    DIR *d = opendir(getenv("EZSHM_SHM_DIR"));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] == '.' && strchr(e->d_name, '-') != NULL;
    closedir(d);
    return n;
}

Test(shm_hostile, second_writer_refused_first_untouched)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *a = NULL, *b = NULL;
    cr_assert_eq(ezshm_writer_new(name, NULL, &a), EZSHM_OK);
    ezshm_ring_spec_t spec = s_spec(32);
    cr_assert_eq(ezshm_writer_configure(a, &spec), EZSHM_OK);
    struct stat before;
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &before), 0);

    cr_expect_eq(ezshm_writer_new(name, NULL, &b), EZSHM_ERR_INUSE);
    cr_expect_null(b);
    long pid = -1;
    cr_expect_eq(ezshm_claim_holder(name, &pid), EZSHM_OK);
    cr_expect_eq(pid, (long) getpid());
    struct stat after;
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &after), 0);
    cr_expect_eq(after.st_ino, before.st_ino, "the live header was replaced");
    cr_expect(shmt_seg_exists(shmt_ring_seg(name, 0)));
    cr_expect_eq(s_count_hidden(), 0, "a temporary header was left behind");
    cr_expect_eq(ezshm_writer_meta(a)->bvalid, 1);

    /*  A rename of another writer onto the held name fails and changes nothing. */
    const char *other = shmt_unique_name();
    cr_assert_eq(ezshm_writer_new(other, NULL, &b), EZSHM_OK);
    cr_assert_eq(ezshm_writer_configure(b, &spec), EZSHM_OK);
    cr_expect_eq(ezshm_writer_rename(b, name, EZSHM_LAYOUT_V1), EZSHM_ERR_INUSE);
    cr_expect_str_eq(ezshm_writer_name(b), other);
    cr_expect(ezshm_writer_has_ring(b));
    cr_expect(shmt_seg_exists(shmt_header_seg(other)));
    cr_expect(shmt_seg_exists(shmt_ring_seg(other, 0)));
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &after), 0);
    cr_expect_eq(after.st_ino, before.st_ino);

    /*  Once a lets go, the name is free. */
    ezshm_writer_destroy(&a);
    cr_expect_eq(ezshm_claim_holder(name, &pid), EZSHM_ERR_NOENT);
    cr_expect_eq(ezshm_writer_rename(b, name, EZSHM_LAYOUT_V1), EZSHM_OK);
    cr_expect_not(shmt_seg_exists(shmt_header_seg(other)));
    ezshm_writer_destroy(&b);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_hostile, dead_writer_leftovers_reclaimed)
{
    const char *name = shmt_unique_name();
    /*  A child creates a stream and dies without cleaning up: its lock dies with it. */
    pid_t child = fork();
    if (child == 0) {
        ezshm_writer_t *w;
        ezshm_ring_spec_t spec = s_spec(16);
        if (ezshm_writer_new(name, NULL, &w) != EZSHM_OK || ezshm_writer_configure(w, &spec) != EZSHM_OK)
            _exit(1);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert(shmt_seg_exists(shmt_ring_seg(name, 0)));
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
    cr_expect_not(shmt_seg_exists(shmt_ring_seg(name, 0)), "the dead writer's ring was not reclaimed");
    cr_expect_eq(shmt_seg_size(shmt_header_seg(name)), 1318);
    ezshm_writer_destroy(&w);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_hostile, writer_unlinks_only_what_it_created)
{
    const char *name = shmt_unique_name();
    ezshm_ring_spec_t spec = s_spec(16);
    ezshm_writer_t *w = s_stream(name, &spec);
    /*  Someone replaces the ring file at its name: the writer must leave it alone. */
    const char *ring = shmt_seg_path(shmt_ring_seg(name, 0));
    char ring_path[512];
    snprintf(ring_path, sizeof ring_path, "%s", ring);
    cr_assert_eq(unlink(ring_path), 0);
    cr_assert(shmt_write_file(ring_path, "someone else's", 14));
    ezshm_writer_destroy(&w);
    cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, 0)), 14);
    unlink(ring_path);
}

/*  Puts a FIFO, symlink or directory at path. */
static void
s_plant(const char *kind, const char *path)
{
    if (!strcmp(kind, "fifo"))
        cr_assert_eq(mkfifo(path, 0666), 0);
    else if (!strcmp(kind, "symlink"))
        cr_assert_eq(symlink("/etc/passwd", path), 0);
    else
        cr_assert_eq(mkdir(path, 0777), 0);
}

static void
s_unplant(const char *path)
{
    if (unlink(path) != 0)
        rmdir(path);
}

Test(shm_hostile, fifo_symlink_directory_at_names_are_named_errors)
{
    static const char *kinds[] = {"fifo", "symlink", "directory"};
    static const int codes[] = {EZSHM_ERR_FIFO, EZSHM_ERR_SYMLINK, EZSHM_ERR_ISDIR};
    for (int k = 0; k < 3; k++) {
        /*  At the header's name: writer and reader refuse, nothing hangs or is removed. */
        const char *name = shmt_unique_name();
        char path[512];
        snprintf(path, sizeof path, "%s", shmt_seg_path(shmt_header_seg(name)));
        s_plant(kinds[k], path);
        ezshm_writer_t *w = NULL;
        cr_expect_eq(ezshm_writer_new(name, NULL, &w), codes[k], "%s at the header: writer", kinds[k]);
        ezshm_mirror_t *m = NULL;
        cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
        cr_expect_eq(ezshm_mirror_attach(m), codes[k], "%s at the header: reader", kinds[k]);
        struct stat st;
        cr_expect_eq(lstat(path, &st), 0, "the %s was removed", kinds[k]);
        cr_expect_eq(s_count_hidden(), 0);
        s_unplant(path);

        /*  At the ring's name: the rebuild fails with the same error, the reader waits. */
        cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
        snprintf(path, sizeof path, "%s", shmt_seg_path(shmt_ring_seg(name, 0)));
        s_plant(kinds[k], path);
        ezshm_ring_spec_t spec = s_spec(16);
        cr_expect_eq(ezshm_writer_configure(w, &spec), codes[k], "%s at the ring: writer", kinds[k]);
        cr_expect_not(ezshm_writer_has_ring(w));
        s_unplant(path);
        /*  Next generation: the reader meets a planted ring of generation 1. */
        cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
        cr_assert_eq(ezshm_writer_meta(w)->buffer_generation, 1);
        ezshm_mirror_destroy(&m);
        cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
        cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
        ezshm_mirror_detach(m);
        char ring1[512];
        snprintf(ring1, sizeof ring1, "%s", shmt_seg_path(shmt_ring_seg(name, 1)));
        char moved[600];
        snprintf(moved, sizeof moved, "%s.moved", ring1);
        cr_assert_eq(rename(ring1, moved), 0);
        s_plant(kinds[k], ring1);
        cr_expect_eq(ezshm_mirror_attach(m), codes[k], "%s at the ring: reader", kinds[k]);
        s_unplant(ring1);
        cr_assert_eq(rename(moved, ring1), 0);
        ezshm_mirror_destroy(&m);
        ezshm_writer_destroy(&w);
    }
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_hostile, header_published_whole_and_locked)
{
    const char *name = shmt_unique_name();
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = EZSHM_LAYOUT_V1;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    /*  The published file already holds the whole placeholder (magic and all). */
    size_t n;
    uint8_t *bytes = support_read_file(shmt_seg_path(shmt_header_seg(name)), &n);
    cr_assert_eq(n, 1334);
    uint32_t magic;
    memcpy(&magic, bytes, 4);
    cr_expect_eq(magic, EZSHM_V1_MAGIC);
    free(bytes);
    /*  The lock sits on the published file, not on a temporary one. */
    int fd = open(shmt_seg_path(shmt_header_seg(name)), O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_expect_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
    close(fd);
    cr_expect_eq(s_count_hidden(), 0);
    ezshm_writer_destroy(&w);
}

Test(shm_hostile, other_users_ring_refused_by_reader)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to chown a file");
    const char *name = shmt_unique_name();
    ezshm_ring_spec_t spec = s_spec(16);
    ezshm_writer_t *w = s_stream(name, &spec);
    cr_assert_eq(chown(shmt_seg_path(shmt_ring_seg(name, 0)), 12345, 12345), 0);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_attach(m), EZSHM_ERR_OWNER);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_hostile, writer_survives_truncated_ring_and_header)
{
    const char *name = shmt_unique_name();
    ezshm_ring_spec_t spec = s_spec(64);
    ezshm_writer_t *w = s_stream(name, &spec);
    s_write(w, 0, 10);
    /*  Another process truncates the ring: the next write faults, the ring is dropped. */
    cr_assert_eq(truncate(shmt_seg_path(shmt_ring_seg(name, 0)), 0), 0);
    uint32_t frame[2] = {10, ~10u};
    cr_expect_eq(ezshm_writer_write(w, frame, 1), EZSHM_ERR_BUS);
    cr_expect_eq(ezshm_writer_faults(w), 1);
    cr_expect_not(ezshm_writer_has_ring(w));
    cr_expect_eq(ezshm_writer_meta(w)->bvalid, 0);
    cr_expect_not(shmt_seg_exists(shmt_ring_seg(name, 0)));
    /*  The next chunk rebuilds it as a new generation. */
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    cr_expect_eq(ezshm_writer_meta(w)->buffer_generation, 1);
    s_write(w, 0, 5);

    /*  The header truncated: recreated at once (placeholders, new file). */
    struct stat before, after;
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &before), 0);
    cr_assert_eq(truncate(shmt_seg_path(shmt_header_seg(name)), 0), 0);
    cr_expect_eq(ezshm_writer_write(w, frame, 1), EZSHM_ERR_BUS);
    cr_expect_eq(ezshm_writer_faults(w), 2);
    cr_assert_not_null(ezshm_writer_meta(w));
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &after), 0);
    cr_expect_neq(after.st_ino, before.st_ino);
    cr_expect_eq(after.st_size, 1318);
    cr_expect_eq(ezshm_writer_meta(w)->buffer_generation, EZSHM_GENERATION_NONE);
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    s_write(w, 0, 5);
    /*  Both at once: the ring faults first, then setting bvalid 0 faults on the header. */
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &before), 0);
    cr_assert_eq(truncate(shmt_seg_path(shmt_ring_seg(name, 0)), 0), 0);
    cr_assert_eq(truncate(shmt_seg_path(shmt_header_seg(name)), 0), 0);
    cr_expect_eq(ezshm_writer_write(w, frame, 1), EZSHM_ERR_BUS);
    cr_expect_eq(ezshm_writer_faults(w), 3);
    cr_assert_not_null(ezshm_writer_meta(w));
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(name)), &after), 0);
    cr_expect_neq(after.st_ino, before.st_ino);
    cr_expect_eq(shmt_count_files(), 1, "only the recreated header");
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    s_write(w, 0, 5);
    /*  Truncated while closing: destroy still finishes and removes what is ours. */
    cr_assert_eq(truncate(shmt_seg_path(shmt_header_seg(name)), 0), 0);
    ezshm_writer_destroy(&w);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_hostile, reader_gets_error_not_sigbus)
{
    const char *name = shmt_unique_name();
    ezshm_ring_spec_t spec = s_spec(64);
    ezshm_writer_t *w = s_stream(name, &spec);
    s_write(w, 0, 10);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    s_write(w, 10, 10);
    uint32_t buf[64 * 2];
    uint64_t got, lost;
    cr_assert_eq(truncate(shmt_seg_path(shmt_ring_seg(name, 0)), 0), 0);
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_BUS);
    cr_expect_eq(got, 0);
    /*  Everything was unmapped; the next call attaches afresh and finds an empty ring. */
    cr_expect_eq(ezshm_mirror_latest(m, buf, 8, &got), EZSHM_ERR_NOTREADY);
    /*  The header truncated under the reader: an error too. */
    ezshm_mirror_destroy(&m);
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_writer_configure(w, &(ezshm_ring_spec_t){'I', 100.0, 32, 1, s_shape, "k", 1}), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_assert_eq(truncate(shmt_seg_path(shmt_header_seg(name)), 0), 0);
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_BUS);
    cr_expect_eq(ezshm_mirror_written(m), 0);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_hostile, every_accepted_ring_length_is_readable)
{
    ezshm_writer_t *w = NULL;
    const char *name = shmt_unique_name();
    cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
    ezshm_ring_spec_t one = s_spec(1);
    cr_expect_eq(ezshm_writer_configure(w, &one), EZSHM_ERR_INVAL, "a one-frame ring is never readable");
    uint64_t from_rule = 0;
    cr_assert_eq(ezshm_ring_frames(1.0, 0.5, &from_rule), EZSHM_OK);
    cr_expect_eq(from_rule, EZSHM_RING_MIN_FRAMES);
    ezshm_writer_destroy(&w);

    static const uint64_t lengths[] = {2, 3, 15, 16, 17};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        uint64_t L = lengths[li], G = ezshm_ring_guard(L);
        name = shmt_unique_name();
        cr_assert_eq(ezshm_writer_new(name, NULL, &w), EZSHM_OK);
        ezshm_ring_spec_t spec = s_spec(L);
        cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
        ezshm_mirror_t *m = NULL;
        cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
        cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
        uint32_t buf[17 * 2];
        uint64_t got, lost, next = 0;
        /*  One frame at a time, read after each: every frame arrives, none lost. */
        for (; next < 3 * L; next++) {
            s_write(w, next, 1);
            cr_assert_eq(ezshm_mirror_read(m, buf, L, &got, &lost), EZSHM_OK);
            cr_assert_eq(got, 1, "L %llu frame %llu: got %llu", (unsigned long long) L,
                         (unsigned long long) next, (unsigned long long) got);
            cr_assert_eq(lost, 0);
            cr_assert_eq(buf[0], (uint32_t) next);
            cr_assert_eq(buf[1], ~(uint32_t) next);
        }
        /*  A whole ring at once: the newest L - G are readable, G reported lost. */
        s_write(w, next, L);
        cr_assert_eq(ezshm_mirror_read(m, buf, L, &got, &lost), EZSHM_OK);
        cr_expect_eq(got, L - G);
        cr_expect_eq(lost, G);
        cr_expect_eq(buf[0], (uint32_t) (next + G));
        next += L;
        cr_assert_eq(ezshm_mirror_latest(m, buf, 1000, &got), EZSHM_OK);
        cr_expect_eq(got, L - G);
        cr_expect_eq(buf[2 * (got - 1)], (uint32_t) (next - 1));
        ezshm_mirror_destroy(&m);
        ezshm_writer_destroy(&w);
    }
}

/*  Lines of /proc/self/maps naming segment. */
static int
s_mapped(const char *segment)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, segment) != NULL;
    fclose(f);
    return n;
}

Test(shm_hostile, reader_unmaps_an_invalid_ring_at_once)
{
    const char *name = shmt_unique_name();
    ezshm_ring_spec_t spec = s_spec(64);
    ezshm_writer_t *w = s_stream(name, &spec);
    char ring0[EZSHM_SHORT_NAME_SIZE];
    snprintf(ring0, sizeof ring0, "%s", shmt_ring_seg(name, 0));
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_assert_eq(s_mapped(ring0), 2, "writer and mirror map the ring");
    /*  bvalid 0 (the ring dropped, no new one yet): the reader lets go on its next call. */
    cr_assert_eq(ezshm_writer_reset_buffer(w), EZSHM_OK);
    uint32_t buf[128];
    uint64_t got, lost;
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_NOTREADY);
    cr_expect_eq(s_mapped(ring0), 0, "the reader still maps the dropped ring");
    /*  The same with latest(), then the rebuild is followed from its first frame. */
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_STALE);
    char ring1[EZSHM_SHORT_NAME_SIZE];
    snprintf(ring1, sizeof ring1, "%s", shmt_ring_seg(name, 1));
    cr_assert_eq(ezshm_writer_reset_buffer(w), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_latest(m, buf, 4, &got), EZSHM_ERR_NOTREADY);
    cr_expect_eq(s_mapped(ring1), 0);
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    s_write(w, 0, 3);
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_ERR_STALE);
    cr_expect_eq(ezshm_mirror_read(m, buf, 64, &got, &lost), EZSHM_OK);
    cr_expect_eq(got, 3);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_hostile, guard_without_fault_and_outside_frames)
{
    cr_expect(ezshm_guard_enabled());
    cr_expect_eq(ezshm_guard_enable(), EZSHM_OK, "idempotent");
    ezshm_guard_frame_t frame;
    volatile int entered = 0;
    if (EZSHM_GUARD_ENTER(&frame)) {
        entered = 1;
        EZSHM_GUARD_LEAVE(&frame);
    }
    cr_expect_eq(entered, 1);
    int x = 0;
    cr_expect(ezshm_guard_hit((char *) &x + 1, &x, sizeof x));
    cr_expect_not(ezshm_guard_hit((char *) &x + sizeof x, &x, sizeof x));
    cr_expect_not(ezshm_guard_hit(&x, NULL, 100));
}

/*  A stream named "<x>/buffer1" beside a live stream "<x>": neither may take the other's
    segment. The header of the one is the ring name of generation 1 of the other. */
Test(shm_hostile, live_segments_of_colliding_names_never_reclaimed)
{
    const char *x = shmt_unique_name();
    char squatter[128];
    snprintf(squatter, sizeof squatter, "%s/buffer1", x);
    ezshm_writer_t *a = s_stream(x, &(ezshm_ring_spec_t) {'I', 100.0, 16, 1, s_shape, "k", 1});
    ezshm_writer_t *b = NULL;
    /*  The live ring of x at generation 0 is unlocked: still no leftover while x lives. */
    char ring0[128];
    snprintf(ring0, sizeof ring0, "%s/buffer0", x);
    struct stat before, after;
    cr_assert_eq(stat(shmt_seg_path(shmt_ring_seg(x, 0)), &before), 0);
    cr_expect_eq(ezshm_writer_new(ring0, NULL, &b), EZSHM_ERR_INUSE);
    cr_assert_eq(stat(shmt_seg_path(shmt_ring_seg(x, 0)), &after), 0);
    cr_expect_eq(after.st_ino, before.st_ino, "the live ring was taken as a leftover header");
    cr_expect_eq(s_count_hidden(), 0);

    /*  The live, locked header of "<x>/buffer1" is never reclaimed as x's ring of generation
        1: x's rebuild skips that name for the next generation's. */
    cr_assert_eq(ezshm_writer_new(squatter, NULL, &b), EZSHM_OK);
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(squatter)), &before), 0);
    ezshm_ring_spec_t wider = s_spec(32);
    cr_expect_eq(ezshm_writer_configure(a, &wider), EZSHM_OK);
    cr_assert_eq(stat(shmt_seg_path(shmt_header_seg(squatter)), &after), 0);
    cr_expect_eq(after.st_ino, before.st_ino, "the live header was reclaimed as a ring");
    cr_expect_eq(ezshm_writer_meta(b)->buffer_generation, EZSHM_GENERATION_NONE);
    cr_expect_eq(ezshm_writer_meta(a)->buffer_generation, 2u);
    cr_expect(shmt_seg_exists(shmt_ring_seg(x, 2)));
    ezshm_writer_destroy(&b);
    ezshm_writer_destroy(&a);
    cr_expect_eq(shmt_count_files(), 0);
}
