/*  wire_base64.c — the scalar base64 codec (the reference) and the choice of path. */
#include "wire_base64.h"
#include "wire_base64_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BAD 0xFFu

/*  Sextet value of every byte, BAD outside the alphabet ('=' included), as a list X is applied to. */
#define SEXTETS(X) \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD),  X(62), X(BAD), X(BAD), X(BAD),  X(63), \
     X(52),  X(53),  X(54),  X(55),  X(56),  X(57),  X(58),  X(59),  X(60),  X(61), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD),   X(0),   X(1),   X(2),   X(3),   X(4),   X(5),   X(6),   X(7),   X(8),   X(9),  X(10),  X(11),  X(12),  X(13),  X(14), \
     X(15),  X(16),  X(17),  X(18),  X(19),  X(20),  X(21),  X(22),  X(23),  X(24),  X(25), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD),  X(26),  X(27),  X(28),  X(29),  X(30),  X(31),  X(32),  X(33),  X(34),  X(35),  X(36),  X(37),  X(38),  X(39),  X(40), \
     X(41),  X(42),  X(43),  X(44),  X(45),  X(46),  X(47),  X(48),  X(49),  X(50),  X(51), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), \
    X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD), X(BAD),

#define SEXTET(v) (v)
static const uint8_t s_table[256] = { SEXTETS(SEXTET) };

/*  The same table four times, each value already moved to where it lands in the 3 output bytes
    of a group (byte k of the uint32 = output byte k), and BAD as bit 24: a group decodes with
    four loads and three ORs, and one test of bit 24 finds any bad character. */
#define BADBIT 0x01000000u
#define AT0(v) ((v) == BAD ? BADBIT : (uint32_t) (v) << 2)
#define AT1(v) ((v) == BAD ? BADBIT : (uint32_t) (v) >> 4 | ((uint32_t) (v) & 0x0Fu) << 12)
#define AT2(v) ((v) == BAD ? BADBIT : ((uint32_t) (v) >> 2) << 8 | ((uint32_t) (v) & 0x03u) << 22)
#define AT3(v) ((v) == BAD ? BADBIT : (uint32_t) (v) << 16)
static const uint32_t s_at0[256] = { SEXTETS(AT0) };
static const uint32_t s_at1[256] = { SEXTETS(AT1) };
static const uint32_t s_at2[256] = { SEXTETS(AT2) };
static const uint32_t s_at3[256] = { SEXTETS(AT3) };

static const char s_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*  ---- The paths ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    wire_base64_decode_fn decode;   /* NULL: scalar only */
    wire_base64_validate_fn validate;
    wire_base64_encode_fn encode;
} path_t;

static const path_t s_paths[WIRE_BASE64_NPATHS] = {
    [WIRE_BASE64_SCALAR] = {"scalar", NULL, NULL, NULL},
#ifdef WIRE_BASE64_X86
    [WIRE_BASE64_SSSE3] = {"ssse3", wire_base64_decode_ssse3, wire_base64_validate_ssse3,
                           wire_base64_encode_ssse3},
    [WIRE_BASE64_AVX2] = {"avx2", wire_base64_decode_avx2, wire_base64_validate_avx2,
                          wire_base64_encode_avx2},
#else
    [WIRE_BASE64_SSSE3] = {"ssse3", NULL, NULL, NULL},
    [WIRE_BASE64_AVX2] = {"avx2", NULL, NULL, NULL},
#endif
};

/*  The selected path, -1 until the first use chooses one. Every thread that races to
    choose computes the same answer, so relaxed atomics suffice. */
static int s_selected = -1;

bool
wire_base64_available(wire_base64_path_t path)
{
    switch (path) {
    case WIRE_BASE64_SCALAR:
        return true;
#ifdef WIRE_BASE64_X86
    case WIRE_BASE64_SSSE3:
        return __builtin_cpu_supports("ssse3");
    case WIRE_BASE64_AVX2:
        return __builtin_cpu_supports("avx2");
#endif
    default:
        return false;
    }
}

