/*  ezshm_pickle.c — the protocol-5 encoder (see ezshm_pickle.h for the rules it follows). */
#include "ezshm_pickle.h"
#include "ezshm_error.h"
#include "ezshm_pickle_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_FRAME SIZE_MAX

typedef struct {
    const void *key;
    uint32_t index;
    uint32_t stamp;
} memo_slot_t;

struct _ezshm_pickler_t {
    unsigned char *data;
    size_t len, cap;
    size_t frame_start;         /* where the current frame's 9-byte header sits */
    memo_slot_t *memo;
    size_t memo_cap;            /* power of two */
    size_t memo_used;
    uint32_t memo_next;         /* the index the next MEMOIZE gets */
    uint32_t stamp;             /* slots from earlier dumps have another stamp */
    int error;
};

/*  Memo keys for objects CPython shares by value: one address per such value. */
static const char s_latin1_key[257];
static const char s_dtype_key[5][17];
static const char s_name_key[16];

static const char *const s_names[] = {
    "numpy.core.numeric", "_frombuffer", "numpy", "dtype", "numpy.core.multiarray", "scalar",
    "_reconstruct", "ndarray", "builtins", "complex",
};
/*  (module, qualname) indices into s_names for each pk_global_t. */
static const int s_global_names[PK_G_COUNT][2] = {
    {0, 1}, {2, 3}, {4, 5}, {4, 6}, {2, 7}, {8, 9},
};
static const char s_global_key[PK_G_COUNT];

ezshm_pickler_t *
ezshm_pickler_new(void)
{
    return (ezshm_pickler_t *) calloc(1, sizeof(ezshm_pickler_t));
}

void
ezshm_pickler_destroy(ezshm_pickler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->data);
    free((*self_p)->memo);
    free(*self_p);
    *self_p = NULL;
}

/*  ---- output -------------------------------------------------------------------------- */

static bool
s_reserve(ezshm_pickler_t *self, size_t n)
{
    if (self->error)
        return false;
    if (n <= self->cap - self->len)
        return true;
    size_t cap = self->cap ? self->cap : 1024;
    while (cap - self->len < n) {
        if (cap > SIZE_MAX / 2) {
            self->error = EZSHM_ERR_NOMEM;
            return false;
        }
        cap *= 2;
    }
    unsigned char *grown = (unsigned char *) realloc(self->data, cap);
    if (!grown) {
        self->error = EZSHM_ERR_NOMEM;
        return false;
    }
    self->data = grown;
    self->cap = cap;
    return true;
}

/*  Appends bytes; the first write after a committed frame opens a new one. */
static void
s_write(ezshm_pickler_t *self, const void *bytes, size_t n)
{
    bool open = self->frame_start == NO_FRAME;
    if (!s_reserve(self, n + (open ? 9 : 0)))
        return;
    if (open) {
        self->frame_start = self->len;
        self->len += 9;
    }
    memcpy(self->data + self->len, bytes, n);
    self->len += n;
}

static void
s_op(ezshm_pickler_t *self, unsigned char op)
{
    s_write(self, &op, 1);
}

/*  An opcode with a little-endian argument of size bytes. */
static void
s_op_arg(ezshm_pickler_t *self, unsigned char op, uint64_t arg, size_t size)
{
    unsigned char b[9] = {op};
    for (size_t i = 0; i < size; i++)
        b[1 + i] = (unsigned char) (arg >> (8 * i));
    s_write(self, b, 1 + size);
}

/*  Closes the current frame: its header gets the length, or goes when it is too short. */
static void
s_commit_frame(ezshm_pickler_t *self)
{
    if (self->frame_start == NO_FRAME || self->error)
        return;
    size_t start = self->frame_start, n = self->len - start - 9;
    if (n >= 4) {
        self->data[start] = PK_FRAME;
        for (int i = 0; i < 8; i++)
            self->data[start + 1 + i] = (unsigned char) ((uint64_t) n >> (8 * i));
    }
    else {
        memmove(self->data + start, self->data + start + 9, n);
        self->len -= 9;
    }
    self->frame_start = NO_FRAME;
}

/*  A header and a payload: 64 KiB or more go outside any frame, as CPython writes them. */
static void
s_write_data(ezshm_pickler_t *self, const unsigned char *header, size_t hlen,
             const void *payload, size_t n)
{
    if (n < PK_FRAME_TARGET) {
        s_write(self, header, hlen);
        s_write(self, payload, n);
        return;
    }
    s_commit_frame(self);
    if (!s_reserve(self, hlen + n))
        return;
    memcpy(self->data + self->len, header, hlen);
    memcpy(self->data + self->len + hlen, payload, n);
    self->len += hlen + n;
}

