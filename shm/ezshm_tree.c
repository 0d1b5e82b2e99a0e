/*  ezshm_tree.c — the plain-value tree and its arena. */
#include "ezshm_tree.h"
#include "ezshm_error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define BLOCK_SIZE 8192
/*  Dicts up to this many pairs are searched in order; bigger ones get a hash index. */
#define DICT_INDEX_MIN 8

typedef struct block_t {
    struct block_t *next;
    size_t used, size;
    max_align_t data[];
} block_t;

/*  An intern pool is a dict of its strings (each its own key and value), so it shares
    the dicts' hash index. */
typedef struct pool_t {
    struct pool_t *next;
    int pool;
    ezshm_node_t *dict;
} pool_t;

struct _ezshm_tree_t {
    block_t *blocks;            /* newest first; the last one is kept by reset */
    size_t memory;
    ezshm_node_t *root;
    ezshm_node_t *none, *yes, *no;
    ezshm_node_t *empty;
    ezshm_node_t *latin1[256];  /* one-character strings, as CPython shares them */
    pool_t *pools;
    size_t nodes;               /* made since the last reset */
    uint64_t seed;              /* of the key hash: a sender cannot aim keys at one slot */
};

ezshm_tree_t *
ezshm_tree_new(void)
{
    ezshm_tree_t *self = (ezshm_tree_t *) calloc(1, sizeof(ezshm_tree_t));
    if (self && getrandom(&self->seed, sizeof self->seed, GRND_NONBLOCK) != sizeof self->seed)
        self->seed = (uint64_t) time(NULL) ^ (uint64_t) (uintptr_t) self;
    return self;
}

static void
s_free_blocks(block_t *b, block_t *keep)
{
    while (b && b != keep) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
}

void
ezshm_tree_destroy(ezshm_tree_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_free_blocks((*self_p)->blocks, NULL);
    free(*self_p);
    *self_p = NULL;
}

void
ezshm_tree_reset(ezshm_tree_t *self)
{
    block_t *last = self->blocks;
    while (last && last->next)
        last = last->next;
    s_free_blocks(self->blocks, last);
    uint64_t seed = self->seed;
    memset(self, 0, sizeof *self);
    self->seed = seed;
    if (last) {
        last->used = 0;
        last->next = NULL;
        self->blocks = last;
        self->memory = sizeof(block_t) + last->size;
    }
}

const ezshm_node_t *
ezshm_tree_root(const ezshm_tree_t *self)
{
    return self->root;
}

void
ezshm_tree_set_root(ezshm_tree_t *self, ezshm_node_t *root)
{
    self->root = root;
}

size_t
ezshm_tree_memory(const ezshm_tree_t *self)
{
    return self->memory;
}

size_t
ezshm_tree_nodes(const ezshm_tree_t *self)
{
    return self->nodes;
}

/*  n bytes from the arena, aligned for any type; NULL when out of memory. */
static void *
s_alloc(ezshm_tree_t *self, size_t n)
{
    const size_t align = sizeof(max_align_t);
    if (n > SIZE_MAX - align - sizeof(block_t))
        return NULL;
    n = (n + align - 1) / align * align;
    block_t *b = self->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;
        b = (block_t *) malloc(sizeof(block_t) + size);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = size;
        /*  A big block goes behind the current one so the current one's room is not lost. */
        if (self->blocks && n > BLOCK_SIZE) {
            b->next = self->blocks->next;
            self->blocks->next = b;
        }
        else {
            b->next = self->blocks;
            self->blocks = b;
        }
        self->memory += sizeof(block_t) + size;
    }
    void *p = (char *) b->data + b->used;
    b->used += n;
    return p;
}

static ezshm_node_t *
s_node(ezshm_tree_t *self, ezshm_node_type_t type)
{
    ezshm_node_t *node = (ezshm_node_t *) s_alloc(self, sizeof(ezshm_node_t));
    if (!node)
        return NULL;
    memset(node, 0, sizeof *node);
    node->type = type;
    node->height = 1;
    self->nodes++;
    return node;
}

