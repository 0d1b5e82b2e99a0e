/*  test_ingest.c — wire → ingest → ring, against the reference sink of every fixture, and
    every rejection reason of the ingest step. */
#include "ezshm.h"
#include "ingest.h"
#include "support_shm.h"
#include "support_wire.h"
#include "wire.h"
#include "wire_base64.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ezshm_writer_t *writer;
    ingest_t       *ingest;
    wire_decoder_t *decoder;
} rig_t;

static rig_t
s_rig(const char *axis, double buf_dur, uint64_t max_bytes)
{
    shmt_setup();
    rig_t r;
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    if (max_bytes)
        opt.max_ring_bytes = max_bytes;
    cr_assert_eq(ezshm_writer_new(shmt_unique_name(), &opt, &r.writer), EZSHM_OK);
    r.ingest = ingest_new(r.writer, axis, buf_dur);
    r.decoder = wire_decoder_new();
    cr_assert(r.ingest && r.decoder);
    /*  As ezshmd's streams: base64 data is decoded by ingest, into the ring when it can be. */
    wire_decoder_defer_data(r.decoder, true);
    return r;
}

static void
s_rig_destroy(rig_t *r)
{
    ingest_destroy(&r->ingest);
    wire_decoder_destroy(&r->decoder);
    ezshm_writer_destroy(&r->writer);
}

/*  Decodes a multipart fixture and ingests it; returns the ingest result. */
static int
s_ingest_fixture(rig_t *r, const char *file, uint64_t *frames)
{
    size_t len;
    char *payload = support_wire_fixture(file, &len);
    cr_assert_not_null(payload, "fixture %s", file);
    wire_frame_t frames_in[2] = {{"pyref", 5}, {payload, len}};
    const axisarray_t *msg;
    cr_assert_eq(wire_decode(r->decoder, frames_in, 2, &msg), 0, "%s: %s", file,
                 wire_decoder_last_error(r->decoder));
    char err[256];
    int rc = ingest_message(r->ingest, msg, frames, err, sizeof err);
    free(payload);
    return rc;
}

/*  sha256 of the first `rows` ring rows, read back through the mirror's latest(). */
static void
s_ring_rows_sha(const char *name, uint64_t rows, char hex[65], ezshm_stream_info_t *info)
{
    ezshm_mirror_t *m;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    ezshm_mirror_info(m, info);
    uint8_t *buf = malloc(rows * info->frame_bytes);
    uint64_t got;
    cr_assert_eq(ezshm_mirror_latest(m, buf, rows, &got), EZSHM_OK);
    cr_assert_eq(got, rows);
    support_wire_sha256(buf, rows * info->frame_bytes, hex);
    free(buf);
    ezshm_mirror_destroy(&m);
}

