/*  test_stream_meta.c — AxisArray → stream metadata in the service: every ezmsg-zmq fixture
    decoded and published gives the very blob ezmsg-tools 0.6 wrote (byte for byte; the _pickle
    one lacks that attr), the ezmsg-zmq-more ones decode to their manifest values minus what
    cannot be carried, unchanged messages republish nothing, legacy streams publish nothing. */
#include "support_shm.h"
#include "support_wire.h"
#include "ingest.h"
#include "stream_meta.h"
#include "wire_attrs.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(stream_meta, .init = s_init, .fini = s_fini);

typedef struct {
    ezshm_writer_t *writer;
    ingest_t *ingest;
    wire_decoder_t *decoder;
    stream_meta_t *meta;
    char *payload;
} rig_t;

static void
s_rig(rig_t *r, const char *name, ezshm_layout_t layout)
{
    memset(r, 0, sizeof *r);
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    cr_assert_eq(ezshm_writer_new(name, &opt, &r->writer), EZSHM_OK);
    r->ingest = ingest_new(r->writer, "time", 1.0);
    r->decoder = wire_decoder_new();
    r->meta = stream_meta_new();
    cr_assert(r->ingest && r->decoder && r->meta);
}

static void
s_rig_free(rig_t *r)
{
    free(r->payload);
    stream_meta_destroy(&r->meta);
    wire_decoder_destroy(&r->decoder);
    ingest_destroy(&r->ingest);
    ezshm_writer_destroy(&r->writer);
}

/*  Decodes r->payload (len bytes) multipart, publishes its metadata and ingests it, as the
    daemon does. */
static void
s_feed_payload(rig_t *r, size_t len)
{
    wire_frame_t frames[2] = {{"pyref", 5}, {r->payload, len}};
    const axisarray_t *msg;
    cr_assert_eq(wire_decode(r->decoder, frames, 2, &msg), 0, "%s", wire_decoder_last_error(r->decoder));
    char err[256];
    uint64_t n;
    cr_assert_eq(stream_meta_update(r->meta, r->writer, r->decoder, msg, ingest_axis(r->ingest), NULL, NULL, err,
                                    sizeof err), 0, "%s", err);
    cr_assert_eq(ingest_message(r->ingest, msg, &n, err, sizeof err), 0, "%s", err);
}

static void
s_feed(rig_t *r, const char *folder, const char *file)
{
    size_t len;
    free(r->payload);
    r->payload = support_fixture_in(folder, file, &len);
    s_feed_payload(r, len);
}

/*  A small AxisArray whose attrs are the given JSON text. */
#define ATTRS_PAYLOAD                                                                         \
    "{\"obj\": {\"data\": {\"_type\": \"_ndarray\", \"dtype\": \"uint8\", "                           \
    "\"data\": \"AAAAAA==\", \"shape\": [2, 2]}, \"dims\": [\"time\", \"ch\"], "                  \
    "\"axes\": {\"time\": {\"gain\": 0.5}}, \"attrs\": %s, \"key\": \"k\"}}"

static void
s_feed_attrs(rig_t *r, const char *attrs)
{
    free(r->payload);
    size_t len = sizeof ATTRS_PAYLOAD + strlen(attrs);
    r->payload = malloc(len);
    cr_assert_not_null(r->payload);
    s_feed_payload(r, (size_t) snprintf(r->payload, len, ATTRS_PAYLOAD, attrs));
}

/*  The published blob, read back through a mirror. */
static const ezshm_node_t *
s_read(const char *name, ezshm_tree_t *tree, uint32_t *gen)
{
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    char err[160];
    int rc = ezshm_mirror_meta(m, tree, gen, err, sizeof err);
    ezshm_mirror_destroy(&m);
    cr_assert_eq(rc, EZSHM_OK, "%s: %s", ezshm_strerror(rc), err);
    return ezshm_tree_root(tree);
}

