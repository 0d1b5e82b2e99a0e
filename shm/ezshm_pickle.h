/*  ezshm_pickle.h — a plain-value tree as Python pickle protocol 5, the way CPython writes it.

    The aux segment must be readable by `pickle.loads` with numpy alone, and the goal is the
    very bytes ezmsg-tools' writer produces for the same value, so the encoder emits exactly
    the opcodes CPython's pickler does: PROTO 5, one FRAME per ~64 KiB (data of 64 KiB or more
    outside frames), MEMOIZE after every memoised object, BINGET for an object seen before,
    the shortest int opcode, arrays through numpy's reduce (`numpy.core.numeric._frombuffer`
    with a `numpy.dtype` and its state tuple), numpy scalars through
    `numpy.core.multiarray.scalar`, complex through `builtins.complex`.

    Object identity follows the tree: a node added twice is written once and referenced;
    the strings CPython shares ("", one Latin-1 character, module and function names) and
    numpy's built-in dtypes (native-order numbers) are shared by value, as CPython does.

    One pickler is reused across dumps: its buffer and memo keep their memory.
*/
#ifndef EZSHM_PICKLE_H
#define EZSHM_PICKLE_H

#include "ezshm_tree.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _ezshm_pickler_t ezshm_pickler_t;

/*  A pickler; NULL when out of memory. */
ezshm_pickler_t *ezshm_pickler_new(void);

/*  Destroys the pickler; NULL-safe, NULLs the pointer. */
void ezshm_pickler_destroy(ezshm_pickler_t **self_p);

/*  Pickles root. On EZSHM_OK *out points at *len bytes owned by the pickler, valid until the
    next dump. EZSHM_ERR_NOMEM, or EZSHM_ERR_INVAL for a tree it cannot write (an object
    array, an array whose bytes do not match its shape, a dict key that is not a str). */
int ezshm_pickler_dump(ezshm_pickler_t *self, const ezshm_node_t *root,
                       const unsigned char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
