/*  The base64 paths (scalar, SSSE3, AVX2) against each other and against libsodium: every
    path on by turns, tails around every block size, every padding form, a bad character at
    every position, validation alone, range decodes cut at every byte. Buffers are exactly as large as the
    contract says, so the ASan build catches a vector load or store past either end. */
#include "wire_base64.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*  Bytes the alphabet lacks, from each corner of the vector tables' nibble classes. */
static const unsigned char s_bad[] = {0x00, '\n', ' ', '!', '*', ',', '-', '.', ':', '=', '@',
                                      '[', '_', '`', '{', 0x7F, 0x80, 0xAB, 0xEF, 0xFF};

/*  malloc of exactly n bytes (one for 0, which ASan still guards). */
static void *
s_alloc(size_t n)
{
    void *q = malloc(n > 0 ? n : 1);
    cr_assert_not_null(q);
    return q;
}

static void *
s_dup(const void *p, size_t n)
{
    void *q = s_alloc(n);
    memcpy(q, p, n);
    return q;
}

/*  Base64 of n random bytes in a malloc'd buffer of exactly its length (no NUL). */
static char *
s_text(unsigned char *bin, size_t n, size_t *len)
{
    char *text = s_alloc(WIRE_BASE64_ENCODED_LEN(n) + 1);
    randombytes_buf(bin, n);
    sodium_bin2base64(text, WIRE_BASE64_ENCODED_LEN(n) + 1, bin, n, sodium_base64_VARIANT_ORIGINAL);
    *len = strlen(text);
    char *exact = s_dup(text, *len);
    free(text);
    return exact;
}

/*  Decodes text with path into an exactly sized buffer; the bytes (malloc'd) or NULL when rejected. */
static unsigned char *
s_decode(wire_base64_path_t path, const char *text, size_t len, size_t *n)
{
    cr_assert_eq(wire_base64_select(path), 0);
    char *in = s_dup(text, len);
    unsigned char *out = s_alloc(WIRE_BASE64_MAX_DECODED(len));
    int rc = wire_base64_decode(out, in, len, n);
    free(in);
    if (rc) {
        cr_assert_eq(rc, -1);
        free(out);
        return NULL;
    }
    return out;
}

/*  Every available path decodes text as the scalar path does; returns whether it was valid. */
static bool
s_same_everywhere(const char *text, size_t len)
{
    size_t ns;
    unsigned char *ref = s_decode(WIRE_BASE64_SCALAR, text, len, &ns);
    for (int p = 1; p < WIRE_BASE64_NPATHS; p++) {
        if (!wire_base64_available((wire_base64_path_t) p))
            continue;
        size_t n;
        unsigned char *got = s_decode((wire_base64_path_t) p, text, len, &n);
        cr_assert_eq(got == NULL, ref == NULL, "%s: verdict differs at len %zu",
                     wire_base64_path_name((wire_base64_path_t) p), len);
        if (ref) {
            cr_assert_eq(n, ns);
            cr_assert(memcmp(got, ref, n) == 0, "%s: bytes differ at len %zu",
                      wire_base64_path_name((wire_base64_path_t) p), len);
        }
        free(got);
    }
    free(ref);
    return ref != NULL;
}

Test(wire_base64, paths_named_and_selectable)
{
    cr_assert(wire_base64_available(WIRE_BASE64_SCALAR));
    cr_assert_str_eq(wire_base64_path_name(WIRE_BASE64_AVX2), "avx2");
    cr_assert_str_eq(wire_base64_path_name(WIRE_BASE64_NPATHS), "?");
    cr_assert_eq(wire_base64_select(WIRE_BASE64_NPATHS), -1);
    for (int p = 0; p < WIRE_BASE64_NPATHS; p++)
        if (wire_base64_available((wire_base64_path_t) p)) {
            cr_assert_eq(wire_base64_select((wire_base64_path_t) p), 0);
            cr_assert_eq(wire_base64_selected(), (wire_base64_path_t) p);
        }
}

