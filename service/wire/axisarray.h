/*  axisarray.h — one decoded ezmsg AxisArray message.

    What the ingest code reads from a message: topic, key, dims and shape, the dtype as an
    ezshm one-char code, the data bytes, the optional sender sequence number and timestamp,
    and the axes (LinearAxis gain/offset/unit, CoordinateAxis numeric values or string
    labels). attrs are not kept.

    A wire_decoder_t owns one axisarray_t and refills it on every decode; everything
    returned here (strings, arrays, axis structs) stays valid until the next decode on that
    decoder. topic and, for native messages, data point into the caller's frames, so the
    frames must also outlive the reading of the message.
*/
#ifndef EZSHM_AXISARRAY_H
#define EZSHM_AXISARRAY_H

#include "ezshm_descr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Most dimensions a message may have (same limit as numpy). */
#define AXISARRAY_MAX_NDIM 64

typedef struct _axisarray_t axisarray_t;

typedef enum {
    AXISARRAY_AXIS_LINEAR,      /* LinearAxis or the deprecated AxisArray.Axis */
    AXISARRAY_AXIS_COORDINATE   /* CoordinateAxis */
} axisarray_axis_kind_t;

typedef struct {
    const char *name;           /* key in "axes" (UTF-8); normally a dim name */
    axisarray_axis_kind_t kind;
    const char *unit;           /* "" when absent */
    /*  LINEAR: value of element i along the axis = offset + i * gain. A NaN/Infinity token
        or null on the wire arrives as a non-finite double (check with isfinite). Missing
        gain/offset take ezmsg's defaults 1.0/0.0. */
    double gain;
    double offset;
    /*  COORDINATE with numeric data: every element converted to double (C order). */
    size_t n_values;
    const double *values;
    /*  COORDINATE with string data ('U' dtype): every element as a UTF-8 string with the
        trailing NUL padding removed (C order). */
    size_t n_labels;
    const char *const *labels;
    /*  COORDINATE: the array as sent (dtype, shape, bytes in the byte order descr gives),
        which the stream metadata carries whatever its dtype. descr is NULL when the dtype
        cannot be carried: an object array (its bytes are pointers in the sender's memory and
        are never read) or a dtype string numpy_dtype_descr() refuses; such an axis has no
        values, labels or data (the decoder counts it, wire_decoder_skipped_axes). */
    const ezshm_descr_t *descr;
    size_t data_ndim;
    const size_t *data_shape;
    const void *data;
    size_t nbytes;
    /*  COORDINATE: the axis' own "dims" (the message dims it runs along). */
    size_t n_dims;
    const char *const *dims;
} axisarray_axis_t;

/*  Creates an empty message (ndim 0, no data). Decoders create their own; this is for
    tests and tools. NULL when out of memory. */
axisarray_t *axisarray_new(void);

/*  Destroys the message and NULLs the pointer; NULL-safe. */
void axisarray_destroy(axisarray_t **self_p);

/*  Topic bytes (not NUL-terminated, may contain anything) and their length. */
const void *axisarray_topic(const axisarray_t *self, size_t *len);

/*  The AxisArray key as UTF-8; "" when absent. */
const char *axisarray_key(const axisarray_t *self);

/*  Number of dimensions, 1..AXISARRAY_MAX_NDIM after a successful decode. */
size_t axisarray_ndim(const axisarray_t *self);

/*  Name of dimension i (UTF-8), NULL when i >= ndim. */
const char *axisarray_dim(const axisarray_t *self, size_t i);

/*  Index of the dimension called name, or -1. */
int axisarray_find_dim(const axisarray_t *self, const char *name);

/*  The ndim sizes, in the C order of the data. */
const size_t *axisarray_shape(const axisarray_t *self);

/*  Product of the shape (number of elements). */
size_t axisarray_nelem(const axisarray_t *self);

/*  ezshm one-char dtype code of the data ('f', 'h', 'F', ...); see ezshm_dtype.h. */
char axisarray_dtype(const axisarray_t *self);

/*  Bytes per element. */
size_t axisarray_itemsize(const axisarray_t *self);

/*  The data bytes, C order, nelem * itemsize long. Base64 payloads are decoded into a
    buffer owned by the decoder and are always little-endian; native payloads point into
    the caller's data frame and may be big-endian (see axisarray_needs_byteswap). NULL when
    the decoder deferred the base64 decode (wire_decoder_defer_data): use axisarray_copy_data. */
const void *axisarray_data(const axisarray_t *self);
size_t axisarray_nbytes(const axisarray_t *self);

/*  Bytes [from, to) of the data into dst, whatever form the message holds them in: a copy,
    or, for deferred base64 data, a decode of just those bytes from the text straight into
    dst (it was validated when decoded: the bytes are those axisarray_data would have held).
    Returns 0, or -1 when from > to or to > nbytes. */
int axisarray_copy_data(const axisarray_t *self, void *dst, size_t from, size_t to);

/*  True when the data bytes are big-endian: copy them with wire_byteswap() using
    ezshm_dtype_component_size(dtype) (complex swaps each float). Only native messages set it. */
bool axisarray_needs_byteswap(const axisarray_t *self);

/*  The sender's message sequence number ("seq"), when the message carried one. */
bool axisarray_has_seq(const axisarray_t *self);
uint64_t axisarray_seq(const axisarray_t *self);

/*  The payload's "ts" (sender's time.time() at serialisation), when present. */
bool axisarray_has_ts(const axisarray_t *self);
double axisarray_ts(const axisarray_t *self);

/*  The axes in message order. */
size_t axisarray_naxes(const axisarray_t *self);
const axisarray_axis_t *axisarray_axis_at(const axisarray_t *self, size_t i);

/*  The axis called name, or NULL. */
const axisarray_axis_t *axisarray_axis(const axisarray_t *self, const char *name);

#ifdef __cplusplus
}
#endif
#endif
