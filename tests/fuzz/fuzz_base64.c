/*  fuzz_base64.c — libFuzzer harness for the base64 paths (service/wire/wire_base64.h).

    Input: u8 mode, then a body.
      mode bit 0 clear: the body is base64 text, decoded as is;
      mode bit 0 set:   the body is bytes; every path encodes them (all must write the
                        scalar text, which must decode back to them), then the text is
                        decoded, with one character replaced when mode bit 1 is set (its
                        position from mode and the first byte, its value the last byte).
    Every path the CPU has decodes the text into an exact-size heap block and must give the
    scalar path's verdict and, when valid, its bytes; wire_base64_validate must agree, and
    valid text is also decoded as two ranges into exact-size blocks split at a point the
    input chooses (a wrapping ring write).
*/
#include "wire_base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_base64: check failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static void *
s_alloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);
    CHECK(p);
    return p;
}

/*  Decodes with path into an exact-size block; the bytes (malloc'd) or NULL when rejected. */
static unsigned char *
s_decode(wire_base64_path_t path, const char *text, size_t len, size_t *n)
{
    CHECK(wire_base64_select(path) == 0);
    unsigned char *out = s_alloc(WIRE_BASE64_MAX_DECODED(len));
    if (wire_base64_decode(out, text, len, n)) {
        free(out);
        return NULL;
    }
    CHECK(*n <= WIRE_BASE64_MAX_DECODED(len));
    return out;
}

/*  validate's verdict and size, and the text decoded as two ranges split at cut (a ring
    write that wraps) into exact-size blocks. */
static void
s_check_ranges(wire_base64_path_t path, const char *text, size_t len, const unsigned char *ref,
               size_t n, size_t cut)
{
    CHECK(wire_base64_select(path) == 0);
    size_t size;
    CHECK(wire_base64_validate(text, len, &size) == 0 && size == n);
    unsigned char *a = s_alloc(cut), *b = s_alloc(n - cut);
    CHECK(wire_base64_decode_range(a, text, len, 0, cut) == 0);
    CHECK(wire_base64_decode_range(b, text, len, cut, n) == 0);
    CHECK(memcmp(a, ref, cut) == 0 && memcmp(b, ref + cut, n - cut) == 0);
    free(a);
    free(b);
}

/*  Every path on text (an exact-size heap block) against the scalar reference. */
static void
s_check_text(const char *text, size_t len, size_t split_seed)
{
    size_t nref;
    unsigned char *ref = s_decode(WIRE_BASE64_SCALAR, text, len, &nref);
    for (int p = 0; p < WIRE_BASE64_NPATHS; p++) {
        if (!wire_base64_available((wire_base64_path_t) p))
            continue;
        size_t n;
        unsigned char *got = s_decode((wire_base64_path_t) p, text, len, &n);
        CHECK((got == NULL) == (ref == NULL));
        if (ref) {
            CHECK(n == nref && memcmp(got, ref, n) == 0);
            s_check_ranges((wire_base64_path_t) p, text, len, ref, n, split_seed % (n + 1));
        }
        else {
            size_t size;
            CHECK(wire_base64_validate(text, len, &size) == -1 && size == 0);
        }
        free(got);
    }
    free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    if (!(mode & 1)) {
        char *text = s_alloc(n);
        memcpy(text, body, n);
        s_check_text(text, n, (size_t) mode * 131u);
        free(text);
        return 0;
    }
    /*  Encode: every path writes exactly the scalar text, into an exact-size block. */
    unsigned char *bytes = s_alloc(n);
    memcpy(bytes, body, n);
    size_t len = WIRE_BASE64_ENCODED_LEN(n);
    char *ref = s_alloc(len);
    CHECK(wire_base64_select(WIRE_BASE64_SCALAR) == 0);
    wire_base64_encode(ref, bytes, n);
    for (int p = 1; p < WIRE_BASE64_NPATHS; p++) {
        if (wire_base64_select((wire_base64_path_t) p))
            continue;
        char *text = s_alloc(len);
        wire_base64_encode(text, bytes, n);
        CHECK(memcmp(text, ref, len) == 0);
        free(text);
    }
    size_t back;
    unsigned char *dec = s_decode(WIRE_BASE64_SCALAR, ref, len, &back);
    CHECK(dec && back == n && memcmp(dec, bytes, n) == 0);
    free(dec);
    /*  Half the inputs break one character of the text, anywhere. */
    size_t seed = n ? (size_t) body[0] * 257u + mode : mode;
    if ((mode & 2) && n)
        ref[((size_t) (mode >> 2) * 7919u + body[0]) % len] = (char) body[n - 1];
    s_check_text(ref, len, seed);
    free(bytes);
    free(ref);
    return 0;
}
