/*  numpy_dtype.h — numpy dtype strings on the wire <-> ezshm one-char codes.

    Two spellings arrive: numpy's str(dtype) name for native types ("float32", "int16",
    "complex64", "bool", ...) and array-protocol type strings for everything else
    ("<f4", ">i2", "|u1", "=f8", "b1", "<U3"). Both map to the ezshm_dtype.h codes; 64-bit
    integers map to 'l'/'L' because that is what numpy on LP64 Linux reports as dtype.char.
*/
#ifndef EZSHM_NUMPY_DTYPE_H
#define EZSHM_NUMPY_DTYPE_H

#include "ezshm_descr.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char code;          /* ezshm one-char code; '\0' for a string ('U') dtype */
    bool big_endian;    /* the bytes are big-endian ('>' prefix) */
    size_t str_chars;   /* 'U' dtypes: UCS-4 code points per element; 0 otherwise */
} numpy_dtype_t;

/*  Parses s[0..len). Returns 0, or -1 when the string names no supported dtype
    (object, datetime, bytes 'S', void, unsupported sizes ...). */
int numpy_dtype_parse(const char *s, size_t len, numpy_dtype_t *out);

/*  Any dtype string a coordinate array may carry, as an ezshm_descr_t: a numpy name
    ("float32", "complex128"), a plain type string ("<U3", "|S2", ">f8") or the string form
    of a structured descr list, "[('label', '<U8'), ('x', '<f4')]" — parsed strictly by its
    grammar (never evaluated): a bracketed, comma-separated list of 2-tuples of a quoted name
    without backslashes and a quoted plain type string; packed fields, unique names. Returns
    0, or -1 for anything else (object arrays, sub-arrays, titles, nested records, the dict
    form numpy uses for padded records). */
int numpy_dtype_descr(const char *s, size_t len, ezshm_descr_t *out);

/*  numpy's str(dtype) for a code ("float32" for 'f', "int64" for 'l' and 'q'),
    or NULL for an unsupported code. */
const char *numpy_dtype_name(char code);

/*  The code for a command-line spelling: a one-char code, a numpy name or a type string;
    '\0' when unknown or a string dtype. */
char numpy_dtype_code(const char *s);

#ifdef __cplusplus
}
#endif
#endif
