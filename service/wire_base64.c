/*  wire_base64.c — table-driven base64 decoder. */
#include "wire_base64.h"

#include <stdint.h>

#define BAD 0xFFu

//  Sextet value of every byte, BAD outside the alphabet ('=' included).
static const uint8_t s_table[256] = {
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,  62, BAD, BAD, BAD,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, BAD, BAD, BAD, BAD, BAD,
    BAD,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
};

int
wire_base64_decode(unsigned char *dst, const char *src, size_t len, size_t *decoded)
{
    const unsigned char *s = (const unsigned char *) src;
    *decoded = 0;
    if (len % 4)
        return -1;
    if (len == 0)
        return 0;
    size_t full = len / 4 - 1, o = 0;
    //  All groups but the last have no padding; OR-ing the sextets finds any BAD at once.
    for (size_t g = 0; g < full; g++, s += 4) {
        uint32_t a = s_table[s[0]], b = s_table[s[1]], c = s_table[s[2]], d = s_table[s[3]];
        if ((a | b | c | d) & 0x80u)
            return -1;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        dst[o++] = (unsigned char) (v >> 16);
        dst[o++] = (unsigned char) (v >> 8);
        dst[o++] = (unsigned char) v;
    }
    uint32_t a = s_table[s[0]], b = s_table[s[1]];
    if ((a | b) & 0x80u)
        return -1;
    if (s[2] == '=') {
        if (s[3] != '=' || (b & 0x0Fu))
            return -1;
        dst[o++] = (unsigned char) (a << 2 | b >> 4);
    }
    else {
        uint32_t c = s_table[s[2]];
        if (c & 0x80u)
            return -1;
        if (s[3] == '=') {
            if (c & 0x03u)
                return -1;
            uint32_t v = a << 18 | b << 12 | c << 6;
            dst[o++] = (unsigned char) (v >> 16);
            dst[o++] = (unsigned char) (v >> 8);
        }
        else {
            uint32_t d = s_table[s[3]];
            if (d & 0x80u)
                return -1;
            uint32_t v = a << 18 | b << 12 | c << 6 | d;
            dst[o++] = (unsigned char) (v >> 16);
            dst[o++] = (unsigned char) (v >> 8);
            dst[o++] = (unsigned char) v;
        }
    }
    *decoded = o;
    return 0;
}
