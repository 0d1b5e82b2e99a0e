/*  ezshm_unpickle.c — the restricted unpickler (ezshm_unpickle.h says what it accepts).

    The machine is Python's: a stack of values with marks, a memo. Values are tree nodes,
    or four things a plain tree has no place for: a recognised callable (a global), a tuple
    not yet known to be plain (REDUCE arguments hold callables and dtypes), a numpy dtype
    and an ndarray under construction (both are changed in place by BUILD, and the memo
    must see that, so they live in records the values point to). Tuples, dtypes and arrays
    become tree nodes when they are put into a container or returned. */
#include "ezshm_unpickle.h"
#include "ezshm_error.h"
#include "ezshm_pickle_ops.h"
#include "ezshm_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MARKS (2 * EZSHM_TREE_MAX_DEPTH)

typedef enum { V_UNSET = 0, V_NODE, V_GLOBAL, V_TUPLE, V_DTYPE, V_ARRAY } vkind_t;

typedef struct {
    vkind_t kind;
    size_t index;               /* V_GLOBAL: pk_global_t; V_TUPLE/V_DTYPE/V_ARRAY: record */
    ezshm_node_t *node;         /* V_NODE */
} value_t;

typedef struct {
    size_t first, n;            /* items in the item pool */
    uint32_t height;
    ezshm_node_t *node;         /* once materialised */
} tuple_rec_t;

typedef struct {
    ezshm_descr_t descr;
    bool built;                 /* BUILD gave its state */
    ezshm_node_t *node;         /* once materialised */
} dtype_rec_t;

typedef struct {
    ezshm_node_t *node;         /* set by BUILD */
} array_rec_t;

typedef struct {
    const unsigned char *start, *p, *end;
    const unsigned char *op_at;
    ezshm_tree_t *tree;
    size_t tree_limit;
    value_t *stack;
    size_t sp, stack_cap;
    size_t marks[MAX_MARKS];
    size_t nmarks;
    value_t *memo;
    size_t memo_len, memo_cap;
    tuple_rec_t *tuples;
    size_t ntuples, tuples_cap;
    value_t *items;
    size_t nitems, items_cap;
    dtype_rec_t *dtypes;
    size_t ndtypes, dtypes_cap;
    array_rec_t *arrays;
    size_t narrays, arrays_cap;
    char *err;
    size_t errlen;
    int rc;
} up_t;

static const struct {
    const char *module, *name;
    pk_global_t global;
} s_allowed[] = {
    {"numpy.core.numeric", "_frombuffer", PK_G_FROMBUFFER},
    {"numpy._core.numeric", "_frombuffer", PK_G_FROMBUFFER},
    {"numpy", "dtype", PK_G_DTYPE},
    {"numpy.core.multiarray", "scalar", PK_G_SCALAR},
    {"numpy._core.multiarray", "scalar", PK_G_SCALAR},
    {"numpy.core.multiarray", "_reconstruct", PK_G_RECONSTRUCT},
    {"numpy._core.multiarray", "_reconstruct", PK_G_RECONSTRUCT},
    {"numpy", "ndarray", PK_G_NDARRAY},
    {"builtins", "complex", PK_G_COMPLEX},
};

__attribute__((format(printf, 2, 3))) static int
s_fail(up_t *up, const char *fmt, ...)
{
    if (up->rc)
        return up->rc;
    up->rc = EZSHM_ERR_PICKLE;
    int n = snprintf(up->err, up->errlen, "offset %zu: ", (size_t) (up->op_at - up->start));
    if (n >= 0 && (size_t) n < up->errlen) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(up->err + n, up->errlen - (size_t) n, fmt, args);
        va_end(args);
    }
    return up->rc;
}

static int
s_nomem(up_t *up)
{
    if (!up->rc) {
        up->rc = EZSHM_ERR_NOMEM;
        snprintf(up->err, up->errlen, "out of memory");
    }
    return up->rc;
}

/*  Grows a pool to hold need items of size item; false (and an error) when it cannot. */
static bool
s_grow(up_t *up, void **pool, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *grown = n < SIZE_MAX / item ? realloc(*pool, n * item) : NULL;
    if (!grown) {
        s_nomem(up);
        return false;
    }
    *pool = grown;
    *cap = n;
    return true;
}

/*  ---- reading --------------------------------------------------------------------------- */

static bool
s_read(up_t *up, size_t n, const unsigned char **out)
{
    if ((size_t) (up->end - up->p) < n) {
        s_fail(up, "truncated: %zu bytes needed, %zu left", n, (size_t) (up->end - up->p));
        return false;
    }
    *out = up->p;
    up->p += n;
    return true;
}

/*  A little-endian unsigned argument of n bytes. */
static bool
s_arg(up_t *up, size_t n, uint64_t *v)
{
    const unsigned char *b;
    if (!s_read(up, n, &b))
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t) b[i] << (8 * i);
    return true;
}

