/*  test_shm_header.c — header byte images vs the golden ShMemCircBuff headers (both layouts),
    layout detection and validation of hostile bytes. */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_init(void) { shmt_setup(); }
static void s_fini(void) { shmt_teardown(); }
TestSuite(shm_header, .init = s_init, .fini = s_fini);

/*  The raw float32 64x8 rows of ezmsg-zmq/f32_time_ch_linear.json (malloc'd). */
static uint8_t *
s_fixture_rows(size_t *size)
{
    cJSON *root = shmt_load_fixture("ezmsg-zmq/f32_time_ch_linear.json");
    cr_assert_not_null(root);
    cJSON *data = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "obj"), "data"), "data");
    cr_assert(cJSON_IsString(data));
    size_t b64len = strlen(data->valuestring);
    uint8_t *bin = malloc(b64len);
    size_t n = 0;
    cr_assert_eq(sodium_base642bin(bin, b64len, data->valuestring, b64len, NULL, &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    cJSON_Delete(root);
    *size = n;
    return bin;
}

static const char *
s_manifest_ring_sha(void)
{
    static char sha[65];
    cJSON *root = shmt_load_fixture("ezmsg-zmq/manifest.json");
    cr_assert_not_null(root);
    cJSON *fx;
    cJSON_ArrayForEach(fx, cJSON_GetObjectItem(root, "fixtures")) {
        cJSON *name = cJSON_GetObjectItem(fx, "name");
        if (cJSON_IsString(name) && !strcmp(name->valuestring, "f32_time_ch_linear")) {
            cJSON *rs = cJSON_GetObjectItem(cJSON_GetObjectItem(fx, "reference_sink"), "ring_rows_sha256");
            cr_assert(cJSON_IsString(rs));
            snprintf(sha, sizeof sha, "%s", rs->valuestring);
        }
    }
    cJSON_Delete(root);
    cr_assert_eq(strlen(sha), 64);
    return sha;
}

static void
s_golden(ezshm_layout_t layout)
{
    cJSON *root = shmt_load_fixture("shm-header-layout.json");
    cr_assert_not_null(root);
    cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "versions"),
                                   layout == EZSHM_LAYOUT_V1 ? "v1" : "legacy"), "golden");
    cr_assert_not_null(g);
    size_t before_n, after_n;
    uint8_t *before = shmt_hex_decode(cJSON_GetObjectItem(g, "header_before_first_message_hex")->valuestring, &before_n);
    uint8_t *after = shmt_hex_decode(cJSON_GetObjectItem(g, "header_after_first_message_hex")->valuestring, &after_n);
    cJSON *segs = cJSON_GetObjectItem(g, "segments");
    size_t hdr_size = (size_t) cJSON_GetObjectItem(segs, "header_segment_size")->valuedouble;
    long long ring_size = (long long) cJSON_GetObjectItem(segs, "buffer_segment_size")->valuedouble;
    const char *hdr_seg = cJSON_GetObjectItem(segs, "header")->valuestring;
    const char *ring_seg = cJSON_GetObjectItem(segs, "buffer")->valuestring;
    cr_assert_eq(before_n, hdr_size);
    cr_assert_eq(after_n, hdr_size);
    cr_assert_eq(ezshm_header_size(layout), hdr_size);

    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new("pyref_golden", &opt, &w), EZSHM_OK);
    cr_expect_str_eq(ezshm_writer_header_segment(w), hdr_seg);

    size_t n;
    uint8_t *bytes = support_read_file(shmt_seg_path(hdr_seg), &n);
    cr_assert_not_null(bytes, "header segment file %s missing", hdr_seg);
    cr_assert_eq(n, hdr_size);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(bytes[i], before[i], "%s before: byte %zu is %02x, golden %02x",
                     ezshm_layout_name(layout), i, bytes[i], before[i]);
    free(bytes);

    /*  One chunk: float32 64x8, fs 1000, buf_dur 1 -> 1000 frames, key f32-linear. */
    uint64_t frames = 0;
    cr_assert_eq(ezshm_ring_frames(1.0, 1000.0, &frames), EZSHM_OK);
    cr_assert_eq(frames, 1000);
    uint64_t frame_shape[1] = {8};
    ezshm_ring_spec_t spec = {'f', 1000.0, frames, 1, frame_shape, "f32-linear", 10};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
    size_t rows_n;
    uint8_t *rows = s_fixture_rows(&rows_n);
    cr_assert_eq(rows_n, 64 * 8 * 4);
    cr_assert_eq(ezshm_writer_write(w, rows, 64), EZSHM_OK);

    cr_expect_str_eq(ezshm_writer_ring_segment(w), ring_seg);
    cr_expect_eq(shmt_seg_size(ring_seg), ring_size);
    cr_expect_eq(ring_size, 32000);
    bytes = support_read_file(shmt_seg_path(hdr_seg), &n);
    cr_assert_eq(n, hdr_size);
    size_t masked_from = layout == EZSHM_LAYOUT_V1 ? 1326 : n;   /* meta_generation, aux_nbytes */
    for (size_t i = 0; i < n; i++) {
        if (i >= masked_from)
            cr_assert_eq(bytes[i], 0, "v1 byte %zu (meta_generation/aux_nbytes) must be 0", i);
        else
            cr_assert_eq(bytes[i], after[i], "%s after: byte %zu is %02x, golden %02x",
                         ezshm_layout_name(layout), i, bytes[i], after[i]);
    }
    if (layout == EZSHM_LAYOUT_LEGACY) {
        /*  Legacy is fully golden: its sha256 matches the fixture's too. */
        unsigned char digest[32];
        char hex[65];
        crypto_hash_sha256(digest, bytes, n);
        sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
        cr_expect_str_eq(hex, cJSON_GetObjectItem(g, "header_after_sha256")->valuestring);
    }
    free(bytes);

    /*  Ring rows: exactly the chunk's bytes, sha256 as the Python reference sink's. */
    uint8_t *ring = support_read_file(shmt_seg_path(ring_seg), &n);
    cr_assert_eq(n, 32000);
    cr_expect_eq(memcmp(ring, rows, rows_n), 0);
    unsigned char digest[32];
    char hex[65];
    crypto_hash_sha256(digest, ring, rows_n);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    cr_expect_str_eq(hex, s_manifest_ring_sha());
    free(ring);

    free(rows);
    free(before);
    free(after);
    ezshm_writer_destroy(&w);
    cr_expect_not(shmt_seg_exists(hdr_seg));
    cr_expect_not(shmt_seg_exists(ring_seg));
    cJSON_Delete(root);
}

