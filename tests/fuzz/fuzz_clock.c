/*  fuzz_clock.c — libFuzzer harness for the clock-segment reader: a mirror attached to a real
    writer's ring whose clock segment (shm/ezshm_clock.h) — or wake segment — holds hostile
    bytes, read with timestamps, latest, newest, a zero-timeout wait and a 1 ms wait on it
    twice at once (ezshm_mirror_wait_any: the kernel sleep on several words), while the
    writer keeps writing.

    Input framing:

        u16 LE  L          ring length in frames (L % 4095 + 2: a ring has at least 2)
        u8      n          frames written (each a chunk of up to 8) before the reader reads
        u8      mode       bit 0: REPLACE the clock file (unlink it, create a new one from the
                                  rest of the input: what another process could put there);
                                  else PATCH the writer's own clock file with the rest as
                                  (u16 LE position, u8 value) triples — a valid segment with
                                  hostile fields (capacity, offsets, anchors, counters)
                           bit 1: coordinate axis (srate 0: the per-frame times ring)
                           bit 2: the header is v1
                           bit 3: REPLACE or PATCH the wake segment instead (what any
                                  reader, who may write it, could put there: any size,
                                  any words)
        rest               segment bytes (REPLACE, at most 64 KiB) or patches (PATCH)

    Files go to a private directory (EZSHM_SHM_DIR), stream "fuzz". The writer never reads
    back what it wrote into its clock segment but the waiter count, so its state stays sane;
    the reader must survive anything: no crash, no out-of-bounds access (ASan/UBSan), every
    call returns a known code, a read never returns more frames than asked, a zero-timeout
    wait returns at once.
*/
#include "fuzz_shm_dir.h"
#include "ezshm_clock.h"
#include "ezshm_error.h"
#include "ezshm_mirror.h"
#include "ezshm_name.h"
#include "ezshm_ring.h"
#include "ezshm_writer.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLOCK_MAX (64u << 10)

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_clock: check failed: %s (line %d)\n", #cond, __LINE__);    \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static const char *s_dir;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    if (!(s_dir = fuzz_shm_dir_init("fuzzclock")))
        return -1;
    return 0;
}

static int
s_copy_zero(void *arg, void *dst, uint64_t first, uint64_t count)
{
    (void) arg;
    (void) first;
    memset(dst, 0, count * sizeof(double));
    return 0;
}

/*  n frames in chunks of up to 8, with linear or coordinate timing. */
static void
s_write(ezshm_writer_t *w, unsigned n, bool coordinate, uint64_t *next)
{
    double times[8];
    while (n) {
        unsigned k = n < 8 ? n : 8;
        for (unsigned i = 0; i < k; i++)
            times[i] = (double) (*next + i) * 0.01;
        ezshm_chunk_time_t t = {(double) *next * 0.01, coordinate ? NAN : 0.01, coordinate ? times : NULL, 0,
                                *next};
        CHECK(ezshm_writer_write_timed(w, k, s_copy_zero, NULL, &t) == EZSHM_OK);
        *next += k;
        n -= k;
    }
}

static bool
s_known_rc(int rc)
{
    return rc == EZSHM_OK || rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY || rc == EZSHM_ERR_STALE
           || rc == EZSHM_ERR_TIMEOUT;
}

/*  Every reader entry point that touches the clock segment. */
static void
s_read_all(ezshm_mirror_t *m, double *dst, double *t, uint64_t cap)
{
    uint64_t got = 0, lost = 0;
    int rc = ezshm_mirror_read_ts(m, dst, cap, &got, &lost, t);
    CHECK(s_known_rc(rc) && got <= cap);
    rc = ezshm_mirror_latest_ts(m, dst, cap, &got, t);
    CHECK(s_known_rc(rc) && got <= cap);
    ezshm_newest_t nw;
    rc = ezshm_mirror_newest(m, &nw);
    CHECK(rc == EZSHM_OK || rc == EZSHM_ERR_NOTREADY);
    rc = ezshm_mirror_wait(m, 0);
    CHECK(s_known_rc(rc));
    ezshm_mirror_t *twice[2] = {m, m};
    size_t which = 2;
    rc = ezshm_mirror_wait_any(twice, 2, 1, &which);
    CHECK(s_known_rc(rc) && which < 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint64_t L = ((uint64_t) data[0] | (uint64_t) data[1] << 8) % 4095 + EZSHM_RING_MIN_FRAMES;
    unsigned n = data[2];
    uint8_t mode = data[3];
    bool replace = mode & 1, coordinate = mode & 2, wake = mode & 8;
    data += 4;
    size -= 4;

    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = (mode & 4) ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY;
    ezshm_writer_t *w = NULL;
    CHECK(ezshm_writer_new("fuzz", &opt, &w) == EZSHM_OK);
    ezshm_ring_spec_t spec = {'d', coordinate ? 0.0 : 100.0, L, 0, NULL, "", 0};
    CHECK(ezshm_writer_configure(w, &spec) == EZSHM_OK);
    uint64_t next = 0;
    s_write(w, n, coordinate, &next);

    char path[PATH_MAX + 32];
    char wake_name[EZSHM_SHORT_NAME_SIZE];
    CHECK(ezshm_wake_segment_name("fuzz", 0, wake_name) == EZSHM_OK);
    snprintf(path, sizeof path, "%s/%s", s_dir, wake ? wake_name : ezshm_writer_clock_segment(w));
    if (replace) {
        /*  The writer keeps its mapping of the unlinked file; readers find the new one. */
        CHECK(unlink(path) == 0);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        size_t len = size < CLOCK_MAX ? size : CLOCK_MAX;
        if (len)
            CHECK(write(fd, data, len) == (ssize_t) len);
        close(fd);
    }
    else {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        CHECK(fd >= 0);
        struct stat st;
        CHECK(fstat(fd, &st) == 0);
        for (size_t i = 0; i + 3 <= size; i += 3) {
            off_t pos = (off_t) (((size_t) data[i] | (size_t) data[i + 1] << 8) % (size_t) st.st_size);
            CHECK(pwrite(fd, &data[i + 2], 1, pos) == 1);
        }
        close(fd);
    }

    uint64_t cap = L;
    double *dst = malloc(cap * sizeof(double)), *t = malloc(cap * sizeof(double));
    CHECK(dst && t);
    ezshm_mirror_t *m = NULL;
    CHECK(ezshm_mirror_new("fuzz", &m) == EZSHM_OK);
    int rc = ezshm_mirror_attach(m);
    CHECK(rc == EZSHM_OK);
    s_write(w, n / 2 + 1, coordinate, &next);
    s_read_all(m, dst, t, cap);
    s_write(w, n, coordinate, &next);
    s_read_all(m, dst, t, cap);
    ezshm_mirror_destroy(&m);
    free(dst);
    free(t);
    ezshm_writer_destroy(&w);
    /*  The replaced file is no longer the writer's: remove it as a crashed writer's would be. */
    unlink(path);
    return 0;
}
