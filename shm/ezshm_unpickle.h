/*  ezshm_unpickle.h — a restricted unpickler for the stream metadata (aux segment).

    The blob comes from another process's shared memory: hostile until checked. This is not
    Python's unpickler. It knows only the opcodes a pickle of plain values and numpy arrays
    contains (docs/shm-layout.md lists them) and only these callables, which it never calls:
    it recognises them by name and builds the value they would return —

        numpy.core.numeric._frombuffer / numpy._core.numeric._frombuffer    an array
        numpy.dtype                                                          a dtype
        numpy.core.multiarray.scalar / numpy._core.multiarray.scalar        a numpy scalar
        numpy.core.multiarray._reconstruct / numpy._core..., numpy.ndarray   an array
        builtins.complex                                                     a complex

    Anything else — another global (os.system, builtins.eval ...), REDUCE or BUILD of
    anything but the above, persistent ids, extension codes, out-of-band buffers, a
    truncated or oversized blob, nesting deeper than EZSHM_TREE_MAX_DEPTH, a memo index
    that was never set, invalid UTF-8 — is an error with the byte offset and a sentence.
    Memory is bounded: the blob is at most EZSHM_UNPICKLE_MAX_BYTES, and the tree it builds
    together with the machine's stack, memo and records at most EZSHM_UNPICKLE_MAX_TREE
    bytes plus twice the blob. Work is linear in the blob (dict keys are hashed). A shape
    numpy would refuse (a size or product beyond int64, even beside a zero size) is an
    error, so every array's bytes match its shape.
*/
#ifndef EZSHM_UNPICKLE_H
#define EZSHM_UNPICKLE_H

#include "ezshm_tree.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EZSHM_UNPICKLE_MAX_BYTES (16u << 20)
#define EZSHM_UNPICKLE_MAX_TREE (64u << 20)

/*  Decodes blob[0..len) into tree (reset first; its root is the value). Returns EZSHM_OK,
    EZSHM_ERR_NOMEM, or EZSHM_ERR_PICKLE with a sentence in err (errlen bytes). */
int ezshm_unpickle(const void *blob, size_t len, ezshm_tree_t *tree, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
