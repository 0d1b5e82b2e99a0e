/*  stream_meta.c — AxisArray → metadata tree → pickle → writer (see stream_meta.h). */
#include "stream_meta.h"
#include "log.h"

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

/*  Intern pools: the format's own keys (literals in ezmsg-tools) and the message's JSON keys. */
enum { POOL_LITERAL = 1, POOL_JSON_KEY = 2 };

struct stream_meta_t {
    ezshm_tree_t *tree;
    ezshm_pickler_t *pickler;
    const unsigned char *blob;      /* the last dump (inside the pickler) */
    size_t len;
    uint64_t builds;
    log_limit_t limit;
    char logged_dropped[256];
};

stream_meta_t *
stream_meta_new(void)
{
    stream_meta_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->tree = ezshm_tree_new();
    self->pickler = ezshm_pickler_new();
    if (!self->tree || !self->pickler)
        stream_meta_destroy(&self);
    return self;
}

void
stream_meta_destroy(stream_meta_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ezshm_tree_destroy(&(*self_p)->tree);
    ezshm_pickler_destroy(&(*self_p)->pickler);
    free(*self_p);
    *self_p = NULL;
}

uint64_t
stream_meta_builds(const stream_meta_t *self)
{
    return self->builds;
}

typedef struct {
    ezshm_tree_t *t;
    bool ok;
} build_t;

static ezshm_node_t *
s_lit(build_t *b, const char *s)
{
    ezshm_node_t *n = ezshm_tree_intern(b->t, POOL_LITERAL, s, strlen(s));
    b->ok &= n != NULL;
    return n;
}

static ezshm_node_t *
s_str(build_t *b, const char *s)
{
    ezshm_node_t *n = ezshm_tree_str(b->t, s, strlen(s));
    b->ok &= n != NULL;
    return n;
}

static void
s_set(build_t *b, ezshm_node_t *dict, ezshm_node_t *key, ezshm_node_t *value)
{
    b->ok = b->ok && key && value && ezshm_tree_set(b->t, dict, key, value) == EZSHM_OK;
}

static void
s_append(build_t *b, ezshm_node_t *list, ezshm_node_t *item)
{
    b->ok = b->ok && item && ezshm_tree_append(b->t, list, item) == EZSHM_OK;
}

/*  One axis; NULL (and b->ok kept) when the format cannot carry it. */
static ezshm_node_t *
s_axis(build_t *b, const axisarray_axis_t *ax, bool buffered)
{
    bool coord = ax->kind == AXISARRAY_AXIS_COORDINATE;
    if (coord && !buffered && !ax->descr)
        return NULL;
    ezshm_node_t *d = ezshm_tree_dict(b->t);
    b->ok &= d != NULL;
    if (!b->ok)
        return NULL;
    s_set(b, d, s_lit(b, "kind"), s_lit(b, coord ? "coord" : "linear"));
    s_set(b, d, s_lit(b, "unit"), s_str(b, ax->unit));
    if (!coord) {
        s_set(b, d, s_lit(b, "gain"), ezshm_tree_float(b->t, ax->gain));
        if (!buffered)
            s_set(b, d, s_lit(b, "offset"), ezshm_tree_float(b->t, ax->offset));
        return d;
    }
    ezshm_node_t *dims = ezshm_tree_list(b->t);
    for (size_t i = 0; dims && i < ax->n_dims; i++)
        s_append(b, dims, s_str(b, ax->dims[i]));
    s_set(b, d, s_lit(b, "dims"), dims);
    if (!buffered)
        s_set(b, d, s_lit(b, "data"), ezshm_tree_ndarray(b->t, ax->descr, ax->data_ndim,
                                                         ax->data_shape, ax->data, ax->nbytes,
                                                         false));
    return d;
}

