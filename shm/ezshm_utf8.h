/*  ezshm_utf8.h — UTF-8, one code point at a time, and the one validator of ezshm.

    JSON text carries non-ASCII as \uXXXX escapes (ezmsg writes ensure_ascii), numpy string
    arrays carry UCS-4 code points, a stream's key and a control request's strings must be
    UTF-8: the wire codec and the settings model both use these. Well-formed means what
    RFC 3629 says: no overlong forms, no surrogates, nothing above U+10FFFF.
*/
#ifndef EZSHM_UTF8_H
#define EZSHM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Writes code point cp as UTF-8 into dst (room for 4 bytes) and returns the byte count.
    Surrogates and values above U+10FFFF become U+FFFD. */
size_t ezshm_utf8_put(char *dst, uint32_t cp);

/*  Reads one code point from src[0..len) into *cp and returns the bytes consumed (>= 1).
    A malformed sequence yields U+FFFD and consumes one byte. len must be > 0. */
size_t ezshm_utf8_get(const char *src, size_t len, uint32_t *cp);

/*  True if s[0..len) is well-formed UTF-8 (a NUL byte is a character like any other). */
bool ezshm_utf8_valid(const char *s, size_t len);

/*  CPython's 'surrogatepass': a Python str may hold a lone surrogate (U+D800..U+DFFF), which
    pickle writes as its three UTF-8-shaped bytes. These two write and accept such bytes as
    well; everything else is as above. */
size_t ezshm_utf8_put_surrogatepass(char *dst, uint32_t cp);
bool ezshm_utf8_valid_surrogatepass(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
