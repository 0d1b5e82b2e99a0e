/*  wire_base64_x86.c — SSSE3 and AVX2 base64 block kernels (see wire_base64_kernels.h).

    The method is Muła & Lemire's ("Faster Base64 Encoding and Decoding using AVX2
    Instructions", ACM TOW 2018); the lookup tables below are derived here from the
    alphabet, one nibble at a time. Each function carries its own target attribute, so the
    file builds without -mavx2 and the caller runs a kernel only once the CPU said it can.
*/
#include "wire_base64_kernels.h"

#ifdef WIRE_BASE64_X86
#include <immintrin.h>
#include <stdint.h>

/*  Validation, one byte = (hi nibble h, lo nibble l). The hi nibbles fall in five classes
    by which lo nibbles are valid with them: 2 ('+' at B, '/' at F), 3 (digits, 0-9),
    4 and 6 (letters, 1-F), 5 and 7 (letters, 0-A), and every other h (none). HI(h) is the
    class' bit; LO(l) has the bit of every class for which l is NOT valid; a byte is in the
    alphabet exactly when LO(l) & HI(h) == 0. '=' (0x3D) is outside, as the scalar table. */
#define HI(h) ((h) == 2 ? 0x02 : (h) == 3 ? 0x04 : (h) == 4 || (h) == 6 ? 0x08 \
               : (h) == 5 || (h) == 7 ? 0x10 : 0x01)
#define LO(l) (0x01 | ((l) != 0xB && (l) != 0xF ? 0x02 : 0) | ((l) > 9 ? 0x04 : 0) \
               | ((l) == 0 ? 0x08 : 0) | ((l) > 0xA ? 0x10 : 0))
#define NIBBLES(F) F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8), F(9), F(10), F(11), \
                   F(12), F(13), F(14), F(15)
/*  Translation: sextet = byte + ROLL[h], with h - 1 for '/' (which shares h 2 with '+'):
    [1] '/' -> 63, [2] '+' -> 62, [3] '0' -> 52, [4, 5] 'A' -> 0, [6, 7] 'a' -> 26. */
#define ROLL 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0
/*  Packing: within each 32-bit lane of sextets a b c d, pmaddubsw by (64, 1) makes the
    12-bit ab and cd, pmaddwd by (4096, 1) the 24-bit abcd; the shuffle then takes its
    three bytes high first. */
#define PACK 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1
/*  Encoding: each 32-bit lane gets input bytes s1 s0 s2 s1, i.e. the 16-bit words s0s1 and
    s1s2; sextets a and c are cut out with one mask and moved down by a high multiply, b
    and d with another mask and moved up by a low multiply. */
#define SPREAD(k) (k) + 1, (k), (k) + 2, (k) + 1
#define SPREAD4 SPREAD(0), SPREAD(3), SPREAD(6), SPREAD(9)
/*  Sextet to ASCII by an offset chosen by index: saturated v - 51 is 0 for v <= 51 and
    1..12 above; 13 is added for v < 26. [0] 'a' - 26, [1..10] '0' - 52, [11] '+' - 62,
    [12] '/' - 63, [13] 'A'. */
#define ALPHA_OFFSET 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0

/*  Non-zero bytes where a character is outside the alphabet. */
__attribute__((target("ssse3"))) static inline __m128i
s_bad16(__m128i in, __m128i *hi)
{
    const __m128i low4 = _mm_set1_epi8(0x0F);
    *hi = _mm_and_si128(_mm_srli_epi32(in, 4), low4);
    return _mm_and_si128(_mm_shuffle_epi8(_mm_setr_epi8(NIBBLES(LO)), _mm_and_si128(in, low4)),
                         _mm_shuffle_epi8(_mm_setr_epi8(NIBBLES(HI)), *hi));
}

__attribute__((target("avx2"))) static inline __m256i
s_bad32(__m256i in, __m256i *hi)
{
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    *hi = _mm256_and_si256(_mm256_srli_epi32(in, 4), low4);
    return _mm256_and_si256(
        _mm256_shuffle_epi8(_mm256_setr_epi8(NIBBLES(LO), NIBBLES(LO)), _mm256_and_si256(in, low4)),
        _mm256_shuffle_epi8(_mm256_setr_epi8(NIBBLES(HI), NIBBLES(HI)), *hi));
}

