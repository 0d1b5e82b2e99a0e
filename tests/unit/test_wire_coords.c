/*  test_wire_coords.c — coordinate axes real producers send (ezmsg-zmq-more fixtures:
    structured, bytes, complex, object, 2-D): every message decodes in both framings with its
    data intact, the arrays are kept as sent for the metadata, an object array is left out
    and counted; the strict parser of numpy's descr-list string form. */
#include "support_file.h"
#include "support_wire.h"
#include "numpy_dtype.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *
s_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    cr_assert(cJSON_IsString(item), "manifest field %s", key);
    return item->valuestring;
}

/*  Decodes fixture `file` (multipart) or its single-part twin; the decoder keeps it. */
static const axisarray_t *
s_decode(wire_decoder_t *d, const cJSON *fx, bool single, char **keep)
{
    size_t len;
    const axisarray_t *aa = NULL;
    int rc;
    if (single) {
        *keep = support_fixture_in("ezmsg-zmq-more", s_str(fx, "singlepart_file"), &len);
        wire_frame_t frame = {*keep, len};
        rc = wire_decode(d, &frame, 1, &aa);
    }
    else {
        *keep = support_fixture_in("ezmsg-zmq-more", s_str(fx, "file"), &len);
        wire_frame_t frames[2] = {{"pyref", 5}, {*keep, len}};
        rc = wire_decode(d, frames, 2, &aa);
    }
    cr_assert_eq(rc, 0, "%s: %s", s_str(fx, "name"), wire_decoder_last_error(d));
    return aa;
}

Test(wire_coords, every_fixture_decodes_with_its_data_in_both_framings)
{
    size_t len;
    char *text = support_fixture_in("ezmsg-zmq-more", "manifest.json", &len);
    cJSON *manifest = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *fx;
    int n = 0;
    cJSON_ArrayForEach(fx, cJSON_GetObjectItem(manifest, "fixtures")) {
        for (int single = 0; single < 2; single++) {
            wire_decoder_t *d = wire_decoder_new();
            char *keep;
            const axisarray_t *aa = s_decode(d, fx, single, &keep);
            char hex[65];
            support_wire_sha256(axisarray_data(aa), axisarray_nbytes(aa), hex);
            cr_expect_str_eq(hex, s_str(fx, "data_sha256_wire_order"), "%s", s_str(fx, "name"));
            cr_expect_str_eq(axisarray_key(aa), s_str(fx, "key"));
            cr_expect_not_null(axisarray_axis(aa, "ch"), "%s keeps its ch axis", s_str(fx, "name"));
            free(keep);
            wire_decoder_destroy(&d);
            n++;
        }
    }
    cr_assert_eq(n, 10);
    cJSON_Delete(manifest);
}

/*  The fixture called name, decoded multipart by d. */
static const axisarray_t *
s_named(wire_decoder_t *d, const char *name, char **keep)
{
    char file[128];
    snprintf(file, sizeof file, "%s.json", name);
    cJSON *fx = cJSON_CreateObject();
    cJSON_AddStringToObject(fx, "name", name);
    cJSON_AddStringToObject(fx, "file", file);
    const axisarray_t *aa = s_decode(d, fx, false, keep);
    cJSON_Delete(fx);
    return aa;
}