Test(stream_meta, ezmsg_zmq_fixtures_give_ezmsg_tools_bytes)
{
    cJSON *manifest = shmt_load_fixture("shm-aux-meta/manifest.json");
    const cJSON *fx;
    int identical = 0;
    cJSON_ArrayForEach(fx, cJSON_GetObjectItem(manifest, "fixtures")) {
        const char *name = cJSON_GetObjectItem(fx, "shmem_name")->valuestring;
        rig_t r;
        s_rig(&r, name, EZSHM_LAYOUT_V1);
        s_feed(&r, "ezmsg-zmq", cJSON_GetObjectItem(fx, "ezmsg_zmq_fixture")->valuestring);
        char seg[EZSHM_SHORT_NAME_SIZE];
        ezshm_aux_segment_name(name, 1, seg);
        size_t len;
        uint8_t *blob = support_read_file(shmt_seg_path(seg), &len);
        cr_assert_not_null(blob, "%s: no aux segment", name);
        char hex[65];
        support_wire_sha256(blob, len, hex);
        bool pickle_attr = strstr(name, "pickle_fallback") != NULL;
        if (!pickle_attr)
            cr_expect_str_eq(hex, cJSON_GetObjectItem(fx, "blob_sha256")->valuestring, "%s", name);
        identical += strcmp(hex, cJSON_GetObjectItem(fx, "blob_sha256")->valuestring) == 0;
        /*  The same message again republishes nothing. */
        s_feed(&r, "ezmsg-zmq", cJSON_GetObjectItem(fx, "ezmsg_zmq_fixture")->valuestring);
        cr_expect_eq(ezshm_writer_aux_generation(r.writer), 1);
        cr_expect_eq(stream_meta_builds(r.meta), 1, "%s: an unchanged message is not mapped again", name);
        if (pickle_attr) {
            ezshm_tree_t *tree = ezshm_tree_new();
            uint32_t gen;
            const ezshm_node_t *attrs = ezshm_node_get(s_read(name, tree, &gen), "attrs");
            cr_expect_null(ezshm_node_get(attrs, "count"), "_pickle attrs are never unpickled");
            cr_expect_str_eq(ezshm_node_str(ezshm_node_get(attrs, "ok")), "yes");
            ezshm_tree_destroy(&tree);
        }
        free(blob);
        s_rig_free(&r);
    }
    cr_expect_eq(identical, 7);
    cJSON_Delete(manifest);
}

Test(stream_meta, axes_real_producers_send)
{
    const char *name = shmt_unique_name();
    rig_t r;
    s_rig(&r, name, EZSHM_LAYOUT_V1);
    ezshm_tree_t *tree = ezshm_tree_new();
    uint32_t gen;
    s_feed(&r, "ezmsg-zmq-more", "f32_ch_object_coords.json");
    const ezshm_node_t *axes = ezshm_node_get(s_read(name, tree, &gen), "axes");
    cr_expect_not_null(ezshm_node_get(axes, "time"));
    cr_expect_null(ezshm_node_get(axes, "ch"), "an object array is left out");
    s_feed(&r, "ezmsg-zmq-more", "f32_ch_structured.json");
    const ezshm_node_t *ch = ezshm_node_get(ezshm_node_get(s_read(name, tree, &gen), "axes"), "ch");
    const ezshm_node_t *data = ezshm_node_get(ch, "data");
    cr_assert_not_null(data);
    cr_expect_eq(data->descr->kind, 'V');
    cr_expect_eq(data->descr->nfields, 5);
    cr_expect_eq(gen, 2);
    s_feed(&r, "ezmsg-zmq-more", "u16_ch_2d_positions.json");
    const ezshm_node_t *pos = ezshm_node_get(ezshm_node_get(s_read(name, tree, &gen), "axes"), "pos");
    cr_expect_str_eq(ezshm_node_str(ezshm_node_get(pos, "unit")), "mm");
    cr_expect_eq(ezshm_node_get(pos, "data")->ndim, 2);
    cr_expect_eq(ezshm_node_get(pos, "dims")->n, 2);
    ezshm_tree_destroy(&tree);
    s_rig_free(&r);
}

Test(stream_meta, legacy_streams_publish_nothing)
{
    const char *name = shmt_unique_name();
    rig_t r;
    s_rig(&r, name, EZSHM_LAYOUT_LEGACY);
    s_feed(&r, "ezmsg-zmq", "f32_time_ch_linear.json");
    cr_expect_eq(ezshm_writer_aux_generation(r.writer), 0);
    cr_expect_eq(stream_meta_builds(r.meta), 0);
    char seg[EZSHM_SHORT_NAME_SIZE];
    ezshm_aux_segment_name(name, 1, seg);
    cr_expect(!shmt_seg_exists(seg));
    s_rig_free(&r);
}

