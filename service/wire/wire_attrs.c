/*  wire_attrs.c — attrs JSON → plain-value dict (see wire_attrs.h for what is carried). */
#include "wire_attrs.h"
#include "ezshm_utf8.h"
#include "numpy_dtype.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const jr_doc_t *doc;
    ezshm_tree_t *tree;
    int key_pool;
    wire_scratch_t *bytes, *text;
    bool nomem;
    bool over;                  /* more than WIRE_ATTRS_MAX_NODES values */
    size_t first_node;          /* ezshm_tree_nodes() when the attrs began */
} attrs_ctx_t;

/*  The unescaped string of a node (or of its member key) in the text scratch. */
static const char *
s_text(attrs_ctx_t *c, const jr_node_t *node, bool key, size_t *len)
{
    jr_node_t s = *node;
    if (key) {
        s.type = JR_STRING;
        s.start = node->key_start;
        s.end = node->key_end;
        s.escaped = node->key_escaped;
    }
    if (!wire_scratch_reserve(c->text, s.end - s.start + 1)) {
        c->nomem = true;
        return NULL;
    }
    /*  The raw bytes must be UTF-8 (Python's json.loads demands it); an escaped lone
        surrogate is text Python keeps, so it is kept as pickle writes it. */
    size_t rlen;
    const char *raw = jr_raw(c->doc, &s, &rlen);
    if (!ezshm_utf8_valid(raw, rlen))
        return NULL;
    *len = jr_string_surrogatepass(c->doc, &s, (char *) c->text->data);
    return (const char *) c->text->data;
}

static ezshm_node_t *s_value(attrs_ctx_t *c, const jr_node_t *v, uint32_t depth);

/*  A JSON number: an int when its token has no fraction or exponent and fits in
    [-2^63, 2^64-1] (what the pickle carries as CPython does; a wider int is left out). */
static ezshm_node_t *
s_number(attrs_ctx_t *c, const jr_node_t *v)
{
    size_t len;
    const char *raw = jr_raw(c->doc, v, &len);
    if (!memchr(raw, '.', len) && !memchr(raw, 'e', len) && !memchr(raw, 'E', len)
        && !memchr(raw, 'N', len) && !memchr(raw, 'I', len)) {
        char digits[32];
        if (len >= sizeof digits)
            return NULL;
        memcpy(digits, raw, len);
        digits[len] = '\0';
        errno = 0;
        long long n = strtoll(digits, NULL, 10);
        if (!errno)
            return ezshm_tree_int(c->tree, n);
        if (digits[0] == '-')
            return NULL;
        errno = 0;
        unsigned long long u = strtoull(digits, NULL, 10);
        return errno ? NULL : ezshm_tree_uint(c->tree, u);
    }
    return ezshm_tree_float(c->tree, jr_number(c->doc, v));
}

/*  {"_type": "_ndarray", "dtype", "shape", "data"}: a read-only array (object: none). */
static ezshm_node_t *
s_ndarray(attrs_ctx_t *c, const jr_node_t *v)
{
    const jr_node_t *dtype = jr_member(c->doc, v, "dtype");
    size_t dlen;
    const char *dname = dtype && dtype->type == JR_STRING ? s_text(c, dtype, false, &dlen) : NULL;
    ezshm_descr_t descr;
    if (!dname || numpy_dtype_descr(dname, dlen, &descr))
        return NULL;
    wire_ndarray_t nd;
    char err[128];
    nd.itemsize = ezshm_descr_itemsize(&descr);
    int rc = wire_ndarray_read_shape(c->doc, v, "attr", &nd, err, sizeof err);
    if (!rc && nd.ndim > EZSHM_NUMPY_MAX_NDIM)
        return NULL;
    if (!rc)
        rc = wire_ndarray_decode_base64(c->doc, &nd, "attr", c->bytes, c->text, err, sizeof err);
    c->nomem |= rc == WIRE_ERR_NOMEM;
    if (rc)
        return NULL;
    ezshm_node_t *a = ezshm_tree_ndarray(c->tree, &descr, nd.ndim, nd.shape, c->bytes->data,
                                         nd.nbytes, false);
    if (a)
        a->writable = false;
    return a;
}

