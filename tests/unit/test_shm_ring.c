/*  test_shm_ring.c — ring length rule (fixture rows), guard, and the writer's wrap-around
    arithmetic: exact-end chunks, chunks longer than the ring, multi-lap sequences. */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_ring, .init = s_init, .fini = s_fini);

int shm_ring_test_copy(void *arg, void *dst, uint64_t first, uint64_t count);
int shm_ring_test_fail(void *arg, void *dst, uint64_t first, uint64_t count);

Test(shm_ring, ring_frames_examples_from_fixture)
{
    cJSON *root = shmt_load_fixture("shm-header-layout.json");
    cr_assert_not_null(root);
    cJSON *row;
    int n = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(cJSON_GetObjectItem(root, "ring_frames_examples"), "rows")) {
        double buf_dur = cJSON_GetObjectItem(row, "buf_dur")->valuedouble;
        uint64_t want = (uint64_t) cJSON_GetObjectItem(row, "frames")->valuedouble;
        double fs;
        cJSON *coords = cJSON_GetObjectItem(row, "coords");
        if (coords) {
            int m = cJSON_GetArraySize(coords);
            double t[16];
            cr_assert_leq(m, 16);
            for (int i = 0; i < m; i++)
                t[i] = cJSON_GetArrayItem(coords, i)->valuedouble;
            fs = ezshm_ring_coordinate_fs(t, (size_t) m);
        }
        else
            fs = cJSON_GetObjectItem(row, "fs")->valuedouble;
        uint64_t frames = 0;
        cr_assert_eq(ezshm_ring_frames(buf_dur, fs, &frames), EZSHM_OK);
        cr_expect_eq(frames, want, "buf_dur %g fs %.17g: %llu, want %llu", buf_dur, fs,
                     (unsigned long long) frames, (unsigned long long) want);
        n++;
    }
    cr_expect_eq(n, 12);
    cJSON_Delete(root);
}

Test(shm_ring, ring_frames_rule_and_errors)
{
    uint64_t f = 0;
    cr_expect_eq(ezshm_ring_frames(1.1, 100.0, &f), EZSHM_OK);
    cr_expect_eq(f, 111);   /* 1.1 * 100.0 == 110.00000000000001 */
    cr_expect_eq(ezshm_ring_frames(0.001, 1.0, &f), EZSHM_OK);
    cr_expect_eq(f, 2);   /* ceil gives 1: the minimum ring is 2 frames */
    cr_expect_eq(ezshm_ring_frames(1.0, 0.5, &f), EZSHM_OK);
    cr_expect_eq(f, 2);
    cr_expect_eq(ezshm_ring_frames(2.0, 1.0, &f), EZSHM_OK);
    cr_expect_eq(f, 2);
    cr_expect_eq(ezshm_ring_frames(3.0, 1.0, &f), EZSHM_OK);
    cr_expect_eq(f, 3);
    cr_expect_eq(ezshm_ring_frames(0.0, 1000.0, &f), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_ring_frames(-1.0, 1000.0, &f), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_ring_frames(1.0, NAN, &f), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_ring_frames(INFINITY, 1.0, &f), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_ring_frames(1.0, 1.0, NULL), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_ring_frames(1.0, 4294967295.0, &f), EZSHM_OK);
    cr_expect_eq(f, 4294967295u);
    cr_expect_eq(ezshm_ring_frames(1.0, 4294967296.0, &f), EZSHM_ERR_OVERFLOW);
}

Test(shm_ring, coordinate_fs)
{
    cr_expect_eq(ezshm_ring_coordinate_fs(NULL, 0), 100.0);
    double one = 5.0;
    cr_expect_eq(ezshm_ring_coordinate_fs(&one, 1), 100.0);
    double odd[] = {0.0, 0.01, 0.02, 0.04};       /* diffs .01 .01 .02 -> median .01 */
    cr_expect_float_eq(ezshm_ring_coordinate_fs(odd, 4), 100.0, 1e-9);
    double even[] = {0.0, 0.003, 0.004, 0.0075, 0.0125}; /* diffs 3,1,3.5,5 ms -> 3.25 ms */
    cr_expect_float_eq(ezshm_ring_coordinate_fs(even, 5), 1.0 / 0.00325, 1e-6);
    double flat[] = {1.0, 1.0, 1.0};
    cr_expect_eq(ezshm_ring_coordinate_fs(flat, 3), 0.0);
    double backwards[] = {3.0, 2.0, 1.0};
    cr_expect_eq(ezshm_ring_coordinate_fs(backwards, 3), 0.0);
}