static ezshm_node_t *
s_shared(ezshm_tree_t *self, ezshm_node_t **slot, ezshm_node_type_t type, bool value)
{
    if (!*slot && (*slot = s_node(self, type)))
        (*slot)->boolean = value;
    return *slot;
}

ezshm_node_t *
ezshm_tree_none(ezshm_tree_t *self)
{
    return s_shared(self, &self->none, EZSHM_NODE_NONE, false);
}

ezshm_node_t *
ezshm_tree_bool(ezshm_tree_t *self, bool value)
{
    return value ? s_shared(self, &self->yes, EZSHM_NODE_BOOL, true)
                 : s_shared(self, &self->no, EZSHM_NODE_BOOL, false);
}

ezshm_node_t *
ezshm_tree_int(ezshm_tree_t *self, int64_t value)
{
    ezshm_node_t *node = s_node(self, EZSHM_NODE_INT);
    if (node)
        node->integer = value;
    return node;
}

ezshm_node_t *
ezshm_tree_uint(ezshm_tree_t *self, uint64_t value)
{
    ezshm_node_t *node = s_node(self, EZSHM_NODE_INT);
    if (node) {
        node->integer = (int64_t) value;
        node->u64 = value > INT64_MAX;
    }
    return node;
}

ezshm_node_t *
ezshm_tree_float(ezshm_tree_t *self, double value)
{
    ezshm_node_t *node = s_node(self, EZSHM_NODE_FLOAT);
    if (node)
        node->re = value;
    return node;
}

ezshm_node_t *
ezshm_tree_complex(ezshm_tree_t *self, double re, double im)
{
    ezshm_node_t *node = s_node(self, EZSHM_NODE_COMPLEX);
    if (node) {
        node->re = re;
        node->im = im;
    }
    return node;
}

/*  A leaf holding a copy of len bytes plus a NUL. */
static ezshm_node_t *
s_bytes_node(ezshm_tree_t *self, ezshm_node_type_t type, const void *data, size_t len)
{
    ezshm_node_t *node = s_node(self, type);
    char *copy = node && len < SIZE_MAX ? (char *) s_alloc(self, len + 1) : NULL;
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    node->bytes = copy;
    node->len = len;
    return node;
}

