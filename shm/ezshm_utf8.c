/*  ezshm_utf8.c — UTF-8 encode/decode of single code points, validation. */
#include "ezshm_utf8.h"

#define REPLACEMENT 0xFFFDu

size_t
ezshm_utf8_put(char *dst, uint32_t cp)
{
    if ((cp >= 0xD800u && cp <= 0xDFFFu) || cp > 0x10FFFFu)
        cp = REPLACEMENT;
    return ezshm_utf8_put_surrogatepass(dst, cp);
}

size_t
ezshm_utf8_put_surrogatepass(char *dst, uint32_t cp)
{
    if (cp > 0x10FFFFu)
        cp = REPLACEMENT;
    if (cp < 0x80u) {
        dst[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800u) {
        dst[0] = (char) (0xC0u | (cp >> 6));
        dst[1] = (char) (0x80u | (cp & 0x3Fu));
        return 2;
    }
    if (cp < 0x10000u) {
        dst[0] = (char) (0xE0u | (cp >> 12));
        dst[1] = (char) (0x80u | ((cp >> 6) & 0x3Fu));
        dst[2] = (char) (0x80u | (cp & 0x3Fu));
        return 3;
    }
    dst[0] = (char) (0xF0u | (cp >> 18));
    dst[1] = (char) (0x80u | ((cp >> 12) & 0x3Fu));
    dst[2] = (char) (0x80u | ((cp >> 6) & 0x3Fu));
    dst[3] = (char) (0x80u | (cp & 0x3Fu));
    return 4;
}

/*  One code point; pass: a surrogate's three bytes are one (CPython's surrogatepass). */
static size_t
s_get(const char *src, size_t len, uint32_t *cp, bool pass)
{
    const unsigned char *s = (const unsigned char *) src;
    size_t need;
    uint32_t value, min;
    if (s[0] < 0x80u) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0u) == 0xC0u) {
        need = 2; value = s[0] & 0x1Fu; min = 0x80u;
    }
    else if ((s[0] & 0xF0u) == 0xE0u) {
        need = 3; value = s[0] & 0x0Fu; min = 0x800u;
    }
    else if ((s[0] & 0xF8u) == 0xF0u) {
        need = 4; value = s[0] & 0x07u; min = 0x10000u;
    }
    else {
        *cp = REPLACEMENT;
        return 1;
    }
    if (len < need) {
        *cp = REPLACEMENT;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0u) != 0x80u) {
            *cp = REPLACEMENT;
            return 1;
        }
        value = (value << 6) | (s[i] & 0x3Fu);
    }
    /*  Overlong forms and surrogates are malformed, not alternative spellings. */
    if (value < min || value > 0x10FFFFu || (!pass && value >= 0xD800u && value <= 0xDFFFu)) {
        *cp = REPLACEMENT;
        return 1;
    }
    *cp = value;
    return need;
}

size_t
ezshm_utf8_get(const char *src, size_t len, uint32_t *cp)
{
    return s_get(src, len, cp, false);
}

/*  A malformed sequence decodes as U+FFFD in one byte; a real U+FFFD takes three. */
static bool
s_valid(const char *s, size_t len, bool pass)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = s_get(s + i, len - i, &cp, pass);
        if (cp == REPLACEMENT && n == 1)
            return false;
        i += n;
    }
    return true;
}

bool
ezshm_utf8_valid(const char *s, size_t len)
{
    return s_valid(s, len, false);
}

bool
ezshm_utf8_valid_surrogatepass(const char *s, size_t len)
{
    return s_valid(s, len, true);
}
