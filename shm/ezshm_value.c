/*  ezshm_value.c — element conversion for the mirror's dumps and live view; doubles as text. */
#include "ezshm_value.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  IEEE binary16 → double, subnormals and specials included (no compiler _Float16 needed). */
static double
s_half_to_double(uint16_t h)
{
    int exponent = (h >> 10) & 0x1f;
    double mantissa = h & 0x3ff;
    double value;
    if (exponent == 0)
        value = ldexp(mantissa, -24);
    else if (exponent == 31)
        value = mantissa ? NAN : INFINITY;
    else
        value = ldexp(mantissa + 1024.0, exponent - 25);
    return (h & 0x8000) ? -value : value;
}

#define LOAD(type) do { type v; memcpy(&v, p, sizeof v); return (double) v; } while (0)

double
ezshm_value_to_double(char c, const void *p)
{
    switch (c) {
    case '?': return *(const uint8_t *) p ? 1.0 : 0.0;
    case 'b': LOAD(int8_t);
    case 'B': LOAD(uint8_t);
    case 'h': LOAD(int16_t);
    case 'H': LOAD(uint16_t);
    case 'i': LOAD(int32_t);
    case 'I': LOAD(uint32_t);
    case 'l': case 'q': LOAD(int64_t);
    case 'L': case 'Q': LOAD(uint64_t);
    case 'e': { uint16_t h; memcpy(&h, p, 2); return s_half_to_double(h); }
    case 'f': LOAD(float);
    case 'd': LOAD(double);
    case 'F': { float z[2]; memcpy(z, p, sizeof z); return hypot(z[0], z[1]); }
    case 'D': { double z[2]; memcpy(z, p, sizeof z); return hypot(z[0], z[1]); }
    default: return NAN;
    }
}

int
ezshm_value_format(char c, const void *p, char *buf, size_t size)
{
    switch (c) {
    case 'l': case 'q': { int64_t v; memcpy(&v, p, 8); return snprintf(buf, size, "%lld", (long long) v); }
    case 'L': case 'Q': { uint64_t v; memcpy(&v, p, 8); return snprintf(buf, size, "%llu", (unsigned long long) v); }
    case 'e': case 'f': return snprintf(buf, size, "%.9g", ezshm_value_to_double(c, p));
    case 'd': return snprintf(buf, size, "%.17g", ezshm_value_to_double(c, p));
    case 'F': { float z[2]; memcpy(z, p, sizeof z); return snprintf(buf, size, "%.9g%+.9gj", z[0], z[1]); }
    case 'D': { double z[2]; memcpy(z, p, sizeof z); return snprintf(buf, size, "%.17g%+.17gj", z[0], z[1]); }
    default: return snprintf(buf, size, "%.0f", ezshm_value_to_double(c, p));
    }
}

int
ezshm_value_format_double(double v, char *buf, size_t size)
{
    if (isnan(v))
        return snprintf(buf, size, "NaN");
    if (isinf(v))
        return snprintf(buf, size, v < 0 ? "-Infinity" : "Infinity");
    /*  The shortest digits that read back. For a normal double, 15 correctly rounded digits
        always read back (DBL_DIG) and, when a shorter form exists, they are that form padded
        with zeros (its rounding interval is far narrower than 15-digit spacing): so try 15,
        16, 17 and strip the zeros below, 3 printf/strtod pairs at most instead of up to 17.
        A subnormal's interval is wide, so it searches from 1 digit up. */
    char sci[40];
    int p = fabs(v) >= DBL_MIN ? 15 : 1;
    for (; p <= 17; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    char digits[24];
    size_t n = 0;
    const char *c = sci;
    bool negative = *c == '-';
    if (negative)
        c++;
    for (; *c && *c != 'e'; c++)
        if (*c != '.')
            digits[n++] = *c;
    int exp = atoi(c + 1);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    /*  Python's repr: positional for exponents -4..15, else d.ddde+XX. */
    char out[EZSHM_DOUBLE_TEXT_SIZE];
    size_t w = 0;
    if (negative)
        out[w++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out[w++] = '0';
            out[w++] = '.';
            for (int z = 0; z < -exp - 1; z++)
                out[w++] = '0';
            memcpy(out + w, digits, n);
            w += n;
        }
        else {
            for (int d = 0; d <= exp; d++)
                out[w++] = (size_t) d < n ? digits[d] : '0';
            out[w++] = '.';
            if (n > (size_t) exp + 1) {
                memcpy(out + w, digits + exp + 1, n - (size_t) exp - 1);
                w += n - (size_t) exp - 1;
            }
            else
                out[w++] = '0';
        }
    }
    else {
        out[w++] = digits[0];
        if (n > 1) {
            out[w++] = '.';
            memcpy(out + w, digits + 1, n - 1);
            w += n - 1;
        }
        w += (size_t) snprintf(out + w, sizeof out - w, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    out[w] = '\0';
    return snprintf(buf, size, "%s", out);
}

int
ezshm_value_compare_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/*  Length of the decimal number text starts with: [+-] digits [. digits] [(e|E) [+-] digits],
    a digit before the exponent at least (integer: sign and digits only); 0 when there is none. */
static size_t
s_decimal_span(const char *text, bool integer)
{
    const char *p = text + (*text == '+' || *text == '-');
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (!integer && *p == '.') {
        size_t fraction = strspn(p + 1, "0123456789");
        digits += fraction;
        p += 1 + fraction;
    }
    if (!digits)
        return 0;
    if (!integer && (*p == 'e' || *p == 'E')) {
        const char *e = p + 1 + (p[1] == '+' || p[1] == '-');
        size_t exponent = strspn(e, "0123456789");
        if (!exponent)
            return 0;
        p = e + exponent;
    }
    return (size_t) (p - text);
}

bool
ezshm_value_parse_double(const char *text, double *out)
{
    size_t n = text ? s_decimal_span(text, false) : 0;
    if (!n || text[n])
        return false;
    double v = strtod(text, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

bool
ezshm_value_parse_int(const char *text, long long *out)
{
    size_t n = text ? s_decimal_span(text, true) : 0;
    if (!n || text[n])
        return false;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = v;
    return true;
}
