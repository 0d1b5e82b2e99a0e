/*  test_pickle.c — the aux-segment codec against the real ezmsg-tools 0.6 blobs: every
    fixture blob decodes to the manifest's `decoded`, re-encoding gives the same bytes, and
    hostile blobs (foreign globals, other REDUCEs, huge lengths, deep nesting, cycles,
    truncation) are refused with an error, never a crash. */
#include "support_shm.h"
#include "support_wire.h"
#include "ezshm_error.h"
#include "ezshm_pickle.h"
#include "ezshm_unpickle.h"

#include <criterion/criterion.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  ---- comparing a tree with the manifest's JSON form of the decoded value ---------------- */

static bool s_matches(const cJSON *j, const ezshm_node_t *n);

/*  Element bytes in host order (the tests run on little-endian hosts). */
static void
s_host(unsigned char *dst, const unsigned char *src, size_t size, char order)
{
    for (size_t i = 0; i < size; i++)
        dst[i] = order == '>' ? src[size - 1 - i] : src[i];
}

static double
s_number(const unsigned char *p, char kind, size_t size, char order)
{
    unsigned char b[8];
    s_host(b, p, size, order);
    if (kind == 'f')
        return size == 4 ? (double) *(float *) b : *(double *) b;
    if (kind == 'u' || kind == 'b') {
        uint64_t v = 0;
        memcpy(&v, b, size);
        return (double) v;
    }
    int64_t v = (b[size - 1] & 0x80) ? -1 : 0;
    memcpy(&v, b, size);
    return (double) v;
}

/*  One element of a plain type against its JSON value. */
static bool
s_elem(const cJSON *j, const unsigned char *p, ezshm_scalar_t t)
{
    if (t.kind == 'U' || t.kind == 'S') {
        char text[256];
        size_t w = 0, unit = t.kind == 'U' ? 4 : 1;
        for (size_t c = 0; c < t.itemsize / unit && w < sizeof text - 4; c++) {
            uint32_t cp = 0;
            s_host((unsigned char *) &cp, p + c * unit, unit, t.order);
            if (cp == 0)
                break;
            if (cp < 0x80)
                text[w++] = (char) cp;
            else if (cp < 0x800) {
                text[w++] = (char) (0xC0 | cp >> 6);
                text[w++] = (char) (0x80 | (cp & 0x3F));
            }
            else {
                text[w++] = (char) (0xE0 | cp >> 12);
                text[w++] = (char) (0x80 | ((cp >> 6) & 0x3F));
                text[w++] = (char) (0x80 | (cp & 0x3F));
            }
        }
        text[w] = '\0';
        return cJSON_IsString(j) && strcmp(j->valuestring, text) == 0;
    }
    if (t.kind == 'b')
        return cJSON_IsBool(j) && cJSON_IsTrue(j) == (p[0] != 0);
    if (t.kind == 'c') {
        size_t half = t.itemsize / 2;
        return cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2
               && cJSON_GetArrayItem(j, 0)->valuedouble == s_number(p, 'f', half, t.order)
               && cJSON_GetArrayItem(j, 1)->valuedouble == s_number(p + half, 'f', half, t.order);
    }
    return cJSON_IsNumber(j) && j->valuedouble == s_number(p, t.kind, t.itemsize, t.order);
}

static bool
s_record(const cJSON *j, const unsigned char *p, const ezshm_descr_t *d)
{
    if (d->kind != 'V')
        return s_elem(j, p, d->type);
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != (int) d->nfields)
        return false;
    for (uint32_t f = 0; f < d->nfields; f++)
        if (!s_elem(cJSON_GetArrayItem(j, (int) f), p + d->fields[f].offset, d->fields[f].type))
            return false;
    return true;
}