/*  The Latin-1 code point of a one-character UTF-8 string below U+0100, or -1. */
static int
s_latin1(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *) s;
    if (len == 1 && u[0] < 0x80)
        return u[0];
    if (len == 2 && (u[0] == 0xC2 || u[0] == 0xC3) && (u[1] & 0xC0) == 0x80)
        return ((u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    return -1;
}

ezshm_node_t *
ezshm_tree_str(ezshm_tree_t *self, const char *s, size_t len)
{
    /*  CPython has one "" and one object per Latin-1 character: pickles reference them. */
    ezshm_node_t **slot = NULL;
    int c = s_latin1(s, len);
    if (len == 0)
        slot = &self->empty;
    else if (c >= 0)
        slot = &self->latin1[c];
    if (slot && *slot)
        return *slot;
    ezshm_node_t *node = s_bytes_node(self, EZSHM_NODE_STR, s, len);
    if (slot)
        *slot = node;
    return node;
}

ezshm_node_t *
ezshm_tree_bytes(ezshm_tree_t *self, const void *data, size_t len, bool writable)
{
    ezshm_node_t *node = s_bytes_node(self, EZSHM_NODE_BYTES, data, len);
    if (node)
        node->writable = writable;
    return node;
}

static size_t s_find(const ezshm_tree_t *self, const ezshm_node_t *dict, const char *s,
                     size_t len);
static int s_put(ezshm_tree_t *self, ezshm_node_t *dict, ezshm_node_t *key, ezshm_node_t *value);

ezshm_node_t *
ezshm_tree_intern(ezshm_tree_t *self, int pool, const char *s, size_t len)
{
    pool_t *p = self->pools;
    while (p && p->pool != pool)
        p = p->next;
    if (!p) {
        p = (pool_t *) s_alloc(self, sizeof(pool_t));
        if (!p || !(p->dict = ezshm_tree_dict(self)))
            return NULL;
        p->pool = pool;
        p->next = self->pools;
        self->pools = p;
    }
    size_t at = s_find(self, p->dict, s, len);
    if (at != SIZE_MAX)
        return p->dict->items[2 * at];
    ezshm_node_t *node = ezshm_tree_str(self, s, len);
    return node && s_put(self, p->dict, node, node) == EZSHM_OK ? node : NULL;
}

ezshm_node_t *
ezshm_tree_list(ezshm_tree_t *self)
{
    return s_node(self, EZSHM_NODE_LIST);
}

ezshm_node_t *
ezshm_tree_tuple(ezshm_tree_t *self)
{
    return s_node(self, EZSHM_NODE_TUPLE);
}

ezshm_node_t *
ezshm_tree_dict(ezshm_tree_t *self)
{
    return s_node(self, EZSHM_NODE_DICT);
}

/*  Shape of an array node: ndim sizes copied into the arena. */
static bool
s_shape(ezshm_tree_t *self, ezshm_node_t *node, size_t ndim, const size_t *shape)
{
    if (ndim > EZSHM_TREE_MAX_NDIM)
        return false;
    size_t *copy = (size_t *) s_alloc(self, (ndim ? ndim : 1) * sizeof(size_t));
    if (!copy)
        return false;
    if (ndim)
        memcpy(copy, shape, ndim * sizeof(size_t));
    node->ndim = ndim;
    node->shape = copy;
    return true;
}

ezshm_node_t *
ezshm_tree_ndarray(ezshm_tree_t *self, const ezshm_descr_t *descr, size_t ndim,
                   const size_t *shape, const void *data, size_t nbytes, bool scalar)
{
    ezshm_node_t *node = s_bytes_node(self, EZSHM_NODE_NDARRAY, data, nbytes);
    ezshm_descr_t *d = node ? (ezshm_descr_t *) s_alloc(self, sizeof(ezshm_descr_t)) : NULL;
    if (!d || !s_shape(self, node, ndim, shape))
        return NULL;
    *d = *descr;
    node->descr = d;
    node->scalar = scalar;
    node->writable = true;
    return node;
}

ezshm_node_t *
ezshm_tree_dtype(ezshm_tree_t *self, const ezshm_descr_t *descr)
{
    ezshm_node_t *node = s_node(self, EZSHM_NODE_DTYPE);
    ezshm_descr_t *d = node ? (ezshm_descr_t *) s_alloc(self, sizeof(ezshm_descr_t)) : NULL;
    if (!d)
        return NULL;
    *d = *descr;
    node->descr = d;
    return node;
}

ezshm_node_t *
ezshm_tree_object_array(ezshm_tree_t *self, size_t ndim, const size_t *shape)
{
    static const ezshm_descr_t object = {.kind = 'O', .type = {'O', '|', 8}};
    ezshm_node_t *node = s_node(self, EZSHM_NODE_NDARRAY);
    if (!node || !s_shape(self, node, ndim, shape))
        return NULL;
    node->descr = &object;
    return node;
}

/*  Room for one more item (two for dicts) in a container. */
static int
s_reserve(ezshm_tree_t *self, ezshm_node_t *c, size_t slots)
{
    size_t need = c->type == EZSHM_NODE_DICT ? 2 * (c->n + 1) : c->n + slots;
    if (need <= c->cap)
        return EZSHM_OK;
    size_t cap = c->cap ? 2 * c->cap : 8;
    while (cap < need)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof(ezshm_node_t *))
        return EZSHM_ERR_NOMEM;
    ezshm_node_t **items = (ezshm_node_t **) s_alloc(self, cap * sizeof(ezshm_node_t *));
    if (!items)
        return EZSHM_ERR_NOMEM;
    if (c->n)
        memcpy(items, c->items, (c->type == EZSHM_NODE_DICT ? 2 * c->n : c->n) * sizeof *items);
    c->items = items;
    c->cap = cap;
    return EZSHM_OK;
}

/*  ---- the dicts' hash index ------------------------------------------------------------
    A dict of more than DICT_INDEX_MIN pairs keeps an open-addressing table of pair numbers
    + 1 (0: free), at most half full, rebuilt twice as big when it fills: a key is found in
    constant time, so a message of n keys costs O(n), not O(n^2). */