Test(ingest, every_fixture_matches_the_reference_sink)
{
    cJSON *manifest = shmt_load_fixture("ezmsg-zmq/manifest.json");
    cr_assert_not_null(manifest);
    cJSON *fixture;
    int checked = 0;
    cJSON_ArrayForEach(fixture, cJSON_GetObjectItem(manifest, "fixtures")) {
        const char *file = cJSON_GetObjectItem(fixture, "file")->valuestring;
        cJSON *ref = cJSON_GetObjectItem(fixture, "reference_sink");
        rig_t r = s_rig("time", cJSON_GetObjectItem(ref, "buf_dur")->valuedouble, 0);
        uint64_t frames;
        cr_assert_eq(s_ingest_fixture(&r, file, &frames), DROP_OK, "%s", file);
        const ezshm_meta_t *meta = ezshm_writer_meta(r.writer);
        cr_expect_eq(meta->dtype, cJSON_GetObjectItem(ref, "dtype_char")->valuestring[0], "%s dtype", file);
        cr_expect_eq(meta->srate, cJSON_GetObjectItem(ref, "srate")->valuedouble, "%s srate", file);
        cr_expect_eq(meta->ndim, (uint32_t) cJSON_GetObjectItem(ref, "ndim")->valueint, "%s ndim", file);
        cJSON *dim;
        int d = 0;
        cJSON_ArrayForEach(dim, cJSON_GetObjectItem(ref, "shape")) {
            cr_expect_eq(meta->shape[d], (uint32_t) dim->valuedouble, "%s shape[%d]", file, d);
            d++;
        }
        cr_expect_eq(meta->buffer_generation, (uint32_t) cJSON_GetObjectItem(ref, "buffer_generation")->valueint);
        cr_expect_eq(meta->write_index, (uint64_t) cJSON_GetObjectItem(ref, "write_index")->valuedouble, "%s", file);
        cr_expect_eq(meta->wrap_counter, (uint64_t) cJSON_GetObjectItem(ref, "wrap_counter")->valuedouble);
        const char *key = cJSON_GetObjectItem(ref, "key")->valuestring;
        cr_expect_eq(meta->key_len, strlen(key));
        cr_expect(memcmp(meta->key, key, strlen(key)) == 0, "%s key", file);
        char hex[65];
        ezshm_stream_info_t info;
        s_ring_rows_sha(ezshm_writer_name(r.writer), frames, hex, &info);
        cr_expect_str_eq(hex, cJSON_GetObjectItem(ref, "ring_rows_sha256")->valuestring, "%s rows", file);
        cr_expect_str_eq(hex, cJSON_GetObjectItem(fixture, "data_sha256_time_first")->valuestring);
        s_rig_destroy(&r);
        checked++;
    }
    cr_assert_eq(checked, 8);
    cJSON_Delete(manifest);
}

/*  Builds a native message [topic, header, data] with the given dims/shape/time axis. */
static int
s_ingest_native(rig_t *r, const char *const *dims, const size_t *shape, size_t ndim, char dtype,
                const void *data, size_t nbytes, double gain, bool big_endian, char *err)
{
    wire_message_t m = {.topic = "t", .key = "k", .ndim = ndim, .dims = dims, .shape = shape,
                        .dtype = dtype, .big_endian = big_endian, .data = data, .nbytes = nbytes,
                        .time_dim = "time", .gain = gain};
    wire_buf_t header = {0};
    cr_assert_eq(wire_encode_native(&m, &header), 0);
    wire_frame_t frames[3] = {{"t", 1}, {header.data, header.size}, {data, nbytes}};
    const axisarray_t *msg;
    int rc = wire_decode(r->decoder, frames, 3, &msg);
    cr_assert_eq(rc, 0, "%s", wire_decoder_last_error(r->decoder));
    uint64_t n;
    rc = ingest_message(r->ingest, msg, &n, err, 256);
    wire_buf_free(&header);
    return rc;
}

/*  The ezmsg JSON form of an int16 message, decoded (its base64 deferred) and ingested. */
static int
s_ingest_json(rig_t *r, const char *const *dims, const size_t *shape, size_t ndim,
              const int16_t *data, size_t nbytes)
{
    wire_message_t m = {.topic = "t", .key = "k", .ndim = ndim, .dims = dims, .shape = shape,
                        .dtype = 'h', .data = data, .nbytes = nbytes, .time_dim = "time",
                        .gain = 0.01};
    wire_buf_t payload = {0};
    cr_assert_eq(wire_encode_ezmsg(&m, &payload), 0);
    wire_frame_t frames[2] = {{"t", 1}, {payload.data, payload.size}};
    const axisarray_t *msg;
    cr_assert_eq(wire_decode(r->decoder, frames, 2, &msg), 0, "%s", wire_decoder_last_error(r->decoder));
    /*  Deferred to ingest on a vector path; the scalar path decodes in wire_decode. */
    cr_assert_eq(axisarray_data(msg) == NULL, wire_base64_selected() != WIRE_BASE64_SCALAR);
    char err[256];
    uint64_t n;
    int rc = ingest_message(r->ingest, msg, &n, err, sizeof err);
    wire_buf_free(&payload);
    return rc;
}