/*  Nested JSON lists of values against C-order elements from *i on. */
static bool
s_values(const cJSON *j, const ezshm_node_t *a, size_t dim, size_t *i)
{
    if (dim == a->ndim) {
        size_t size = a->descr->type.itemsize;
        return s_record(j, (const unsigned char *) a->bytes + (*i)++ * size, a->descr);
    }
    if (!cJSON_IsArray(j) || (size_t) cJSON_GetArraySize(j) != a->shape[dim])
        return false;
    const cJSON *e;
    cJSON_ArrayForEach(e, j) if (!s_values(e, a, dim + 1, i)) return false;
    return true;
}

static bool
s_dtype(const cJSON *j, const ezshm_descr_t *d)
{
    char typestr[32];
    if (d->kind == 'O')
        return cJSON_IsString(j) && strcmp(j->valuestring, "object") == 0;
    if (d->kind != 'V') {
        ezshm_descr_typestr(d->type, typestr, sizeof typestr);
        return cJSON_IsString(j) && strcmp(j->valuestring, typestr) == 0;
    }
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != (int) d->nfields)
        return false;
    for (uint32_t f = 0; f < d->nfields; f++) {
        const cJSON *pair = cJSON_GetArrayItem(j, (int) f);
        ezshm_descr_typestr(d->fields[f].type, typestr, sizeof typestr);
        if (strcmp(cJSON_GetArrayItem(pair, 0)->valuestring, d->fields[f].name) != 0
            || strcmp(cJSON_GetArrayItem(pair, 1)->valuestring, typestr) != 0)
            return false;
    }
    return true;
}

static bool
s_ndarray(const cJSON *j, const ezshm_node_t *n)
{
    const cJSON *shape = cJSON_GetObjectItem(j, "shape");
    if (n->type != EZSHM_NODE_NDARRAY || n->scalar || !s_dtype(cJSON_GetObjectItem(j, "dtype"), n->descr)
        || cJSON_GetArraySize(shape) != (int) n->ndim)
        return false;
    for (size_t d = 0; d < n->ndim; d++)
        if (cJSON_GetArrayItem(shape, (int) d)->valuedouble != (double) n->shape[d])
            return false;
    if (n->descr->kind == 'O') {
        /*  The objects' repr is all the manifest has: the elements must be there. */
        return cJSON_GetArraySize(cJSON_GetObjectItem(j, "values_repr")) == (int) n->n;
    }
    size_t i = 0;
    return s_values(cJSON_GetObjectItem(j, "values"), n, 0, &i);
}

static bool
s_wrapped(const cJSON *j, const ezshm_node_t *n, bool *handled)
{
    *handled = true;
    const cJSON *w;
    if ((w = cJSON_GetObjectItem(j, "ndarray")))
        return s_ndarray(w, n);
    if ((w = cJSON_GetObjectItem(j, "numpy_scalar")))
        return n->type == EZSHM_NODE_NDARRAY && n->scalar
               && s_dtype(cJSON_GetObjectItem(w, "dtype"), n->descr)
               && s_elem(cJSON_GetObjectItem(w, "value"), (const unsigned char *) n->bytes,
                         n->descr->type);
    if ((w = cJSON_GetObjectItem(j, "tuple"))) {
        if (n->type != EZSHM_NODE_TUPLE || cJSON_GetArraySize(w) != (int) n->n)
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!s_matches(cJSON_GetArrayItem(w, (int) i), n->items[i]))
                return false;
        return true;
    }
    if ((w = cJSON_GetObjectItem(j, "float")))
        return n->type == EZSHM_NODE_FLOAT && isnan(n->re) == (strcmp(w->valuestring, "nan") == 0);
    if ((w = cJSON_GetObjectItem(j, "bytes_b64"))) {
        unsigned char raw[4096];
        size_t len;
        return n->type == EZSHM_NODE_BYTES
               && sodium_base642bin(raw, sizeof raw, w->valuestring, strlen(w->valuestring),
                                    NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0
               && len == n->len && memcmp(raw, n->bytes, len) == 0;
    }
    *handled = false;
    return false;
}

