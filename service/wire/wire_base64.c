/*  wire_base64.c — table-driven base64 decoder. */
#include "wire_base64.h"

#include <stdint.h>

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
    /*  All groups but the last have no padding. */
    for (size_t g = 0; g < full; g++, s += 4) {
        uint32_t v = s_at0[s[0]] | s_at1[s[1]] | s_at2[s[2]] | s_at3[s[3]];
        if (v & BADBIT)
            return -1;
        dst[o++] = (unsigned char) v;
        dst[o++] = (unsigned char) (v >> 8);
        dst[o++] = (unsigned char) (v >> 16);
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
