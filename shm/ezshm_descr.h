/*  ezshm_descr.h — a numpy array dtype as the metadata format carries it.

    The ring itself only knows one-character codes (ezshm_dtype.h). Coordinate arrays in the
    stream metadata (the aux segment) can be more: strings ('U' UCS-4, 'S' bytes) and
    structured records whose fields are such scalars. An ezshm_descr_t describes any of
    them without allocating: a plain type is kind + byte order + item size; a structured
    type ('V') adds up to EZSHM_DESCR_MAX_FIELDS named fields at byte offsets.

    What is refused (no descr): object arrays (their bytes are pointers into another
    process), nested records, sub-array fields, field titles, padding fields. A caller
    leaves such an array out rather than guess.
*/
#ifndef EZSHM_DESCR_H
#define EZSHM_DESCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EZSHM_DESCR_MAX_FIELDS 32
#define EZSHM_DESCR_NAME_MAX 63        /* bytes of UTF-8 in one field name */

/*  One plain scalar type: numpy's array-protocol kind letter, byte order and size. */
typedef struct {
    char kind;          /* 'b' bool, 'i', 'u', 'f', 'c', 'U' (UCS-4 text), 'S' (bytes) */
    char order;         /* '<' little, '>' big, '|' not applicable (1-byte, 'S') */
    uint32_t itemsize;  /* bytes per element ('U': 4 per code point) */
} ezshm_scalar_t;

typedef struct {
    ezshm_scalar_t type;
    uint32_t offset;                        /* byte offset inside the record */
    char name[EZSHM_DESCR_NAME_MAX + 1];    /* NUL-terminated UTF-8 */
} ezshm_field_t;

typedef struct {
    /*  'V' for a structured record, otherwise the plain type's kind (then nfields is 0
        and type says everything). */
    char kind;
    ezshm_scalar_t type;            /* plain types; for 'V': kind 'V', order '|', size */
    uint32_t nfields;
    ezshm_field_t fields[EZSHM_DESCR_MAX_FIELDS];
} ezshm_descr_t;

/*  Fills *out from a plain array-protocol type string ("<f4", "|S2", "U3", "b1"; a missing
    order means little-endian for multi-byte types) or a one-character code ("?", "<e"). Returns 0, or -1 when the string is not
    a supported plain type (object, datetime, void, a size that kind cannot have). */
int ezshm_descr_parse_typestr(const char *s, size_t len, ezshm_scalar_t *out);

/*  Sets *out to the plain type t. */
void ezshm_descr_plain(ezshm_descr_t *out, ezshm_scalar_t t);

/*  Bytes per element of the array type. */
uint32_t ezshm_descr_itemsize(const ezshm_descr_t *d);

/*  numpy's dtype.str of a plain type ("<f8", "|S2", "<U3") into buf (>= 16 bytes). */
void ezshm_descr_typestr(ezshm_scalar_t t, char *buf, size_t buflen);

/*  True when two descrs describe the same dtype. */
bool ezshm_descr_equal(const ezshm_descr_t *a, const ezshm_descr_t *b);

#ifdef __cplusplus
}
#endif
#endif
