/*  test_shm_aux.c — the aux (stream metadata) segment: names as ezmsg-tools 0.6 makes them,
    the publication order and generations (the manifest's A A B B A sequence), what a ring
    reset, a rename, a retraction and a quit do to it, and a mirror reading and following it. */
#include "support_shm.h"
#include "support_wire.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_aux, .init = s_init, .fini = s_fini);


static ezshm_writer_t *
s_writer(const char *name, ezshm_layout_t layout)
{
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    return w;
}

static const ezshm_header_v1_t *
s_header(const char *name)
{
    static uint8_t copy[sizeof(ezshm_header_v1_t)];
    char seg[EZSHM_SHORT_NAME_SIZE];
    ezshm_header_segment_name(name, seg);
    size_t n;
    uint8_t *bytes = support_read_file(shmt_seg_path(seg), &n);
    cr_assert_not_null(bytes);
    cr_assert_geq(n, sizeof copy);
    memcpy(copy, bytes, sizeof copy);
    free(bytes);
    return (const ezshm_header_v1_t *) copy;
}

Test(shm_aux, segment_named_and_filled_as_ezmsg_tools_does)
{
    cJSON *manifest = shmt_load_fixture("shm-aux-meta/manifest.json");
    const cJSON *fx = cJSON_GetArrayItem(cJSON_GetObjectItem(manifest, "fixtures"), 0);
    const char *name = cJSON_GetObjectItem(fx, "shmem_name")->valuestring;
    size_t len;
    uint8_t *blob = (uint8_t *) support_fixture_in("shm-aux-meta", cJSON_GetObjectItem(fx, "blob_file")->valuestring, &len);
    ezshm_writer_t *w = s_writer(name, EZSHM_LAYOUT_V1);
    cr_assert_eq(ezshm_writer_publish_aux(w, blob, len), EZSHM_OK);
    const char *segname = cJSON_GetObjectItem(fx, "aux_segment")->valuestring;
    cr_expect_eq(shmt_seg_size(segname), (long long) len);
    size_t n;
    uint8_t *seg = support_read_file(shmt_seg_path(segname), &n);
    cr_assert_eq(n, len);
    cr_expect_eq(memcmp(seg, blob, len), 0);
    const ezshm_header_v1_t *h = s_header(name);
    cr_expect_eq(h->meta_generation, 1);
    cr_expect_eq(h->aux_nbytes, (uint32_t) len);
    cr_expect_eq(ezshm_writer_aux_generation(w), 1);
    cr_expect_eq(ezshm_writer_aux_bytes(w), len);
    ezshm_writer_destroy(&w);
    cr_expect(!shmt_seg_exists(segname), "quit unlinks the aux segment");
    free(seg);
    free(blob);
    cJSON_Delete(manifest);
}

Test(shm_aux, retract_clears_the_header_fields_and_unlinks_the_segment)
{
    const char *name = shmt_unique_name();
    static const uint8_t blob[] = "\x80\x05}\x94.";
    ezshm_writer_t *w = s_writer(name, EZSHM_LAYOUT_V1);
    cr_assert_eq(ezshm_writer_publish_aux(w, blob, sizeof blob - 1), EZSHM_OK);
    char segname[EZSHM_SHORT_NAME_SIZE];
    cr_assert_eq(ezshm_aux_segment_name(name, 1, segname), EZSHM_OK);
    cr_assert(shmt_seg_exists(segname));
    cr_assert_eq(ezshm_writer_retract_aux(w), EZSHM_OK);
    cr_expect(!shmt_seg_exists(segname), "the retracted blob's segment is unlinked");
    const ezshm_header_v1_t *h = s_header(name);
    cr_expect_eq(h->meta_generation, 0);
    cr_expect_eq(h->aux_nbytes, 0);
    cr_expect_eq(ezshm_writer_aux_generation(w), 0);
    cr_expect_eq(ezshm_writer_aux_bytes(w), 0);
    /*  The next publication is a new generation, not the retracted one again. */
    cr_assert_eq(ezshm_writer_publish_aux(w, blob, sizeof blob - 1), EZSHM_OK);
    cr_expect_eq(s_header(name)->aux_nbytes, (uint32_t) (sizeof blob - 1));
    cr_expect_gt(ezshm_writer_aux_generation(w), 0);
    ezshm_writer_destroy(&w);
    cr_expect_eq(ezshm_writer_retract_aux(NULL), EZSHM_ERR_INVAL);
}