Test(wire_coords, structured_channel_info_is_kept_as_sent)
{
    wire_decoder_t *d = wire_decoder_new();
    char *keep;
    const axisarray_t *aa = s_named(d, "f32_ch_structured", &keep);
    const axisarray_axis_t *ch = axisarray_axis(aa, "ch");
    cr_assert_not_null(ch->descr);
    cr_assert_eq(ch->descr->kind, 'V');
    cr_assert_eq(ch->descr->nfields, 5);
    cr_assert_eq(ch->descr->type.itemsize, 50);
    const char *names[] = {"label", "bank", "elec", "x", "y"};
    const unsigned offsets[] = {0, 32, 36, 38, 42};
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(ch->descr->fields[i].name, names[i]);
        cr_expect_eq(ch->descr->fields[i].offset, offsets[i]);
    }
    cr_expect_eq(ch->descr->fields[2].type.kind, 'i');
    cr_expect_eq(ch->data_ndim, 1);
    cr_expect_eq(ch->data_shape[0], 4);
    cr_expect_eq(ch->nbytes, 200);
    cr_expect_eq(ch->n_dims, 1);
    cr_expect_str_eq(ch->dims[0], "ch");
    /*  Record 1's label is "A-2" (UCS-4) and its elec 2. */
    const unsigned char *rec = (const unsigned char *) ch->data + 50;
    cr_expect_eq(rec[0], 'A');
    cr_expect_eq(rec[4], '-');
    cr_expect_eq(rec[8], '2');
    cr_expect_eq(rec[36], 2);
    cr_expect_eq(ch->n_values, 0);
    cr_expect_eq(ch->n_labels, 0);
    cr_expect_eq(wire_decoder_skipped_axes(d, NULL), 0);
    free(keep);
    wire_decoder_destroy(&d);
}

Test(wire_coords, bytes_labels_become_text_and_stay_bytes_for_the_metadata)
{
    wire_decoder_t *d = wire_decoder_new();
    char *keep;
    const axisarray_axis_t *ch = axisarray_axis(s_named(d, "i32_ch_bytes_labels", &keep), "ch");
    cr_assert_not_null(ch->descr);
    cr_expect_eq(ch->descr->kind, 'S');
    cr_expect_eq(ch->descr->type.order, '|');
    cr_expect_eq(ch->descr->type.itemsize, 2);
    cr_expect_eq(ch->nbytes, 6);
    cr_expect_eq(memcmp(ch->data, "C3CzC4", 6), 0);
    cr_assert_eq(ch->n_labels, 3);
    cr_expect_str_eq(ch->labels[1], "Cz");
    free(keep);
    wire_decoder_destroy(&d);
}

Test(wire_coords, complex_coordinates_are_kept_without_values)
{
    wire_decoder_t *d = wire_decoder_new();
    char *keep;
    const axisarray_axis_t *ch = axisarray_axis(s_named(d, "f64_ch_complex_coords", &keep), "ch");
    cr_assert_not_null(ch->descr);
    cr_expect_eq(ch->descr->kind, 'c');
    cr_expect_eq(ch->descr->type.itemsize, 16);
    double v[4];
    cr_assert_eq(ch->nbytes, sizeof v);
    memcpy(v, ch->data, sizeof v);
    cr_expect(v[0] == 1.0 && v[1] == 2.0 && v[2] == 0.0 && v[3] == -0.5);
    cr_expect_eq(ch->n_values, 0);
    free(keep);
    wire_decoder_destroy(&d);
}

Test(wire_coords, object_arrays_are_left_out_and_counted)
{
    wire_decoder_t *d = wire_decoder_new();
    char *keep;
    const axisarray_t *aa = s_named(d, "f32_ch_object_coords", &keep);
    const axisarray_axis_t *ch = axisarray_axis(aa, "ch");
    cr_expect_null(ch->descr);
    cr_expect_null(ch->data);
    cr_expect_eq(ch->nbytes, 0);
    const char *why;
    cr_expect_eq(wire_decoder_skipped_axes(d, &why), 1);
    cr_expect_not_null(strstr(why, "'ch'"), "%s", why);
    cr_expect_not_null(strstr(why, "object"), "%s", why);
    free(keep);
    wire_decoder_destroy(&d);
}