/*  ---- the stack ----------------------------------------------------------------------- */

static void
s_push(up_t *up, value_t v)
{
    if (!up->rc && s_grow(up, (void **) &up->stack, &up->stack_cap, up->sp + 1, sizeof(value_t)))
        up->stack[up->sp++] = v;
}

static void
s_push_node(up_t *up, ezshm_node_t *node)
{
    if (!node) {
        s_nomem(up);
        return;
    }
    s_push(up, (value_t) {.kind = V_NODE, .node = node});
}

/*  The lowest stack slot the current mark frame may reach. */
static size_t
s_floor(const up_t *up)
{
    return up->nmarks ? up->marks[up->nmarks - 1] : 0;
}

static bool
s_pop(up_t *up, value_t *v)
{
    if (up->sp <= s_floor(up)) {
        s_fail(up, "stack underflow");
        return false;
    }
    *v = up->stack[--up->sp];
    return true;
}

static bool
s_top(up_t *up, value_t **v)
{
    if (up->sp <= s_floor(up)) {
        s_fail(up, "stack underflow");
        return false;
    }
    *v = &up->stack[up->sp - 1];
    return true;
}

/*  Pops everything above the last MARK and the mark; the items stay readable at
    stack[*first .. *first + *n) until the next push. */
static bool
s_pop_mark(up_t *up, size_t *first, size_t *n)
{
    if (!up->nmarks) {
        s_fail(up, "no MARK to pop");
        return false;
    }
    *first = up->marks[--up->nmarks];
    *n = up->sp - *first;
    up->sp = *first;
    return true;
}

/*  ---- values ---------------------------------------------------------------------------- */

static const char *
s_global_name(size_t g)
{
    for (size_t i = 0; i < sizeof s_allowed / sizeof s_allowed[0]; i++)
        if (s_allowed[i].global == (pk_global_t) g)
            return s_allowed[i].name;
    return "?";
}

static uint32_t
s_height(const up_t *up, value_t v)
{
    if (v.kind == V_NODE)
        return v.node->height;
    if (v.kind == V_TUPLE)
        return up->tuples[v.index].height;
    return 1;
}

static ezshm_node_t *s_node_of(up_t *up, value_t v);

/*  A tuple record as a TUPLE node (made once). */
static ezshm_node_t *
s_tuple_node(up_t *up, size_t index)
{
    if (up->tuples[index].node)
        return up->tuples[index].node;
    ezshm_node_t *t = ezshm_tree_tuple(up->tree);
    if (!t) {
        s_nomem(up);
        return NULL;
    }
    for (size_t i = 0; i < up->tuples[index].n; i++) {
        ezshm_node_t *item = s_node_of(up, up->items[up->tuples[index].first + i]);
        if (!item)
            return NULL;
        int rc = ezshm_tree_append(up->tree, t, item);
        if (rc) {
            rc == EZSHM_ERR_NOMEM ? s_nomem(up) : s_fail(up, "tuple nested too deep");
            return NULL;
        }
    }
    ezshm_tree_seal(t);
    up->tuples[index].node = t;
    return t;
}

/*  The tree node a value stands for; an error for callables and unfinished objects. */
static ezshm_node_t *
s_node_of(up_t *up, value_t v)
{
    switch (v.kind) {
    case V_NODE:
        return v.node;
    case V_TUPLE:
        return s_tuple_node(up, v.index);
    case V_DTYPE: {
        dtype_rec_t *d = &up->dtypes[v.index];
        if (!d->built) {
            s_fail(up, "a dtype is used before its state was set");
            return NULL;
        }
        if (!d->node && !(d->node = ezshm_tree_dtype(up->tree, &d->descr)))
            s_nomem(up);
        return d->node;
    }
    case V_ARRAY:
        if (!up->arrays[v.index].node)
            s_fail(up, "an ndarray is used before its state was set");
        return up->arrays[v.index].node;
    case V_GLOBAL:
        s_fail(up, "%s is not a value", s_global_name(v.index));
        return NULL;
    default:
        s_fail(up, "invalid value");
        return NULL;
    }
}

