/*  test_shm_writer.c — writer lifecycle: rebuilds, reset, rename, events, limits, stale
    segment reclaim, permissions. */
#define _GNU_SOURCE   /* unshare */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_writer, .init = s_init, .fini = s_fini);

typedef struct {
    char     text[2048];
    int      n_logs;
    char     last_log[512];
} recorder_t;

static void
s_on_event(void *arg, ezshm_event_t code, uint32_t generation)
{
    recorder_t *r = arg;
    const char *event = ezshm_event_name(code);
    char item[64];
    if (generation == EZSHM_GENERATION_NONE)
        snprintf(item, sizeof item, "%s%s@-", r->text[0] ? "|" : "", event);
    else
        snprintf(item, sizeof item, "%s%s@%u", r->text[0] ? "|" : "", event, (unsigned) generation);
    strncat(r->text, item, sizeof r->text - strlen(r->text) - 1);
}

static void
s_on_log(void *arg, const char *message)
{
    recorder_t *r = arg;
    r->n_logs++;
    snprintf(r->last_log, sizeof r->last_log, "%s", message);
}

/*  The default options (checked), with rec's callbacks when rec is not NULL. */
static ezshm_writer_options_t
s_options(recorder_t *rec)
{
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    cr_expect_eq(opt.layout, EZSHM_LAYOUT_LEGACY);
    cr_expect_eq(opt.mode, 0600);
    cr_expect_eq(opt.max_ring_bytes, (uint64_t) 1 << 30);
    cr_expect_not(opt.reserve_in_steps, "reserved at creation by default");
    if (rec) {
        opt.on_event = s_on_event;
        opt.on_log = s_on_log;
        opt.arg = rec;
    }
    return opt;
}

static ezshm_writer_t *
s_writer_with(const char *name, const ezshm_writer_options_t *opt)
{
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, opt, &w), EZSHM_OK);
    return w;
}

static ezshm_writer_t *
s_writer(const char *name, recorder_t *rec, ezshm_layout_t layout, unsigned mode)
{
    ezshm_writer_options_t opt = s_options(rec);
    opt.layout = layout;
    if (mode)
        opt.mode = mode;
    return s_writer_with(name, &opt);
}

static const uint64_t s_shape8[1] = {8};
static const uint64_t s_shape4x2[2] = {4, 2};

static ezshm_ring_spec_t
s_spec(char dtype, uint64_t frames, uint32_t ndim, const uint64_t *shape)
{
    ezshm_ring_spec_t spec = {dtype, 500.0, frames, ndim, shape, "key", 3};
    return spec;
}