/*  FNV-1a over the key, started from the tree's random seed, then a 64-bit finaliser. */
static uint64_t
s_hash(const ezshm_tree_t *self, const char *s, size_t len)
{
    uint64_t h = self->seed ^ 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char) s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static bool
s_key_is(const ezshm_node_t *k, const char *s, size_t len)
{
    return k->len == len && memcmp(k->bytes, s, len) == 0;
}

/*  The slot of the index where key s is, or the free slot where it would go. */
static uint32_t *
s_slot(const ezshm_tree_t *self, const ezshm_node_t *dict, const char *s, size_t len)
{
    size_t mask = dict->index_cap - 1, i = (size_t) s_hash(self, s, len) & mask;
    while (dict->index[i] && !s_key_is(dict->items[2 * (dict->index[i] - 1)], s, len))
        i = (i + 1) & mask;
    return &dict->index[i];
}

/*  The pair number of key s in dict, or SIZE_MAX. */
static size_t
s_find(const ezshm_tree_t *self, const ezshm_node_t *dict, const char *s, size_t len)
{
    if (dict->index) {
        uint32_t at = *s_slot(self, dict, s, len);
        return at ? at - 1 : SIZE_MAX;
    }
    for (size_t i = 0; i < dict->n; i++)
        if (s_key_is(dict->items[2 * i], s, len))
            return i;
    return SIZE_MAX;
}

/*  Makes the index of dict hold its n pairs, growing it when half full. */
static int
s_index(ezshm_tree_t *self, ezshm_node_t *dict)
{
    if (dict->n <= DICT_INDEX_MIN)
        return EZSHM_OK;
    if (dict->index && 2 * dict->n <= dict->index_cap) {
        const ezshm_node_t *key = dict->items[2 * (dict->n - 1)];
        *s_slot(self, dict, key->bytes, key->len) = (uint32_t) dict->n;
        return EZSHM_OK;
    }
    size_t cap = 4 * DICT_INDEX_MIN;
    while (cap < 4 * dict->n)
        cap *= 2;
    if (dict->n >= UINT32_MAX || cap > SIZE_MAX / sizeof(uint32_t))
        return EZSHM_ERR_NOMEM;
    uint32_t *index = (uint32_t *) s_alloc(self, cap * sizeof(uint32_t));
    if (!index)
        return EZSHM_ERR_NOMEM;
    memset(index, 0, cap * sizeof(uint32_t));
    dict->index = index;
    dict->index_cap = cap;
    for (size_t i = 0; i < dict->n; i++) {
        const ezshm_node_t *key = dict->items[2 * i];
        *s_slot(self, dict, key->bytes, key->len) = (uint32_t) (i + 1);
    }
    return EZSHM_OK;
}

/*  Appends a pair whose key is not in dict yet. */
static int
s_put(ezshm_tree_t *self, ezshm_node_t *dict, ezshm_node_t *key, ezshm_node_t *value)
{
    int rc = s_reserve(self, dict, 2);
    if (rc)
        return rc;
    dict->items[2 * dict->n] = key;
    dict->items[2 * dict->n + 1] = value;
    dict->n++;
    rc = s_index(self, dict);
    if (rc)
        dict->n--;
    return rc;
}

/*  What every insertion checks: an open container, no self-insertion, the depth limit. */
static int
s_check_insert(ezshm_node_t *c, const ezshm_node_t *item)
{
    if (c->sealed || c == item || item->height + 1 > EZSHM_TREE_MAX_DEPTH)
        return EZSHM_ERR_INVAL;
    return EZSHM_OK;
}

static void
s_adopt(ezshm_node_t *c, ezshm_node_t *item)
{
    ezshm_tree_seal(item);
    if (item->height + 1 > c->height)
        c->height = item->height + 1;
}