static bool
s_matches(const cJSON *j, const ezshm_node_t *n)
{
    if (cJSON_IsNull(j))
        return n->type == EZSHM_NODE_NONE;
    if (cJSON_IsBool(j))
        return n->type == EZSHM_NODE_BOOL && n->boolean == cJSON_IsTrue(j);
    if (cJSON_IsNumber(j))
        return (n->type == EZSHM_NODE_INT && (double) n->integer == j->valuedouble)
               || (n->type == EZSHM_NODE_FLOAT && n->re == j->valuedouble);
    if (cJSON_IsString(j))
        return n->type == EZSHM_NODE_STR && strcmp(n->bytes, j->valuestring) == 0;
    if (cJSON_IsArray(j)) {
        if (n->type != EZSHM_NODE_LIST || cJSON_GetArraySize(j) != (int) n->n)
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!s_matches(cJSON_GetArrayItem(j, (int) i), n->items[i]))
                return false;
        return true;
    }
    bool handled;
    bool ok = s_wrapped(j, n, &handled);
    if (handled)
        return ok;
    if (n->type != EZSHM_NODE_DICT || cJSON_GetArraySize(j) != (int) n->n)
        return false;
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        if (strcmp(n->items[2 * i]->bytes, e->string) != 0 || !s_matches(e, n->items[2 * i + 1]))
            return false;
        i++;
    }
    return true;
}

/*  ---- fixtures -------------------------------------------------------------------------- */


/*  Every fixture entry (fixtures and fixtures_more) through fn. */
static int
s_each_fixture(void (*fn)(const cJSON *fx, const uint8_t *blob, size_t len, void *arg), void *arg)
{
    cJSON *manifest = shmt_load_fixture("shm-aux-meta/manifest.json");
    cr_assert_not_null(manifest);
    int n = 0;
    const char *lists[] = {"fixtures", "fixtures_more"};
    for (int l = 0; l < 2; l++) {
        const cJSON *fx;
        cJSON_ArrayForEach(fx, cJSON_GetObjectItem(manifest, lists[l])) {
            size_t len;
            uint8_t *blob = (uint8_t *) support_fixture_in("shm-aux-meta", cJSON_GetObjectItem(fx, "blob_file")->valuestring, &len);
            char hex[65];
            support_wire_sha256(blob, len, hex);
            cr_assert_str_eq(hex, cJSON_GetObjectItem(fx, "blob_sha256")->valuestring);
            fn(fx, blob, len, arg);
            free(blob);
            n++;
        }
    }
    cJSON_Delete(manifest);
    return n;
}

static void
s_decodes(const cJSON *fx, const uint8_t *blob, size_t len, void *arg)
{
    (void) arg;
    ezshm_tree_t *tree = ezshm_tree_new();
    char err[160];
    const char *name = cJSON_GetObjectItem(fx, "name")->valuestring;
    cr_assert_eq(ezshm_unpickle(blob, len, tree, err, sizeof err), EZSHM_OK, "%s: %s", name, err);
    cr_expect(s_matches(cJSON_GetObjectItem(fx, "decoded"), ezshm_tree_root(tree)),
              "%s decodes to something else than the manifest says", name);
    ezshm_tree_destroy(&tree);
}

Test(pickle, every_fixture_blob_decodes_to_the_manifest_value)
{
    cr_assert_eq(s_each_fixture(s_decodes, NULL), 13);
}