const char *
wire_base64_path_name(wire_base64_path_t path)
{
    return (unsigned) path < WIRE_BASE64_NPATHS ? s_paths[path].name : "?";
}

/*  EZSHM_BASE64's path when the CPU has it, else the last (fastest) one it has. */
static int
s_choose(void)
{
    const char *want = getenv("EZSHM_BASE64");
    int best = WIRE_BASE64_SCALAR;
    for (int p = 0; p < WIRE_BASE64_NPATHS; p++) {
        if (!wire_base64_available((wire_base64_path_t) p))
            continue;
        if (want && strcmp(want, s_paths[p].name) == 0)
            return p;
        best = p;
    }
    return best;
}

wire_base64_path_t
wire_base64_selected(void)
{
    int p = __atomic_load_n(&s_selected, __ATOMIC_RELAXED);
    if (p < 0) {
        p = s_choose();
        __atomic_store_n(&s_selected, p, __ATOMIC_RELAXED);
    }
    return (wire_base64_path_t) p;
}

int
wire_base64_select(wire_base64_path_t path)
{
    if (!wire_base64_available(path))
        return -1;
    __atomic_store_n(&s_selected, (int) path, __ATOMIC_RELAXED);
    return 0;
}

/*  ---- Decoding -------------------------------------------------------------------- */

/*  Decodes n unpadded groups at s into dst (3n bytes): the path's kernel first, the scalar
    loop for what it left (the tail, or everything from a block with a bad character on). */
static int
s_decode_groups(const path_t *path, unsigned char *dst, const unsigned char *s, size_t n)
{
    size_t g = path->decode ? path->decode(dst, s, n) : 0;
    for (s += 4 * g, dst += 3 * g; g < n; g++, s += 4, dst += 3) {
        uint32_t v = s_at0[s[0]] | s_at1[s[1]] | s_at2[s[2]] | s_at3[s[3]];
        if (v & BADBIT)
            return -1;
        dst[0] = (unsigned char) v;
        dst[1] = (unsigned char) (v >> 8);
        dst[2] = (unsigned char) (v >> 16);
    }
    return 0;
}

/*  The last group, which may be padded: its 1..3 bytes into out, their count into *n. */
static int
s_decode_last(const unsigned char *s, unsigned char out[3], size_t *n)
{
    uint32_t a = s_table[s[0]], b = s_table[s[1]];
    if ((a | b) & 0x80u)
        return -1;
    if (s[2] == '=') {
        if (s[3] != '=' || (b & 0x0Fu))
            return -1;
        out[0] = (unsigned char) (a << 2 | b >> 4);
        *n = 1;
        return 0;
    }
    uint32_t c = s_table[s[2]];
    if (c & 0x80u)
        return -1;
    if (s[3] == '=') {
        if (c & 0x03u)
            return -1;
        uint32_t v = a << 18 | b << 12 | c << 6;
        out[0] = (unsigned char) (v >> 16);
        out[1] = (unsigned char) (v >> 8);
        *n = 2;
        return 0;
    }
    uint32_t d = s_table[s[3]];
    if (d & 0x80u)
        return -1;
    uint32_t v = a << 18 | b << 12 | c << 6 | d;
    out[0] = (unsigned char) (v >> 16);
    out[1] = (unsigned char) (v >> 8);
    out[2] = (unsigned char) v;
    *n = 3;
    return 0;
}

/*  Bytes [from, to) of what the n groups at s decode to (the last one possibly padded), into
    dst: whole unpadded groups are decoded in place, a group the range cuts and the last group
    through a 3-byte buffer. Only the groups holding the range are looked at. */