/*  ---- memo ---------------------------------------------------------------------------- */

static memo_slot_t *
s_memo_slot(const ezshm_pickler_t *self, const void *key)
{
    size_t mask = self->memo_cap - 1;
    size_t i = ((uintptr_t) key >> 4) * 0x9E3779B97F4A7C15ull & mask;
    while (self->memo[i].stamp == self->stamp && self->memo[i].key != key)
        i = (i + 1) & mask;
    return &self->memo[i];
}

static bool
s_memo_get(const ezshm_pickler_t *self, const void *key, uint32_t *index)
{
    if (!self->memo_cap)
        return false;
    const memo_slot_t *slot = s_memo_slot(self, key);
    if (slot->stamp != self->stamp)
        return false;
    *index = slot->index;
    return true;
}

static bool
s_memo_grow(ezshm_pickler_t *self)
{
    size_t cap = self->memo_cap ? self->memo_cap * 2 : 256;
    memo_slot_t *old = self->memo;
    size_t old_cap = self->memo_cap;
    self->memo = (memo_slot_t *) calloc(cap, sizeof(memo_slot_t));
    if (!self->memo) {
        self->memo = old;
        return false;
    }
    self->memo_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].stamp == self->stamp)
            *s_memo_slot(self, old[i].key) = old[i];
    free(old);
    return true;
}

/*  MEMOIZE: the object just written gets the next memo index (key NULL: never referenced). */
static void
s_memoize(ezshm_pickler_t *self, const void *key)
{
    s_op(self, PK_MEMOIZE);
    uint32_t index = self->memo_next++;
    if (!key || self->error)
        return;
    if ((self->memo_used + 1) * 2 > self->memo_cap && !s_memo_grow(self)) {
        self->error = EZSHM_ERR_NOMEM;
        return;
    }
    memo_slot_t *slot = s_memo_slot(self, key);
    slot->key = key;
    slot->index = index;
    slot->stamp = self->stamp;
    self->memo_used++;
}

/*  BINGET of key when it was memoised; true when written. */
static bool
s_get(ezshm_pickler_t *self, const void *key)
{
    uint32_t index;
    if (!s_memo_get(self, key, &index))
        return false;
    if (index < 256)
        s_op_arg(self, PK_BINGET, index, 1);
    else
        s_op_arg(self, PK_LONG_BINGET, index, 4);
    return true;
}

/*  ---- scalars and strings ------------------------------------------------------------- */

static void
s_int(ezshm_pickler_t *self, int64_t v)
{
    if (v >= 0 && v <= 0xff)
        s_op_arg(self, PK_BININT1, (uint64_t) v, 1);
    else if (v >= 0 && v <= 0xffff)
        s_op_arg(self, PK_BININT2, (uint64_t) v, 2);
    else if (v >= INT32_MIN && v <= INT32_MAX)
        s_op_arg(self, PK_BININT, (uint64_t) (uint32_t) (int32_t) v, 4);
    else {
        /*  LONG1: the fewest two's-complement little-endian bytes that keep the sign. */
        size_t n = 8;
        while (n > 1) {
            int64_t top = v >> (8 * (n - 1) - 1);
            if (top != 0 && top != -1)
                break;
            n--;
        }
        unsigned char b[10] = {PK_LONG1, (unsigned char) n};
        for (size_t i = 0; i < n; i++)
            b[2 + i] = (unsigned char) ((uint64_t) v >> (8 * i));
        s_write(self, b, 2 + n);
    }
}

/*  An int in (INT64_MAX, UINT64_MAX]: CPython's LONG1 of nine bytes, the last a zero sign. */
static void
s_uint(ezshm_pickler_t *self, uint64_t v)
{
    unsigned char b[11] = {PK_LONG1, 9};
    for (size_t i = 0; i < 8; i++)
        b[2 + i] = (unsigned char) (v >> (8 * i));
    s_write(self, b, sizeof b);
}

static void
s_float(ezshm_pickler_t *self, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    unsigned char b[9] = {PK_BINFLOAT};
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char) (bits >> (56 - 8 * i));
    s_write(self, b, 9);
}