static void
s_roundtrip(const cJSON *fx, const uint8_t *blob, size_t len, void *arg)
{
    int *identical = arg;
    ezshm_tree_t *tree = ezshm_tree_new();
    ezshm_pickler_t *p = ezshm_pickler_new();
    char err[160];
    const char *name = cJSON_GetObjectItem(fx, "name")->valuestring;
    cr_assert_eq(ezshm_unpickle(blob, len, tree, err, sizeof err), EZSHM_OK);
    const unsigned char *out;
    size_t out_len;
    int rc = ezshm_pickler_dump(p, ezshm_tree_root(tree), &out, &out_len);
    if (strcmp(name, "f32_ch_object_coords") == 0)
        cr_expect_eq(rc, EZSHM_ERR_INVAL, "object arrays are never written");
    else {
        cr_assert_eq(rc, EZSHM_OK, "%s", name);
        if (out_len == len && memcmp(out, blob, len) == 0)
            (*identical)++;
        ezshm_tree_t *again = ezshm_tree_new();
        cr_assert_eq(ezshm_unpickle(out, out_len, again, err, sizeof err), EZSHM_OK, "%s: %s",
                     name, err);
        cr_expect(ezshm_node_equal(ezshm_tree_root(tree), ezshm_tree_root(again)), "%s", name);
        ezshm_tree_destroy(&again);
    }
    ezshm_pickler_destroy(&p);
    ezshm_tree_destroy(&tree);
}

Test(pickle, encode_of_decode_gives_the_same_value_and_mostly_the_same_bytes)
{
    int identical = 0;
    s_each_fixture(s_roundtrip, &identical);
    /*  The decoded tree shares exactly what CPython shared, so the bytes come back. */
    cr_expect_eq(identical, 12, "%d of 12 writable fixture blobs re-encode byte-identically",
                 identical);
}

/*  ---- hostile blobs --------------------------------------------------------------------- */

static int
s_refuse(const void *blob, size_t len, const char *expect)
{
    ezshm_tree_t *tree = ezshm_tree_new();
    char err[200];
    int rc = ezshm_unpickle(blob, len, tree, err, sizeof err);
    if (expect && rc == EZSHM_ERR_PICKLE)
        cr_expect_not_null(strstr(err, expect), "error '%s' lacks '%s'", err, expect);
    cr_expect_null(ezshm_tree_root(tree));
    ezshm_tree_destroy(&tree);
    return rc;
}