Test(shm_writer, spec_change_rebuilds_under_next_generation)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, NULL, EZSHM_LAYOUT_LEGACY, 0);
    const ezshm_meta_t *m = ezshm_writer_meta(w);
    cr_expect_eq(m->buffer_generation, EZSHM_GENERATION_NONE);
    cr_expect_not(ezshm_writer_has_ring(w));
    cr_expect_str_eq(ezshm_writer_ring_segment(w), "");
    float chunk[10 * 8] = {0};
    cr_expect_eq(ezshm_writer_write(w, chunk, 10), EZSHM_ERR_NOTREADY);

    ezshm_ring_spec_t a = s_spec('f', 100, 1, s_shape8);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_expect_eq(m->buffer_generation, 0);
    cr_expect_eq(m->bvalid, 1);
    cr_expect_str_eq(ezshm_writer_ring_segment(w), shmt_ring_seg(name, 0));
    cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, 0)), 100 * 8 * 4);
    cr_expect_eq(ezshm_writer_frame_bytes(w), 32);
    cr_expect_eq(ezshm_writer_ring_bytes(w), 3200);
    cr_assert_eq(ezshm_writer_write(w, chunk, 10), EZSHM_OK);
    cr_expect_eq(m->write_index, 10);

    /*  Same spec again: nothing happens (counters kept). */
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_expect_eq(m->buffer_generation, 0);
    cr_expect_eq(m->write_index, 10);

    /*  Each field change rebuilds: dtype, ring length, frame shape, ndim, srate, key. */
    ezshm_ring_spec_t specs[6];
    specs[0] = s_spec('d', 100, 1, s_shape8);
    specs[1] = s_spec('d', 101, 1, s_shape8);
    specs[2] = s_spec('d', 101, 2, s_shape4x2);
    specs[3] = s_spec('d', 101, 1, s_shape4x2);    /* ndim 1, shape [4] */
    specs[4] = specs[3]; specs[4].srate = 250.0;
    specs[5] = specs[4]; specs[5].key = "other"; specs[5].key_len = 5;
    const long long sizes[6] = {6400, 6464, 6464, 3232, 3232, 3232};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(ezshm_writer_configure(w, &specs[i]), EZSHM_OK);
        uint32_t gen = (uint32_t) i + 1;
        cr_expect_eq(m->buffer_generation, gen, "step %d", i);
        cr_expect_eq(m->bvalid, 1);
        cr_expect_eq(m->write_index, 0);
        cr_expect_eq(m->wrap_counter, 0);
        cr_expect_not(shmt_seg_exists(shmt_ring_seg(name, gen - 1)), "old ring %u still there", gen - 1);
        cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, gen)), sizes[i], "step %d: %lld", i, shmt_seg_size(shmt_ring_seg(name, gen)));
    }
    cr_expect_eq(m->dtype, 'd');
    cr_expect_eq(m->ndim, 2);
    cr_expect_eq(m->shape[0], 101);
    cr_expect_eq(m->shape[1], 4);
    cr_expect_eq(m->shape[2], 0, "stale extent from the 3-D spec left in shape[2]");
    cr_expect_eq(m->srate, 250.0);
    cr_expect_eq(m->key_len, 5);
    cr_expect_eq(memcmp(m->key, "other", 5), 0);
    /*  header + one ring + its clock and wake segments, nothing leaked */
    cr_expect_eq(shmt_count_files(), 4);
    cr_expect(shmt_seg_exists(shmt_clock_seg(name, 6)));
    cr_expect(shmt_seg_exists(shmt_wake_seg(name, 6)));
    ezshm_writer_destroy(&w);
    cr_expect_null(w);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_writer, reset_buffer_drops_ring_and_next_configure_rebuilds_same_spec)
{
    const char *name = shmt_unique_name();
    recorder_t rec = {0};
    ezshm_writer_t *w = s_writer(name, &rec, EZSHM_LAYOUT_V1, 0);
    const ezshm_meta_t *m = ezshm_writer_meta(w);
    ezshm_ring_spec_t a = s_spec('h', 64, 0, NULL);   /* scalar frames, no frame shape */
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    int16_t data[20] = {1, 2, 3};
    cr_assert_eq(ezshm_writer_write(w, data, 20), EZSHM_OK);
    cr_expect_eq(m->ndim, 1);
    cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, 0)), 128);

    cr_assert_eq(ezshm_writer_reset_buffer(w), EZSHM_OK);
    cr_expect_eq(m->bvalid, 0);
    cr_expect_not(ezshm_writer_has_ring(w));
    cr_expect_not(shmt_seg_exists(shmt_ring_seg(name, 0)));
    cr_expect(shmt_seg_exists(shmt_header_seg(name)));
    cr_expect_eq(ezshm_writer_write(w, data, 1), EZSHM_ERR_NOTREADY);

    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);   /* same spec: rebuilt */
    cr_expect_eq(m->bvalid, 1);
    cr_expect_eq(m->buffer_generation, 1);
    cr_expect_eq(m->write_index, 0);
    cr_expect(shmt_seg_exists(shmt_ring_seg(name, 1)));
    cr_expect_str_eq(rec.text,
        "meta reset@-|begin update@-|meta updated@0|buffer reset@0|"
        "buffer cleanup@0|"
        "begin update@0|meta updated@1|buffer reset@1");
    ezshm_writer_destroy(&w);
}