Test(wire_coords, two_dimensional_positions_keep_their_shape_and_dims)
{
    wire_decoder_t *d = wire_decoder_new();
    char *keep;
    const axisarray_axis_t *pos = axisarray_axis(s_named(d, "u16_ch_2d_positions", &keep), "pos");
    cr_assert_not_null(pos->descr);
    cr_expect_eq(pos->data_ndim, 2);
    cr_expect(pos->data_shape[0] == 2 && pos->data_shape[1] == 3);
    cr_assert_eq(pos->n_dims, 2);
    cr_expect_str_eq(pos->dims[1], "xyz");
    cr_expect_str_eq(pos->unit, "mm");
    cr_assert_eq(pos->n_values, 6);
    cr_expect(pos->values[3] == 3.5);
    free(keep);
    wire_decoder_destroy(&d);
}

Test(wire_coords, descr_list_form_is_parsed_strictly)
{
    ezshm_descr_t d;
    const char *good = "[('label', '<U8'), (\"it's\", '|S3'), ('v', '>f8')]";
    cr_assert_eq(numpy_dtype_descr(good, strlen(good), &d), 0);
    cr_expect_eq(d.nfields, 3);
    cr_expect_str_eq(d.fields[1].name, "it's");
    cr_expect_eq(d.fields[2].offset, 35);
    cr_expect_eq(d.fields[2].type.order, '>');
    cr_expect_eq(d.type.itemsize, 43);
    const char *bad[] = {
        "[('a', '<f8'), ('a', '<i2')]",          /* duplicate names */
        "[('pos', '<f8', (3,))]",                /* sub-array field */
        "[(('title', 'a'), '<f8')]",             /* title */
        "[('a', [('b', '<f8')])]",               /* nested record */
        "[('', '|V4')]",                         /* padding */
        "[('a', '|O')]",                         /* object field */
        "[('a\\x00', '<f8')]",                   /* escape in a name */
        "[('a', '<f8')] + []",                   /* trailing text */
        "[('a', '<f8'),]",                       /* trailing comma */
        "[]", "[", "", "object", "|O", "<M8[ns]", "<U0", "<f3", "__import__('os')",
        "{'names': ['a'], 'formats': ['<f8'], 'offsets': [0], 'itemsize': 16}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_neq(numpy_dtype_descr(bad[i], strlen(bad[i]), &d), 0, "%s", bad[i]);
    const char *plain[] = {"complex128", "<c8", "|S2", "U3", "bool", "|b1", "int8"};
    const char kinds[] = {'c', 'c', 'S', 'U', 'b', 'b', 'i'};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        cr_assert_eq(numpy_dtype_descr(plain[i], strlen(plain[i]), &d), 0, "%s", plain[i]);
        cr_expect_eq(d.kind, kinds[i], "%s", plain[i]);
    }
}

/*  Issue 22: numpy writes a bool record field as '?' (str(np.dtype([..., ('ok', '?')]))),
    which the parser refused, so the whole axis left the metadata. Each string below is what
    numpy 1.24 prints for the dtype in the comment; the v1 format carries the plain kinds and
    refuses the rest (the axis is left out, counted). */
Test(wire_coords, every_record_field_string_numpy_writes)
{
    static const struct {
        const char *str;    /* str(np.dtype(...)) */
        char kind;          /* of the last field; 0: refused */
        uint32_t itemsize;  /* of the record */
    } cases[] = {
        {"[('label', '<U10'), ('x', '<f8'), ('ok', '?')]", 'b', 49},   /* ('ok', '?') */
        {"[('a', '?'), ('h', '<f2')]", 'f', 3},                        /* 'b1', 'e' */
        {"[('a', 'i1'), ('b', 'u1'), ('c', 'S3')]", 'S', 5},           /* 1-byte: no order */
        {"[('a', '>u2'), ('c', '<c8')]", 'c', 10},
        {"[('h', 'e'), ('d', 'd')]", 'f', 10},                         /* hand-written codes */
        {"[('t', '<M8[ns]')]", 0, 0},                                  /* datetime */
        {"[('d', '<m8[s]')]", 0, 0},                                   /* timedelta */
        {"[('n', [('b', '<i4'), ('c', 'u1')])]", 0, 0},                /* nested record */
        {"[('s', '<f4', (3,))]", 0, 0},                                /* sub-array */
        {"[('x', 'O')]", 0, 0},                                        /* object */
        {"[('c', 'V4')]", 0, 0},                                       /* void */
        {"[('l\xe9', '<f8')]", 0, 0},                                 /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ezshm_descr_t d;
        int rc = numpy_dtype_descr(cases[i].str, strlen(cases[i].str), &d);
        if (!cases[i].kind) {
            cr_expect_neq(rc, 0, "%s", cases[i].str);
            continue;
        }
        cr_assert_eq(rc, 0, "%s", cases[i].str);
        cr_expect_eq(d.fields[d.nfields - 1].type.kind, cases[i].kind, "%s", cases[i].str);
        cr_expect_eq(d.type.itemsize, cases[i].itemsize, "%s", cases[i].str);
    }
}

