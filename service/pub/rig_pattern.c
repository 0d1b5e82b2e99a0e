/*  rig_pattern.c — sample values of the synthetic rig signals. */
#include "rig_pattern.h"
#include "ezshm_dtype.h"

#include <math.h>
#include <string.h>

int
rig_pattern_parse(const char *name, rig_pattern_t *out)
{
    if (strcmp(name, "sine") == 0)
        *out = RIG_PATTERN_SINE;
    else if (strcmp(name, "noise") == 0)
        *out = RIG_PATTERN_NOISE;
    else if (strcmp(name, "counter") == 0)
        *out = RIG_PATTERN_COUNTER;
    else
        return -1;
    return 0;
}

/*  IEEE binary16 bits of a finite v, round to nearest; exact for integers up to 2048. */
static uint16_t
s_half_bits(double v)
{
    uint16_t sign = signbit(v) ? 0x8000u : 0;
    v = fabs(v);
    if (v < 0x1p-14)
        return (uint16_t) (sign | (uint16_t) lrint(v * 0x1p24));
    int e;
    double m = frexp(v, &e);
    long mant = lrint((m * 2 - 1) * 1024);
    int exp = e - 1;
    if (mant == 1024) {
        mant = 0;
        exp++;
    }
    if (exp > 15)
        return (uint16_t) (sign | 0x7C00u);
    return (uint16_t) (sign | (uint16_t) ((exp + 15) << 10) | (uint16_t) mant);
}

double
rig_pattern_counter_value(char code, uint64_t i)
{
    switch (code) {
        case '?': return (double) (i & 1u);
        case 'b': return (int8_t) (uint8_t) i;
        case 'B': return (uint8_t) i;
        case 'h': return (int16_t) (uint16_t) i;
        case 'H': return (uint16_t) i;
        case 'i': return (int32_t) (uint32_t) i;
        case 'I': return (uint32_t) i;
        case 'l':
        case 'q': return (double) (int64_t) i;
        case 'L':
        case 'Q': return (double) i;
        case 'e': return (double) (i % 2048u);
        case 'f':
        case 'F': return (double) (i % (1u << 24));
        default: return (double) (i % (UINT64_C(1) << 53));
    }
}

/*  Integer sample of re in [-1, 1] scaled to 90% of a type's range (unsigned: shifted up). */
#define SIGNED(re, max) llrint((re) * 0.9 * (double) (max))
#define UNSIGNED(re, max) llrint(((re) + 1) * 0.45 * (double) (max))

/*  Stores one element. Counter integers come through `exact` so 64-bit values keep every
    bit; everything else is the double re (and im for complex). */
static void
s_store(unsigned char *dst, char code, double re, double im, const uint64_t *exact)
{
    uint64_t u = exact ? *exact : 0;
    switch (code) {
        case '?': dst[0] = re > 0; return;
        case 'b': { int8_t v = exact ? (int8_t) (uint8_t) u : (int8_t) SIGNED(re, INT8_MAX);
                    memcpy(dst, &v, 1); return; }
        case 'B': { uint8_t v = exact ? (uint8_t) u : (uint8_t) UNSIGNED(re, UINT8_MAX);
                    memcpy(dst, &v, 1); return; }
        case 'h': { int16_t v = exact ? (int16_t) (uint16_t) u : (int16_t) SIGNED(re, INT16_MAX);
                    memcpy(dst, &v, 2); return; }
        case 'H': { uint16_t v = exact ? (uint16_t) u : (uint16_t) UNSIGNED(re, UINT16_MAX);
                    memcpy(dst, &v, 2); return; }
        case 'i': { int32_t v = exact ? (int32_t) (uint32_t) u : (int32_t) SIGNED(re, INT32_MAX);
                    memcpy(dst, &v, 4); return; }
        case 'I': { uint32_t v = exact ? (uint32_t) u : (uint32_t) UNSIGNED(re, UINT32_MAX);
                    memcpy(dst, &v, 4); return; }
        case 'l':
        case 'q': { int64_t v = exact ? (int64_t) u : (int64_t) SIGNED(re, 0x1p62);
                    memcpy(dst, &v, 8); return; }
        case 'L':
        case 'Q': { uint64_t v = exact ? u : (uint64_t) UNSIGNED(re, 0x1p63);
                    memcpy(dst, &v, 8); return; }
        case 'e': { uint16_t v = s_half_bits(re); memcpy(dst, &v, 2); return; }
        case 'f': { float v = (float) re; memcpy(dst, &v, 4); return; }
        case 'd': memcpy(dst, &re, 8); return;
        case 'F': { float v[2] = {(float) re, (float) im}; memcpy(dst, v, 8); return; }
        case 'D': { double v[2] = {re, im}; memcpy(dst, v, 16); return; }
        default: return;
    }
}

/*  xorshift64*: fast, good enough for test noise, reproducible from its seed. */
static double
s_noise(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double) ((x * UINT64_C(2685821657736338717)) >> 11) * 0x1p-52 - 1.0;
}

/*  One element of itemsize bytes; fixed sizes let the compiler emit plain moves. */
static inline void
s_copy_item(unsigned char *dst, const unsigned char *src, size_t itemsize)
{
    switch (itemsize) {
        case 1: memcpy(dst, src, 1); return;
        case 2: memcpy(dst, src, 2); return;
        case 4: memcpy(dst, src, 4); return;
        case 8: memcpy(dst, src, 8); return;
        default: memcpy(dst, src, 16); return;
    }
}

/*  Every channel of a counter frame holds the same value: build it once per frame and copy it
    (storing each element through the per-element conversion made ezshm-pub the slowest part
    of every throughput benchmark). */
static void
s_fill_counter(unsigned char *out, char code, size_t itemsize, size_t frames, size_t channels,
               bool channel_first, uint64_t first_frame, bool integer)
{
    for (size_t f = 0; f < frames; f++) {
        uint64_t i = first_frame + f;
        unsigned char elem[16];
        s_store(elem, code, rig_pattern_counter_value(code, i), 0, integer ? &i : NULL);
        for (size_t c = 0; c < channels; c++)
            s_copy_item(out + (channel_first ? c * frames + f : f * channels + c) * itemsize, elem, itemsize);
    }
}

size_t
rig_pattern_fill(void *dst, char code, rig_pattern_t pattern, size_t frames, size_t channels,
                 bool channel_first, uint64_t first_frame, double fs, uint64_t *state)
{
    unsigned char *out = (unsigned char *) dst;
    size_t itemsize = ezshm_dtype_itemsize(code);
    bool integer = ezshm_dtype_kind(code) == EZSHM_KIND_INT
                   || ezshm_dtype_kind(code) == EZSHM_KIND_UINT;
    if (itemsize == 0)
        return 0;   /* not a dtype code */
    if (pattern == RIG_PATTERN_COUNTER) {
        s_fill_counter(out, code, itemsize, frames, channels, channel_first, first_frame, integer);
        return frames * channels * itemsize;
    }
    for (size_t f = 0; f < frames; f++) {
        uint64_t i = first_frame + f;
        for (size_t c = 0; c < channels; c++) {
            size_t index = channel_first ? c * frames + f : f * channels + c;
            double re, im;
            if (pattern == RIG_PATTERN_SINE) {
                double phase = 2 * M_PI * (double) (c + 1) * ((double) i / fs);
                re = sin(phase);
                im = cos(phase);
            }
            else {
                re = s_noise(state);
                im = s_noise(state);
            }
            s_store(out + index * itemsize, code, re, im, NULL);
        }
    }
    return frames * channels * itemsize;
}