Test(shm_header, golden_legacy_before_and_after_first_chunk) { s_golden(EZSHM_LAYOUT_LEGACY); }
Test(shm_header, golden_v1_before_and_after_first_chunk) { s_golden(EZSHM_LAYOUT_V1); }

Test(shm_header, fixture_offsets_match_structs)
{
    cJSON *root = shmt_load_fixture("shm-header-layout.json");
    cr_assert_not_null(root);
    const char *layouts[2] = {"legacy", "v1"};
    for (int l = 0; l < 2; l++) {
        cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "versions"), layouts[l]);
        size_t base = l ? 8 : 0;
        cr_expect_eq((size_t) cJSON_GetObjectItem(v, "total_size")->valuedouble,
                     ezshm_header_size(l ? EZSHM_LAYOUT_V1 : EZSHM_LAYOUT_LEGACY));
        cJSON *f;
        int checked = 0;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(v, "fields")) {
            const char *name = cJSON_GetObjectItem(f, "name")->valuestring;
            size_t off = (size_t) cJSON_GetObjectItem(f, "offset")->valuedouble;
            size_t size = (size_t) cJSON_GetObjectItem(f, "size")->valuedouble;
            size_t want = (size_t) -1, want_size = 0;
#define F(fname, member) if (!strcmp(name, fname)) { want = base + offsetof(ezshm_meta_t, member); \
                                                       want_size = sizeof(((ezshm_meta_t *) 0)->member); }
            F("bvalid", bvalid) F("dtype", dtype) F("srate", srate) F("ndim", ndim) F("shape", shape)
            F("buffer_generation", buffer_generation) F("wrap_counter", wrap_counter)
            F("_key_bytes", key) F("_key_len", key_len) F("write_index", write_index)