/*  Deferred base64 into a ring of 10 frames of 10 bytes, 7 frames a message: the writes
    wrap at every offset, and the cut mostly falls inside a 3-byte group (10, 20, 40 ... are not
    multiples of 3). Time first and after a size-1 dim decode straight into the ring; time
    last goes through one buffer and moves. Each message reads back exactly. */
Test(ingest, deferred_base64_wraps_the_ring_at_any_byte)
{
    enum { T = 7, C = 5 };
    const char *layouts[3][3] = {{"time", "ch"}, {"one", "time", "ch"}, {"ch", "time"}};
    const size_t shapes[3][3] = {{T, C}, {1, T, C}, {C, T}};
    const size_t ndims[3] = {2, 3, 2};
    for (int l = 0; l < 3; l++) {
        rig_t r = s_rig("time", 0.1, 0);
        ezshm_mirror_t *m = NULL;
        for (int msgno = 0; msgno < 12; msgno++) {
            int16_t sent[T * C], want[T][C], out[T][C];
            for (int t = 0; t < T; t++)
                for (int c = 0; c < C; c++) {
                    want[t][c] = (int16_t) (msgno * 1000 + t * 37 - c * 5003);
                    sent[l == 2 ? c * T + t : t * C + c] = want[t][c];
                }
            cr_assert_eq(s_ingest_json(&r, layouts[l], shapes[l], ndims[l], sent, sizeof sent), DROP_OK);
            if (!m) {
                cr_assert_eq(ezshm_mirror_new(ezshm_writer_name(r.writer), &m), EZSHM_OK);
                cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
                cr_assert_eq(ezshm_writer_meta(r.writer)->shape[0], 10);
            }
            uint64_t got;
            cr_assert_eq(ezshm_mirror_latest(m, out, T, &got), EZSHM_OK);
            cr_assert_eq(got, T);
            cr_assert(memcmp(out, want, sizeof want) == 0, "layout %d message %d", l, msgno);
        }
        ezshm_mirror_destroy(&m);
        s_rig_destroy(&r);
    }
}

Test(ingest, moves_a_middle_axis_of_a_4d_array_to_the_front)
{
    rig_t r = s_rig("time", 1.0, 0);
    enum { A = 2, T = 5, B = 3, C = 4 };
    const char *dims[] = {"a", "time", "b", "c"};
    size_t shape[] = {A, T, B, C};
    int32_t src[A][T][B][C];
    for (int a = 0; a < A; a++)
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    src[a][t][b][c] = a * 1000 + t * 100 + b * 10 + c;
    char err[256];
    cr_assert_eq(s_ingest_native(&r, dims, shape, 4, 'i', src, sizeof src, 0.01, false, err), DROP_OK, "%s", err);
    const ezshm_meta_t *meta = ezshm_writer_meta(r.writer);
    cr_assert_eq(meta->ndim, 4);
    cr_assert_eq(meta->shape[0], 100);
    cr_assert_eq(meta->shape[1], A);
    cr_assert_eq(meta->shape[2], B);
    cr_assert_eq(meta->shape[3], C);
    ezshm_mirror_t *m;
    ezshm_mirror_new(ezshm_writer_name(r.writer), &m);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    int32_t out[T][A][B][C];
    uint64_t got;
    cr_assert_eq(ezshm_mirror_latest(m, out, T, &got), EZSHM_OK);
    cr_assert_eq(got, T);
    for (int t = 0; t < T; t++)
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    cr_assert_eq(out[t][a][b][c], src[a][t][b][c]);
    ezshm_mirror_destroy(&m);
    s_rig_destroy(&r);
}