Test(shm_writer, rename_replaces_header_and_ring)
{
    const char *name = shmt_unique_name();
    char name2[64];
    snprintf(name2, sizeof name2, "%s-renamed", name);
    recorder_t rec = {0};
    ezshm_writer_t *w = s_writer(name, &rec, EZSHM_LAYOUT_LEGACY, 0);
    ezshm_ring_spec_t a = s_spec('f', 50, 1, s_shape8);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    rec.text[0] = '\0';

    cr_assert_eq(ezshm_writer_rename(w, name2, EZSHM_LAYOUT_V1), EZSHM_OK);
    cr_expect_not(shmt_seg_exists(shmt_header_seg(name)));
    cr_expect_not(shmt_seg_exists(shmt_ring_seg(name, 0)));
    cr_expect_str_eq(ezshm_writer_name(w), name2);
    cr_expect_eq(ezshm_writer_layout(w), EZSHM_LAYOUT_V1);
    cr_expect_str_eq(ezshm_writer_header_segment(w), shmt_header_seg(name2));
    cr_expect_not(ezshm_writer_has_ring(w));
    size_t n;
    uint8_t *bytes = support_read_file(shmt_seg_path(shmt_header_seg(name2)), &n);
    cr_assert_not_null(bytes);
    uint8_t want[1334];
    ezshm_header_init(want, EZSHM_LAYOUT_V1);
    cr_expect_eq(n, 1334);
    cr_expect_eq(memcmp(bytes, want, 1334), 0, "renamed header is not the v1 placeholder");
    free(bytes);
    cr_expect_str_eq(rec.text, "buffer cleanup@0|meta cleanup@-|meta reset@-");
    cr_expect_eq(shmt_count_files(), 1);

    /*  Rename to a generated name, back to legacy. */
    cr_assert_eq(ezshm_writer_rename(w, NULL, EZSHM_LAYOUT_LEGACY), EZSHM_OK);
    cr_expect_eq(strncmp(ezshm_writer_name(w), "ezshm-", 6), 0);
    cr_expect_eq(shmt_seg_size(ezshm_writer_header_segment(w)), 1318);
    cr_expect_eq(ezshm_writer_rename(w, "", EZSHM_LAYOUT_LEGACY), EZSHM_ERR_INVAL);
    cr_expect_eq(shmt_count_files(), 1);
    rec.text[0] = '\0';
    ezshm_writer_destroy(&w);
    cr_expect_str_eq(rec.text, "meta cleanup@-|close@-");
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_writer, event_sequence_of_a_full_life)
{
    const char *name = shmt_unique_name();
    recorder_t rec = {0};
    ezshm_writer_t *w = s_writer(name, &rec, EZSHM_LAYOUT_LEGACY, 0);
    ezshm_ring_spec_t a = s_spec('f', 50, 1, s_shape8), b = s_spec('f', 60, 1, s_shape8);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_assert_eq(ezshm_writer_configure(w, &b), EZSHM_OK);
    ezshm_writer_destroy(&w);
    cr_expect_str_eq(rec.text,
        "meta reset@-|"
        "begin update@-|meta updated@0|buffer reset@0|"
        "begin update@0|meta updated@1|buffer cleanup@0|buffer reset@1|"
        "buffer cleanup@1|meta cleanup@-|close@-");
}

Test(shm_writer, max_ring_bytes_too_big_creates_nothing)
{
    const char *name = shmt_unique_name();
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.max_ring_bytes = 1000;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    ezshm_ring_spec_t big = s_spec('d', 126, 0, NULL);   /* 1008 bytes */
    cr_expect_eq(ezshm_writer_configure(w, &big), EZSHM_ERR_TOOBIG);
    const ezshm_meta_t *m = ezshm_writer_meta(w);
    cr_expect_eq(m->bvalid, 0);
    cr_expect_eq(m->buffer_generation, EZSHM_GENERATION_NONE);
    cr_expect_eq(shmt_count_files(), 1);
    cr_expect_not(ezshm_writer_has_ring(w));
    ezshm_ring_spec_t fits = s_spec('d', 125, 0, NULL);  /* exactly 1000 */
    cr_expect_eq(ezshm_writer_configure(w, &fits), EZSHM_OK);
    cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, 0)), 1000);
    ezshm_writer_set_max_ring_bytes(w, 10);
    cr_expect_eq(ezshm_writer_configure(w, &fits), EZSHM_OK, "unchanged spec needs no rebuild");
    ezshm_writer_destroy(&w);
}

