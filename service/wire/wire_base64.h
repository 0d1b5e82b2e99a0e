/*  wire_base64.h — standard base64 (RFC 4648, '+' '/', '=' padding) decoding and encoding.

    Why not sodium_base642bin: libsodium's decoder is constant-time (built for secrets)
    and takes ~11 us per 2 KB, 70% of a whole ezmsg message decode. This decoder accepts
    exactly what sodium_base642bin(..., ignore=NULL, sodium_base64_VARIANT_ORIGINAL)
    accepts: length a multiple of 4, padding required, no whitespace, and zero unused bits
    in the last group (so every byte string has one encoding). test_wire checks both agree.

    Paths: a scalar table decoder (the reference and the fallback) and vectorised ones
    (SSSE3 and AVX2 on x86-64, after Muła & Lemire, "Faster Base64 Encoding and Decoding
    using AVX2 Instructions", ACM TOW 2018). The vector kernels only ever handle whole
    blocks of unpadded groups and stop at the first block holding a character outside the
    alphabet; the scalar code decodes from there on, so every path gives the same verdict
    and the same bytes by construction. The best path the CPU has is chosen on first use;
    the environment variable EZSHM_BASE64=scalar|ssse3|avx2 asks for one (an unknown or
    unavailable name gets the best available), and wire_base64_select() forces one.
*/
#ifndef EZSHM_WIRE_BASE64_H
#define EZSHM_WIRE_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Upper bound of the decoded size of len base64 characters. */
#define WIRE_BASE64_MAX_DECODED(len) ((len) / 4 * 3)

/*  Encoded size of n bytes (no NUL). */
#define WIRE_BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

typedef enum {
    WIRE_BASE64_SCALAR,
    WIRE_BASE64_SSSE3,
    WIRE_BASE64_AVX2,
    WIRE_BASE64_NPATHS
} wire_base64_path_t;

/*  Decodes src[0..len) into dst (at least WIRE_BASE64_MAX_DECODED(len) bytes) and sets
    *decoded. Returns 0, or -1 when src is not valid padded base64. */
int wire_base64_decode(unsigned char *dst, const char *src, size_t len, size_t *decoded);

/*  The verdict wire_base64_decode would give, without writing: 0 with the decoded size in
    *decoded, or -1. */
int wire_base64_validate(const char *src, size_t len, size_t *decoded);

/*  Decodes bytes [from, to) of what src[0..len) decodes to into dst[0..to - from): one
    piece of a ring write, which may start or end inside a 3-byte group. Looks only at the
    characters of the groups holding those bytes, so src should have passed
    wire_base64_validate. Writes nothing outside dst[0..to - from). Returns 0, or -1 (a bad
    group, from > to, or to past the decoded size). */
int wire_base64_decode_range(unsigned char *dst, const char *src, size_t len, size_t from,
                             size_t to);

/*  Encodes bytes[0..n) into dst (WIRE_BASE64_ENCODED_LEN(n) characters, no NUL). */
void wire_base64_encode(char *dst, const void *bytes, size_t n);

/*  True when this CPU can run path. */
bool wire_base64_available(wire_base64_path_t path);

/*  "scalar", "ssse3", "avx2"; "?" for a value out of range. */
const char *wire_base64_path_name(wire_base64_path_t path);

/*  The path wire_base64_decode and _encode use (chosen on first use, see above). */
wire_base64_path_t wire_base64_selected(void);

/*  Makes every later decode and encode use path. Returns 0, or -1 (nothing changed) when
    the CPU cannot run it. For tests, fuzzers and benchmarks; not thread-safe against
    concurrent decodes. */
int wire_base64_select(wire_base64_path_t path);

#ifdef __cplusplus
}
#endif
#endif
