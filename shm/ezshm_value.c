/*  ezshm_value.c — element conversion for the mirror's dumps and live view. */
#include "ezshm_value.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
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
