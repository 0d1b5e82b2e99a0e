/*  fuzz_wire.c — libFuzzer harness for the wire decoder (service/wire/wire.h).

    Input framing (tests/fuzz/corpus/wire/README.md):

        u32 LE  frame count N
        N times: u32 LE frame length L, then L bytes

    A length longer than what is left is cut to what is left; a missing frame is empty.
    N is passed to wire_decode as is (capped at 8), so 0 and 4+ exercise the frame count
    check. Every frame is copied into its own exact-size heap block, so ASan reports a read
    one byte past any frame.

    Bytes left after the last frame are a patch list for a second round: pairs
    (u16 LE position, u8 value) applied to a copy of frame 2 (the JSON payload or native
    header), so the fuzzer can make "the same header with other numbers" and reach the
    native header cache.

    Each round decodes with the long-lived decoder (whose header cache remembers the
    previous round and the previous input) and with a fresh decoder that defers base64 data
    (wire_decoder_defer_data: validated in the decode, decoded by axisarray_copy_data), and
    checks that both agree on the result code, the error sentence and every field of the
    message: a cache hit must give what a full parse gives, a deferred decode what a decode
    into the decoder's buffer gives. Every byte and string of a decoded message is read, and
    its attrs are built as the metadata carries them, pickled and read back equal.
*/
#include "wire.h"
#include "axisarray.h"
#include "ezshm_dtype.h"
#include "ezshm_error.h"
#include "ezshm_pickle.h"
#include "ezshm_unpickle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES 8

static wire_decoder_t *s_decoder;
static volatile uint64_t s_sink;

static uint32_t
s_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_wire: check failed: %s (line %d)\n", #cond, __LINE__);     \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static void
s_touch(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc = acc * 31 + b[i];
    s_sink += acc;
}

/*  Reads everything a consumer may read, checking the documented invariants. */
static void
s_walk(const axisarray_t *m)
{
    size_t ndim = axisarray_ndim(m);
    CHECK(ndim >= 1 && ndim <= AXISARRAY_MAX_NDIM);
    const size_t *shape = axisarray_shape(m);
    size_t nelem = 1;
    for (size_t i = 0; i < ndim; i++) {
        const char *dim = axisarray_dim(m, i);
        CHECK(dim != NULL);
        s_touch(dim, strlen(dim));
        nelem *= shape[i];
    }
    CHECK(axisarray_dim(m, ndim) == NULL);
    CHECK(axisarray_nelem(m) == nelem);
    char dtype = axisarray_dtype(m);
    size_t itemsize = axisarray_itemsize(m);
    CHECK(itemsize == ezshm_dtype_itemsize(dtype) && itemsize > 0);
    size_t nbytes = axisarray_nbytes(m);
    CHECK(nbytes == nelem * itemsize);
    const void *data = axisarray_data(m);
    CHECK(nbytes == 0 || data != NULL);
    s_touch(data, nbytes);
    if (axisarray_needs_byteswap(m) && nbytes) {
        size_t comp = ezshm_dtype_component_size(dtype);
        void *copy = malloc(nbytes);
        if (copy) {
            wire_byteswap(copy, data, nbytes, comp);
            s_touch(copy, nbytes);
            free(copy);
        }
    }
    size_t tlen;
    const void *topic = axisarray_topic(m, &tlen);
    s_touch(topic, tlen);
    const char *key = axisarray_key(m);
    CHECK(key != NULL);
    s_touch(key, strlen(key));
    if (axisarray_has_seq(m))
        s_sink += axisarray_seq(m);
    if (axisarray_has_ts(m)) {
        double ts = axisarray_ts(m);     /* may be NaN or huge: only its bits */
        uint64_t bits;
        memcpy(&bits, &ts, sizeof bits);
        s_sink += bits;
    }
    for (size_t i = 0; i < axisarray_naxes(m); i++) {
        const axisarray_axis_t *a = axisarray_axis_at(m, i);
        CHECK(a && a->name && a->unit);
        s_touch(a->name, strlen(a->name));
        s_touch(a->unit, strlen(a->unit));
        CHECK(axisarray_axis(m, a->name) != NULL);
        s_touch(a->values, a->n_values * sizeof(double));
        for (size_t k = 0; k < a->n_labels; k++) {
            CHECK(a->labels[k] != NULL);
            s_touch(a->labels[k], strlen(a->labels[k]) + 1);
        }
    }
    for (size_t i = 0; i < ndim; i++)
        CHECK(axisarray_find_dim(m, axisarray_dim(m, i)) >= 0);
}