/*  The memo key CPython's sharing gives a string: its value for "" and one Latin-1
    character, else `identity` (the node, or NULL for a fresh object). */
static const void *
s_str_key(const char *s, size_t len, const void *identity)
{
    const unsigned char *u = (const unsigned char *) s;
    if (len == 0)
        return &s_latin1_key[256];
    if (len == 1 && u[0] < 0x80)
        return &s_latin1_key[u[0]];
    if (len == 2 && (u[0] == 0xC2 || u[0] == 0xC3) && (u[1] & 0xC0) == 0x80)
        return &s_latin1_key[((u[0] & 0x1F) << 6) | (u[1] & 0x3F)];
    return identity;
}

/*  Data of len bytes with the shortest of three opcodes (1-, 4- or 8-byte length; op8 alone
    when the others are 0), then MEMOIZE under key (NULL: a fresh object nobody references). */
static void
s_sized(ezshm_pickler_t *self, unsigned char op1, unsigned char op4, unsigned char op8,
        const void *data, size_t len, const void *key)
{
    unsigned char h[9];
    size_t hlen = op1 && len < 256 ? 2 : op4 && (uint64_t) len <= 0xffffffffu ? 5 : 9;
    h[0] = hlen == 2 ? op1 : hlen == 5 ? op4 : op8;
    for (size_t i = 0; i + 1 < hlen; i++)
        h[1 + i] = (unsigned char) ((uint64_t) len >> (8 * i));
    s_write_data(self, h, hlen, data, len);
    s_memoize(self, key);
}

/*  A str under memo key `key`; written again only when that key was not seen. */
static void
s_str_keyed(ezshm_pickler_t *self, const char *s, size_t len, const void *key)
{
    if (!key || !s_get(self, key))
        s_sized(self, PK_SHORT_BINUNICODE, PK_BINUNICODE, PK_BINUNICODE8, s, len, key);
}

static void
s_str(ezshm_pickler_t *self, const char *s, size_t len, const void *identity)
{
    s_str_keyed(self, s, len, s_str_key(s, len, identity));
}

/*  bytes, or a bytearray (always BYTEARRAY8, as CPython writes it). */
static void
s_bytes(ezshm_pickler_t *self, const void *data, size_t len, bool writable, const void *key)
{
    if (writable)
        s_sized(self, 0, 0, PK_BYTEARRAY8, data, len, key);
    else
        s_sized(self, PK_SHORT_BINBYTES, PK_BINBYTES, PK_BINBYTES8, data, len, key);
}

static void
s_global(ezshm_pickler_t *self, pk_global_t g)
{
    if (s_get(self, &s_global_key[g]))
        return;
    for (int i = 0; i < 2; i++) {
        int name = s_global_names[g][i];
        /*  Module and function names are interned in CPython: shared by value. */
        s_str_keyed(self, s_names[name], strlen(s_names[name]), &s_name_key[name]);
    }
    s_op(self, PK_STACK_GLOBAL);
    s_memoize(self, &s_global_key[g]);
}

/*  ---- numpy --------------------------------------------------------------------------- */

static int
s_kind_index(char kind)
{
    const char *kinds = "biufc";
    const char *p = strchr(kinds, kind);
    return kind && p ? (int) (p - kinds) : -1;
}

/*  numpy.dtype(str, False, True) + BUILD(state) for a plain type or a record. */
static void s_dtype(ezshm_pickler_t *self, const ezshm_descr_t *d, const void *identity);

static void
s_plain_dtype(ezshm_pickler_t *self, ezshm_scalar_t t)
{
    ezshm_descr_t d;
    ezshm_descr_plain(&d, t);
    s_dtype(self, &d, NULL);
}