Test(shm_writer, too_big_after_a_live_ring_leaves_no_ring)
{
    /*  ezshm_writer.h: TOOBIG / OVERFLOW leave no ring (bvalid 0). A caller that ignores
        the error must not be able to write the new chunk's frames into the old ring. */
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, NULL, EZSHM_LAYOUT_LEGACY, 0);
    ezshm_ring_spec_t a = s_spec('f', 50, 1, s_shape8);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    ezshm_writer_set_max_ring_bytes(w, 1000);
    ezshm_ring_spec_t big = s_spec('d', 500, 1, s_shape8);
    cr_expect_eq(ezshm_writer_configure(w, &big), EZSHM_ERR_TOOBIG);
    cr_expect_eq(ezshm_writer_meta(w)->bvalid, 0);
    cr_expect_not(ezshm_writer_has_ring(w));
    double chunk[8] = {0};
    cr_expect_eq(ezshm_writer_write(w, chunk, 1), EZSHM_ERR_NOTREADY);
    /*  The old spec still rebuilds (under the next generation). */
    ezshm_writer_set_max_ring_bytes(w, (uint64_t) 1 << 30);
    cr_expect_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_expect_eq(ezshm_writer_meta(w)->buffer_generation, 1);
    cr_expect_eq(ezshm_writer_meta(w)->bvalid, 1);
    cr_expect_eq(shmt_count_files(), 4);   /* header, ring, clock, wake */
    ezshm_writer_destroy(&w);
}

Test(shm_writer, overflow_and_invalid_specs)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, NULL, EZSHM_LAYOUT_LEGACY, 0);
    const ezshm_meta_t *m = ezshm_writer_meta(w);
    uint64_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    ezshm_ring_spec_t s = s_spec('d', 10, 3, huge);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_OVERFLOW);
    uint64_t too_wide[1] = {(uint64_t) 1 << 32};
    s = s_spec('d', 10, 1, too_wide);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_OVERFLOW);
    uint64_t zero[1] = {0};
    s = s_spec('d', 10, 1, zero);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_INVAL);
    s = s_spec('x', 10, 0, NULL);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_DTYPE);
    s = s_spec('d', 0, 0, NULL);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_INVAL);
    s = s_spec('d', (uint64_t) 1 << 32, 0, NULL);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_INVAL);
    s = s_spec('d', 10, 64, s_shape8);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_INVAL);
    s = s_spec('d', 10, 1, NULL);
    cr_expect_eq(ezshm_writer_configure(w, &s), EZSHM_ERR_INVAL);
    cr_expect_eq(m->bvalid, 0);
    cr_expect_eq(m->buffer_generation, EZSHM_GENERATION_NONE);
    cr_expect_eq(shmt_count_files(), 1);
    cr_expect_eq(ezshm_writer_configure(w, NULL), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_writer_write(NULL, NULL, 0), EZSHM_ERR_INVAL);
    ezshm_writer_t *none = NULL;
    cr_expect_eq(ezshm_writer_new("", NULL, &none), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_writer_new("x", NULL, NULL), EZSHM_ERR_INVAL);
    ezshm_writer_destroy(&none);   /* NULL-safe */
    ezshm_writer_destroy(NULL);
    ezshm_writer_destroy(&w);
}

Test(shm_writer, invalid_spec_on_live_ring_changes_nothing)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, NULL, EZSHM_LAYOUT_LEGACY, 0);
    ezshm_ring_spec_t a = s_spec('f', 50, 1, s_shape8);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    float chunk[3 * 8] = {0};
    cr_assert_eq(ezshm_writer_write(w, chunk, 3), EZSHM_OK);
    ezshm_ring_spec_t bad = s_spec('?' + 1, 50, 1, s_shape8);
    cr_expect_eq(ezshm_writer_configure(w, &bad), EZSHM_ERR_DTYPE);
    const ezshm_meta_t *m = ezshm_writer_meta(w);
    cr_expect_eq(m->bvalid, 1);
    cr_expect_eq(m->buffer_generation, 0);
    cr_expect_eq(m->write_index, 3);
    cr_expect(ezshm_writer_has_ring(w));
    ezshm_writer_destroy(&w);
}