int
ezshm_tree_append(ezshm_tree_t *self, ezshm_node_t *seq, ezshm_node_t *item)
{
    bool object_array = seq->type == EZSHM_NODE_NDARRAY && seq->descr->kind == 'O';
    if ((seq->type != EZSHM_NODE_LIST && seq->type != EZSHM_NODE_TUPLE && !object_array)
        || s_check_insert(seq, item))
        return EZSHM_ERR_INVAL;
    int rc = s_reserve(self, seq, 1);
    if (rc)
        return rc;
    seq->items[seq->n++] = item;
    s_adopt(seq, item);
    return EZSHM_OK;
}

int
ezshm_tree_set(ezshm_tree_t *self, ezshm_node_t *dict, ezshm_node_t *key, ezshm_node_t *value)
{
    if (dict->type != EZSHM_NODE_DICT || key->type != EZSHM_NODE_STR
        || s_check_insert(dict, value) || s_check_insert(dict, key))
        return EZSHM_ERR_INVAL;
    size_t at = s_find(self, dict, key->bytes, key->len);
    if (at != SIZE_MAX) {
        dict->items[2 * at + 1] = value;
        s_adopt(dict, value);
        return EZSHM_OK;
    }
    int rc = s_put(self, dict, key, value);
    if (rc)
        return rc;
    s_adopt(dict, key);
    s_adopt(dict, value);
    return EZSHM_OK;
}

void
ezshm_tree_seal(ezshm_node_t *node)
{
    node->sealed = true;
}

const ezshm_node_t *
ezshm_node_get(const ezshm_node_t *dict, const char *key)
{
    if (!dict || dict->type != EZSHM_NODE_DICT)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < dict->n; i++) {
        const ezshm_node_t *k = dict->items[2 * i];
        if (k->len == len && memcmp(k->bytes, key, len) == 0)
            return dict->items[2 * i + 1];
    }
    return NULL;
}

const char *
ezshm_node_str(const ezshm_node_t *node)
{
    return node && node->type == EZSHM_NODE_STR ? node->bytes : NULL;
}

bool
ezshm_shape_bytes(size_t ndim, const size_t *shape, size_t itemsize, size_t *nbytes)
{
    uint64_t product = itemsize ? itemsize : 1;
    bool empty = false;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] == 0)
            empty = true;
        else if (shape[i] > (uint64_t) INT64_MAX / product)
            return false;
        else
            product *= shape[i];
    }
    *nbytes = empty || !itemsize ? 0 : (size_t) product;
    return true;
}

size_t
ezshm_node_nelem(const ezshm_node_t *node)
{
    size_t n = 1;
    for (size_t i = 0; i < node->ndim; i++)
        n *= node->shape[i];
    return n;
}

/*  Floats as values: equal numbers, or both NaN (a NaN read back is the same value). */
static bool
s_same(double a, double b)
{
    return a == b || (a != a && b != b);
}

bool
ezshm_node_equal(const ezshm_node_t *a, const ezshm_node_t *b)
{
    if (a == b)
        return true;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case EZSHM_NODE_NONE:    return true;
    case EZSHM_NODE_BOOL:    return a->boolean == b->boolean;
    case EZSHM_NODE_INT:     return a->integer == b->integer && a->u64 == b->u64;
    case EZSHM_NODE_FLOAT:   return s_same(a->re, b->re);
    case EZSHM_NODE_COMPLEX: return s_same(a->re, b->re) && s_same(a->im, b->im);
    case EZSHM_NODE_STR:
    case EZSHM_NODE_BYTES:
        return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
    case EZSHM_NODE_DTYPE:
        return ezshm_descr_equal(a->descr, b->descr);
    case EZSHM_NODE_NDARRAY:
        if (a->scalar != b->scalar || a->ndim != b->ndim || a->len != b->len
            || !ezshm_descr_equal(a->descr, b->descr)
            || memcmp(a->shape, b->shape, a->ndim * sizeof(size_t)) != 0
            || (a->len && memcmp(a->bytes, b->bytes, a->len) != 0))
            return false;
        break;
    default:
        break;
    }
    size_t n = a->type == EZSHM_NODE_DICT ? 2 * a->n : a->n;
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ezshm_node_equal(a->items[i], b->items[i]))
            return false;
    return true;
}