/*  Criterion runs each test in a fresh process, so the first use here reads the variable. */
Test(wire_base64, environment_forces_a_path)
{
    setenv("EZSHM_BASE64", "scalar", 1);
    cr_assert_eq(wire_base64_selected(), WIRE_BASE64_SCALAR);
}

Test(wire_base64, unknown_environment_name_gets_the_best_path)
{
    setenv("EZSHM_BASE64", "avx9000", 1);
    wire_base64_path_t best = WIRE_BASE64_SCALAR;
    for (int p = 0; p < WIRE_BASE64_NPATHS; p++)
        if (wire_base64_available((wire_base64_path_t) p))
            best = (wire_base64_path_t) p;
    cr_assert_eq(wire_base64_selected(), best);
}

/*  Payloads of 0..200 bytes: texts whose tail after the last 16- or 32-character block is
    every length from 0 to 63, decoded right and by every path alike. */
Test(wire_base64, tails_round_trip_on_every_path)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    unsigned char bin[200];
    for (size_t n = 0; n <= sizeof bin; n++) {
        size_t len;
        char *text = s_text(bin, n, &len);
        cr_assert(s_same_everywhere(text, len), "n %zu", n);
        size_t got;
        unsigned char *out = s_decode(WIRE_BASE64_SCALAR, text, len, &got);
        cr_assert_eq(got, n);
        cr_assert(memcmp(out, bin, n) == 0);
        free(out);
        free(text);
    }
}

Test(wire_base64, every_padding_form)
{
    /*  Valid: no padding, '=' and '=='; invalid: unused bits set, '=' in a wrong place,
        three '=', a missing '=', each after a body long enough for vector blocks. */
    const char *tails[] = {"QUJD", "QUI=", "QQ==", "QUJ=", "QR==", "Q===", "====", "QU=D", "Q=I=",
                           "=QUJ", "QUI", "QQ=", "QQ", "Q", "QUJDRA==", "QUJDRA=", "QUJDR==="};
    const bool valid[] = {true, true, true, false, false, false, false, false, false,
                          false, false, false, false, false, true, false, false};
    char text[256];
    for (size_t body = 0; body <= 160; body += 4) {
        memset(text, 'A', body);
        for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
            size_t len = body + strlen(tails[t]);
            memcpy(text + body, tails[t], strlen(tails[t]));
            cr_assert_eq(s_same_everywhere(text, len), valid[t], "body %zu tail %s", body, tails[t]);
        }
    }
}

/*  One bad byte at every position of a 292-character text (several blocks of every width
    and a tail) is rejected by every path. */
Test(wire_base64, bad_character_at_every_position)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    unsigned char bin[219];
    size_t len;
    char *text = s_text(bin, sizeof bin, &len);
    for (size_t pos = 0; pos < len; pos++) {
        char keep = text[pos];
        for (size_t b = 0; b < sizeof s_bad; b++) {
            if (s_bad[b] == '=' && pos >= len - 1)
                continue;   /* the final '=' of a valid 1-byte-short tail may be legal */
            text[pos] = (char) s_bad[b];
            cr_assert_not(s_same_everywhere(text, len), "pos %zu byte 0x%02x", pos, s_bad[b]);
        }
        text[pos] = keep;
    }
    free(text);
}

/*  A ring write that wraps: bytes [0, cut) and [cut, n) decoded as two ranges into two
    exactly sized blocks, at every cut (inside a group too), and a middle piece. */