Test(shm_writer, long_key_truncated_to_1024)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, NULL, EZSHM_LAYOUT_LEGACY, 0);
    char key[1500];
    for (int i = 0; i < 1500; i++)
        key[i] = (char) ('a' + i % 26);
    ezshm_ring_spec_t s = s_spec('f', 10, 0, NULL);
    s.key = key;
    s.key_len = sizeof key;
    cr_assert_eq(ezshm_writer_configure(w, &s), EZSHM_OK);
    const ezshm_meta_t *m = ezshm_writer_meta(w);
    cr_expect_eq(m->key_len, 1024);
    cr_expect_eq(memcmp(m->key, key, 1024), 0);
    cr_expect_eq(m->write_index, 0);
    float one = 1.0f;
    cr_assert_eq(ezshm_writer_write(w, &one, 1), EZSHM_OK);
    /*  Same long key again: matches the stored (truncated) key, no rebuild. */
    cr_assert_eq(ezshm_writer_configure(w, &s), EZSHM_OK);
    cr_expect_eq(m->buffer_generation, 0);
    cr_expect_eq(m->write_index, 1);
    ezshm_writer_destroy(&w);
}

Test(shm_writer, stale_segments_reclaimed_with_log)
{
    const char *name = shmt_unique_name();
    /*  A crashed writer left a header (garbage) and a ring of generation 0. */
    cr_assert(shmt_write_file(shmt_seg_path(shmt_header_seg(name)), "garbage", 7));
    cr_assert(shmt_write_file(shmt_seg_path(shmt_ring_seg(name, 0)), "old ring", 8));
    recorder_t rec = {0};
    ezshm_writer_t *w = s_writer(name, &rec, EZSHM_LAYOUT_LEGACY, 0);
    cr_expect_eq(rec.n_logs, 1);
    cr_expect(strstr(rec.last_log, shmt_header_seg(name)) != NULL, "log: %s", rec.last_log);
    cr_expect(strstr(rec.last_log, name) != NULL, "log: %s", rec.last_log);
    cr_expect_eq(shmt_seg_size(shmt_header_seg(name)), 1318);
    ezshm_ring_spec_t a = s_spec('f', 10, 0, NULL);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_expect_eq(rec.n_logs, 2);
    cr_expect(strstr(rec.last_log, shmt_ring_seg(name, 0)) != NULL, "log: %s", rec.last_log);
    cr_expect_eq(shmt_seg_size(shmt_ring_seg(name, 0)), 40);
    ezshm_writer_destroy(&w);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_writer, segment_modes)
{
    mode_t old = umask(077);   /* the mode must not depend on the umask */
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, NULL, EZSHM_LAYOUT_LEGACY, 0);
    ezshm_ring_spec_t a = s_spec('f', 10, 0, NULL);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_expect_eq(shmt_seg_mode(shmt_header_seg(name)), 0600);
    cr_expect_eq(shmt_seg_mode(shmt_ring_seg(name, 0)), 0600);
    ezshm_writer_destroy(&w);

    const char *name2 = shmt_unique_name();
    w = s_writer(name2, NULL, EZSHM_LAYOUT_V1, 0660);
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_expect_eq(shmt_seg_mode(shmt_header_seg(name2)), 0660);
    cr_expect_eq(shmt_seg_mode(shmt_ring_seg(name2, 0)), 0660);
    ezshm_writer_destroy(&w);
    umask(old);
}

Test(shm_writer, segment_dir_follows_env)
{
    cr_expect_str_eq(ezshm_segment_dir(), getenv("EZSHM_SHM_DIR"));
    uint64_t free_bytes = 0;
    cr_expect_eq(ezshm_segment_free_bytes(&free_bytes), EZSHM_OK);
    cr_expect_gt(free_bytes, 0);
    const char *saved = shmt_setup();
    setenv("EZSHM_SHM_DIR", "", 1);
    cr_expect_str_eq(ezshm_segment_dir(), "/dev/shm");
    unsetenv("EZSHM_SHM_DIR");
    cr_expect_str_eq(ezshm_segment_dir(), "/dev/shm");
    setenv("EZSHM_SHM_DIR", "/nonexistent-ezshm-dir", 1);
    ezshm_writer_t *w = NULL;
    cr_expect_neq(ezshm_writer_new(shmt_unique_name(), NULL, &w), EZSHM_OK);
    cr_expect_null(w);
    setenv("EZSHM_SHM_DIR", saved, 1);
}

Test(shm_writer, generated_name_writer)
{
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(NULL, NULL, &w), EZSHM_OK);
    cr_expect_eq(strncmp(ezshm_writer_name(w), "ezshm-", 6), 0);
    cr_expect(shmt_seg_exists(ezshm_writer_header_segment(w)));
    cr_expect_str_eq(ezshm_writer_header_segment(w), shmt_header_seg(ezshm_writer_name(w)));
    ezshm_writer_destroy(&w);
    cr_expect_eq(shmt_count_files(), 0);
}