static bool
s_same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/*  b's bytes, read through axisarray_copy_data in two pieces cut inside a 3-byte group
    (b's decoder defers base64), equal a's data. */
static void
s_compare_data(const axisarray_t *a, const axisarray_t *b)
{
    size_t n = axisarray_nbytes(a), cut = n / 3 + (n > 1);
    if (n == 0)
        return;
    unsigned char *bytes = malloc(n);
    if (!bytes)
        return;
    CHECK(axisarray_copy_data(b, bytes, 0, cut) == 0);
    CHECK(axisarray_copy_data(b, bytes + cut, cut, n) == 0);
    CHECK(axisarray_copy_data(b, bytes, cut, n + 1) == -1);
    CHECK(memcmp(axisarray_data(a), bytes, n) == 0);
    free(bytes);
}

/*  The long-lived decoder (maybe a cache hit) and a fresh one must agree. */
static void
s_compare(const axisarray_t *a, const axisarray_t *b)
{
    CHECK(axisarray_ndim(a) == axisarray_ndim(b));
    for (size_t i = 0; i < axisarray_ndim(a); i++) {
        CHECK(axisarray_shape(a)[i] == axisarray_shape(b)[i]);
        CHECK(strcmp(axisarray_dim(a, i), axisarray_dim(b, i)) == 0);
    }
    CHECK(axisarray_dtype(a) == axisarray_dtype(b));
    CHECK(axisarray_nbytes(a) == axisarray_nbytes(b));
    s_compare_data(a, b);
    CHECK(axisarray_needs_byteswap(a) == axisarray_needs_byteswap(b));
    size_t la, lb;
    const void *ta = axisarray_topic(a, &la), *tb = axisarray_topic(b, &lb);
    CHECK(la == lb && (la == 0 || memcmp(ta, tb, la) == 0));
    CHECK(strcmp(axisarray_key(a), axisarray_key(b)) == 0);
    CHECK(axisarray_has_seq(a) == axisarray_has_seq(b));
    if (axisarray_has_seq(a))
        CHECK(axisarray_seq(a) == axisarray_seq(b));
    CHECK(axisarray_has_ts(a) == axisarray_has_ts(b));
    if (axisarray_has_ts(a))
        CHECK(s_same_double(axisarray_ts(a), axisarray_ts(b)));
    CHECK(axisarray_naxes(a) == axisarray_naxes(b));
    for (size_t i = 0; i < axisarray_naxes(a); i++) {
        const axisarray_axis_t *x = axisarray_axis_at(a, i), *y = axisarray_axis_at(b, i);
        CHECK(strcmp(x->name, y->name) == 0 && strcmp(x->unit, y->unit) == 0);
        CHECK(x->kind == y->kind);
        if (x->kind == AXISARRAY_AXIS_LINEAR) {
            CHECK(s_same_double(x->gain, y->gain));
            CHECK(s_same_double(x->offset, y->offset));
        }
        CHECK(x->n_values == y->n_values);
        CHECK(x->n_values == 0 || memcmp(x->values, y->values, x->n_values * sizeof(double)) == 0);
        CHECK(x->n_labels == y->n_labels);
        for (size_t k = 0; k < x->n_labels; k++)
            CHECK(strcmp(x->labels[k], y->labels[k]) == 0);
    }
}

/*  The attrs as the metadata carries them: what the pickler writes, the restricted reader
    must read back equal (wrapped shapes, many keys, odd strings and ints reach both). */
