/*  ezshm_dtype.h — numpy one-character dtype codes, the only dtype vocabulary of the ring.

    The header stores numpy's dtype.char. Supported: ? b B h H i I l L q Q e f d F D.
    ('l'/'L' are 8 bytes: the LP64 C long that numpy on Linux x86-64/aarch64 uses.)
*/
#ifndef EZSHM_DTYPE_H
#define EZSHM_DTYPE_H

#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EZSHM_KIND_BOOL,      /* '?' */
    EZSHM_KIND_INT,       /* signed integers */
    EZSHM_KIND_UINT,      /* unsigned integers */
    EZSHM_KIND_FLOAT,     /* IEEE 754 binary16/32/64 */
    EZSHM_KIND_COMPLEX    /* two floats, re then im */
} ezshm_kind_t;

/*  Bytes per element of dtype char c, or 0 when c is not a supported code. */
size_t ezshm_dtype_itemsize(char c);

/*  True when c is a supported code. */
bool ezshm_dtype_valid(char c);

/*  The kind of a supported code (unspecified for an unsupported one). */
ezshm_kind_t ezshm_dtype_kind(char c);

/*  Size in bytes of one scalar component: itemsize, or itemsize/2 for complex.
    Byte swapping works per component. */
size_t ezshm_dtype_component_size(char c);

#ifdef __cplusplus
}
#endif
#endif