/*  A payload like ezshm-pub's with a labelled ch axis and a LinearAxis freq. */
static const char *
s_labelled(double time_offset, double freq_offset, const char *labels_b64, const char *attrs)
{
    static char out[2048];
    snprintf(out, sizeof out,
             "{\"ts\": 1.0, \"obj\": {\"data\": {\"_type\": \"_ndarray\", \"dtype\": \"uint8\", "
             "\"data\": \"AAAAAA==\", \"shape\": [2, 2, 1]}, \"dims\": [\"time\", \"ch\", \"freq\"], "
             "\"axes\": {\"time\": {\"unit\": \"s\", \"gain\": 0.5, \"offset\": %.17g}, "
             "\"ch\": {\"data\": {\"_type\": \"_ndarray\", \"dtype\": \"<U1\", \"data\": \"%s\", "
             "\"shape\": [2]}, \"dims\": [\"ch\"], \"unit\": \"uV\"}, "
             "\"freq\": {\"unit\": \"Hz\", \"gain\": 1.0, \"offset\": %.17g}}, "
             "\"attrs\": %s, \"key\": \"k\"}}",
             time_offset, labels_b64, freq_offset, attrs);
    return out;
}

Test(wire_coords, static_half_unchanged_only_when_the_metadata_would_be)
{
    wire_decoder_t *d = wire_decoder_new();
    const char *ab = "QQAAAEIAAAA=", *ac = "QQAAAEMAAAA=";   /* ["A", "B"], ["A", "C"] */
    struct { double t, f; const char *labels, *attrs, *axis; bool same; } steps[] = {
        {0.0, 1.0, ab, "{}", "time", false},     /* first message */
        {0.0, 1.0, ab, "{}", "time", true},
        {5.5, 1.0, ab, "{}", "time", true},      /* the buffered axis' offset moves */
        {6.0, 2.0, ab, "{}", "time", false},     /* another axis' offset is metadata */
        {7.0, 2.0, ac, "{}", "time", false},     /* relabel */
        {8.0, 2.0, ac, "{}", "time", true},
        {8.0, 2.0, ac, "{\"a\": 1}", "time", false},
        {8.0, 2.0, ac, "{\"a\": 1}", "freq", false},   /* another buffered axis */
        {9.0, 2.0, ac, "{\"a\": 1}", "freq", false},   /* time is no longer buffered */
        {9.0, 2.0, ac, "{\"a\": 1}", "freq", true},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const char *json = s_labelled(steps[i].t, steps[i].f, steps[i].labels, steps[i].attrs);
        wire_frame_t frames[2] = {{"t", 1}, {json, strlen(json)}};
        const axisarray_t *aa;
        cr_assert_eq(wire_decode(d, frames, 2, &aa), 0, "step %zu: %s", i, wire_decoder_last_error(d));
        cr_expect_eq(wire_decoder_static_same(d, steps[i].axis), steps[i].same, "step %zu", i);
    }
    wire_decoder_destroy(&d);
}