Test(shm_writer, answers_ring_questions)
{
    ezshm_ring_spec_t spec = s_spec('f', 100, 2, s_shape4x2);
    uint64_t bytes = 0;
    cr_assert_eq(ezshm_writer_ring_bytes_for(&spec, &bytes), EZSHM_OK);
    cr_expect_eq(bytes, 100u * 4 * 2 * 4);
    ezshm_ring_spec_t huge = s_spec('d', UINT32_MAX, 2, (const uint64_t[]) {UINT32_MAX, UINT32_MAX});
    cr_expect_eq(ezshm_writer_ring_bytes_for(&huge, &bytes), EZSHM_ERR_OVERFLOW);
    ezshm_ring_spec_t bad = s_spec('x', 100, 1, s_shape8);
    cr_expect_eq(ezshm_writer_ring_bytes_for(&bad, &bytes), EZSHM_ERR_DTYPE);

    ezshm_writer_t *w = s_writer(shmt_unique_name(), NULL, EZSHM_LAYOUT_LEGACY, 0);
    cr_expect_not(ezshm_writer_keeps_ring(w, &spec), "no ring yet");
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    cr_expect_eq(ezshm_writer_ring_bytes(w), 100u * 4 * 2 * 4);
    ezshm_ring_spec_t longer = s_spec('f', 250, 2, s_shape4x2);
    cr_expect(ezshm_writer_keeps_ring(w, &longer), "only the length differs");
    ezshm_ring_spec_t other = s_spec('f', 100, 1, s_shape8);
    cr_expect_not(ezshm_writer_keeps_ring(w, &other), "another frame shape");
    ezshm_ring_spec_t doubles = s_spec('d', 100, 2, s_shape4x2);
    cr_expect_not(ezshm_writer_keeps_ring(w, &doubles), "another dtype");
    ezshm_ring_spec_t rekeyed = spec;
    rekeyed.key = "other";
    rekeyed.key_len = 5;
    cr_expect_not(ezshm_writer_keeps_ring(w, &rekeyed), "another key");
    ezshm_writer_destroy(&w);
}

/*  ---- rings reserved in steps (a daemon's rings: a rebuild must not stall its loop) ---- */

static ezshm_writer_t *
s_stepped_writer(const char *name, recorder_t *rec)
{
    ezshm_writer_options_t opt = s_options(rec);
    opt.reserve_in_steps = true;
    opt.no_clock = true;   /* the ring alone: the clock segment is reserved at creation */
    return s_writer_with(name, &opt);
}

/*  Bytes of the segment file that have pages (st_blocks), -1 when absent. */
static long long
s_allocated(const char *segname)
{
    struct stat st;
    return stat(shmt_seg_path(segname), &st) == 0 ? (long long) st.st_blocks * 512 : -1;
}