static ezshm_node_t *
s_container(attrs_ctx_t *c, const jr_node_t *v, uint32_t depth)
{
    bool object = v->type == JR_OBJECT;
    ezshm_node_t *node = object ? ezshm_tree_dict(c->tree) : ezshm_tree_list(c->tree);
    for (const jr_node_t *e = jr_first(c->doc, v); node && e; e = jr_next(c->doc, e)) {
        ezshm_node_t *item = s_value(c, e, depth + 1);
        if (!item)
            return NULL;
        int rc;
        if (object) {
            size_t klen;
            const char *k = s_text(c, e, true, &klen);
            ezshm_node_t *key = k ? ezshm_tree_intern(c->tree, c->key_pool, k, klen) : NULL;
            if (!key)
                return NULL;
            rc = ezshm_tree_set(c->tree, node, key, item);
        }
        else
            rc = ezshm_tree_append(c->tree, node, item);
        if (rc)
            return NULL;
    }
    return node;
}

/*  One value; NULL when it cannot be carried (or out of memory: c->nomem). */
static ezshm_node_t *
s_value(attrs_ctx_t *c, const jr_node_t *v, uint32_t depth)
{
    if (depth >= EZSHM_TREE_MAX_DEPTH)
        return NULL;
    if (ezshm_tree_nodes(c->tree) - c->first_node > WIRE_ATTRS_MAX_NODES) {
        c->over = true;
        return NULL;
    }
    switch (v->type) {
    case JR_NULL:   return ezshm_tree_none(c->tree);
    case JR_TRUE:   return ezshm_tree_bool(c->tree, true);
    case JR_FALSE:  return ezshm_tree_bool(c->tree, false);
    case JR_NUMBER: return s_number(c, v);
    case JR_STRING: {
        size_t len;
        const char *s = s_text(c, v, false, &len);
        return s ? ezshm_tree_str(c->tree, s, len) : NULL;
    }
    case JR_ARRAY:
        return s_container(c, v, depth);
    default: {
        const jr_node_t *type = jr_member(c->doc, v, "_type");
        if (!type)
            return s_container(c, v, depth);
        size_t len;
        const char *t = type->type == JR_STRING ? jr_raw(c->doc, type, &len) : NULL;
        return t && len == 8 && memcmp(t, "_ndarray", 8) == 0 ? s_ndarray(c, v) : NULL;
    }
    }
}

int
wire_attrs_to_tree(const jr_doc_t *doc, const jr_node_t *attrs, ezshm_tree_t *tree, int key_pool,
                   wire_scratch_t *bytes, wire_scratch_t *text, ezshm_node_t **out,
                   char *dropped, size_t dropped_len)
{
    attrs_ctx_t c = {doc, tree, key_pool, bytes, text, false, false, ezshm_tree_nodes(tree)};
    size_t used = 0;
    dropped[0] = '\0';
    *out = ezshm_tree_dict(tree);
    if (!*out)
        return WIRE_ERR_NOMEM;
    if (!attrs || attrs->type != JR_OBJECT)
        return 0;
    for (const jr_node_t *e = jr_first(doc, attrs); e; e = jr_next(doc, e)) {
        size_t klen;
        const char *k = s_text(&c, e, true, &klen);
        ezshm_node_t *key = k ? ezshm_tree_intern(tree, key_pool, k, klen) : NULL;
        ezshm_node_t *value = key ? s_value(&c, e, 2) : NULL;
        if (c.nomem)
            return WIRE_ERR_NOMEM;
        /*  Over the bound the attrs go as a whole: a part would mislead more than none. */
        if (c.over) {
            snprintf(dropped, dropped_len, "all (more than %d values)", WIRE_ATTRS_MAX_NODES);
            *out = ezshm_tree_dict(tree);
            return *out ? WIRE_ATTRS_OVER : WIRE_ERR_NOMEM;
        }
        if (value && ezshm_tree_set(tree, *out, key, value) == 0)
            continue;
        /*  Not plain: say which key (the raw bytes, cut, for the log line). */
        size_t rlen;
        jr_node_t kn = *e;
        kn.start = e->key_start;
        kn.end = e->key_end;
        const char *raw = jr_raw(doc, &kn, &rlen);
        int n = snprintf(dropped + used, dropped_len - used, "%s%.*s", used ? "," : "",
                         (int) (rlen > 64 ? 64 : rlen), raw);
        if (n > 0)
            used = used + (size_t) n < dropped_len ? used + (size_t) n : dropped_len - 1;
    }
    return 0;
}