#define HOSTILE(bytes, expect) \
    cr_expect_eq(s_refuse(bytes, sizeof(bytes) - 1, expect), EZSHM_ERR_PICKLE, "%s", #bytes)

Test(pickle, foreign_globals_and_reduces_are_refused)
{
    HOSTILE("\x80\x05\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.", "global os.system");
    HOSTILE("\x80\x05\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x01" "1\x85R.", "builtins.eval");
    HOSTILE("\x80\x02\x63os\nsystem\n\x8c\x02id\x85R.", "not allowed");       /* GLOBAL */
    HOSTILE("\x80\x05]\x8c\x01x\x85R.", "REDUCE of something");                 /* list() */
    HOSTILE("\x80\x05\x8c\x08" "builtins\x8c\x07" "complex\x93\x8c\x01x\x85R.", "complex");
    HOSTILE("\x80\x05\x8c\x05numpy\x8c\x07ndarray\x93K\x00\x85R.", "not allowed");
    HOSTILE("\x80\x05}K\x01" "b.", "BUILD");                                   /* BUILD dict */
    HOSTILE("\x80\x05\x8c\x05numpy\x8c\x05" "dtype\x93\x8c\x02O8\x89\x88\x87R.", "before");
    HOSTILE("\x80\x05P0\n.", "not allowed");                                   /* PERSID */
    HOSTILE("\x80\x05\x82\x01.", "not allowed");                               /* EXT1 */
    HOSTILE("\x80\x05\x97.", "not allowed");                                   /* NEXT_BUFFER */
    HOSTILE("\x80\x05\x81.", "not allowed");                                   /* NEWOBJ */
}

Test(pickle, malformed_blobs_are_refused)
{
    HOSTILE("\x80\x05\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.", "truncated");    /* huge str */
    HOSTILE("\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x80.", "truncated");    /* huge bytes */
    HOSTILE("\x80\x05\x95\xff\xff\xff\xff\xff\xff\xff\xff.", "frame");
    HOSTILE("\x80\x05h\x07.", "never set");
    HOSTILE("\x80\x05q\xff\xff.", "underflow");
    HOSTILE("\x80\x05\x8c\x02\xed\xa0.", "UTF-8");                            /* surrogate */
    HOSTILE("\x80\x05K\x01K\x02.", "STOP with 2");
    HOSTILE("\x80\x05(K\x01.", "STOP");
    HOSTILE("\x80\x05" "a.", "underflow");
    HOSTILE("\x80\x05\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", "64 bits");
    HOSTILE("\x80\x05}K\x01K\x02s.", "not a str");
    HOSTILE("\x80\x05", "truncated");
    HOSTILE("", "truncated");
}

Test(pickle, cycles_and_shared_containers_cannot_be_built)
{
    /*  l = []; l.append(l) */
    HOSTILE("\x80\x05]\x94h\x00" "a.", "recursive");
    /*  a = []; b = [a]; a.append(b): a is sealed once it is inside b. */
    HOSTILE("\x80\x05]\x94]\x94h\x00" "ah\x01" "a.", "recursive");
}

Test(pickle, deep_nesting_is_refused)
{
    size_t depth = 100000;
    unsigned char *blob = malloc(2 * depth + 4);
    size_t n = 0;
    blob[n++] = 0x80;
    blob[n++] = 5;
    for (size_t i = 0; i < depth; i++)
        blob[n++] = ']';
    for (size_t i = 0; i + 1 < depth; i++)
        blob[n++] = 'a';
    blob[n++] = '.';
    cr_expect_eq(s_refuse(blob, n, "deeper"), EZSHM_ERR_PICKLE);
    /*  Tuples nest without containers being sealed: the same limit holds. */
    n = 2;
    for (size_t i = 0; i < 200; i++)
        blob[n++] = 0x85 - (i == 0 ? 0x85 - ')' : 0);
    blob[n++] = '.';
    cr_expect_eq(s_refuse(blob, n, "deeper"), EZSHM_ERR_PICKLE);
    /*  Marks nest too. */
    n = 2;
    for (size_t i = 0; i < 1000; i++)
        blob[n++] = '(';
    blob[n++] = '.';
    cr_expect_eq(s_refuse(blob, n, "MARK"), EZSHM_ERR_PICKLE);
    free(blob);
}

Test(pickle, every_truncation_of_a_real_blob_is_refused)
{
    size_t len;
    uint8_t *blob = (uint8_t *) support_fixture_in("shm-aux-meta", "f32_ch_structured.pickle", &len);
    for (size_t cut = 0; cut < len; cut++)
        cr_expect_neq(s_refuse(blob, cut, NULL), EZSHM_OK, "cut at %zu", cut);
    free(blob);
}

Test(pickle, encoder_writes_what_cpython_writes_for_ints_floats_and_complex)
{
    ezshm_tree_t *t = ezshm_tree_new();
    ezshm_node_t *d = ezshm_tree_dict(t);
    const int64_t ints[] = {0, 255, 256, 65535, 65536, -1, INT32_MIN, (int64_t) 1 << 40,
                            -((int64_t) 1 << 40), INT64_MIN};
    char key[8];
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        snprintf(key, sizeof key, "i%zu", i);
        cr_assert_eq(ezshm_tree_set(t, d, ezshm_tree_str(t, key, strlen(key)),
                                    ezshm_tree_int(t, ints[i])), 0);
    }
    ezshm_tree_set(t, d, ezshm_tree_str(t, "c", 1), ezshm_tree_complex(t, 1.0, -2.5));
    ezshm_pickler_t *p = ezshm_pickler_new();
    const unsigned char *out;
    size_t len;
    cr_assert_eq(ezshm_pickler_dump(p, d, &out, &len), 0);
    ezshm_tree_t *back = ezshm_tree_new();
    char err[128];
    cr_assert_eq(ezshm_unpickle(out, len, back, err, sizeof err), 0, "%s", err);
    cr_expect(ezshm_node_equal(d, ezshm_tree_root(back)));
    /*  pickle.dumps of the same dict by CPython 3.11. */
    static const unsigned char cpython[] =
        "\x80\x05\x95\x9b\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x02\x69\x30\x94\x4b"
        "\x00\x8c\x02\x69\x31\x94\x4b\xff\x8c\x02\x69\x32\x94\x4d\x00\x01\x8c\x02\x69\x33"
        "\x94\x4d\xff\xff\x8c\x02\x69\x34\x94\x4a\x00\x00\x01\x00\x8c\x02\x69\x35\x94\x4a"
        "\xff\xff\xff\xff\x8c\x02\x69\x36\x94\x4a\x00\x00\x00\x80\x8c\x02\x69\x37\x94\x8a"
        "\x06\x00\x00\x00\x00\x00\x01\x8c\x02\x69\x38\x94\x8a\x06\x00\x00\x00\x00\x00\xff"
        "\x8c\x02\x69\x39\x94\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8c\x01\x63\x94\x8c"
        "\x08\x62\x75\x69\x6c\x74\x69\x6e\x73\x94\x8c\x07\x63\x6f\x6d\x70\x6c\x65\x78\x94"
        "\x93\x94\x47\x3f\xf0\x00\x00\x00\x00\x00\x00\x47\xc0\x04\x00\x00\x00\x00\x00\x00"
        "\x86\x94\x52\x94\x75\x2e";
    cr_assert_eq(len, sizeof cpython - 1);
    cr_expect_eq(memcmp(out, cpython, len), 0);
    ezshm_tree_destroy(&back);
    ezshm_pickler_destroy(&p);
    ezshm_tree_destroy(&t);
}