__attribute__((target("ssse3"))) size_t
wire_base64_decode_ssse3(unsigned char *dst, const unsigned char *src, size_t n)
{
    const __m128i roll_lut = _mm_setr_epi8(ROLL), pack = _mm_setr_epi8(PACK);
    const __m128i slash = _mm_set1_epi8('/'), zero = _mm_setzero_si128();
    const __m128i m_ab = _mm_set1_epi32(0x01400140), m_abcd = _mm_set1_epi32(0x00011000);
    size_t g = 0;
    /*  A block reads 16 characters (4 groups) and stores 16 bytes of which 12 count: the
        store must stay inside the 3n bytes, hence g + 6 <= n. */
    for (; g + 6 <= n; g += 4) {
        __m128i in = _mm_loadu_si128((const __m128i *) (src + 4 * g)), hi;
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(s_bad16(in, &hi), zero)) != 0xFFFF)
            break;
        __m128i roll = _mm_shuffle_epi8(roll_lut, _mm_add_epi8(_mm_cmpeq_epi8(in, slash), hi));
        __m128i abcd = _mm_madd_epi16(_mm_maddubs_epi16(_mm_add_epi8(in, roll), m_ab), m_abcd);
        _mm_storeu_si128((__m128i *) (dst + 3 * g), _mm_shuffle_epi8(abcd, pack));
    }
    return g;
}

__attribute__((target("avx2"))) size_t
wire_base64_decode_avx2(unsigned char *dst, const unsigned char *src, size_t n)
{
    const __m256i roll_lut = _mm256_setr_epi8(ROLL, ROLL), pack = _mm256_setr_epi8(PACK, PACK);
    /*  The two lanes' 12 bytes side by side. */
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    const __m256i slash = _mm256_set1_epi8('/');
    const __m256i m_ab = _mm256_set1_epi32(0x01400140), m_abcd = _mm256_set1_epi32(0x00011000);
    size_t g = 0;
    /*  32 characters (8 groups) in, 32 bytes stored of which 24 count: g + 11 <= n. */
    for (; g + 11 <= n; g += 8) {
        __m256i in = _mm256_loadu_si256((const __m256i *) (src + 4 * g)), hi;
        __m256i bad = s_bad32(in, &hi);
        if (!_mm256_testz_si256(bad, bad))
            break;
        __m256i roll = _mm256_shuffle_epi8(roll_lut,
                                           _mm256_add_epi8(_mm256_cmpeq_epi8(in, slash), hi));
        __m256i abcd = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_add_epi8(in, roll), m_ab),
                                         m_abcd);
        __m256i out = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(abcd, pack), join);
        _mm256_storeu_si256((__m256i *) (dst + 3 * g), out);
    }
    return g;
}

/*  Validation alone: four blocks a turn while all are clean, then one at a time up to the
    first bad block. */
__attribute__((target("ssse3"))) size_t
wire_base64_validate_ssse3(const unsigned char *src, size_t n)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i hi;
    size_t g = 0;
    for (; g + 16 <= n; g += 16) {
        const __m128i *p = (const __m128i *) (src + 4 * g);
        __m128i bad = _mm_or_si128(_mm_or_si128(s_bad16(_mm_loadu_si128(p), &hi),
                                                s_bad16(_mm_loadu_si128(p + 1), &hi)),
                                   _mm_or_si128(s_bad16(_mm_loadu_si128(p + 2), &hi),
                                                s_bad16(_mm_loadu_si128(p + 3), &hi)));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, zero)) != 0xFFFF)
            break;
    }
    for (; g + 4 <= n; g += 4) {
        __m128i bad = s_bad16(_mm_loadu_si128((const __m128i *) (src + 4 * g)), &hi);
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, zero)) != 0xFFFF)
            break;
    }
    return g;
}