/*  Items of a tuple value (a record or a TUPLE node) as values, into out[0..max). */
static bool
s_tuple_items(up_t *up, value_t v, value_t *out, size_t want, const char *what)
{
    size_t n = v.kind == V_TUPLE ? up->tuples[v.index].n
             : v.kind == V_NODE && v.node->type == EZSHM_NODE_TUPLE ? v.node->n : SIZE_MAX;
    if (n != want) {
        s_fail(up, "%s is not a %zu-tuple", what, want);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = v.kind == V_TUPLE ? up->items[up->tuples[v.index].first + i]
                                   : (value_t) {.kind = V_NODE, .node = v.node->items[i]};
    return true;
}

static int
s_count(up_t *up, value_t v)
{
    return v.kind == V_TUPLE ? (int) up->tuples[v.index].n
         : v.kind == V_NODE && v.node->type == EZSHM_NODE_TUPLE ? (int) v.node->n : -1;
}

static const ezshm_node_t *
s_as(value_t v, ezshm_node_type_t type)
{
    return v.kind == V_NODE && v.node->type == type ? v.node : NULL;
}

/*  A built dtype from a value (a dtype record or a DTYPE node). */
static const ezshm_descr_t *
s_dtype_of(up_t *up, value_t v, const char *what)
{
    if (v.kind == V_DTYPE && up->dtypes[v.index].built)
        return &up->dtypes[v.index].descr;
    if (v.kind == V_NODE && v.node->type == EZSHM_NODE_DTYPE)
        return v.node->descr;
    s_fail(up, "%s is not a numpy dtype", what);
    return NULL;
}

static void
s_make_tuple(up_t *up, const value_t *src, size_t n)
{
    uint32_t height = 1;
    for (size_t i = 0; i < n; i++)
        if (s_height(up, src[i]) + 1 > height)
            height = s_height(up, src[i]) + 1;
    if (height > EZSHM_TREE_MAX_DEPTH) {
        s_fail(up, "nesting deeper than %d", EZSHM_TREE_MAX_DEPTH);
        return;
    }
    if (!s_grow(up, (void **) &up->tuples, &up->tuples_cap, up->ntuples + 1, sizeof(tuple_rec_t))
        || !s_grow(up, (void **) &up->items, &up->items_cap, up->nitems + n, sizeof(value_t)))
        return;
    tuple_rec_t *t = &up->tuples[up->ntuples];
    t->first = up->nitems;
    t->n = n;
    t->height = height;
    t->node = NULL;
    if (n)
        memcpy(up->items + up->nitems, src, n * sizeof(value_t));
    up->nitems += n;
    s_push(up, (value_t) {.kind = V_TUPLE, .index = up->ntuples++});
}

/*  ---- numpy --------------------------------------------------------------------------- */

/*  numpy.dtype(str, False, True): the type from its str ('f8', 'U6', 'S2', 'V50', 'O8'). */
static void
s_reduce_dtype(up_t *up, const value_t *args)
{
    const ezshm_node_t *name = s_as(args[0], EZSHM_NODE_STR);
    if (!name || !s_as(args[1], EZSHM_NODE_BOOL) || !s_as(args[2], EZSHM_NODE_BOOL)) {
        s_fail(up, "numpy.dtype arguments are not (str, bool, bool)");
        return;
    }
    ezshm_descr_t d;
    memset(&d, 0, sizeof d);
    char kind = name->len ? name->bytes[0] : '\0';
    uint64_t n = 0;
    bool digits = name->len >= 2 && name->len <= 9 && name->bytes[1] != '0';
    for (size_t i = 1; digits && i < name->len; i++) {
        digits = name->bytes[i] >= '0' && name->bytes[i] <= '9';
        n = n * 10 + (uint64_t) (name->bytes[i] - '0');
    }
    if (digits && kind == 'V' && n > 0 && n <= (1u << 24)) {
        d.kind = 'V';
        d.type = (ezshm_scalar_t) {'V', '|', (uint32_t) n};
    }
    else if (digits && kind == 'O' && n == 8) {
        d.kind = 'O';
        d.type = (ezshm_scalar_t) {'O', '|', 8};
    }
    else if (!digits || ezshm_descr_parse_typestr(name->bytes, name->len, &d.type)) {
        s_fail(up, "numpy.dtype('%.16s') is not a dtype this format carries", name->bytes);
        return;
    }
    else
        d.kind = d.type.kind;
    if (!s_grow(up, (void **) &up->dtypes, &up->dtypes_cap, up->ndtypes + 1, sizeof(dtype_rec_t)))
        return;
    up->dtypes[up->ndtypes] = (dtype_rec_t) {.descr = d};
    s_push(up, (value_t) {.kind = V_DTYPE, .index = up->ndtypes++});
}

static bool
s_int_of(value_t v, int64_t *out)
{
    if (v.kind != V_NODE || v.node->type != EZSHM_NODE_INT || v.node->u64)
        return false;
    *out = v.node->integer;
    return true;
}

/*  The fields of a record dtype from its names tuple and fields dict. */
static bool
s_record_fields(up_t *up, ezshm_descr_t *d, value_t names, value_t fields)
{
    const ezshm_node_t *dict = s_as(fields, EZSHM_NODE_DICT);
    int n = s_count(up, names);
    if (!dict || n < 1 || n > EZSHM_DESCR_MAX_FIELDS || (size_t) n != dict->n) {
        s_fail(up, "record dtype without matching names and fields (or over %d fields)",
               EZSHM_DESCR_MAX_FIELDS);
        return false;
    }
    value_t name_values[EZSHM_DESCR_MAX_FIELDS];
    s_tuple_items(up, names, name_values, (size_t) n, "names");
    for (int i = 0; i < n; i++) {
        const ezshm_node_t *name = s_as(name_values[i], EZSHM_NODE_STR);
        const ezshm_node_t *f = name ? ezshm_node_get(dict, name->bytes) : NULL;
        if (!f || name->len == 0 || name->len > EZSHM_DESCR_NAME_MAX
            || strlen(name->bytes) != name->len || f->type != EZSHM_NODE_TUPLE || f->n != 2
            || f->items[0]->type != EZSHM_NODE_DTYPE || f->items[1]->type != EZSHM_NODE_INT) {
            s_fail(up, "record field %d is not (dtype, offset) under a short name", i);
            return false;
        }
        const ezshm_descr_t *fd = f->items[0]->descr;
        int64_t offset = f->items[1]->integer;
        if (fd->kind == 'V' || fd->kind == 'O' || offset < 0
            || (uint64_t) offset + fd->type.itemsize > d->type.itemsize) {
            s_fail(up, "record field '%s' is nested, an object or outside the record",
                   name->bytes);
            return false;
        }
        ezshm_field_t *out = &d->fields[i];
        out->type = fd->type;
        out->offset = (uint32_t) offset;
        memcpy(out->name, name->bytes, name->len + 1);
    }
    d->nfields = (uint32_t) n;
    return true;
}

/*  BUILD of a dtype: (3, byteorder, subarray, names, fields, elsize, alignment, flags). */
static void
s_build_dtype(up_t *up, dtype_rec_t *rec, value_t state)
{
    value_t s[8];
    int64_t version, elsize;
    if (rec->built) {
        s_fail(up, "dtype state set twice");
        return;
    }
    if (!s_tuple_items(up, state, s, 8, "dtype state"))
        return;
    const ezshm_node_t *order = s_as(s[1], EZSHM_NODE_STR);
    if (!s_int_of(s[0], &version) || version != 3 || !order || order->len != 1
        || !strchr("<>|=", order->bytes[0]) || !s_as(s[2], EZSHM_NODE_NONE)
        || !s_int_of(s[5], &elsize)) {
        s_fail(up, "dtype state is not version 3 without a sub-array");
        return;
    }
    ezshm_descr_t *d = &rec->descr;
    char o = order->bytes[0];
    if (d->kind == 'V') {
        if (elsize != d->type.itemsize || !s_record_fields(up, d, s[3], s[4]))
            return (void) s_fail(up, "record dtype state does not match 'V%u'", d->type.itemsize);
    }
    else if (!s_as(s[3], EZSHM_NODE_NONE) || !s_as(s[4], EZSHM_NODE_NONE))
        return (void) s_fail(up, "plain dtype with fields");
    /*  numpy writes '|' where order means nothing; '=' is this (little-endian) host. */
    if (d->type.order != '|')
        d->type.order = o == '>' ? '>' : '<';
    rec->built = true;
}

static bool
s_shape_of(up_t *up, value_t v, size_t *ndim, size_t shape[EZSHM_TREE_MAX_NDIM], size_t itemsize,
           size_t *nbytes)
{
    int n = s_count(up, v);
    if (n < 0 || n > EZSHM_TREE_MAX_NDIM) {
        s_fail(up, "shape is not a tuple of at most %d sizes", EZSHM_TREE_MAX_NDIM);
        return false;
    }
    value_t items[EZSHM_TREE_MAX_NDIM];
    s_tuple_items(up, v, items, (size_t) n, "shape");
    for (int i = 0; i < n; i++) {
        int64_t size;
        if (!s_int_of(items[i], &size) || size < 0) {
            s_fail(up, "shape[%d] is not a non-negative int", i);
            return false;
        }
        shape[i] = (size_t) size;
    }
    size_t total;
    if (!ezshm_shape_bytes((size_t) n, shape, itemsize, &total)) {
        s_fail(up, "array size overflows (numpy refuses this shape)");
        return false;
    }
    *ndim = (size_t) n;
    *nbytes = total;
    return true;
}

/*  Fortran-order bytes into C order. */
static void
s_fortran_to_c(unsigned char *dst, const unsigned char *src, size_t ndim, const size_t *shape,
               size_t itemsize, size_t nelem)
{
    size_t idx[EZSHM_TREE_MAX_NDIM] = {0};
    for (size_t i = 0; i < nelem; i++) {
        size_t f = 0, stride = 1;
        for (size_t k = 0; k < ndim; k++) {
            f += idx[k] * stride;
            stride *= shape[k];
        }
        memcpy(dst + i * itemsize, src + f * itemsize, itemsize);
        for (size_t k = ndim; k-- > 0;) {
            if (++idx[k] < shape[k])
                break;
            idx[k] = 0;
        }
    }
}

/*  An array node from a dtype, a shape, a buffer and its order. */
static ezshm_node_t *
s_array(up_t *up, const ezshm_descr_t *d, value_t shape_v, const ezshm_node_t *buf, bool fortran)
{
    size_t ndim, shape[EZSHM_TREE_MAX_NDIM], nbytes;
    if (d->kind == 'O') {
        s_fail(up, "an object array cannot come from a buffer");
        return NULL;
    }
    if (!s_shape_of(up, shape_v, &ndim, shape, d->type.itemsize, &nbytes))
        return NULL;
    if (!buf || nbytes != buf->len) {
        s_fail(up, "array buffer is not bytes of prod(shape) * itemsize");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *) buf->bytes;
    unsigned char *c_order = NULL;
    if (fortran && ndim > 1 && nbytes) {
        if (!(c_order = (unsigned char *) malloc(nbytes))) {
            s_nomem(up);
            return NULL;
        }
        s_fortran_to_c(c_order, data, ndim, shape, d->type.itemsize, nbytes / d->type.itemsize);
        data = c_order;
    }
    ezshm_node_t *a = ezshm_tree_ndarray(up->tree, d, ndim, shape, data, nbytes, false);
    free(c_order);
    if (!a)
        s_nomem(up);
    else
        a->writable = buf->writable;
    return a;
}

/*  BUILD of _reconstruct's array: (1, shape, dtype, is_fortran, bytes or list of objects). */
static void
s_build_array(up_t *up, array_rec_t *rec, value_t state)
{
    value_t s[5];
    int64_t version;
    if (rec->node) {
        s_fail(up, "ndarray state set twice");
        return;
    }
    if (!s_tuple_items(up, state, s, 5, "ndarray state"))
        return;
    const ezshm_descr_t *d = s_dtype_of(up, s[2], "ndarray state dtype");
    const ezshm_node_t *fortran = s_as(s[3], EZSHM_NODE_BOOL);
    if (!d || !s_int_of(s[0], &version) || version != 1 || !fortran) {
        s_fail(up, "ndarray state is not (1, shape, dtype, bool, data)");
        return;
    }
    const ezshm_node_t *list = s_as(s[4], EZSHM_NODE_LIST);
    if (d->kind != 'O') {
        rec->node = s_array(up, d, s[1], s_as(s[4], EZSHM_NODE_BYTES), fortran->boolean);
        return;
    }
    size_t ndim, shape[EZSHM_TREE_MAX_NDIM], nbytes;
    /*  numpy sizes an object array by its pointers (8 bytes): the same overflow rule. */
    if (!s_shape_of(up, s[1], &ndim, shape, sizeof(void *), &nbytes))
        return;
    if (!list || list->n != nbytes / sizeof(void *) || (fortran->boolean && ndim > 1)) {
        s_fail(up, "object array elements are not a C-order list of prod(shape)");
        return;
    }
    ezshm_node_t *a = ezshm_tree_object_array(up->tree, ndim, shape);
    for (size_t i = 0; a && i < list->n; i++)
        if (ezshm_tree_append(up->tree, a, list->items[i])) {
            s_fail(up, "object array nested too deep");
            return;
        }
    if (!a)
        s_nomem(up);
    rec->node = a;
}

static void
s_reduce(up_t *up)
{
    value_t args, fn;
    if (!s_pop(up, &args) || !s_pop(up, &fn))
        return;
    if (fn.kind != V_GLOBAL) {
        s_fail(up, "REDUCE of something that is not an allowed callable");
        return;
    }
    int n = s_count(up, args);
    value_t a[4];
    if (n < 0 || n > 4) {
        s_fail(up, "REDUCE arguments are not a short tuple");
        return;
    }
    s_tuple_items(up, args, a, (size_t) n, "arguments");
    switch ((pk_global_t) fn.index) {
    case PK_G_DTYPE:
        if (n == 3)
            return s_reduce_dtype(up, a);
        break;
    case PK_G_FROMBUFFER:
        if (n == 4) {
            const ezshm_descr_t *d = s_dtype_of(up, a[1], "_frombuffer dtype");
            const ezshm_node_t *order = s_as(a[3], EZSHM_NODE_STR);
            if (!d)
                return;
            if (!order || order->len != 1 || (order->bytes[0] != 'C' && order->bytes[0] != 'F'))
                return (void) s_fail(up, "_frombuffer order is not 'C' or 'F'");
            return s_push_node(up, s_array(up, d, a[2], s_as(a[0], EZSHM_NODE_BYTES),
                                           order->bytes[0] == 'F'));
        }
        break;
    case PK_G_SCALAR:
        if (n == 2) {
            const ezshm_descr_t *d = s_dtype_of(up, a[0], "scalar dtype");
            const ezshm_node_t *b = s_as(a[1], EZSHM_NODE_BYTES);
            if (!d)
                return;
            if (d->kind == 'O' || !b || b->len != d->type.itemsize)
                return (void) s_fail(up, "numpy scalar bytes do not match its dtype");
            return s_push_node(up, ezshm_tree_ndarray(up->tree, d, 0, NULL, b->bytes, b->len,
                                                      true));
        }
        break;
    case PK_G_COMPLEX: {
        double part[2] = {0, 0};
        for (int i = 0; i < n && n <= 2; i++) {
            if (s_as(a[i], EZSHM_NODE_FLOAT))
                part[i] = a[i].node->re;
            else if (s_as(a[i], EZSHM_NODE_INT))
                part[i] = a[i].node->u64 ? (double) (uint64_t) a[i].node->integer
                                         : (double) a[i].node->integer;
            else
                return (void) s_fail(up, "complex() of something that is not a number");
        }
        if (n >= 1 && n <= 2)
            return s_push_node(up, ezshm_tree_complex(up->tree, part[0], part[1]));
        break;
    }
    case PK_G_RECONSTRUCT:
        if (n == 3 && a[0].kind == V_GLOBAL && a[0].index == PK_G_NDARRAY) {
            if (!s_grow(up, (void **) &up->arrays, &up->arrays_cap, up->narrays + 1,
                        sizeof(array_rec_t)))
                return;
            up->arrays[up->narrays].node = NULL;
            return s_push(up, (value_t) {.kind = V_ARRAY, .index = up->narrays++});
        }
        break;
    default:
        break;
    }
    s_fail(up, "REDUCE of %s with these arguments is not allowed", s_global_name(fn.index));
}

static void
s_build(up_t *up)
{
    value_t state, *target;
    if (!s_pop(up, &state) || !s_top(up, &target))
        return;
    if (target->kind == V_DTYPE)
        s_build_dtype(up, &up->dtypes[target->index], state);
    else if (target->kind == V_ARRAY)
        s_build_array(up, &up->arrays[target->index], state);
    else
        s_fail(up, "BUILD of something that is not a numpy dtype or ndarray");
}

/*  ---- containers ---------------------------------------------------------------------- */

static void
s_insert(up_t *up, value_t target, const value_t *v, size_t n, bool dict)
{
    if (target.kind != V_NODE || target.node->type != (dict ? EZSHM_NODE_DICT : EZSHM_NODE_LIST)) {
        s_fail(up, dict ? "SETITEM into something that is not a dict"
                        : "APPEND to something that is not a list");
        return;
    }
    if (dict && n % 2) {
        s_fail(up, "SETITEMS with an odd number of items");
        return;
    }
    for (size_t i = 0; i < n && !up->rc; i += dict ? 2 : 1) {
        ezshm_node_t *a = s_node_of(up, v[i]);
        ezshm_node_t *b = dict && a ? s_node_of(up, v[i + 1]) : NULL;
        if (!a || (dict && !b))
            return;
        if (dict && a->type != EZSHM_NODE_STR) {
            s_fail(up, "dict key is not a str");
            return;
        }
        int rc = dict ? ezshm_tree_set(up->tree, target.node, a, b)
                      : ezshm_tree_append(up->tree, target.node, a);
        if (rc == EZSHM_ERR_NOMEM)
            s_nomem(up);
        else if (rc)
            s_fail(up, "container shared, recursive or nested deeper than %d",
                   EZSHM_TREE_MAX_DEPTH);
    }
}

static void
s_global(up_t *up)
{
    value_t name, module;
    if (!s_pop(up, &name) || !s_pop(up, &module))
        return;
    const ezshm_node_t *m = s_as(module, EZSHM_NODE_STR), *q = s_as(name, EZSHM_NODE_STR);
    if (!m || !q) {
        s_fail(up, "STACK_GLOBAL of something that is not two strings");
        return;
    }
    for (size_t i = 0; i < sizeof s_allowed / sizeof s_allowed[0]; i++)
        if (strcmp(m->bytes, s_allowed[i].module) == 0 && strcmp(q->bytes, s_allowed[i].name) == 0
            && strlen(m->bytes) == m->len && strlen(q->bytes) == q->len)
            return s_push(up, (value_t) {.kind = V_GLOBAL, .index = s_allowed[i].global});
    s_fail(up, "global %.64s.%.64s is not allowed", m->bytes, q->bytes);
}

static void
s_memo_put(up_t *up, uint64_t index)
{
    value_t *top;
    if (!s_top(up, &top))
        return;
    /*  A memo index names an object written earlier, so it cannot exceed the blob's size. */
    if (index >= (uint64_t) (up->end - up->start)) {
        s_fail(up, "memo index %llu out of range", (unsigned long long) index);
        return;
    }
    if (!s_grow(up, (void **) &up->memo, &up->memo_cap, (size_t) index + 1, sizeof(value_t)))
        return;
    for (size_t i = up->memo_len; i < index; i++)
        up->memo[i].kind = V_UNSET;
    if (index >= up->memo_len)
        up->memo_len = (size_t) index + 1;
    up->memo[index] = *top;
}

static void
s_memo_get(up_t *up, uint64_t index)
{
    if (index >= up->memo_len || up->memo[index].kind == V_UNSET) {
        s_fail(up, "memo index %llu was never set", (unsigned long long) index);
        return;
    }
    value_t v = up->memo[index];
    /*  A container met a second time must not change any more (no cycles). */
    if (v.kind == V_NODE)
        ezshm_tree_seal(v.node);
    s_push(up, v);
}

/*  ---- the loop ------------------------------------------------------------------------ */

static void
s_string(up_t *up, size_t len_bytes)
{
    uint64_t n;
    const unsigned char *s;
    if (!s_arg(up, len_bytes, &n) || !s_read(up, n > SIZE_MAX ? SIZE_MAX : (size_t) n, &s))
        return;
    /*  CPython pickles a str with 'surrogatepass': a lone surrogate is valid text here. */
    if (!ezshm_utf8_valid_surrogatepass((const char *) s, (size_t) n))
        return (void) s_fail(up, "string is not valid UTF-8");
    s_push_node(up, ezshm_tree_str(up->tree, (const char *) s, (size_t) n));
}

static void
s_bytes(up_t *up, size_t len_bytes, bool writable)
{
    uint64_t n;
    const unsigned char *s;
    if (s_arg(up, len_bytes, &n) && s_read(up, n > SIZE_MAX ? SIZE_MAX : (size_t) n, &s))
        s_push_node(up, ezshm_tree_bytes(up->tree, s, (size_t) n, writable));
}

/*  LONG1: up to 64 bits signed, or nine bytes with a zero sign byte (2^63 .. 2^64-1, how
    CPython writes them). */
static void
s_long1(up_t *up)
{
    uint64_t n, v = 0;
    const unsigned char *b;
    if (!s_arg(up, 1, &n) || !s_read(up, (size_t) n, &b))
        return;
    bool sign9 = n == 9 && (b[8] == 0 || (b[8] == 0xff && (b[7] & 0x80)));
    if (n > 8 && !sign9)
        return (void) s_fail(up, "integer wider than 64 bits");
    for (size_t i = 0; i < n && i < 8; i++)
        v |= (uint64_t) b[i] << (8 * i);
    if (n && n < 8 && (b[n - 1] & 0x80))
        v |= ~0ull << (8 * n);
    if (n == 9 && b[8] == 0)
        return s_push_node(up, ezshm_tree_uint(up->tree, v));
    s_push_node(up, ezshm_tree_int(up->tree, (int64_t) v));
}

static void
s_float(up_t *up)
{
    const unsigned char *b;
    if (!s_read(up, 8, &b))
        return;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | b[i];
    double d;
    memcpy(&d, &bits, 8);
    s_push_node(up, ezshm_tree_float(up->tree, d));
}

/*  Bytes the tree and the machine (stack, memo, records) hold: a blob of a million NONEs
    costs stack, not tree, and is bounded all the same. */
static size_t
s_memory(const up_t *up)
{
    return ezshm_tree_memory(up->tree) + (up->stack_cap + up->memo_cap + up->items_cap)
           * sizeof(value_t) + up->tuples_cap * sizeof(tuple_rec_t)
           + up->dtypes_cap * sizeof(dtype_rec_t) + up->arrays_cap * sizeof(array_rec_t);
}

/*  One opcode; false at STOP. */
static bool
s_step(up_t *up)
{
    const unsigned char *opp;
    uint64_t arg;
    up->op_at = up->p;
    if (!s_read(up, 1, &opp))
        return false;
    unsigned char op = *opp;
    value_t v, *top;
    size_t first, n;
    switch (op) {
    case PK_PROTO:
        if (s_arg(up, 1, &arg) && (arg < 2 || arg > 5))
            s_fail(up, "protocol %u", (unsigned) arg);
        break;
    case PK_FRAME:
        if (s_arg(up, 8, &arg) && arg > (uint64_t) (up->end - up->p))
            s_fail(up, "frame of %llu bytes runs past the end", (unsigned long long) arg);
        break;
    case PK_STOP:
        return false;
    case PK_MARK:
        if (up->nmarks == MAX_MARKS)
            s_fail(up, "more than %d open MARKs", MAX_MARKS);
        else
            up->marks[up->nmarks++] = up->sp;
        break;
    case PK_NONE:            s_push_node(up, ezshm_tree_none(up->tree)); break;
    case PK_NEWTRUE:         s_push_node(up, ezshm_tree_bool(up->tree, true)); break;
    case PK_NEWFALSE:        s_push_node(up, ezshm_tree_bool(up->tree, false)); break;
    case PK_BININT1:
    case PK_BININT2:
        if (s_arg(up, op == PK_BININT1 ? 1 : 2, &arg))
            s_push_node(up, ezshm_tree_int(up->tree, (int64_t) arg));
        break;
    case PK_BININT:
        if (s_arg(up, 4, &arg))
            s_push_node(up, ezshm_tree_int(up->tree, (int32_t) (uint32_t) arg));
        break;
    case PK_LONG1:           s_long1(up); break;
    case PK_BINFLOAT:        s_float(up); break;
    case PK_SHORT_BINUNICODE: s_string(up, 1); break;
    case PK_BINUNICODE:      s_string(up, 4); break;
    case PK_BINUNICODE8:     s_string(up, 8); break;
    case PK_SHORT_BINBYTES:  s_bytes(up, 1, false); break;
    case PK_BINBYTES:        s_bytes(up, 4, false); break;
    case PK_BINBYTES8:       s_bytes(up, 8, false); break;
    case PK_BYTEARRAY8:      s_bytes(up, 8, true); break;
    case PK_EMPTY_LIST:      s_push_node(up, ezshm_tree_list(up->tree)); break;
    case PK_EMPTY_DICT:      s_push_node(up, ezshm_tree_dict(up->tree)); break;
    case PK_EMPTY_TUPLE:     s_make_tuple(up, NULL, 0); break;
    case PK_TUPLE1:
    case PK_TUPLE2:
    case PK_TUPLE3: {
        n = (size_t) (op - PK_TUPLE1 + 1);
        if (up->sp < s_floor(up) + n)
            return s_fail(up, "stack underflow"), false;
        up->sp -= n;
        value_t items[3];
        memcpy(items, up->stack + up->sp, n * sizeof(value_t));
        s_make_tuple(up, items, n);
        break;
    }
    case PK_TUPLE:
        if (s_pop_mark(up, &first, &n)) {
            /*  The items sit where the tuple goes: copy them out of the way first. */
            value_t *items = n ? (value_t *) malloc(n * sizeof(value_t)) : NULL;
            if (n && !items)
                return s_nomem(up), false;
            if (n)
                memcpy(items, up->stack + first, n * sizeof(value_t));
            s_make_tuple(up, items, n);
            free(items);
        }
        break;
    case PK_APPEND:
        if (s_pop(up, &v) && s_top(up, &top))
            s_insert(up, *top, &v, 1, false);
        break;
    case PK_SETITEM: {
        value_t kv[2];
        if (s_pop(up, &kv[1]) && s_pop(up, &kv[0]) && s_top(up, &top))
            s_insert(up, *top, kv, 2, true);
        break;
    }
    case PK_APPENDS:
    case PK_SETITEMS:
        if (s_pop_mark(up, &first, &n) && s_top(up, &top))
            s_insert(up, *top, up->stack + first, n, op == PK_SETITEMS);
        break;
    case PK_MEMOIZE:         s_memo_put(up, up->memo_len); break;
    case PK_BINPUT:
    case PK_LONG_BINPUT:
        if (s_arg(up, op == PK_BINPUT ? 1 : 4, &arg))
            s_memo_put(up, arg);
        break;
    case PK_BINGET:
    case PK_LONG_BINGET:
        if (s_arg(up, op == PK_BINGET ? 1 : 4, &arg))
            s_memo_get(up, arg);
        break;
    case PK_STACK_GLOBAL:    s_global(up); break;
    case PK_REDUCE:          s_reduce(up); break;
    case PK_BUILD:           s_build(up); break;
    default:
        s_fail(up, "opcode 0x%02x ('%c') is not allowed", op, op >= 0x20 && op < 0x7f ? op : '?');
        break;
    }
    if (!up->rc && s_memory(up) > up->tree_limit)
        s_fail(up, "the value needs more than %zu bytes", up->tree_limit);
    return !up->rc;
}

int
ezshm_unpickle(const void *blob, size_t len, ezshm_tree_t *tree, char *err, size_t errlen)
{
    char none[1];
    up_t up = {.start = blob, .p = blob, .end = (const unsigned char *) blob + len,
               .tree = tree, .err = errlen ? err : none, .errlen = errlen ? errlen : 1};
    up.op_at = up.p;
    up.err[0] = '\0';
    ezshm_tree_reset(tree);
    up.tree_limit = EZSHM_UNPICKLE_MAX_TREE + 2 * len;
    if (len > EZSHM_UNPICKLE_MAX_BYTES)
        s_fail(&up, "blob of %zu bytes is over the %u-byte limit", len, EZSHM_UNPICKLE_MAX_BYTES);
    while (!up.rc && s_step(&up))
        ;
    if (!up.rc && (up.sp != 1 || up.nmarks))
        s_fail(&up, "STOP with %zu values and %zu open MARKs on the stack", up.sp, up.nmarks);
    if (!up.rc) {
        ezshm_node_t *root = s_node_of(&up, up.stack[0]);
        if (root)
            ezshm_tree_set_root(tree, root);
    }
    free(up.stack);
    free(up.memo);
    free(up.tuples);
    free(up.items);
    free(up.dtypes);
    free(up.arrays);
    if (up.rc)
        ezshm_tree_reset(tree);
    return up.rc;
}