static int
s_decode_range(const path_t *path, unsigned char *dst, const unsigned char *s, size_t n,
               size_t from, size_t to)
{
    size_t full = n - 1;
    for (size_t at = from; at < to;) {
        size_t g = at / 3;
        if (at % 3 == 0 && g < full && to - at >= 3) {
            size_t k = (to - at) / 3 < full - g ? (to - at) / 3 : full - g;
            if (s_decode_groups(path, dst + (at - from), s + 4 * g, k))
                return -1;
            at += 3 * k;
            continue;
        }
        unsigned char three[3];
        size_t got = 3;
        if (g < full ? s_decode_groups(path, three, s + 4 * g, 1) : s_decode_last(s + 4 * g, three, &got))
            return -1;
        if (at % 3 >= got)
            return -1;
        size_t take = got - at % 3 < to - at ? got - at % 3 : to - at;
        memcpy(dst + (at - from), three + at % 3, take);
        at += take;
    }
    return 0;
}

/*  The size valid text of len characters decodes to: len / 4 * 3 less one byte per '=' of
    the last group. SIZE_MAX when len is not a multiple of 4. */
static size_t
s_decoded_size(const char *src, size_t len)
{
    if (len % 4)
        return SIZE_MAX;
    if (len == 0)
        return 0;
    return len / 4 * 3 - (src[len - 1] == '=') - (src[len - 2] == '=');
}

int
wire_base64_decode(unsigned char *dst, const char *src, size_t len, size_t *decoded)
{
    size_t size = s_decoded_size(src, len);
    *decoded = 0;
    if (size == SIZE_MAX)
        return -1;
    if (s_decode_range(&s_paths[wire_base64_selected()], dst, (const unsigned char *) src, len / 4, 0, size))
        return -1;
    *decoded = size;
    return 0;
}

int
wire_base64_validate(const char *src, size_t len, size_t *decoded)
{
    const path_t *path = &s_paths[wire_base64_selected()];
    const unsigned char *s = (const unsigned char *) src;
    size_t size = s_decoded_size(src, len);
    *decoded = 0;
    if (size == SIZE_MAX)
        return -1;
    if (len == 0)
        return 0;
    size_t full = len / 4 - 1, g = path->validate ? path->validate(s, full) : 0;
    for (s += 4 * g; g < full; g++, s += 4)
        if ((s_at0[s[0]] | s_at1[s[1]] | s_at2[s[2]] | s_at3[s[3]]) & BADBIT)
            return -1;
    unsigned char three[3];
    size_t got;
    if (s_decode_last(s, three, &got))
        return -1;
    *decoded = size;
    return 0;
}

int
wire_base64_decode_range(unsigned char *dst, const char *src, size_t len, size_t from, size_t to)
{
    size_t size = s_decoded_size(src, len);
    if (size == SIZE_MAX || from > to || to > size)
        return -1;
    return s_decode_range(&s_paths[wire_base64_selected()], dst, (const unsigned char *) src,
                          len / 4, from, to);
}

/*  ---- Encoding -------------------------------------------------------------------- */

void
wire_base64_encode(char *dst, const void *bytes, size_t n)
{
    const path_t *path = &s_paths[wire_base64_selected()];
    const unsigned char *s = (const unsigned char *) bytes;
    size_t full = n / 3, g = path->encode ? path->encode(dst, s, full) : 0;
    for (s += 3 * g, dst += 4 * g; g < full; g++, s += 3, dst += 4) {
        uint32_t v = (uint32_t) s[0] << 16 | (uint32_t) s[1] << 8 | s[2];
        dst[0] = s_alphabet[v >> 18];
        dst[1] = s_alphabet[(v >> 12) & 0x3Fu];
        dst[2] = s_alphabet[(v >> 6) & 0x3Fu];
        dst[3] = s_alphabet[v & 0x3Fu];
    }
    if (n % 3) {
        uint32_t v = (uint32_t) s[0] << 16 | (n % 3 == 2 ? (uint32_t) s[1] << 8 : 0);
        dst[0] = s_alphabet[v >> 18];
        dst[1] = s_alphabet[(v >> 12) & 0x3Fu];
        dst[2] = n % 3 == 2 ? s_alphabet[(v >> 6) & 0x3Fu] : '=';
        dst[3] = '=';
    }
}