__attribute__((target("avx2"))) size_t
wire_base64_validate_avx2(const unsigned char *src, size_t n)
{
    __m256i hi;
    size_t g = 0;
    for (; g + 32 <= n; g += 32) {
        const __m256i *p = (const __m256i *) (src + 4 * g);
        __m256i bad = _mm256_or_si256(_mm256_or_si256(s_bad32(_mm256_loadu_si256(p), &hi),
                                                      s_bad32(_mm256_loadu_si256(p + 1), &hi)),
                                      _mm256_or_si256(s_bad32(_mm256_loadu_si256(p + 2), &hi),
                                                      s_bad32(_mm256_loadu_si256(p + 3), &hi)));
        if (!_mm256_testz_si256(bad, bad))
            break;
    }
    for (; g + 8 <= n; g += 8) {
        __m256i bad = s_bad32(_mm256_loadu_si256((const __m256i *) (src + 4 * g)), &hi);
        if (!_mm256_testz_si256(bad, bad))
            break;
    }
    return g;
}

__attribute__((target("ssse3"))) size_t
wire_base64_encode_ssse3(char *dst, const unsigned char *src, size_t n)
{
    const __m128i spread = _mm_setr_epi8(SPREAD4), offsets = _mm_setr_epi8(ALPHA_OFFSET);
    const __m128i mask_ac = _mm_set1_epi32(0x0FC0FC00), mul_ac = _mm_set1_epi32(0x04000040);
    const __m128i mask_bd = _mm_set1_epi32(0x003F03F0), mul_bd = _mm_set1_epi32(0x01000010);
    const __m128i c51 = _mm_set1_epi8(51), c26 = _mm_set1_epi8(26), c13 = _mm_set1_epi8(13);
    size_t g = 0;
    /*  A block loads 16 bytes of which 12 (4 groups) count: g + 6 <= n keeps the load in. */
    for (; g + 6 <= n; g += 4) {
        __m128i in = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (src + 3 * g)), spread);
        __m128i v = _mm_or_si128(_mm_mulhi_epu16(_mm_and_si128(in, mask_ac), mul_ac),
                                 _mm_mullo_epi16(_mm_and_si128(in, mask_bd), mul_bd));
        __m128i idx = _mm_add_epi8(_mm_subs_epu8(v, c51), _mm_and_si128(_mm_cmpgt_epi8(c26, v), c13));
        _mm_storeu_si128((__m128i *) (dst + 4 * g), _mm_add_epi8(v, _mm_shuffle_epi8(offsets, idx)));
    }
    return g;
}

__attribute__((target("avx2"))) size_t
wire_base64_encode_avx2(char *dst, const unsigned char *src, size_t n)
{
    const __m256i spread = _mm256_setr_epi8(SPREAD4, SPREAD4);
    const __m256i offsets = _mm256_setr_epi8(ALPHA_OFFSET, ALPHA_OFFSET);
    const __m256i mask_ac = _mm256_set1_epi32(0x0FC0FC00), mul_ac = _mm256_set1_epi32(0x04000040);
    const __m256i mask_bd = _mm256_set1_epi32(0x003F03F0), mul_bd = _mm256_set1_epi32(0x01000010);
    const __m256i c51 = _mm256_set1_epi8(51), c26 = _mm256_set1_epi8(26), c13 = _mm256_set1_epi8(13);
    size_t g = 0;
    /*  Bytes 0..11 of a block in the low lane, 12..23 in the high one; the second load
        reaches byte 27: g + 10 <= n. */
    for (; g + 10 <= n; g += 8) {
        const unsigned char *s = src + 3 * g;
        __m256i in = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *) s)),
            _mm_loadu_si128((const __m128i *) (s + 12)), 1);
        in = _mm256_shuffle_epi8(in, spread);
        __m256i v = _mm256_or_si256(_mm256_mulhi_epu16(_mm256_and_si256(in, mask_ac), mul_ac),
                                    _mm256_mullo_epi16(_mm256_and_si256(in, mask_bd), mul_bd));
        __m256i idx = _mm256_add_epi8(_mm256_subs_epu8(v, c51),
                                      _mm256_and_si256(_mm256_cmpgt_epi8(c26, v), c13));
        _mm256_storeu_si256((__m256i *) (dst + 4 * g),
                            _mm256_add_epi8(v, _mm256_shuffle_epi8(offsets, idx)));
    }
    return g;
}
#endif