#undef F
            if (!strcmp(name, "magic")) { want = offsetof(ezshm_header_v1_t, magic); want_size = 4; }
            if (!strcmp(name, "struct_version")) { want = offsetof(ezshm_header_v1_t, struct_version); want_size = 4; }
            if (!strcmp(name, "meta_generation")) { want = offsetof(ezshm_header_v1_t, meta_generation); want_size = 4; }
            if (!strcmp(name, "aux_nbytes")) { want = offsetof(ezshm_header_v1_t, aux_nbytes); want_size = 4; }
            cr_expect_eq(off, want, "%s.%s offset %zu, ours %zu", layouts[l], name, off, want);
            cr_expect_eq(size, want_size, "%s.%s size", layouts[l], name);
            checked++;
        }
        cr_expect_eq(checked, l ? 14 : 10);
    }
    cJSON_Delete(root);
}

Test(shm_header, placeholders_and_detection)
{
    uint8_t buf[1334];
    memset(buf, 0xAB, sizeof buf);
    ezshm_header_init(buf, EZSHM_LAYOUT_LEGACY);
    for (size_t i = 0; i < 1318; i++)
        cr_assert_eq(buf[i], (i >= 270 && i < 274) ? 0xFF : 0, "legacy placeholder byte %zu", i);
    cr_expect_eq(buf[1318], 0xAB, "init wrote past the legacy header");
    ezshm_layout_t layout = EZSHM_LAYOUT_V1;
    cr_expect_eq(ezshm_header_detect(buf, 1318, &layout), EZSHM_OK);
    cr_expect_eq(layout, EZSHM_LAYOUT_LEGACY);
    cr_expect_eq(ezshm_header_detect(buf, 1317, &layout), EZSHM_ERR_HEADER);

    ezshm_header_init(buf, EZSHM_LAYOUT_V1);
    static const uint8_t prefix[8] = {0x53, 0x4D, 0x5A, 0x45, 1, 0, 0, 0};
    cr_expect_eq(memcmp(buf, prefix, 8), 0);
    for (size_t i = 8; i < 1334; i++)
        cr_assert_eq(buf[i], (i >= 278 && i < 282) ? 0xFF : 0, "v1 placeholder byte %zu", i);
    cr_expect_eq(ezshm_header_detect(buf, 1334, &layout), EZSHM_OK);
    cr_expect_eq(layout, EZSHM_LAYOUT_V1);
    cr_expect_eq(ezshm_header_detect(buf, 1333, &layout), EZSHM_ERR_HEADER);
    buf[4] = 2;   /* struct_version 2: unknown */
    cr_expect_eq(ezshm_header_detect(buf, 1334, &layout), EZSHM_ERR_HEADER);
    memset(buf, 0, sizeof buf);
    buf[0] = 2;   /* bvalid not a bool */
    cr_expect_eq(ezshm_header_detect(buf, 1318, &layout), EZSHM_ERR_HEADER);
    cr_expect_eq(ezshm_header_detect(NULL, 1318, &layout), EZSHM_ERR_INVAL);

    cr_expect_str_eq(ezshm_layout_name(EZSHM_LAYOUT_LEGACY), "legacy");
    cr_expect_str_eq(ezshm_layout_name(EZSHM_LAYOUT_V1), "v1");
    cr_expect_eq(ezshm_layout_parse("v1", &layout), EZSHM_OK);
    cr_expect_eq(layout, EZSHM_LAYOUT_V1);
    cr_expect_eq(ezshm_layout_parse("legacy", &layout), EZSHM_OK);
    cr_expect_eq(layout, EZSHM_LAYOUT_LEGACY);
    cr_expect_eq(ezshm_layout_parse("v2", &layout), EZSHM_ERR_INVAL);
}