Test(shm_aux, sequence_republishes_only_changed_bytes)
{
    cJSON *manifest = shmt_load_fixture("shm-aux-meta/manifest.json");
    const cJSON *seq = cJSON_GetObjectItem(manifest, "sequence");
    const char *name = cJSON_GetObjectItem(seq, "shmem_name")->valuestring;
    size_t la, lb;
    uint8_t *a = (uint8_t *) support_fixture_in("shm-aux-meta", "f32_time_ch_linear.pickle", &la);
    uint8_t *b = (uint8_t *) support_fixture_in("shm-aux-meta", "i16_time_ch.pickle", &lb);
    ezshm_writer_t *w = s_writer(name, EZSHM_LAYOUT_V1);
    const uint8_t *msgs[] = {a, a, b, b, a};
    const size_t lens[] = {la, la, lb, lb, la};
    char previous[EZSHM_SHORT_NAME_SIZE] = "";
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(ezshm_writer_publish_aux(w, msgs[i], lens[i]), EZSHM_OK);
        int gen = cJSON_GetArrayItem(cJSON_GetObjectItem(seq, "meta_generation_after_each"), i)->valueint;
        const char *segname =
            cJSON_GetArrayItem(cJSON_GetObjectItem(seq, "aux_segment_after_each"), i)->valuestring;
        cr_expect_eq(s_header(name)->meta_generation, (uint32_t) gen, "message %d", i);
        cr_expect_eq(s_header(name)->aux_nbytes, (uint32_t) lens[i]);
        cr_expect(shmt_seg_exists(segname), "message %d: %s", i, segname);
        if (previous[0] && strcmp(previous, segname) != 0)
            cr_expect(!shmt_seg_exists(previous), "the replaced segment is unlinked");
        snprintf(previous, sizeof previous, "%s", segname);
    }
    ezshm_writer_destroy(&w);
    free(a);
    free(b);
    cJSON_Delete(manifest);
}

Test(shm_aux, ring_reset_keeps_it_rename_and_layout_change_retract_it)
{
    const char *name = shmt_unique_name();
    size_t len;
    uint8_t *blob = (uint8_t *) support_fixture_in("shm-aux-meta", "f32_attrs_3d.pickle", &len);
    ezshm_writer_t *w = s_writer(name, EZSHM_LAYOUT_V1);
    uint64_t shape[1] = {4};
    ezshm_ring_spec_t spec = {.dtype = 'f', .srate = 100, .n_frames = 100, .frame_ndim = 1,
                              .frame_shape = shape, .key = "k", .key_len = 1};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    cr_assert_eq(ezshm_writer_publish_aux(w, blob, len), EZSHM_OK);
    char seg1[EZSHM_SHORT_NAME_SIZE];
    ezshm_aux_segment_name(name, 1, seg1);
    cr_assert_eq(ezshm_writer_reset_buffer(w), EZSHM_OK);
    cr_expect(shmt_seg_exists(seg1));
    cr_expect_eq(s_header(name)->meta_generation, 1);
    spec.n_frames = 200;
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    cr_expect_eq(s_header(name)->meta_generation, 1, "a rebuilt ring keeps the metadata");

    const char *other = shmt_unique_name();
    cr_assert_eq(ezshm_writer_rename(w, other, EZSHM_LAYOUT_V1), EZSHM_OK);
    cr_expect(!shmt_seg_exists(seg1));
    cr_expect_eq(s_header(other)->meta_generation, 0);
    cr_expect_eq(s_header(other)->aux_nbytes, 0);
    cr_expect_eq(ezshm_writer_aux_generation(w), 0);
    cr_assert_eq(ezshm_writer_publish_aux(w, blob, len), EZSHM_OK);
    cr_expect_eq(s_header(other)->meta_generation, 1, "a new header starts at 1 again");

    cr_assert_eq(ezshm_writer_rename(w, other, EZSHM_LAYOUT_LEGACY), EZSHM_OK);
    ezshm_aux_segment_name(other, 1, seg1);
    cr_expect(!shmt_seg_exists(seg1));
    cr_expect_eq(ezshm_writer_publish_aux(w, blob, len), EZSHM_ERR_INVAL, "legacy: no aux");
    ezshm_writer_destroy(&w);
    free(blob);
}

Test(shm_aux, generations_skip_zero_on_wrap)
{
    const char *name = shmt_unique_name();
    /*  The publisher needs only the header's bytes: a local copy stands in for the segment. */
    static uint8_t fake[sizeof(ezshm_header_v1_t)];
    ezshm_aux_t aux = {.generation = UINT32_MAX};
    cr_assert_eq(ezshm_aux_publish(&aux, name, fake, "abc", 3, 0600), EZSHM_OK);
    cr_expect_eq(aux.generation, 1);
    cr_expect_eq(ezshm_aux_generation(fake), 1);
    cr_assert_eq(ezshm_aux_publish(&aux, name, fake, "abd", 3, 0600), EZSHM_OK);
    cr_expect_eq(ezshm_aux_generation(fake), 2);
    ezshm_aux_retract(&aux, fake);
    cr_expect_eq(ezshm_aux_generation(fake), 0);
    cr_expect_eq(ezshm_aux_nbytes(fake), 0);
}