Test(shm_ring, guard_is_ceil_sixteenth)
{
    cr_expect_eq(ezshm_ring_guard(1), 1);
    cr_expect_eq(ezshm_ring_guard(16), 1);
    cr_expect_eq(ezshm_ring_guard(17), 2);
    cr_expect_eq(ezshm_ring_guard(256), 16);
    cr_expect_eq(ezshm_ring_guard(1000), 63);
    cr_expect_eq(ezshm_ring_guard(111), 7);
    cr_expect_eq(ezshm_ring_guard(4294967295u), 268435456u);
}

/*  A writer of uint32 1-element frames over a ring of L frames; frame i holds i. */
typedef struct {
    ezshm_writer_t *w;
    uint64_t        L;
    uint64_t        next;          /* value of the next frame */
    const char     *name;
} ring_t;

static void
s_ring_open(ring_t *r, uint64_t L)
{
    memset(r, 0, sizeof *r);
    r->name = shmt_unique_name();
    r->L = L;
    cr_assert_eq(ezshm_writer_new(r->name, NULL, &r->w), EZSHM_OK);
    uint64_t shape[1] = {1};
    ezshm_ring_spec_t spec = {'I', 0.0, L, 1, shape, "k", 1};
    cr_assert_eq(ezshm_writer_configure(r->w, &spec), EZSHM_OK);
}

static void
s_ring_write(ring_t *r, uint64_t n)
{
    uint32_t *buf = malloc((n ? n : 1) * sizeof *buf);
    for (uint64_t i = 0; i < n; i++)
        buf[i] = (uint32_t) (r->next + i);
    cr_assert_eq(ezshm_writer_write(r->w, buf, n), EZSHM_OK);
    r->next += n;
    free(buf);
}

/*  Checks counters (write_index < L always) and that every slot holds the newest frame
    written to it. */
static void
s_ring_check(ring_t *r)
{
    const ezshm_meta_t *m = ezshm_writer_meta(r->w);
    uint64_t total = r->next;
    cr_assert_eq(m->write_index, total % r->L, "write_index %llu after %llu frames (L %llu)",
                 (unsigned long long) m->write_index, (unsigned long long) total, (unsigned long long) r->L);
    cr_assert_eq(m->wrap_counter, total / r->L, "wrap_counter %llu after %llu frames",
                 (unsigned long long) m->wrap_counter, (unsigned long long) total);
    cr_assert_lt(m->write_index, r->L);
    size_t n;
    uint32_t *ring = (uint32_t *) support_read_file(shmt_seg_path(ezshm_writer_ring_segment(r->w)), &n);
    cr_assert_eq(n, r->L * 4);
    for (uint64_t slot = 0; slot < r->L; slot++) {
        /*  Newest frame p < total with p % L == slot. */
        if (total == 0)
            break;
        uint64_t last = total - 1;
        uint64_t p = last - ((last % r->L + r->L - slot) % r->L);
        if (p > last)            /* slot not written yet (underflow wrapped) */
            continue;
        cr_assert_eq(ring[slot], (uint32_t) p, "slot %llu holds %u, want %llu",
                     (unsigned long long) slot, ring[slot], (unsigned long long) p);
    }
    free(ring);
}

