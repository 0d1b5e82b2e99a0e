/*  ezshm_ring.c — ring length rule and the publication guard. */
#include "ezshm_ring.h"
#include "ezshm_error.h"
#include "ezshm_value.h"

#include <math.h>
#include <stdlib.h>

int
ezshm_ring_frames(double buf_dur, double fs, uint64_t *frames)
{
    if (!frames)
        return EZSHM_ERR_INVAL;
    double product = buf_dur * fs;
    if (!isfinite(product) || product <= 0.0)
        return EZSHM_ERR_INVAL;
    double n = ceil(product);
    if (n > (double) UINT32_MAX)
        return EZSHM_ERR_OVERFLOW;
    *frames = n < EZSHM_RING_MIN_FRAMES ? EZSHM_RING_MIN_FRAMES : (uint64_t) n;
    return EZSHM_OK;
}

double
ezshm_ring_coordinate_fs(const double *t, size_t n)
{
    if (!t || n < 2)
        return 100.0;
    double *diff = malloc((n - 1) * sizeof *diff);
    if (!diff)
        return 0.0;
    for (size_t i = 0; i + 1 < n; i++)
        diff[i] = t[i + 1] - t[i];
    size_t m = n - 1;
    qsort(diff, m, sizeof *diff, ezshm_value_compare_double);
    /*  numpy.median: the mean of the two middle values for an even count. */
    double median = m % 2 ? diff[m / 2] : (diff[m / 2 - 1] + diff[m / 2]) / 2.0;
    free(diff);
    return median > 0.0 && isfinite(median) ? 1.0 / median : 0.0;
}

uint64_t
ezshm_ring_guard(uint64_t n_frames)
{
    return n_frames / 16 + (n_frames % 16 != 0);
}
