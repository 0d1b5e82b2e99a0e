/*  ezshm_tree.h — a tree of plain values: the stream metadata as C sees it.

    The aux segment of a stream (docs/shm-layout.md) holds a Python pickle of a dict of plain
    values. This is that value in C: None, bool, int (-2^63 .. 2^64-1), float, complex, str (UTF-8),
    bytes, list, tuple, dict (str keys, insertion order), numpy dtypes and numpy arrays (an ezshm_descr_t
    dtype, a shape and C-order bytes; a numpy scalar is an array of ndim 0 marked scalar;
    an object array, which only the reader can meet, keeps its elements as items).

    All nodes of a tree live in one arena owned by the ezshm_tree_t: building allocates from
    it, ezshm_tree_destroy (or _reset) frees everything at once. Nodes may be shared: the
    same node added twice is one object referenced twice, which is how the pickle encoder
    knows to write a memo reference (Python pickles by object identity). Strings that
    CPython keeps as singletons — "" and one-character Latin-1 strings — are shared
    automatically; ezshm_tree_intern shares equal strings within a caller's pool.

    Containers are sealed when they become an item of another container (or are looked up
    again by the unpickler): a sealed container cannot grow, so no tree has a cycle, and
    every node records its height, so no tree is deeper than EZSHM_TREE_MAX_DEPTH.

    Readers walk the public fields of ezshm_node_t; only the functions below build nodes.
*/
#ifndef EZSHM_TREE_H
#define EZSHM_TREE_H

#include "ezshm_descr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Deepest nesting of containers a tree may have (the root dict counts 1). */
#define EZSHM_TREE_MAX_DEPTH 48
/*  Most dims an array node may have (numpy 2's limit). */
#define EZSHM_TREE_MAX_NDIM 64
/*  Most dims every numpy loads (1.x's NPY_MAXDIMS): the most a writer publishes. */
#define EZSHM_NUMPY_MAX_NDIM 32

typedef enum {
    EZSHM_NODE_NONE,
    EZSHM_NODE_BOOL,
    EZSHM_NODE_INT,
    EZSHM_NODE_FLOAT,
    EZSHM_NODE_COMPLEX,
    EZSHM_NODE_STR,
    EZSHM_NODE_BYTES,
    EZSHM_NODE_LIST,
    EZSHM_NODE_TUPLE,
    EZSHM_NODE_DICT,
    EZSHM_NODE_NDARRAY,
    EZSHM_NODE_DTYPE            /* a numpy dtype object (descr) */
} ezshm_node_type_t;

typedef struct ezshm_node_t ezshm_node_t;
struct ezshm_node_t {
    ezshm_node_type_t type;
    bool boolean;               /* BOOL: the value */
    bool writable;              /* BYTES: a bytearray; NDARRAY: buffer pickled as bytearray */
    bool scalar;                /* NDARRAY: a numpy scalar (ndim 0) */
    bool sealed;                /* containers: may no longer grow */
    bool u64;                   /* INT: the value is (uint64_t) integer, above INT64_MAX */
    uint32_t height;            /* 1 for leaves, 1 + the highest item for containers */
    int64_t integer;            /* INT (see u64) */
    double re, im;              /* FLOAT: re; COMPLEX: both */
    const char *bytes;          /* STR: UTF-8 (a lone surrogate as its surrogatepass
                                   bytes, as CPython pickles it) + NUL; BYTES; NDARRAY:
                                   C-order data */
    size_t len;                 /* bytes in `bytes` (without the NUL) */
    ezshm_node_t **items;       /* LIST, TUPLE; DICT: key, value, key, value ...; 'O' arrays */
    size_t n;                   /* items; DICT: pairs */
    size_t cap;
    const ezshm_descr_t *descr; /* NDARRAY: the dtype ('O' kind: an object array); DTYPE */
    size_t ndim;                /* NDARRAY */
    const size_t *shape;        /* NDARRAY: ndim sizes */
    uint32_t *index;            /* DICT: the tree's hash index of the keys (internal) */
    size_t index_cap;
};

typedef struct _ezshm_tree_t ezshm_tree_t;

/*  An empty tree; NULL when out of memory. */
ezshm_tree_t *ezshm_tree_new(void);

/*  Frees every node and the tree; NULL-safe, NULLs the pointer. */
void ezshm_tree_destroy(ezshm_tree_t **self_p);

/*  Frees every node but keeps the arena's first block for the next build. */
void ezshm_tree_reset(ezshm_tree_t *self);

/*  The value the tree stands for (NULL until set). */
const ezshm_node_t *ezshm_tree_root(const ezshm_tree_t *self);
void ezshm_tree_set_root(ezshm_tree_t *self, ezshm_node_t *root);

