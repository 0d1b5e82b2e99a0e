/*  rig_pattern.h — synthetic signals for ezshm-pub (sine, noise, counter) in any dtype.

    The counter pattern makes the ring's contents checkable end to end: every channel of
    frame i (i counts frames from 0 over the whole run) holds i wrapped to the dtype's
    exactly representable range (see rig_pattern_counter_value and docs/wire-protocol.md).
*/
#ifndef EZSHM_RIG_PATTERN_H
#define EZSHM_RIG_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RIG_PATTERN_SINE,      /* channel c: sin(2 pi (c + 1) t), complex im = cos */
    RIG_PATTERN_NOISE,     /* uniform in [-1, 1) from a xorshift generator */
    RIG_PATTERN_COUNTER    /* frame index, wrapped per dtype */
} rig_pattern_t;

/*  Parses "sine", "noise", "counter"; -1 when unknown. */
int rig_pattern_parse(const char *name, rig_pattern_t *out);

/*  The counter value of frame i as a double, for dtype code: bool i & 1; int8 (int8)(i mod
    256); uint8 i mod 256; int16/uint16/int32/uint32 likewise two's complement wrap; int64 and
    uint64 i (as int64/uint64); float16 i mod 2048; float32 and complex64 (real part)
    i mod 2^24; float64 and complex128 (real part) i mod 2^53. */
double rig_pattern_counter_value(char code, uint64_t i);

/*  Fills dst with frames x channels elements of dtype code, C order: [frames][channels], or
    [channels][frames] when channel_first. first_frame is the run-wide index of the first
    frame and fs the sampling rate (for the sine's time). *state is the noise generator's
    state (any non-zero seed). Returns the number of bytes written. */
size_t rig_pattern_fill(void *dst, char code, rig_pattern_t pattern, size_t frames,
                        size_t channels, bool channel_first, uint64_t first_frame, double fs,
                        uint64_t *state);

#ifdef __cplusplus
}
#endif
#endif