static void
s_attrs(wire_decoder_t *decoder)
{
    ezshm_tree_t *tree = ezshm_tree_new(), *back = ezshm_tree_new();
    ezshm_pickler_t *pickler = ezshm_pickler_new();
    CHECK(tree && back && pickler);
    ezshm_node_t *attrs = NULL;
    char dropped[256], err[256];
    const unsigned char *blob;
    size_t len;
    if (wire_decoder_attrs(decoder, tree, 2, &attrs, dropped, sizeof dropped) == 0
        && ezshm_pickler_dump(pickler, attrs, &blob, &len) == EZSHM_OK) {
        int rc = ezshm_unpickle(blob, len, back, err, sizeof err);
        if (rc != EZSHM_OK) {
            fprintf(stderr, "fuzz_wire: published attrs do not read back: %s\n", err);
            abort();
        }
        CHECK(ezshm_node_equal(attrs, ezshm_tree_root(back)));
    }
    ezshm_pickler_destroy(&pickler);
    ezshm_tree_destroy(&back);
    ezshm_tree_destroy(&tree);
}

static void
s_round(const wire_frame_t *frames, size_t nframes)
{
    const axisarray_t *out = NULL, *fresh_out = NULL;
    int rc = wire_decode(s_decoder, frames, nframes, &out);
    CHECK(rc <= 0 && rc > -WIRE_REASON_COUNT);
    CHECK((rc == 0) == (out != NULL));
    const char *err = wire_decoder_last_error(s_decoder);
    CHECK(err != NULL);
    CHECK(rc == 0 ? *err == '\0' : *err != '\0');
    s_touch(err, strlen(err));
    s_touch(wire_strerror(rc), 1);
    s_touch(drop_reason_name(rc), 1);
    if (out)
        s_walk(out);

    wire_decoder_t *fresh = wire_decoder_new();
    CHECK(fresh != NULL);
    wire_decoder_defer_data(fresh, true);
    int rc2 = wire_decode(fresh, frames, nframes, &fresh_out);
    if (rc != rc2 || strcmp(err, wire_decoder_last_error(fresh)) != 0) {
        fprintf(stderr, "fuzz_wire: cached decoder says %d (%s), fresh decoder %d (%s)\n", rc,
                err, rc2, wire_decoder_last_error(fresh));
        abort();
    }
    if (out) {
        s_compare(out, fresh_out);
        s_attrs(fresh);
    }
    wire_decoder_destroy(&fresh);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_decoder = wire_decoder_new();
    return s_decoder ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t nframes = s_u32(data);
    size_t pos = 4;
    if (nframes > MAX_FRAMES)
        nframes = MAX_FRAMES;
    wire_frame_t frames[MAX_FRAMES];
    uint8_t *blocks[MAX_FRAMES] = {0};
    for (size_t i = 0; i < nframes; i++) {
        size_t len = 0;
        if (size - pos >= 4) {
            len = s_u32(data + pos);
            pos += 4;
        }
        else
            pos = size;
        if (len > size - pos)
            len = size - pos;
        /*  Exact-size copies: an overread of any frame is a heap-buffer-overflow. */
        blocks[i] = malloc(len ? len : 1);
        if (!blocks[i])
            abort();
        memcpy(blocks[i], data + pos, len);
        frames[i].data = len ? blocks[i] : blocks[i] + 1;   /* 0 bytes: a pointer to nothing */
        frames[i].size = len;
        pos += len;
    }
    s_round(frames, nframes);

    /*  Second round: frame 2 with byte patches (same message, other numbers). */
    if (nframes >= 2 && pos < size && frames[1].size > 0) {
        size_t len = frames[1].size;
        uint8_t *patched = malloc(len);
        if (!patched)
            abort();
        memcpy(patched, frames[1].data, len);
        for (; size - pos >= 3; pos += 3) {
            size_t at = ((size_t) data[pos] | (size_t) data[pos + 1] << 8) % len;
            patched[at] = data[pos + 2];
        }
        wire_frame_t second[MAX_FRAMES];
        memcpy(second, frames, nframes * sizeof *frames);
        second[1].data = patched;
        s_round(second, nframes);
        free(patched);
    }
    for (size_t i = 0; i < nframes; i++)
        free(blocks[i]);
    return 0;
}