/*  Bytes the arena holds (what the tree costs in memory). */
size_t ezshm_tree_memory(const ezshm_tree_t *self);

/*  Nodes made since the tree was made or reset (what a builder bounds its input by). */
size_t ezshm_tree_nodes(const ezshm_tree_t *self);

/*  Leaf constructors. Every one returns NULL when out of memory. None, True and False are
    shared nodes. str copies len bytes of UTF-8 (the caller vouches it is valid); bytes
    copies len bytes. */
ezshm_node_t *ezshm_tree_none(ezshm_tree_t *self);
ezshm_node_t *ezshm_tree_bool(ezshm_tree_t *self, bool value);
ezshm_node_t *ezshm_tree_int(ezshm_tree_t *self, int64_t value);
/*  An int from an unsigned value (above INT64_MAX it is marked u64). */
ezshm_node_t *ezshm_tree_uint(ezshm_tree_t *self, uint64_t value);
ezshm_node_t *ezshm_tree_float(ezshm_tree_t *self, double value);
ezshm_node_t *ezshm_tree_complex(ezshm_tree_t *self, double re, double im);
ezshm_node_t *ezshm_tree_str(ezshm_tree_t *self, const char *s, size_t len);
ezshm_node_t *ezshm_tree_bytes(ezshm_tree_t *self, const void *data, size_t len, bool writable);

/*  A string node shared by every call with equal bytes and the same pool number (the
    caller's notion of "the same Python object": e.g. one pool for a JSON document's keys). */
ezshm_node_t *ezshm_tree_intern(ezshm_tree_t *self, int pool, const char *s, size_t len);

/*  Empty containers. */
ezshm_node_t *ezshm_tree_list(ezshm_tree_t *self);
ezshm_node_t *ezshm_tree_tuple(ezshm_tree_t *self);
ezshm_node_t *ezshm_tree_dict(ezshm_tree_t *self);

/*  An array: copies descr, shape and nbytes of C-order data (nbytes must equal
    prod(shape) * itemsize). ndim 0 with scalar true is a numpy scalar. */
ezshm_node_t *ezshm_tree_ndarray(ezshm_tree_t *self, const ezshm_descr_t *descr, size_t ndim,
                                 const size_t *shape, const void *data, size_t nbytes,
                                 bool scalar);

/*  A numpy dtype object (copies descr). */
ezshm_node_t *ezshm_tree_dtype(ezshm_tree_t *self, const ezshm_descr_t *descr);

/*  An object array ('O'): its elements are added with ezshm_tree_append (C order). */
ezshm_node_t *ezshm_tree_object_array(ezshm_tree_t *self, size_t ndim, const size_t *shape);

/*  Appends item to a list, tuple (while it is built) or object array. EZSHM_OK,
    EZSHM_ERR_NOMEM, or EZSHM_ERR_INVAL when seq is no sequence, is sealed, is item itself,
    or would grow deeper than EZSHM_TREE_MAX_DEPTH. item is sealed. */
int ezshm_tree_append(ezshm_tree_t *self, ezshm_node_t *seq, ezshm_node_t *item);

/*  dict[key] = value; key must be a STR node; an equal key keeps its place and gets the
    new value (Python's rule). Constant time on average (big dicts keep a hash index
    whose seed is random per tree). Same errors as ezshm_tree_append. */
int ezshm_tree_set(ezshm_tree_t *self, ezshm_node_t *dict, ezshm_node_t *key,
                   ezshm_node_t *value);

/*  Seals a container (no-op for leaves). */
void ezshm_tree_seal(ezshm_node_t *node);

/*  dict[key] or NULL (also when dict is NULL or no dict); searches in order (for readers
    looking up a few known keys). */
const ezshm_node_t *ezshm_node_get(const ezshm_node_t *dict, const char *key);

/*  The string of a STR node, or NULL when node is NULL or no string. */
const char *ezshm_node_str(const ezshm_node_t *node);

/*  Deep equality of values: like Python's == on the decoded objects, except that types must
    match (int 1 != float 1.0), NaN equals NaN, and arrays are equal when dtype, shape and
    bytes are. */
bool ezshm_node_equal(const ezshm_node_t *a, const ezshm_node_t *b);

/*  numpy's rule for a shape: every size and the product of the non-zero sizes times
    itemsize fit in int64 (so no product wraps, even with a zero size elsewhere). Sets
    *nbytes to prod(shape) * itemsize; false when the shape breaks the rule. */
bool ezshm_shape_bytes(size_t ndim, const size_t *shape, size_t itemsize, size_t *nbytes);

/*  Number of elements of an array node (product of its shape; 1 for ndim 0). */
size_t ezshm_node_nelem(const ezshm_node_t *node);

#ifdef __cplusplus
}
#endif
#endif