Test(ingest, big_endian_channel_first_data_is_swapped_and_transposed)
{
    rig_t r = s_rig("time", 1.0, 0);
    const char *dims[] = {"ch", "time"};
    size_t shape[] = {3, 4};
    int16_t le[3][4], be[3][4];
    for (int c = 0; c < 3; c++)
        for (int t = 0; t < 4; t++) {
            le[c][t] = (int16_t) (c * 300 - t * 7 - 1000);
            uint16_t u = (uint16_t) le[c][t];
            be[c][t] = (int16_t) (uint16_t) ((u >> 8) | (u << 8));
        }
    char err[256];
    cr_assert_eq(s_ingest_native(&r, dims, shape, 2, 'h', be, sizeof be, 0.001, true, err), DROP_OK, "%s", err);
    ezshm_mirror_t *m;
    ezshm_mirror_new(ezshm_writer_name(r.writer), &m);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    int16_t out[4][3];
    uint64_t got;
    cr_assert_eq(ezshm_mirror_latest(m, out, 4, &got), EZSHM_OK);
    cr_assert_eq(got, 4);
    for (int t = 0; t < 4; t++)
        for (int c = 0; c < 3; c++)
            cr_assert_eq(out[t][c], le[c][t]);
    ezshm_mirror_destroy(&m);
    s_rig_destroy(&r);
}

Test(ingest, rejections_are_reported_and_the_next_message_lands)
{
    rig_t r = s_rig("time", 1.0, 4096);
    const char *dims[] = {"time", "ch"};
    float data[64 * 8] = {0};
    size_t shape[] = {4, 2};
    char err[256];
    cr_assert_eq(s_ingest_native(&r, dims, shape, 2, 'f', data, 4 * 2 * 4, 0.0, false, err), INGEST_ERR_BAD_GAIN);
    cr_assert_eq(s_ingest_native(&r, dims, shape, 2, 'f', data, 4 * 2 * 4, -1.0, false, err), INGEST_ERR_BAD_GAIN);
    cr_assert_eq(s_ingest_native(&r, dims, shape, 2, 'f', data, 4 * 2 * 4, INFINITY, false, err), INGEST_ERR_BAD_GAIN);
    const char *other[] = {"x", "ch"};
    cr_assert_eq(s_ingest_native(&r, other, shape, 2, 'f', data, 4 * 2 * 4, 0.001, false, err), INGEST_ERR_AXIS_MISSING);
    cr_assert(strstr(err, "time") != NULL);
    size_t empty[] = {0, 2};
    cr_assert_eq(s_ingest_native(&r, dims, empty, 2, 'f', data, 0, 0.001, false, err), INGEST_ERR_EMPTY);
    /* 1 s at 1 kHz x 2 ch x 4 bytes = 8000 bytes > 4096 */
    cr_assert_eq(s_ingest_native(&r, dims, shape, 2, 'f', data, 4 * 2 * 4, 0.001, false, err), INGEST_ERR_TOO_BIG);
    cr_assert_not(ezshm_writer_has_ring(r.writer));
    /* 1 s at 100 Hz x 2 ch x 4 bytes = 800 bytes: lands */
    cr_assert_eq(s_ingest_native(&r, dims, shape, 2, 'f', data, 4 * 2 * 4, 0.01, false, err), DROP_OK, "%s", err);
    cr_assert_eq(ezshm_writer_meta(r.writer)->write_index, 4);
    s_rig_destroy(&r);
}

Test(ingest, coordinate_axis_jitter_keeps_the_ring)
{
    rig_t r = s_rig("time", 1.0, 0);
    const char *dims[] = {"time", "ch"};
    size_t shape[] = {4, 2};
    float data[8] = {0};
    double t1[] = {0.0, 0.010, 0.020, 0.030}, t2[] = {0.040, 0.0509, 0.0611, 0.0702};
    const double *times[] = {t1, t2};
    for (int i = 0; i < 2; i++) {
        wire_message_t m = {.topic = "t", .key = "k", .ndim = 2, .dims = dims, .shape = shape, .dtype = 'f',
                            .data = data, .nbytes = sizeof data, .time_dim = "time",
                            .time_values = times[i], .n_time_values = 4};
        wire_buf_t header = {0};
        cr_assert_eq(wire_encode_native(&m, &header), 0);
        wire_frame_t frames[3] = {{"t", 1}, {header.data, header.size}, {data, sizeof data}};
        const axisarray_t *msg;
        cr_assert_eq(wire_decode(r.decoder, frames, 3, &msg), 0);
        uint64_t n;
        char err[256];
        cr_assert_eq(ingest_message(r.ingest, msg, &n, err, sizeof err), DROP_OK, "%s", err);
        wire_buf_free(&header);
    }
    const ezshm_meta_t *meta = ezshm_writer_meta(r.writer);
    cr_assert_eq(meta->buffer_generation, 0, "jitter must not rebuild the ring");
    cr_assert_eq(meta->shape[0], 100);
    cr_assert_eq(meta->srate, 0.0);
    cr_assert_eq(meta->write_index, 8);
    s_rig_destroy(&r);
}