Test(shm_writer, ring_reserved_in_steps_keeps_what_was_written)
{
    recorder_t rec = {0};
    ezshm_writer_t *w = s_stepped_writer(shmt_unique_name(), &rec);
    ezshm_ring_spec_t spec = s_spec('f', 10000, 1, s_shape8);   /* 320 000 bytes */
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    const char *ring = ezshm_writer_ring_segment(w);
    cr_expect_lt(s_allocated(ring), 8192, "created sparse: %lld bytes allocated", s_allocated(ring));
    float frames[100][8];
    for (int i = 0; i < 100; i++)
        for (int c = 0; c < 8; c++)
            frames[i][c] = (float) (i * 8 + c);
    cr_assert_eq(ezshm_writer_write(w, frames, 100), EZSHM_OK);

    uint64_t pending = 0, left = 320000;
    int steps = 0;
    do {
        cr_assert_eq(ezshm_writer_reserve(w, 65536, &pending), EZSHM_OK);
        cr_expect_eq(pending, left > 65536 ? left - 65536 : 0);
        left = pending;
        steps++;
    } while (pending && steps < 100);
    cr_expect_eq(steps, 5);
    cr_expect_geq(s_allocated(ring), 320000);
    cr_expect_eq(ezshm_writer_reserve(w, 65536, &pending), EZSHM_OK);
    cr_expect_eq(pending, 0, "nothing left once reserved");
    size_t size = 0;
    const float *mapped = shmt_map_rw(ring, &size);
    cr_assert_not_null(mapped);
    cr_expect_eq(memcmp(mapped, frames, sizeof frames), 0, "the frames written before the reservation");
    munmap((void *) mapped, size);
    cr_expect_eq(rec.n_logs, 0);

    /*  A rebuild starts over; a writer without the option reserves at creation. */
    ezshm_ring_spec_t other = s_spec('f', 10000, 2, s_shape4x2);
    cr_assert_eq(ezshm_writer_configure(w, &other), EZSHM_OK);
    cr_expect_eq(ezshm_writer_reserve(w, 0, &pending), EZSHM_OK);
    cr_expect_eq(pending, 320000);
    ezshm_writer_destroy(&w);
    ezshm_writer_t *now = s_writer(shmt_unique_name(), NULL, EZSHM_LAYOUT_LEGACY, 0);
    cr_assert_eq(ezshm_writer_configure(now, &spec), EZSHM_OK);
    cr_expect_geq(s_allocated(ezshm_writer_ring_segment(now)), 320000);
    cr_expect_eq(ezshm_writer_reserve(now, 65536, &pending), EZSHM_OK);
    cr_expect_eq(pending, 0);
    ezshm_writer_destroy(&now);
}

/*  EZSHM_SHM_DIR on a private tmpfs of size_kib for the rest of this test (Criterion runs
    each test in a process of its own, so the mount namespace is the test's). False without
    root or mount namespaces (the test is then skipped). */
static bool
s_small_tmpfs(unsigned size_kib, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "%s/small", shmt_setup());
    if (geteuid() != 0 || mkdir(dir, 0700) != 0)
        return false;
    char opts[32];
    snprintf(opts, sizeof opts, "size=%uk", size_kib);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0
        || mount("ezshm-small", dir, "tmpfs", 0, opts) != 0) {
        rmdir(dir);
        return false;
    }
    setenv("EZSHM_SHM_DIR", dir, 1);
    return true;
}

static void
s_small_tmpfs_done(const char *dir)
{
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    /*  Back to the private folder (dir's parent), which the suite's teardown removes. */
    char parent[512];
    snprintf(parent, sizeof parent, "%.*s", (int) (strrchr(dir, '/') - dir), dir);
    setenv("EZSHM_SHM_DIR", parent, 1);
}

/*  Fills the folder with a file of bytes (reserved), so what is left is less. */
static void
s_fill(const char *dir, size_t bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/filler", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(posix_fallocate(fd, 0, (off_t) bytes), 0);
    close(fd);
}

Test(shm_writer, a_folder_full_before_the_reservation_drops_the_ring)
{
    char dir[512];
    if (!s_small_tmpfs(256, dir, sizeof dir))
        cr_skip_test("needs root and a mount namespace");
    recorder_t rec = {0};
    ezshm_writer_t *w = s_stepped_writer(shmt_unique_name(), &rec);
    ezshm_ring_spec_t spec = s_spec('f', 5000, 1, s_shape8);   /* 160 000 of ~250 000 bytes free */
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    s_fill(dir, 120 * 1024);
    uint64_t pending = 0;
    cr_expect_eq(ezshm_writer_reserve(w, 1 << 20, &pending), EZSHM_ERR_NOSPACE);
    cr_expect_eq(pending, 0);
    cr_expect_not(ezshm_writer_has_ring(w), "the ring is dropped");
    cr_expect_not(ezshm_header_valid(ezshm_writer_meta(w)), "bvalid 0");
    cr_expect(strstr(rec.last_log, "could not be reserved"), "%s", rec.last_log);
    cr_expect(strstr(rec.text, "buffer cleanup"), "%s", rec.text);
    cr_expect_eq(ezshm_writer_configure(w, &spec), EZSHM_ERR_NOSPACE, "refused while it cannot fit");
    cr_expect_eq(ezshm_writer_meta(w)->buffer_generation, 1, "the next generation, for the ring that failed");
    cr_expect_eq(ezshm_writer_configure(w, &spec), EZSHM_ERR_NOSPACE);
    cr_expect_eq(ezshm_writer_meta(w)->buffer_generation, 1, "a retry into a full folder reuses it");
    char path[600];
    snprintf(path, sizeof path, "%s/filler", dir);
    unlink(path);
    cr_expect_eq(ezshm_writer_configure(w, &spec), EZSHM_OK, "made again once it fits");
    cr_expect_eq(ezshm_writer_meta(w)->buffer_generation, 1);
    ezshm_writer_destroy(&w);
    s_small_tmpfs_done(dir);
}

