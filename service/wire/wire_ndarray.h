/*  wire_ndarray.h — reading ezmsg's {"_type": "_ndarray", "dtype", "shape", "data"} objects
    (internal to the wire decoder).
*/
#ifndef EZSHM_WIRE_NDARRAY_H
#define EZSHM_WIRE_NDARRAY_H

#include "axisarray.h"
#include "json_relaxed.h"
#include "numpy_dtype.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    numpy_dtype_t dtype;
    size_t itemsize;            /* bytes per element; 4 * str_chars for 'U' dtypes */
    size_t ndim;
    size_t shape[AXISARRAY_MAX_NDIM];
    size_t nelem;
    size_t nbytes;              /* nelem * itemsize */
    const jr_node_t *base64;    /* the "data" string, NULL when absent */
} wire_ndarray_t;

/*  A grow-only byte buffer the decoder owns. */
typedef struct {
    unsigned char *data;
    size_t cap;
} wire_scratch_t;

/*  Reads dtype and shape of the ndarray object node into *out and checks that the byte
    size is representable. Returns 0 or a negative drop_reason_t with a sentence in err
    (errlen bytes); `what` names the array in messages ("data", "axis 'ch'"). */
int wire_ndarray_read(const jr_doc_t *doc, const jr_node_t *node, const char *what,
                      wire_ndarray_t *out, char *err, size_t errlen);

/*  The shape half of wire_ndarray_read, for a caller that set out->itemsize from a dtype
    of its own: reads "shape", computes nelem and nbytes, finds the base64 string. */
int wire_ndarray_read_shape(const jr_doc_t *doc, const jr_node_t *node, const char *what,
                            wire_ndarray_t *out, char *err, size_t errlen);

/*  Decodes the base64 "data" string of a read ndarray into scratch (escaped JSON strings
    are unescaped through text first) and checks it is exactly nbytes long. Returns 0 or a
    negative drop_reason_t with a sentence in err. */
int wire_ndarray_decode_base64(const jr_doc_t *doc, const wire_ndarray_t *nd, const char *what,
                               wire_scratch_t *scratch, wire_scratch_t *text,
                               char *err, size_t errlen);

/*  wire_ndarray_decode_base64's checks without the decode, for an unescaped "data" string:
    sets *b64 and *len to the validated text. Same results and sentences. */
int wire_ndarray_validate_base64(const jr_doc_t *doc, const wire_ndarray_t *nd, const char *what,
                                 const char **b64, size_t *len, char *err, size_t errlen);

/*  Element i of numeric bytes as a double (bool, integers, float16/32/64); big says the
    bytes are big-endian. Complex codes give the real part. */
double wire_ndarray_element(const unsigned char *bytes, size_t i, char code, bool big);

/*  Makes sure scratch holds at least need bytes; false when out of memory. */
bool wire_scratch_reserve(wire_scratch_t *scratch, size_t need);

#ifdef __cplusplus
}
#endif
#endif