typedef struct {
    int      calls;
    uint64_t last_bytes;
    uint64_t limit;
} budget_t;

static int
s_budget(void *arg, uint64_t ring_bytes, char *errbuf, size_t errlen)
{
    budget_t *b = arg;
    b->calls++;
    b->last_bytes = ring_bytes;
    if (ring_bytes <= b->limit)
        return DROP_OK;
    snprintf(errbuf, errlen, "over budget");
    return INGEST_ERR_TOO_BIG;
}

Test(ingest, budget_is_asked_before_each_new_ring_only)
{
    rig_t r = s_rig("time", 1.0, 0);
    budget_t b = {0, 0, 8000};
    ingest_set_budget(r.ingest, s_budget, &b);
    const char *dims[] = {"time", "ch"};
    float data[4 * 4] = {0};
    size_t two[] = {4, 2}, four[] = {4, 4};
    char err[256];
    /* 1 s at 1 kHz x 2 ch x 4 bytes = 8000 bytes: fits, asked once, then never again */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_ingest_native(&r, dims, two, 2, 'f', data, 4 * 2 * 4, 0.001, false, err), DROP_OK, "%s", err);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.last_bytes, 8000);
    /* 4 channels: 16000 bytes refused before the writer drops the live ring */
    cr_assert_eq(s_ingest_native(&r, dims, four, 2, 'f', data, 4 * 4 * 4, 0.001, false, err), INGEST_ERR_TOO_BIG);
    cr_assert_str_eq(err, "over budget");
    cr_assert_eq(b.calls, 2);
    cr_assert_eq(ezshm_writer_meta(r.writer)->write_index, 12, "the old ring is untouched");
    s_rig_destroy(&r);
}

/*  Native message with a time axis through ingest; returns the ingest result. */
static int
s_ingest_timed(rig_t *r, const char *const *dims, const size_t *shape, const float *data, size_t nbytes,
               double offset, double gain, const double *coords, size_t n_coords, uint64_t seq)
{
    wire_message_t m = {.topic = "t", .key = "k", .ndim = 2, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = data, .nbytes = nbytes, .time_dim = "time", .gain = gain, .offset = offset,
                        .time_values = coords, .n_time_values = n_coords, .has_seq = true, .seq = seq};
    wire_buf_t header = {0};
    cr_assert_eq(wire_encode_native(&m, &header), 0);
    wire_frame_t frames[3] = {{"t", 1}, {header.data, header.size}, {data, nbytes}};
    const axisarray_t *msg;
    cr_assert_eq(wire_decode(r->decoder, frames, 3, &msg), 0);
    uint64_t n;
    char err[256];
    int rc = ingest_message(r->ingest, msg, &n, err, sizeof err);
    wire_buf_free(&header);
    return rc;
}