Test(shm_ring, exact_end_chunk_wraps_to_zero)
{
    ring_t r;
    s_ring_open(&r, 256);
    s_ring_write(&r, 256);
    const ezshm_meta_t *m = ezshm_writer_meta(r.w);
    cr_expect_eq(m->write_index, 0);
    cr_expect_eq(m->wrap_counter, 1);
    s_ring_check(&r);
    /*  Two chunks ending exactly at the end too. */
    s_ring_write(&r, 200);
    s_ring_write(&r, 56);
    cr_expect_eq(m->write_index, 0);
    cr_expect_eq(m->wrap_counter, 2);
    s_ring_check(&r);
    ezshm_writer_destroy(&r.w);
}

Test(shm_ring, longer_than_ring_chunk_keeps_newest_and_counts_laps)
{
    ring_t r;
    s_ring_open(&r, 100);
    s_ring_write(&r, 30);
    s_ring_write(&r, 1000 + 37);   /* 10+ laps in one call */
    const ezshm_meta_t *m = ezshm_writer_meta(r.w);
    cr_expect_eq(m->wrap_counter, (30 + 1037) / 100);
    cr_expect_eq(m->write_index, (30 + 1037) % 100);
    s_ring_check(&r);
    /*  Exactly k*L frames. */
    s_ring_write(&r, 300);
    s_ring_check(&r);
    ezshm_writer_destroy(&r.w);
}

Test(shm_ring, multi_lap_sequences_of_odd_chunks)
{
    static const uint64_t lengths[] = {2, 3, 16, 17, 111, 256, 1000};
    static const uint64_t chunks[] = {1, 37, 64, 5, 255, 256, 257, 13, 999, 2};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        ring_t r;
        s_ring_open(&r, lengths[li]);
        s_ring_check(&r);
        for (int round = 0; round < 3; round++)
            for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
                s_ring_write(&r, chunks[ci]);
                s_ring_check(&r);
            }
        s_ring_write(&r, 0);   /* empty write changes nothing */
        s_ring_check(&r);
        ezshm_writer_destroy(&r.w);
    }
}

Test(shm_ring, write_with_pieces_never_exceed_guard_or_cross_end)
{
    ring_t r;
    s_ring_open(&r, 100);   /* guard 7 */
    s_ring_write(&r, 95);
    /*  Capture the pieces with a copy callback that also stores the values. */
    ezshm_writer_t *w = r.w;
    typedef struct { uint64_t first[64], count[64]; int n; } pieces_t;
    pieces_t pieces = {{0}, {0}, 0};
    cr_assert_eq(ezshm_writer_write_with(w, 30, shm_ring_test_copy, &pieces), EZSHM_OK);
    r.next += 30;
    uint64_t total = 0;
    for (int i = 0; i < pieces.n; i++) {
        cr_expect_leq(pieces.count[i], 7, "piece %d of %llu frames > guard", i,
                      (unsigned long long) pieces.count[i]);
        cr_expect_eq(pieces.first[i], total);
        total += pieces.count[i];
    }
    cr_expect_eq(total, 30);
    /*  95 + 5 hits the end: first piece is 5, not 7. */
    cr_expect_eq(pieces.count[0], 5);
    s_ring_check(&r);
    ezshm_writer_destroy(&r.w);
}

int
shm_ring_test_copy(void *arg, void *dst, uint64_t first, uint64_t count)
{
    struct { uint64_t first[64], count[64]; int n; } *p = arg;
    p->first[p->n] = first;
    p->count[p->n] = count;
    p->n++;
    uint32_t *out = dst;
    for (uint64_t i = 0; i < count; i++)
        out[i] = (uint32_t) (95 + first + i);
    return 0;
}

Test(shm_ring, copy_callback_failure_aborts)
{
    ring_t r;
    s_ring_open(&r, 10);
    cr_expect_neq(ezshm_writer_write_with(r.w, 5, shm_ring_test_fail, NULL), EZSHM_OK);
    cr_expect_eq(ezshm_writer_meta(r.w)->write_index, 0);
    ezshm_writer_destroy(&r.w);
}

int
shm_ring_test_fail(void *arg, void *dst, uint64_t first, uint64_t count)
{
    (void) arg; (void) dst; (void) first; (void) count;
    return -1;
}