/*  fuzz_pickle finding: a NaN gain made "re-encoding keeps the value" fail (NaN != NaN). */
Test(pickle, nan_survives_re_encoding)
{
    static const unsigned char blob[] = "\x80\x05}\x94\x8c\x04gain\x94G\xff\xff\xff\xff\xff\xff\xff\x00s.";
    ezshm_tree_t *t = ezshm_tree_new(), *again = ezshm_tree_new();
    char err[128];
    cr_assert_eq(ezshm_unpickle(blob, sizeof blob - 1, t, err, sizeof err), 0, "%s", err);
    ezshm_pickler_t *p = ezshm_pickler_new();
    const unsigned char *out;
    size_t len;
    cr_assert_eq(ezshm_pickler_dump(p, ezshm_tree_root(t), &out, &len), 0);
    cr_assert_eq(ezshm_unpickle(out, len, again, err, sizeof err), 0, "%s", err);
    cr_expect(ezshm_node_equal(ezshm_tree_root(t), ezshm_tree_root(again)));
    cr_expect(isnan(ezshm_node_get(ezshm_tree_root(again), "gain")->re));
    ezshm_pickler_destroy(&p);
    ezshm_tree_destroy(&t);
    ezshm_tree_destroy(&again);
}

/*  Issue 21: a shape whose product wraps (to 0) was taken, and a reader then walked it. */
Test(pickle, shapes_numpy_refuses_are_refused_even_beside_a_zero)
{
    /*  _frombuffer(b'', dtype('f8'), (2**62, 4), 'C') by CPython 3.11 */
    HOSTILE("\x80\x05\x95\x7d\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x8c\x01\x61\x94\x8c\x12numpy.core"
            ".numeric\x94\x8c\x0b_frombuffer\x94\x93\x94\x28\x43\x00\x94\x8c\x05numpy\x94\x8c\x05"
            "dtype\x94\x93\x94\x8c\x02\x66\x38\x94\x89\x88\x87\x94\x52\x94\x28\x4b\x03\x8c\x01\x3c"
            "\x94\x4e\x4e\x4e\x4a\xff\xff\xff\xff\x4a\xff\xff\xff\xff\x4b\x00\x74\x94\x62\x8a\x08"
            "\x00\x00\x00\x00\x00\x00\x00\x40\x4b\x04\x86\x94\x8c\x01\x43\x94\x74\x94\x52\x94\x73"
            "\x2e", "overflows");
    /*  an object array of shape (2**32, 2**32) whose element list is empty */
    HOSTILE("\x80\x05\x95\x9a\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x8c\x01\x61\x94\x8c\x15numpy.core"
            ".multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94"
            "\x93\x94\x4b\x00\x85\x94\x43\x01\x62\x94\x87\x94\x52\x94\x28\x4b\x01\x8a\x05\x00\x00"
            "\x00\x00\x01\x8a\x05\x00\x00\x00\x00\x01\x86\x94\x68\x05\x8c\x05\x64\x74\x79\x70\x65"
            "\x94\x93\x94\x8c\x02\x4f\x38\x94\x89\x88\x87\x94\x52\x94\x28\x4b\x03\x8c\x01\x7c\x94"
            "\x4e\x4e\x4e\x4a\xff\xff\xff\xff\x4a\xff\xff\xff\xff\x4b\x3f\x74\x94\x62\x89\x5d\x94"
            "\x74\x94\x62\x73\x2e", "overflows");
    size_t nbytes;
    const size_t wraps[] = {(size_t) 1 << 62, 4, 0}, fits[] = {(size_t) 1 << 60, 0};
    cr_expect_not(ezshm_shape_bytes(3, wraps, 8, &nbytes));
    cr_expect(ezshm_shape_bytes(2, fits, 1, &nbytes) && nbytes == 0);
    const size_t over[] = {(size_t) 1 << 63, 0};
    cr_expect_not(ezshm_shape_bytes(2, over, 1, &nbytes));
}