Test(ingest, linear_and_coordinate_time_reach_the_clock_segment)
{
    rig_t r = s_rig("time", 1.0, 0);
    ezshm_mirror_t *m;
    const char *dims[] = {"ch", "time"};   /* time second: the moved-axis copy path */
    size_t shape[] = {2, 5};
    float data[10] = {0};
    double now = (double) ezshm_time_wall_ns() * 1e-9;
    /*  Linear: offset per message, as an ezmsg sender stamps time.time(). */
    cr_assert_eq(s_ingest_timed(&r, dims, shape, data, sizeof data, now - 0.5, 0.002, NULL, 0, 7), DROP_OK);
    cr_assert_eq(ezshm_mirror_new(ezshm_writer_name(r.writer), &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_assert_eq(s_ingest_timed(&r, dims, shape, data, sizeof data, now - 0.49, 0.002, NULL, 0, 8), DROP_OK);
    float buf[64];
    double t[32];
    uint64_t got, lost;
    cr_assert_eq(ezshm_mirror_read_ts(m, buf, 32, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got, 5);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(t[i], (now - 0.49) + i * 0.002);
    ezshm_newest_t nw;
    cr_assert_eq(ezshm_mirror_newest(m, &nw), EZSHM_OK);
    cr_expect_eq(nw.seq, 8);
    double delay;
    cr_assert(ingest_last_delay(r.ingest, &delay));
    cr_expect(delay > 0.48 && delay < 60.0, "delay %f", delay);
    /*  A relative time base (offset 3 s) is no wall clock: no delay. */
    cr_assert_eq(s_ingest_timed(&r, dims, shape, data, sizeof data, 3.0, 0.002, NULL, 0, 9), DROP_OK);
    cr_expect_not(ingest_last_delay(r.ingest, &delay));
    ezshm_mirror_destroy(&m);

    /*  Coordinate (time first: the contiguous path): every value. */
    const char *dims2[] = {"time", "ch"};
    size_t shape2[] = {5, 2};
    double c1[5] = {now, now + 0.0011, now + 0.0019, now + 0.0032, now + 0.0040};
    double c2[5] = {now + 0.0051, now + 0.0063, now + 0.0070, now + 0.0079, now + 0.0091};
    cr_assert_eq(s_ingest_timed(&r, dims2, shape2, data, sizeof data, 0, 0, c1, 5, 10), DROP_OK);
    cr_assert_eq(ezshm_mirror_new(ezshm_writer_name(r.writer), &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    cr_assert_eq(s_ingest_timed(&r, dims2, shape2, data, sizeof data, 0, 0, c2, 5, 11), DROP_OK);
    cr_assert_eq(ezshm_mirror_read_ts(m, buf, 32, &got, &lost, t), EZSHM_OK);
    cr_assert_eq(got, 5);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(t[i], c2[i]);
    cr_assert(ingest_last_delay(r.ingest, &delay));
    ezshm_mirror_destroy(&m);
    s_rig_destroy(&r);
}

Test(ingest, rebuilds_are_rate_limited)
{
    rig_t r = s_rig("time", 1.0, 0);
    const char *dims[] = {"time", "ch"};
    double data[4 * 2] = {0};
    size_t shape[] = {4, 2};
    char err[256];
    double t0 = ezshm_time_mono();
    int limited = 0;
    /*  Every message asks for the other dtype: while rebuilds are allowed each one is a
        rebuild; once limited, every other message matches the ring left and lands. */
    for (int i = 0; i < 40; i++) {
        int rc = s_ingest_native(&r, dims, shape, 2, i % 2 ? 'd' : 'f', data, 4 * 2 * (i % 2 ? 8 : 4), 0.01, false,
                                 err);
        if (rc != DROP_OK) {
            cr_assert_eq(rc, INGEST_ERR_REBUILD_RATE, "%s", err);
            cr_assert(strstr(err, "rebuilds a second") != NULL, "%s", err);
            limited++;
        }
    }
    uint32_t rebuilds = ezshm_writer_meta(r.writer)->buffer_generation + 1;
    double allowed = INGEST_REBUILD_BURST + INGEST_REBUILDS_PER_SECOND * (ezshm_time_mono() - t0);
    cr_expect_geq(rebuilds, (uint32_t) INGEST_REBUILD_BURST, "the burst is allowed");
    cr_expect_leq(rebuilds, (uint32_t) allowed, "%u rebuilds, at most %.1f allowed", rebuilds, allowed);
    cr_expect_geq(limited, (40 - (int) allowed) / 2 - 1, "%d limited", limited);
    s_rig_destroy(&r);
}
