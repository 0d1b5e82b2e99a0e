/*  wire_ndarray.c — dtype, shape and base64 payload of ezmsg ndarray objects. */
#include "wire_ndarray.h"
#include "ezshm_value.h"
#include "wire.h"
#include "wire_base64.h"
#include "ezshm_dtype.h"
#include "ezshm_tree.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
wire_scratch_reserve(wire_scratch_t *scratch, size_t need)
{
    if (need <= scratch->cap)
        return true;
    size_t cap = scratch->cap ? scratch->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *grown = (unsigned char *) realloc(scratch->data, cap);
    if (!grown)
        return false;
    scratch->data = grown;
    scratch->cap = cap;
    return true;
}

int
wire_ndarray_read(const jr_doc_t *doc, const jr_node_t *node, const char *what,
                  wire_ndarray_t *out, char *err, size_t errlen)
{
    if (!node || node->type != JR_OBJECT) {
        snprintf(err, errlen, "%s is not an ndarray object", what);
        return WIRE_ERR_MISSING_FIELD;
    }
    const jr_node_t *dtype = jr_member(doc, node, "dtype");
    if (!dtype || dtype->type != JR_STRING) {
        snprintf(err, errlen, "%s has no dtype string", what);
        return WIRE_ERR_MISSING_FIELD;
    }
    size_t dlen;
    const char *dname = jr_raw(doc, dtype, &dlen);
    if (numpy_dtype_parse(dname, dlen, &out->dtype)) {
        snprintf(err, errlen, "%s has unknown dtype '%.*s'", what, (int) (dlen > 32 ? 32 : dlen),
                 dname);
        return WIRE_ERR_DTYPE;
    }
    if (out->dtype.code)
        out->itemsize = ezshm_dtype_itemsize(out->dtype.code);
    else if (out->dtype.str_chars > SIZE_MAX / 4) {
        snprintf(err, errlen, "%s: string dtype too wide", what);
        return DROP_SIZE_OVERFLOW;
    }
    else
        out->itemsize = 4 * out->dtype.str_chars;

    return wire_ndarray_read_shape(doc, node, what, out, err, errlen);
}

int
wire_ndarray_read_shape(const jr_doc_t *doc, const jr_node_t *node, const char *what,
                        wire_ndarray_t *out, char *err, size_t errlen)
{
    const jr_node_t *shape = jr_member(doc, node, "shape");
    if (!shape || shape->type != JR_ARRAY) {
        snprintf(err, errlen, "%s has no shape array", what);
        return WIRE_ERR_MISSING_FIELD;
    }
    if (shape->count == 0 || shape->count > AXISARRAY_MAX_NDIM) {
        snprintf(err, errlen, "%s has %u dimensions (1..%d allowed)", what, shape->count,
                 AXISARRAY_MAX_NDIM);
        return WIRE_ERR_NDIM;
    }
    out->ndim = shape->count;
    size_t i = 0;
    for (const jr_node_t *e = jr_first(doc, shape); e; e = jr_next(doc, e), i++) {
        uint64_t v;
        if (!jr_uint64(doc, e, &v)) {
            snprintf(err, errlen, "%s shape[%zu] is not a non-negative integer", what, i);
            return WIRE_ERR_MISSING_FIELD;
        }
        out->shape[i] = (size_t) v;
    }
    /*  numpy's rule, judged after every entry: a zero makes the array empty, but the other
        entries must still multiply within int64 (numpy refuses such a shape to load). */
    if (!ezshm_shape_bytes(out->ndim, out->shape, out->itemsize, &out->nbytes)
        || !ezshm_shape_bytes(out->ndim, out->shape, 1, &out->nelem)) {
        snprintf(err, errlen, "%s: prod(shape) * itemsize overflows", what);
        return DROP_SIZE_OVERFLOW;
    }
    const jr_node_t *b64 = jr_member(doc, node, "data");
    out->base64 = b64 && b64->type == JR_STRING ? b64 : NULL;
    return 0;
}

/*  The checks around a decode that returned rc with decoded bytes: the sentence for each. */
static int
s_base64_verdict(const wire_ndarray_t *nd, const char *what, int rc, size_t decoded, char *err,
                 size_t errlen)
{
    if (rc) {
        snprintf(err, errlen, "%s is not valid base64", what);
        return WIRE_ERR_JSON;
    }
    if (decoded != nd->nbytes) {
        snprintf(err, errlen, "%s has %zu bytes but shape and dtype need %zu", what, decoded,
                 nd->nbytes);
        return WIRE_ERR_SHAPE;
    }
    return 0;
}

static int
s_no_base64(const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s has no base64 data string", what);
    return WIRE_ERR_MISSING_FIELD;
}

int
wire_ndarray_decode_base64(const jr_doc_t *doc, const wire_ndarray_t *nd, const char *what,
                           wire_scratch_t *scratch, wire_scratch_t *text,
                           char *err, size_t errlen)
{
    if (!nd->base64)
        return s_no_base64(what, err, errlen);
    size_t len;
    const char *b64 = jr_raw(doc, nd->base64, &len);
    /*  Python never escapes base64 characters, but JSON allows "\/" for "/". */
    if (nd->base64->escaped) {
        if (!wire_scratch_reserve(text, len + 1))
            return WIRE_ERR_NOMEM;
        len = jr_string(doc, nd->base64, (char *) text->data);
        b64 = (const char *) text->data;
    }
    if (!wire_scratch_reserve(scratch, WIRE_BASE64_MAX_DECODED(len) + 1))
        return WIRE_ERR_NOMEM;
    size_t decoded;
    int rc = wire_base64_decode(scratch->data, b64, len, &decoded);
    return s_base64_verdict(nd, what, rc, decoded, err, errlen);
}

int
wire_ndarray_validate_base64(const jr_doc_t *doc, const wire_ndarray_t *nd, const char *what,
                             const char **b64, size_t *len, char *err, size_t errlen)
{
    if (!nd->base64)
        return s_no_base64(what, err, errlen);
    *b64 = jr_raw(doc, nd->base64, len);
    size_t decoded;
    int rc = wire_base64_validate(*b64, *len, &decoded);
    return s_base64_verdict(nd, what, rc, decoded, err, errlen);
}

double
wire_ndarray_element(const unsigned char *bytes, size_t i, char code, bool big)
{
    size_t size = ezshm_dtype_component_size(code);
    size_t stride = ezshm_dtype_itemsize(code);
    unsigned char b[8];
    memcpy(b, bytes + i * stride, size);
    if (big)
        wire_byteswap(b, b, size, size);
    /*  A complex element contributes its real part (the first component). */
    char scalar = code == 'F' ? 'f' : code == 'D' ? 'd' : code;
    return ezshm_value_to_double(scalar, b);
}
