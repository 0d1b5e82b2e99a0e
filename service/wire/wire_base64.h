/*  wire_base64.h — standard base64 (RFC 4648, '+' '/', '=' padding) decoding.

    Why not sodium_base642bin: libsodium's decoder is constant-time (built for secrets)
    and takes ~11 us per 2 KB, 70% of a whole ezmsg message decode. This table decoder
    accepts exactly what sodium_base642bin(..., ignore=NULL, sodium_base64_VARIANT_ORIGINAL)
    accepts: length a multiple of 4, padding required, no whitespace, and zero unused bits
    in the last group (so every byte string has one encoding). test_wire checks both agree.
*/
#ifndef EZSHM_WIRE_BASE64_H
#define EZSHM_WIRE_BASE64_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Upper bound of the decoded size of len base64 characters. */
#define WIRE_BASE64_MAX_DECODED(len) ((len) / 4 * 3)

/*  Decodes src[0..len) into dst (at least WIRE_BASE64_MAX_DECODED(len) bytes) and sets
    *decoded. Returns 0, or -1 when src is not valid padded base64. */
int wire_base64_decode(unsigned char *dst, const char *src, size_t len, size_t *decoded);

#ifdef __cplusplus
}
#endif
#endif