/*  The tree of msg; false when out of memory. */
static bool
s_build(stream_meta_t *self, wire_decoder_t *decoder, const axisarray_t *msg, const char *axis,
        char *dropped, size_t dropped_len)
{
    ezshm_tree_reset(self->tree);
    build_t b = {self->tree, true};
    int k = axisarray_find_dim(msg, axis);
    ezshm_node_t *root = ezshm_tree_dict(b.t), *dims = ezshm_tree_list(b.t);
    ezshm_node_t *axes = ezshm_tree_dict(b.t), *attrs = NULL;
    if (k < 0 || !root || !dims || !axes)
        return false;
    /*  The buffered axis' name is one object, in "dims" and as "buffered_axis". */
    ezshm_node_t *buffered = s_str(&b, axisarray_dim(msg, (size_t) k));
    s_append(&b, dims, buffered);
    for (size_t i = 0; i < axisarray_ndim(msg); i++)
        if (i != (size_t) k)
            s_append(&b, dims, s_str(&b, axisarray_dim(msg, i)));
    for (size_t i = 0; b.ok && i < axisarray_naxes(msg); i++) {
        const axisarray_axis_t *ax = axisarray_axis_at(msg, i);
        ezshm_node_t *node = s_axis(&b, ax, strcmp(ax->name, axis) == 0);
        if (node)
            s_set(&b, axes, ezshm_tree_intern(b.t, POOL_JSON_KEY, ax->name, strlen(ax->name)),
                  node);
    }
    if (wire_decoder_attrs(decoder, b.t, POOL_JSON_KEY, &attrs, dropped, dropped_len) != 0)
        return false;
    s_set(&b, root, s_lit(&b, "version"), ezshm_tree_int(b.t, 1));
    s_set(&b, root, s_lit(&b, "dims"), dims);
    s_set(&b, root, s_lit(&b, "axes"), axes);
    s_set(&b, root, s_lit(&b, "attrs"), attrs);
    s_set(&b, root, s_lit(&b, "key"), s_str(&b, axisarray_key(msg)));
    s_set(&b, root, s_lit(&b, "buffered_axis"), buffered);
    ezshm_tree_set_root(b.t, root);
    return b.ok;
}

/*  Publishes blob through writer once budget lets the stream hold it; an ezshm code, or
    EZSHM_ERR_TOOBIG with errbuf saying why. */
static int
s_publish(ezshm_writer_t *writer, const unsigned char *blob, size_t len, stream_meta_budget_fn *budget,
          void *arg, char *errbuf, size_t errlen)
{
    if (budget && budget(arg, len, errbuf, errlen) != DROP_OK)
        return EZSHM_ERR_TOOBIG;
    return ezshm_writer_publish_aux(writer, blob, len);
}

int
stream_meta_update(stream_meta_t *self, ezshm_writer_t *writer, wire_decoder_t *decoder,
                   const axisarray_t *msg, const char *axis, stream_meta_budget_fn *budget, void *arg,
                   char *errbuf, size_t errlen)
{
    if (ezshm_writer_layout(writer) != EZSHM_LAYOUT_V1)
        return DROP_OK;
    int rc = EZSHM_OK;
    char why[200] = "";
    bool same = wire_decoder_static_same(decoder, axis);
    if (same && self->blob) {
        /*  Same static half as before: only a header made anew (rename) needs the blob again. */
        if (ezshm_writer_aux_generation(writer) == 0)
            rc = s_publish(writer, self->blob, self->len, budget, arg, why, sizeof why);
    }
    else {
        char dropped[256] = "";
        self->blob = NULL;
        if (!s_build(self, decoder, msg, axis, dropped, sizeof dropped))
            rc = EZSHM_ERR_NOMEM;
        else if ((rc = ezshm_pickler_dump(self->pickler, ezshm_tree_root(self->tree), &self->blob,
                                          &self->len)) != EZSHM_OK)
            self->blob = NULL;
        else {
            self->builds++;
            rc = s_publish(writer, self->blob, self->len, budget, arg, why, sizeof why);
        }
        if (dropped[0] && strcmp(dropped, self->logged_dropped) != 0) {
            log_msg(SETTINGS_LOG_WARNING, "stream '%s': attrs left out of the stream metadata (not plain "
                    "values): %s", ezshm_writer_name(writer), dropped);
            snprintf(self->logged_dropped, sizeof self->logged_dropped, "%s", dropped);
        }
    }
    if (rc == EZSHM_OK)
        return DROP_OK;
    /*  Not published: a new blob is built again by the next message (a kept blob means "out");
        a republish of the kept one is tried again while the header names none. */
    if (!(same && self->blob))
        self->blob = NULL;
    return ezshm_fail(errbuf, errlen, INGEST_ERR_META, "stream metadata of '%.80s' not published (%s), so its "
                      "frames are not written: readers keep the previous metadata and frames", ezshm_writer_name(writer),
                      *why ? why : ezshm_strerror(rc));
}