Test(wire_base64, ranges_at_every_cut_on_every_path)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    unsigned char bin[100];
    for (size_t n = 0; n <= sizeof bin; n += 7) {
        size_t len;
        char *text = s_text(bin, n, &len);
        for (int p = 0; p < WIRE_BASE64_NPATHS; p++) {
            if (wire_base64_select((wire_base64_path_t) p))
                continue;
            for (size_t cut = 0; cut <= n; cut++) {
                unsigned char *a = s_alloc(cut), *b = s_alloc(n - cut);
                cr_assert_eq(wire_base64_decode_range(a, text, len, 0, cut), 0);
                cr_assert_eq(wire_base64_decode_range(b, text, len, cut, n), 0);
                cr_assert(memcmp(a, bin, cut) == 0 && memcmp(b, bin + cut, n - cut) == 0,
                          "%s n %zu cut %zu", wire_base64_path_name((wire_base64_path_t) p), n, cut);
                free(a);
                free(b);
                size_t mid = (n - cut) / 2;
                unsigned char *m = s_alloc(mid);
                cr_assert_eq(wire_base64_decode_range(m, text, len, cut, cut + mid), 0);
                cr_assert(memcmp(m, bin + cut, mid) == 0);
                free(m);
            }
            /*  Past the end, or backwards: refused. */
            unsigned char one[1];
            cr_assert_eq(wire_base64_decode_range(one, text, len, n, n + 1), -1);
            cr_assert_eq(wire_base64_decode_range(one, text, len, 1, 0), -1);
        }
        free(text);
    }
}

/*  Random texts, half with one byte replaced by any value: every path gives the same verdict
    and bytes, validate gives decode's verdict and size, and a range over a bad group fails. */
Test(wire_base64, validate_agrees_with_decode)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    unsigned char bin[300];
    for (unsigned round = 0; round < 600; round++) {
        size_t len;
        char *text = s_text(bin, randombytes_uniform(sizeof bin), &len);
        if (round % 2 && len)
            text[randombytes_uniform((uint32_t) len)] = (char) randombytes_uniform(256);
        bool valid = s_same_everywhere(text, len);
        for (int p = 0; p < WIRE_BASE64_NPATHS; p++) {
            if (wire_base64_select((wire_base64_path_t) p))
                continue;
            size_t n = 1;
            cr_assert_eq(wire_base64_validate(text, len, &n), valid ? 0 : -1, "round %u", round);
            cr_assert_eq(n, valid ? WIRE_BASE64_MAX_DECODED(len) - (len && text[len - 1] == '=')
                                    - (len && text[len - 2] == '=') : 0);
        }
        free(text);
    }
    char bad[] = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
    size_t len = strlen(bad), n;
    unsigned char out[26];
    bad[20] = '-';
    for (int p = 0; p < WIRE_BASE64_NPATHS; p++)
        if (wire_base64_select((wire_base64_path_t) p) == 0) {
            cr_assert_eq(wire_base64_validate(bad, len, &n), -1);
            cr_assert_eq(wire_base64_decode_range(out, bad, len, 0, 26), -1);
            cr_assert_eq(wire_base64_decode_range(out, bad, len, 0, 15), 0);
            cr_assert_eq(wire_base64_validate(bad, len - 1, &n), -1);
        }
}

Test(wire_base64, encode_matches_libsodium_on_every_path)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    unsigned char bin[300];
    char ref[401];
    for (size_t n = 0; n <= sizeof bin; n++) {
        randombytes_buf(bin, n);
        sodium_bin2base64(ref, sizeof ref, bin, n, sodium_base64_VARIANT_ORIGINAL);
        for (int p = 0; p < WIRE_BASE64_NPATHS; p++) {
            if (wire_base64_select((wire_base64_path_t) p))
                continue;
            unsigned char *in = s_dup(bin, n);
            char *out = s_alloc(WIRE_BASE64_ENCODED_LEN(n));
            wire_base64_encode(out, in, n);
            cr_assert_eq(strlen(ref), WIRE_BASE64_ENCODED_LEN(n));
            cr_assert(memcmp(out, ref, strlen(ref)) == 0, "%s n %zu",
                      wire_base64_path_name((wire_base64_path_t) p), n);
            free(in);
            free(out);
        }
    }
}
