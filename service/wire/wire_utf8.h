/*  wire_utf8.h — the few UTF-8 conversions the wire format needs.

    JSON text carries non-ASCII as \uXXXX escapes (ezmsg writes ensure_ascii), numpy string
    arrays carry UCS-4 code points, and the rest of ezshm speaks UTF-8.
*/
#ifndef WIRE_UTF8_H
#define WIRE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Writes code point cp as UTF-8 into dst (room for 4 bytes) and returns the byte count.
    Surrogates and values above U+10FFFF become U+FFFD. */
size_t wire_utf8_put(char *dst, uint32_t cp);

/*  Reads one code point from src[0..len) into *cp and returns the bytes consumed (>= 1).
    A malformed sequence yields U+FFFD and consumes one byte. len must be > 0. */
size_t wire_utf8_get(const char *src, size_t len, uint32_t *cp);

#ifdef __cplusplus
}
#endif
#endif