static void
s_valid_meta(ezshm_meta_t *m)
{
    memset(m, 0, sizeof *m);
    m->bvalid = 1;
    m->dtype = 'd';
    m->ndim = 3;
    m->shape[0] = 100;
    m->shape[1] = 4;
    m->shape[2] = 2;
    m->key_len = 3;
    memcpy(m->key, "abc", 3);
}

Test(shm_header, validate_accepts_good_and_rejects_each_bad_field)
{
    ezshm_meta_t m;
    uint64_t fb = 0, rb = 0;
    s_valid_meta(&m);
    cr_assert_eq(ezshm_header_validate(&m, &fb, &rb), EZSHM_OK);
    cr_expect_eq(fb, 64);
    cr_expect_eq(rb, 6400);
    m.write_index = 100;   /* == shape[0]: Python leaves it so */
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_OK);
    m.write_index = 101;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    s_valid_meta(&m); m.ndim = 0;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    s_valid_meta(&m); m.ndim = 65;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    s_valid_meta(&m); m.ndim = 0xFFFFFFFFu;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    s_valid_meta(&m); m.dtype = 'x';
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_DTYPE);
    s_valid_meta(&m); m.dtype = 0;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_DTYPE);
    s_valid_meta(&m); m.key_len = 1025;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    s_valid_meta(&m); m.key_len = 1024;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_OK);
    s_valid_meta(&m); m.shape[0] = 0;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    s_valid_meta(&m); m.shape[2] = 0;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    /*  64 dims of 0xFFFFFFFF: the product overflows 64 bits. */
    s_valid_meta(&m); m.ndim = 64;
    for (int d = 0; d < 64; d++)
        m.shape[d] = 0xFFFFFFFFu;
    cr_expect_eq(ezshm_header_validate(&m, NULL, NULL), EZSHM_ERR_HEADER);
    /*  ndim 64 with ones: fine, frame = itemsize. */
    s_valid_meta(&m); m.ndim = 64;
    for (int d = 1; d < 64; d++)
        m.shape[d] = 1;
    cr_expect_eq(ezshm_header_validate(&m, &fb, &rb), EZSHM_OK);
    cr_expect_eq(fb, 8);
    cr_expect_eq(rb, 800);
    /*  Extents past ndim are ignored. */
    s_valid_meta(&m); m.ndim = 1; m.shape[1] = 0;
    cr_expect_eq(ezshm_header_validate(&m, &fb, &rb), EZSHM_OK);
    cr_expect_eq(fb, 8);
    cr_expect_eq(ezshm_header_validate(NULL, NULL, NULL), EZSHM_ERR_INVAL);
}

Test(shm_header, publish_and_position_round_trip)
{
    ezshm_meta_t m;
    s_valid_meta(&m);
    ezshm_header_publish(&m, 42, 7);
    cr_expect_eq(m.write_index, 42);
    cr_expect_eq(m.wrap_counter, 7);
    uint64_t idx = 0, wraps = 0;
    cr_assert(ezshm_header_position(&m, &idx, &wraps));
    cr_expect_eq(idx, 42);
    cr_expect_eq(wraps, 7);
    ezshm_header_set_valid(&m, false);
    cr_expect_eq(m.bvalid, 0);
    cr_expect_not(ezshm_header_valid(&m));
    ezshm_header_set_valid(&m, true);
    cr_expect_eq(m.bvalid, 1);
    cr_expect(ezshm_header_valid(&m));
    m.buffer_generation = 0xFFFFFFFFu;
    cr_expect_eq(ezshm_header_generation(&m), 0xFFFFFFFFu);
    /*  ezshm_header_meta: v1 fields at +8. */
    uint8_t buf[1334];
    cr_expect_eq((uint8_t *) ezshm_header_meta(buf, EZSHM_LAYOUT_V1), buf + 8);
    cr_expect_eq((uint8_t *) ezshm_header_meta(buf, EZSHM_LAYOUT_LEGACY), buf);
}
