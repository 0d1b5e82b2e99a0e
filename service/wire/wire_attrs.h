/*  wire_attrs.h — an AxisArray's "attrs" JSON object as a plain-value dict (ezshm_tree.h),
    for the stream metadata (internal to the wire decoder; wire_decoder_attrs is the API).

    Carried: strings (valid UTF-8; an escaped lone surrogate, which a Python str holds, as
    CPython's pickle writes it: surrogatepass bytes), integers in [-2^63, 2^64-1]
    (a JSON number without '.', 'e' or 'E', as Python's json reads it) and other numbers
    as floats (NaN/Infinity included), true/false/null, lists, objects (keys interned in key_pool, as json.loads
    shares equal keys of one document) and ezmsg's {"_type": "_ndarray"} arrays (any dtype
    numpy_dtype_descr accepts; read-only, as the decoder's np.frombuffer gives them).
    Dropped, by top-level key: ezmsg-zmq's {"_type": "_pickle"} fallback (never unpickled),
    any other "_type" object, object arrays, arrays of more than EZSHM_NUMPY_MAX_NDIM dims,
    invalid UTF-8, integers beyond 64 bits, nesting deeper than the tree
    allows. Bounded: attrs of more than WIRE_ATTRS_MAX_NODES values (keys, values and items
    all count) are dropped as a whole, so one message costs linear work of bounded size.
*/
#ifndef WIRE_ATTRS_H
#define WIRE_ATTRS_H

#include "ezshm_tree.h"
#include "json_relaxed.h"
#include "wire_ndarray.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Most values the attrs of one message may hold in the metadata. */
#define WIRE_ATTRS_MAX_NODES 65536

/*  Returned when the attrs were over WIRE_ATTRS_MAX_NODES (*out is then an empty dict). */
#define WIRE_ATTRS_OVER 1

/*  Builds the dict of attrs (an object node, or NULL for none) into *out. dropped gets the
    dropped top-level keys, comma-separated (cut to dropped_len). scratch buffers are the
    decoder's. Returns 0, WIRE_ATTRS_OVER or WIRE_ERR_NOMEM. */
int wire_attrs_to_tree(const jr_doc_t *doc, const jr_node_t *attrs, ezshm_tree_t *tree,
                       int key_pool, wire_scratch_t *bytes, wire_scratch_t *text,
                       ezshm_node_t **out, char *dropped, size_t dropped_len);

#ifdef __cplusplus
}
#endif
#endif