/*  A blob of NONEs fills the stack, not the tree: the memory bound holds all the same. */
Test(pickle, a_flood_of_values_on_the_stack_is_bounded)
{
    size_t len = EZSHM_UNPICKLE_MAX_BYTES - 1;
    unsigned char *blob = malloc(len);
    cr_assert_not_null(blob);
    blob[0] = 0x80;
    blob[1] = 5;
    memset(blob + 2, 'N', len - 3);
    blob[len - 1] = '.';
    cr_expect_eq(s_refuse(blob, len, "more than"), EZSHM_ERR_PICKLE);
    free(blob);
}

/*  The encoder writes exactly CPython's bytes for value. */
static void
s_expect_cpython_bytes(const ezshm_node_t *value, const unsigned char *cpython, size_t len)
{
    ezshm_pickler_t *p = ezshm_pickler_new();
    const unsigned char *out;
    size_t n;
    cr_assert_eq(ezshm_pickler_dump(p, value, &out, &n), 0);
    cr_expect_eq(n, len);
    cr_expect(n == len && memcmp(out, cpython, len) == 0);
    ezshm_pickler_destroy(&p);
}

/*  Issue 22: ints in [2^63, 2^64-1] are what CPython pickles as a nine-byte LONG1. */
Test(pickle, ints_up_to_2_64_minus_1_round_trip_as_cpython_writes_them)
{
    static const unsigned char cpython[] =
        "\x80\x05\x95\x23\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x8a\x09\x00\x00"
        "\x00\x00\x00\x00\x00\x80\x00\x8c\x01\x62\x94\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00"
        "\x75\x2e";
    ezshm_tree_t *t = ezshm_tree_new();
    ezshm_node_t *d = ezshm_tree_dict(t);
    cr_assert_eq(ezshm_tree_set(t, d, ezshm_tree_str(t, "a", 1), ezshm_tree_uint(t, (uint64_t) 1 << 63)), 0);
    cr_assert_eq(ezshm_tree_set(t, d, ezshm_tree_str(t, "b", 1), ezshm_tree_uint(t, UINT64_MAX)), 0);
    s_expect_cpython_bytes(d, cpython, sizeof cpython - 1);
    ezshm_tree_t *back = ezshm_tree_new();
    char err[128];
    cr_assert_eq(ezshm_unpickle(cpython, sizeof cpython - 1, back, err, sizeof err), 0, "%s", err);
    const ezshm_node_t *b = ezshm_node_get(ezshm_tree_root(back), "b");
    cr_expect(b && b->u64 && (uint64_t) b->integer == UINT64_MAX);
    cr_expect(ezshm_node_equal(d, ezshm_tree_root(back)));
    ezshm_tree_destroy(&back);
    ezshm_tree_destroy(&t);
}