static void
s_dtype(ezshm_pickler_t *self, const ezshm_descr_t *d, const void *identity)
{
    ezshm_scalar_t t = d->type;
    int k = s_kind_index(d->kind);
    /*  numpy keeps one object per built-in (native-order number) dtype. */
    const void *key = k >= 0 && t.order != '>' && t.itemsize <= 16 ? &s_dtype_key[k][t.itemsize]
                                                                    : identity;
    if (key && s_get(self, key))
        return;
    s_global(self, PK_G_DTYPE);
    char name[24];
    snprintf(name, sizeof name, "%c%u", d->kind, d->kind == 'U' ? t.itemsize / 4 : t.itemsize);
    s_str(self, name, strlen(name), NULL);
    s_op(self, PK_NEWFALSE);
    s_op(self, PK_NEWTRUE);
    s_op(self, PK_TUPLE3);
    s_memoize(self, NULL);
    s_op(self, PK_REDUCE);
    s_memoize(self, key);
    /*  The state: (3, byteorder, subarray, names, fields, elsize, alignment, flags). */
    s_op(self, PK_MARK);
    s_int(self, 3);
    char order = d->kind == 'V' ? '|' : t.order;
    s_str(self, &order, 1, NULL);
    s_op(self, PK_NONE);
    if (d->kind == 'V') {
        bool has_text = false;
        s_op(self, PK_MARK);
        /*  Each field name is one object: the names tuple writes it, the fields dict
            references it. */
        for (uint32_t i = 0; i < d->nfields; i++) {
            const char *n = d->fields[i].name;
            s_str(self, n, strlen(n), &d->fields[i]);
            has_text |= d->fields[i].type.kind == 'U';
        }
        s_op(self, PK_TUPLE);
        s_memoize(self, NULL);
        s_op(self, PK_EMPTY_DICT);
        s_memoize(self, NULL);
        if (d->nfields > 1)
            s_op(self, PK_MARK);
        for (uint32_t i = 0; i < d->nfields; i++) {
            const char *n = d->fields[i].name;
            s_str(self, n, strlen(n), &d->fields[i]);
            s_plain_dtype(self, d->fields[i].type);
            s_int(self, d->fields[i].offset);
            s_op(self, PK_TUPLE2);
            s_memoize(self, NULL);
        }
        s_op(self, d->nfields > 1 ? PK_SETITEMS : PK_SETITEM);
        s_int(self, t.itemsize);
        s_int(self, 1);
        s_int(self, has_text ? 24 : 16);
    }
    else {
        s_op(self, PK_NONE);
        s_op(self, PK_NONE);
        bool flexible = d->kind == 'U' || d->kind == 'S';
        s_int(self, flexible ? (int64_t) t.itemsize : -1);
        s_int(self, d->kind == 'U' ? 4 : flexible ? 1 : -1);
        s_int(self, d->kind == 'U' ? 8 : 0);
    }
    s_op(self, PK_TUPLE);
    s_memoize(self, NULL);
    s_op(self, PK_BUILD);
}

static void
s_shape(ezshm_pickler_t *self, const ezshm_node_t *a)
{
    if (a->ndim == 0) {
        s_op(self, PK_EMPTY_TUPLE);
        return;
    }
    if (a->ndim > 3)
        s_op(self, PK_MARK);
    for (size_t i = 0; i < a->ndim; i++)
        s_int(self, (int64_t) a->shape[i]);
    s_op(self, a->ndim == 1 ? PK_TUPLE1 : a->ndim == 2 ? PK_TUPLE2 : a->ndim == 3 ? PK_TUPLE3
                                                                                 : PK_TUPLE);
    s_memoize(self, NULL);
}

static void
s_ndarray(ezshm_pickler_t *self, const ezshm_node_t *a)
{
    size_t nbytes;
    if (a->descr->kind == 'O' || a->ndim > EZSHM_NUMPY_MAX_NDIM
        || !ezshm_shape_bytes(a->ndim, a->shape, ezshm_descr_itemsize(a->descr), &nbytes)
        || nbytes != a->len) {
        self->error = EZSHM_ERR_INVAL;
        return;
    }
    if (a->scalar) {
        s_global(self, PK_G_SCALAR);
        s_dtype(self, a->descr, NULL);
        s_bytes(self, a->bytes, a->len, false, NULL);
        s_op(self, PK_TUPLE2);
        s_memoize(self, NULL);
    }
    else {
        s_global(self, PK_G_FROMBUFFER);
        s_op(self, PK_MARK);
        s_bytes(self, a->bytes, a->len, a->writable, NULL);
        s_dtype(self, a->descr, NULL);
        s_shape(self, a);
        s_str(self, "C", 1, NULL);
        s_op(self, PK_TUPLE);
        s_memoize(self, NULL);
    }
    s_op(self, PK_REDUCE);
    s_memoize(self, a);
}

/*  ---- containers ---------------------------------------------------------------------- */

static void s_save(ezshm_pickler_t *self, const ezshm_node_t *node);

