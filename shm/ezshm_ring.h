/*  ezshm_ring.h — ring sizing and position arithmetic shared by writer and mirror.

    A ring holds L = shape[0] frames. The writer's position P = wrap_counter * L + write_index
    counts every frame ever written to this generation. The writer publishes at most G frames
    at a time (G = ezshm_ring_guard(L)), so while it copies, only the slots of frames
    [P - L, P - L + G) can be in flux: a reader trusts frame p only when p >= P + G - L.
*/
#ifndef EZSHM_RING_H
#define EZSHM_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The shortest ring: a reader can trust no slot of a one-frame ring (its only slot is the
    one the writer fills next), so every ring has at least two frames. */
#define EZSHM_RING_MIN_FRAMES 2

/*  Ring length for buf_dur seconds at fs: ceil(buf_dur * fs) in double precision, exactly as
    ShMemCircBuff (1.1 s at 100 Hz is 111 frames), but at least EZSHM_RING_MIN_FRAMES.
    EZSHM_ERR_INVAL for a non-finite or non-positive product, EZSHM_ERR_OVERFLOW above
    UINT32_MAX (shape[0] is a u32). */
int ezshm_ring_frames(double buf_dur, double fs, uint64_t *frames);

/*  Sampling rate estimated from coordinate timestamps: 1 / median(diff(t)), or 100 Hz with
    fewer than two values (ShMemCircBuff's rule). Returns 0.0 for a non-positive median. */
double ezshm_ring_coordinate_fs(const double *t, size_t n);

/*  Largest number of frames the writer publishes in one step: ceil(L / 16). */
uint64_t ezshm_ring_guard(uint64_t n_frames);

#ifdef __cplusplus
}
#endif
#endif