Test(stream_meta, a_rename_gets_the_metadata_again_without_a_new_message_shape)
{
    const char *name = shmt_unique_name();
    rig_t r;
    s_rig(&r, name, EZSHM_LAYOUT_V1);
    s_feed(&r, "ezmsg-zmq", "f32_time_ch_linear.json");
    const char *other = shmt_unique_name();
    cr_assert_eq(ezshm_writer_rename(r.writer, other, EZSHM_LAYOUT_V1), EZSHM_OK);
    s_feed(&r, "ezmsg-zmq", "f32_time_ch_linear.json");
    cr_expect_eq(ezshm_writer_aux_generation(r.writer), 1, "the new header has the metadata");
    cr_expect_eq(stream_meta_builds(r.meta), 1, "from the blob already made");
    s_rig_free(&r);
}

/*  Issue 22: ints in [2^63, 2^64-1] and strings with a lone surrogate escape are kept
    (Python keeps them); an array numpy 1.x cannot load (33 dims, a wrapped shape) is left
    out, the rest of the attrs stays. */
Test(stream_meta, attrs_keep_what_python_keeps_and_drop_what_it_cannot_load)
{
    const char *name = shmt_unique_name();
    rig_t r;
    s_rig(&r, name, EZSHM_LAYOUT_V1);
    s_feed_attrs(&r, "{\"u\": 9223372036854775808, \"m\": 18446744073709551615, "
                     "\"w\": 18446744073709551616, \"n\": -9223372036854775808, "
                     "\"s\": \"a\\udc80b\", \"p\": \"\\ud83d\\ude00\", "
                     "\"d\": {\"_type\": \"_ndarray\", \"dtype\": \"<f8\", \"data\": \"AAAAAAAAAAA=\", "
                     "\"shape\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}, "
                     "\"z\": {\"_type\": \"_ndarray\", \"dtype\": \"uint8\", \"data\": \"\", "
                     "\"shape\": [9223372036854775808, 0]}}");
    ezshm_tree_t *tree = ezshm_tree_new();
    uint32_t gen;
    const ezshm_node_t *attrs = ezshm_node_get(s_read(name, tree, &gen), "attrs");
    cr_assert_not_null(attrs);
    const ezshm_node_t *u = ezshm_node_get(attrs, "u"), *m = ezshm_node_get(attrs, "m");
    cr_assert(u && m && u->u64 && m->u64);
    cr_expect_eq((uint64_t) u->integer, (uint64_t) 1 << 63);
    cr_expect_eq((uint64_t) m->integer, UINT64_MAX);
    cr_expect_eq(ezshm_node_get(attrs, "n")->integer, INT64_MIN);
    cr_expect_str_eq(ezshm_node_str(ezshm_node_get(attrs, "p")), "\xf0\x9f\x98\x80");
    /*  Python's json keeps "a\udc80b"; its pickle writes the surrogate's bytes. */
    cr_expect_str_eq(ezshm_node_str(ezshm_node_get(attrs, "s")), "a\xed\xb2\x80" "b");
    cr_expect_eq(attrs->n, 5, "w (65 bits), d (33 dims), z (wraps) left out");
    ezshm_tree_destroy(&tree);
    s_rig_free(&r);
}

/*  Issue 21: attrs over WIRE_ATTRS_MAX_NODES values go as a whole, counted; the samples
    and the rest of the metadata are published. */
Test(stream_meta, attrs_over_the_bound_are_left_out_and_counted)
{
    const char *name = shmt_unique_name();
    rig_t r;
    s_rig(&r, name, EZSHM_LAYOUT_V1);
    size_t n = WIRE_ATTRS_MAX_NODES / 2 + 10, cap = 24 * n + 16, used = 0;
    char *attrs = malloc(cap);
    cr_assert_not_null(attrs);
    used += (size_t) snprintf(attrs, cap, "{");
    for (size_t i = 0; i < n; i++)
        used += (size_t) snprintf(attrs + used, cap - used, "%s\"k%zu\": %zu", i ? ", " : "", i, i);
    snprintf(attrs + used, cap - used, "}");
    s_feed_attrs(&r, attrs);
    free(attrs);
    ezshm_tree_t *tree = ezshm_tree_new();
    uint32_t gen;
    const ezshm_node_t *root = s_read(name, tree, &gen);
    cr_expect_eq(ezshm_node_get(root, "attrs")->n, 0);
    cr_expect_not_null(ezshm_node_get(ezshm_node_get(root, "axes"), "time"));
    cr_expect_eq(wire_decoder_attrs_over(r.decoder), 1);
    ezshm_tree_destroy(&tree);
    s_rig_free(&r);
}