Test(shm_writer, a_page_the_full_folder_cannot_give_is_a_caught_fault)
{
    char dir[512];
    if (!s_small_tmpfs(256, dir, sizeof dir))
        cr_skip_test("needs root and a mount namespace");
    cr_assert_eq(ezshm_guard_enable(), EZSHM_OK, "as ezshmd does");
    recorder_t rec = {0};
    ezshm_writer_t *w = s_stepped_writer(shmt_unique_name(), &rec);
    ezshm_ring_spec_t spec = s_spec('f', 5000, 1, s_shape8);
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    s_fill(dir, 200 * 1024);
    static float frames[5000][8];
    cr_expect_eq(ezshm_writer_write(w, frames, 5000), EZSHM_ERR_BUS);
    cr_expect_eq(ezshm_writer_faults(w), 1);
    cr_expect_not(ezshm_writer_has_ring(w));
    cr_expect(strstr(rec.last_log, "no page left"), "%s", rec.last_log);
    ezshm_writer_destroy(&w);
    s_small_tmpfs_done(dir);
}

/*  An on_retire that keeps what it is handed until the test lets go: a reaper that is slow. */
typedef struct {
    int    calls;
    void  *addr[4];
    size_t size[4];
    int    fd[4];
} slow_reaper_t;

static void
s_slow_retire(void *arg, void *addr, size_t size, int fd)
{
    slow_reaper_t *r = arg;
    cr_assert_lt(r->calls, 4);
    r->addr[r->calls] = addr;
    r->size[r->calls] = size;
    r->fd[r->calls++] = fd;
}

static void
s_slow_reaper_done(slow_reaper_t *r)
{
    for (int i = 0; i < r->calls; i++) {
        munmap(r->addr[i], r->size[i]);
        if (r->fd[i] >= 0)
            close(r->fd[i]);
    }
}

/*  ezshmd frees old rings on its reaper thread, a moment later; a rebuild whose new ring does
    not fit beside the old ring's pages frees them at once instead of failing with no space. */
Test(shm_writer, a_rebuild_that_needs_the_old_pages_frees_them_at_once)
{
    char dir[512];
    if (!s_small_tmpfs(256, dir, sizeof dir))
        cr_skip_test("needs root and a mount namespace");
    slow_reaper_t reaper = {0};
    ezshm_writer_options_t opt = s_options(NULL);
    opt.reserve_in_steps = true;
    opt.no_clock = true;
    opt.on_retire = s_slow_retire;
    opt.arg = &reaper;
    ezshm_writer_t *w = s_writer_with(shmt_unique_name(), &opt);
    uint64_t pending;
    ezshm_ring_spec_t a = s_spec('f', 2500, 1, s_shape8);           /* 80 000 bytes */
    cr_assert_eq(ezshm_writer_configure(w, &a), EZSHM_OK);
    cr_assert_eq(ezshm_writer_reserve(w, 1 << 20, &pending), EZSHM_OK);
    ezshm_ring_spec_t b = s_spec('f', 3125, 1, s_shape8);           /* 100 000: fits beside a */
    cr_assert_eq(ezshm_writer_configure(w, &b), EZSHM_OK);
    cr_expect_eq(reaper.calls, 1, "a handed over");
    s_slow_reaper_done(&reaper);
    reaper.calls = 0;
    cr_assert_eq(ezshm_writer_reserve(w, 1 << 20, &pending), EZSHM_OK);
    ezshm_ring_spec_t c = s_spec('f', 6250, 1, s_shape8);           /* 200 000: not beside b */
    cr_expect_eq(ezshm_writer_configure(w, &c), EZSHM_OK, "b's pages freed first");
    cr_expect_eq(reaper.calls, 0, "b freed at once, not handed over");
    ezshm_writer_destroy(&w);
    s_slow_reaper_done(&reaper);
    s_small_tmpfs_done(dir);
}