Test(shm_aux, mirror_reads_and_follows_the_metadata)
{
    const char *name = shmt_unique_name();
    size_t la, lb;
    uint8_t *a = (uint8_t *) support_fixture_in("shm-aux-meta", "f32_time_ch_linear.pickle", &la);
    uint8_t *b = (uint8_t *) support_fixture_in("shm-aux-meta", "f32_ch_structured.pickle", &lb);
    ezshm_writer_t *w = s_writer(name, EZSHM_LAYOUT_V1);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    ezshm_tree_t *tree = ezshm_tree_new(), *want = ezshm_tree_new();
    uint32_t gen = 99;
    char err[160];
    cr_expect_eq(ezshm_mirror_meta(m, tree, &gen, err, sizeof err), EZSHM_ERR_NOENT);
    cr_expect_eq(gen, 0);
    cr_expect_eq(ezshm_mirror_meta_generation(m), 0);
    cr_assert_eq(ezshm_writer_publish_aux(w, a, la), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_meta_generation(m), 1);
    cr_assert_eq(ezshm_mirror_meta(m, tree, &gen, err, sizeof err), EZSHM_OK, "%s", err);
    cr_expect_eq(gen, 1);
    cr_assert_eq(ezshm_unpickle(a, la, want, err, sizeof err), EZSHM_OK);
    cr_expect(ezshm_node_equal(ezshm_tree_root(tree), ezshm_tree_root(want)));
    const ezshm_node_t *ch = ezshm_node_get(ezshm_node_get(ezshm_tree_root(tree), "axes"), "ch");
    cr_expect_str_eq(ezshm_node_str(ezshm_node_get(ch, "kind")), "coord");

    cr_assert_eq(ezshm_writer_publish_aux(w, b, lb), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_meta_generation(m), 2);
    cr_assert_eq(ezshm_mirror_meta(m, tree, &gen, err, sizeof err), EZSHM_OK, "%s", err);
    cr_expect_eq(gen, 2);
    cr_expect_str_eq(ezshm_node_str(ezshm_node_get(ezshm_tree_root(tree), "key")), "structured-ch");

    /*  The writer restarts (rename away and back): the mirror finds the new header. */
    cr_assert_eq(ezshm_writer_rename(w, shmt_unique_name(), EZSHM_LAYOUT_V1), EZSHM_OK);
    cr_assert_eq(ezshm_writer_rename(w, name, EZSHM_LAYOUT_V1), EZSHM_OK);
    cr_expect_eq(ezshm_mirror_meta(m, tree, &gen, err, sizeof err), EZSHM_ERR_NOENT);
    cr_assert_eq(ezshm_writer_publish_aux(w, a, la), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_meta(m, tree, &gen, err, sizeof err), EZSHM_OK, "%s", err);
    cr_expect_eq(gen, 1);

    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
    ezshm_tree_destroy(&tree);
    ezshm_tree_destroy(&want);
    free(a);
    free(b);
}

Test(shm_aux, mirror_refuses_a_hostile_blob)
{
    const char *name = shmt_unique_name();
    ezshm_writer_t *w = s_writer(name, EZSHM_LAYOUT_V1);
    static const char evil[] = "\x80\x05\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.";
    cr_assert_eq(ezshm_writer_publish_aux(w, evil, sizeof evil - 1), EZSHM_OK);
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    ezshm_tree_t *tree = ezshm_tree_new();
    char err[160];
    uint32_t gen;
    cr_expect_eq(ezshm_mirror_meta(m, tree, &gen, err, sizeof err), EZSHM_ERR_PICKLE);
    cr_expect_not_null(strstr(err, "os.system"), "%s", err);
    ezshm_tree_destroy(&tree);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
}

Test(shm_aux, a_blob_over_the_reader_limit_is_too_big_not_not_ready)
{
    /*  A header naming a blob over EZSHM_UNPICKLE_MAX_BYTES: refused before any segment is
        opened, as too big (it used to read as "ring being rebuilt", retried for ever). */
    static ezshm_header_v1_t fake;
    fake.meta_generation = 1;
    fake.aux_nbytes = EZSHM_UNPICKLE_MAX_BYTES + 1;
    ezshm_tree_t *tree = ezshm_tree_new();
    char err[160] = "";
    uint32_t gen = 0;
    cr_expect_eq(ezshm_aux_read(shmt_unique_name(), &fake, EZSHM_ANY_OWNER, tree, &gen, err, sizeof err),
                 EZSHM_ERR_TOOBIG);
    cr_expect_eq(gen, 1);
    cr_expect_not_null(strstr(err, "16777217 bytes, over the reader's limit of 16777216"), "%s", err);
    ezshm_tree_destroy(&tree);
}