/*  value pickled, then decoded by the restricted reader, is equal to itself. */
static void
s_expect_read_back_equal(const ezshm_node_t *value)
{
    ezshm_pickler_t *p = ezshm_pickler_new();
    ezshm_tree_t *back = ezshm_tree_new();
    const unsigned char *out;
    size_t len;
    char err[128];
    cr_assert_eq(ezshm_pickler_dump(p, value, &out, &len), 0);
    cr_assert_eq(ezshm_unpickle(out, len, back, err, sizeof err), 0, "%s", err);
    cr_expect(ezshm_node_equal(value, ezshm_tree_root(back)));
    ezshm_tree_destroy(&back);
    ezshm_pickler_destroy(&p);
}

/*  Issue 21: 80 000 keys took 35 s (every insert scanned every key). Hashed, 200 000 keys
    in one dict and one intern pool are a linear amount of work; re-setting every key keeps
    the count (Python's rule) and every key is found again. */
Test(pickle, a_dict_of_200000_keys_is_built_and_50000_read_back)
{
    enum { N = 200000 };
    ezshm_tree_t *t = ezshm_tree_new();
    ezshm_node_t *d = ezshm_tree_dict(t);
    char key[24];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "k%d", i);
            ezshm_node_t *k = ezshm_tree_intern(t, 7, key, strlen(key));
            cr_assert_not_null(k);
            cr_assert_eq(ezshm_tree_set(t, d, k, ezshm_tree_int(t, i + round)), 0);
        }
    cr_expect_eq(d->n, (size_t) N);
    cr_expect_eq(ezshm_tree_intern(t, 7, "k123", 4), d->items[2 * 123]);
    cr_expect_eq(d->items[2 * 199999 + 1]->integer, 200000);
    /*  The reader's case: 50 000 keys took it 7 s. */
    ezshm_node_t *half = ezshm_tree_dict(t);
    for (int i = 0; i < 50000; i++)
        cr_assert_eq(ezshm_tree_set(t, half, d->items[2 * i], d->items[2 * i + 1]), 0);
    s_expect_read_back_equal(half);
    ezshm_tree_destroy(&t);
}

/*  Issue 22: Python's json keeps "a\udc80b" and pickle writes it with 'surrogatepass'; the
    encoder writes the same bytes and the reader takes them. */
Test(pickle, a_lone_surrogate_is_written_and_read_as_cpython_does)
{
    static const unsigned char cpython[] =
        "\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x8c\x01\x73\x94\x8c\x05\x61\xed"
        "\xb2\x80\x62\x94\x73\x2e";
    ezshm_tree_t *t = ezshm_tree_new();
    ezshm_node_t *d = ezshm_tree_dict(t);
    cr_assert_eq(ezshm_tree_set(t, d, ezshm_tree_str(t, "s", 1), ezshm_tree_str(t, "a\xed\xb2\x80" "b", 5)), 0);
    s_expect_cpython_bytes(d, cpython, sizeof cpython - 1);
    s_expect_read_back_equal(d);
    ezshm_tree_destroy(&t);
}