/*  APPENDS/SETITEMS in batches of PK_BATCH, a lone item with APPEND/SETITEM. */
static void
s_batches(ezshm_pickler_t *self, const ezshm_node_t *c)
{
    bool dict = c->type == EZSHM_NODE_DICT;
    size_t per = dict ? 2 : 1;
    for (size_t first = 0; first < c->n; first += PK_BATCH) {
        size_t n = c->n - first < PK_BATCH ? c->n - first : PK_BATCH;
        if (n > 1)
            s_op(self, PK_MARK);
        for (size_t i = first * per; i < (first + n) * per; i++) {
            if (dict && i % 2 == 0 && c->items[i]->type != EZSHM_NODE_STR)
                self->error = EZSHM_ERR_INVAL;
            s_save(self, c->items[i]);
        }
        s_op(self, n > 1 ? (dict ? PK_SETITEMS : PK_APPENDS) : (dict ? PK_SETITEM : PK_APPEND));
    }
}

static void
s_tuple(ezshm_pickler_t *self, const ezshm_node_t *t)
{
    if (t->n == 0) {
        s_op(self, PK_EMPTY_TUPLE);
        return;
    }
    if (t->n > 3)
        s_op(self, PK_MARK);
    for (size_t i = 0; i < t->n; i++)
        s_save(self, t->items[i]);
    s_op(self, t->n == 1 ? PK_TUPLE1 : t->n == 2 ? PK_TUPLE2 : t->n == 3 ? PK_TUPLE3 : PK_TUPLE);
    s_memoize(self, t);
}

static void
s_save(ezshm_pickler_t *self, const ezshm_node_t *node)
{
    if (self->error)
        return;
    /*  Like CPython, a frame that has grown past the target is closed before the next object. */
    if (self->frame_start != NO_FRAME && self->len - self->frame_start - 9 >= PK_FRAME_TARGET)
        s_commit_frame(self);
    switch (node->type) {
    case EZSHM_NODE_NONE:  s_op(self, PK_NONE); return;
    case EZSHM_NODE_BOOL:  s_op(self, node->boolean ? PK_NEWTRUE : PK_NEWFALSE); return;
    case EZSHM_NODE_INT:
        node->u64 ? s_uint(self, (uint64_t) node->integer) : s_int(self, node->integer);
        return;
    case EZSHM_NODE_FLOAT: s_float(self, node->re); return;
    case EZSHM_NODE_STR:   s_str(self, node->bytes, node->len, node); return;
    default:               break;
    }
    if (s_get(self, node))
        return;
    switch (node->type) {
    case EZSHM_NODE_BYTES:
        s_bytes(self, node->bytes, node->len, node->writable, node);
        break;
    case EZSHM_NODE_COMPLEX:
        s_global(self, PK_G_COMPLEX);
        s_float(self, node->re);
        s_float(self, node->im);
        s_op(self, PK_TUPLE2);
        s_memoize(self, NULL);
        s_op(self, PK_REDUCE);
        s_memoize(self, node);
        break;
    case EZSHM_NODE_LIST:
    case EZSHM_NODE_DICT:
        s_op(self, node->type == EZSHM_NODE_LIST ? PK_EMPTY_LIST : PK_EMPTY_DICT);
        s_memoize(self, node);
        s_batches(self, node);
        break;
    case EZSHM_NODE_TUPLE:
        s_tuple(self, node);
        break;
    case EZSHM_NODE_NDARRAY:
        s_ndarray(self, node);
        break;
    case EZSHM_NODE_DTYPE:
        s_dtype(self, node->descr, node);
        break;
    default:
        self->error = EZSHM_ERR_INVAL;
        break;
    }
}

int
ezshm_pickler_dump(ezshm_pickler_t *self, const ezshm_node_t *root, const unsigned char **out,
                   size_t *len)
{
    self->len = 0;
    self->error = 0;
    self->memo_next = 0;
    self->memo_used = 0;
    /*  A new stamp empties the memo without touching it; on wrap it is cleared for real. */
    if (++self->stamp == 0) {
        if (self->memo)
            memset(self->memo, 0, self->memo_cap * sizeof(memo_slot_t));
        self->stamp = 1;
    }
    self->frame_start = NO_FRAME;
    unsigned char proto[2] = {PK_PROTO, 5};
    if (s_reserve(self, 2)) {
        memcpy(self->data, proto, 2);
        self->len = 2;
    }
    s_save(self, root);
    s_op(self, PK_STOP);
    s_commit_frame(self);
    if (self->error)
        return self->error;
    *out = self->data;
    *len = self->len;
    return EZSHM_OK;
}
