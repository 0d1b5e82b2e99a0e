/*  axisarray.c — the decoded message: accessors and the pools the decoder fills. */
#include "axisarray_build.h"
#include "wire_base64.h"

#include <stdlib.h>
#include <string.h>

axisarray_t *
axisarray_new(void)
{
    axisarray_t *self = (axisarray_t *) calloc(1, sizeof(axisarray_t));
    if (!self)
        return NULL;
    axisarray_build_reset(self);
    axisarray_build_finish(self);
    return self;
}

void
axisarray_destroy(axisarray_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    axisarray_t *self = *self_p;
    free(self->axes);
    free(self->axis_offsets);
    free(self->strings);
    free(self->values);
    free(self->label_offsets);
    free(self->labels);
    free(self->descrs);
    free(self->sizes);
    free(self->bytes);
    free(self);
    *self_p = NULL;
}

/*  Grows *buf so that it holds at least need items of size item; false when out of memory. */
static bool
s_grow(void **buf, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc(*buf, cap2 * item);
    if (!grown)
        return false;
    *buf = grown;
    *cap = cap2;
    return true;
}

void
axisarray_build_reset(axisarray_t *self)
{
    self->topic = NULL;
    self->topic_len = 0;
    self->ndim = 0;
    self->dtype = '\0';
    self->itemsize = 0;
    self->data = NULL;
    self->base64 = NULL;
    self->base64_len = 0;
    self->nbytes = 0;
    self->needs_byteswap = false;
    self->has_seq = false;
    self->seq = 0;
    self->has_ts = false;
    self->ts = 0;
    self->naxes = 0;
    self->values_len = 0;
    self->labels_len = 0;
    self->descrs_len = 0;
    self->sizes_len = 0;
    self->bytes_len = 0;
    /*  Offset 0 of the string pool is always "", the value of absent strings. */
    self->strings_len = 0;
    self->key = 0;
    if (s_grow((void **) &self->strings, &self->strings_cap, 1, 1)) {
        self->strings[0] = '\0';
        self->strings_len = 1;
    }
}

char *
axisarray_build_reserve_string(axisarray_t *self, size_t len, size_t *offset)
{
    if (len > SIZE_MAX - self->strings_len - 1
        || !s_grow((void **) &self->strings, &self->strings_cap, self->strings_len + len + 1, 1))
        return NULL;
    *offset = self->strings_len;
    return self->strings + self->strings_len;
}

void
axisarray_build_commit_string(axisarray_t *self, size_t offset, size_t written)
{
    self->strings[offset + written] = '\0';
    self->strings_len = offset + written + 1;
}

axisarray_axis_t *
axisarray_build_add_axis(axisarray_t *self, size_t name, size_t unit,
                         axisarray_axis_offsets_t **offsets)
{
    size_t cap = self->axes_cap;
    if (!s_grow((void **) &self->axes, &cap, self->naxes + 1, sizeof(axisarray_axis_t)))
        return NULL;
    cap = self->axes_cap;
    if (!s_grow((void **) &self->axis_offsets, &cap, self->naxes + 1,
                sizeof(axisarray_axis_offsets_t)))
        return NULL;
    self->axes_cap = cap;
    axisarray_axis_t *axis = &self->axes[self->naxes];
    axisarray_axis_offsets_t *off = &self->axis_offsets[self->naxes];
    self->naxes++;
    memset(axis, 0, sizeof *axis);
    axis->kind = AXISARRAY_AXIS_LINEAR;
    axis->gain = 1.0;
    *off = (axisarray_axis_offsets_t) {.name = name, .unit = unit};
    *offsets = off;
    return axis;
}

/*  Appends n items of size item to a pool (buf, len, cap); the first new one's index in *first.
    NULL when out of memory or the size would overflow. */
static void *
s_pool_add(void **buf, size_t *len, size_t *cap, size_t n, size_t item, size_t *first)
{
    if (n > SIZE_MAX / item - *len || !s_grow(buf, cap, *len + n, item))
        return NULL;
    *first = *len;
    *len += n;
    return (char *) *buf + *first * item;
}

double *
axisarray_build_add_values(axisarray_t *self, size_t n, size_t *first)
{
    return s_pool_add((void **) &self->values, &self->values_len, &self->values_cap, n,
                      sizeof(double), first);
}

size_t *
axisarray_build_add_labels(axisarray_t *self, size_t n, size_t *first)
{
    size_t cap = self->labels_cap;
    if (n > SIZE_MAX / sizeof(size_t) - self->labels_len
        || !s_grow((void **) &self->label_offsets, &cap, self->labels_len + n, sizeof(size_t)))
        return NULL;
    cap = self->labels_cap;
    if (!s_grow((void **) &self->labels, &cap, self->labels_len + n, sizeof(char *)))
        return NULL;
    self->labels_cap = cap;
    *first = self->labels_len;
    self->labels_len += n;
    return self->label_offsets + *first;
}

ezshm_descr_t *
axisarray_build_add_descr(axisarray_t *self, axisarray_axis_offsets_t *offsets)
{
    if (!s_grow((void **) &self->descrs, &self->descrs_cap, self->descrs_len + 1,
                sizeof(ezshm_descr_t)))
        return NULL;
    offsets->descr = ++self->descrs_len;
    return &self->descrs[self->descrs_len - 1];
}

size_t *
axisarray_build_add_sizes(axisarray_t *self, size_t n, size_t *first)
{
    return s_pool_add((void **) &self->sizes, &self->sizes_len, &self->sizes_cap, n,
                      sizeof(size_t), first);
}

unsigned char *
axisarray_build_add_bytes(axisarray_t *self, size_t n, size_t *first)
{
    return s_pool_add((void **) &self->bytes, &self->bytes_len, &self->bytes_cap, n, 1, first);
}

void
axisarray_build_finish(axisarray_t *self)
{
    for (size_t i = 0; i < self->ndim; i++)
        self->dims[i] = self->strings + self->dim_offsets[i];
    for (size_t i = 0; i < self->labels_len; i++)
        self->labels[i] = self->strings + self->label_offsets[i];
    for (size_t i = 0; i < self->naxes; i++) {
        axisarray_axis_t *axis = &self->axes[i];
        const axisarray_axis_offsets_t *off = &self->axis_offsets[i];
        axis->name = self->strings + off->name;
        axis->unit = self->strings + off->unit;
        axis->values = axis->n_values ? self->values + off->values : NULL;
        axis->labels = axis->n_labels ? self->labels + off->labels : NULL;
        axis->descr = off->descr ? &self->descrs[off->descr - 1] : NULL;
        axis->data_shape = axis->data_ndim ? self->sizes + off->shape : NULL;
        axis->data = axis->descr && self->bytes ? self->bytes + off->data : NULL;
        axis->dims = axis->n_dims ? self->labels + off->dims : NULL;
    }
}

const void *
axisarray_topic(const axisarray_t *self, size_t *len)
{
    *len = self->topic_len;
    return self->topic;
}

const char *
axisarray_key(const axisarray_t *self)
{
    return self->strings ? self->strings + self->key : "";
}

size_t
axisarray_ndim(const axisarray_t *self)
{
    return self->ndim;
}

const char *
axisarray_dim(const axisarray_t *self, size_t i)
{
    return i < self->ndim ? self->dims[i] : NULL;
}

int
axisarray_find_dim(const axisarray_t *self, const char *name)
{
    for (size_t i = 0; i < self->ndim; i++)
        if (strcmp(self->dims[i], name) == 0)
            return (int) i;
    return -1;
}

const size_t *
axisarray_shape(const axisarray_t *self)
{
    return self->shape;
}

size_t
axisarray_nelem(const axisarray_t *self)
{
    return self->itemsize ? self->nbytes / self->itemsize : 0;
}

char
axisarray_dtype(const axisarray_t *self)
{
    return self->dtype;
}

size_t
axisarray_itemsize(const axisarray_t *self)
{
    return self->itemsize;
}

const void *
axisarray_data(const axisarray_t *self)
{
    return self->data;
}

int
axisarray_copy_data(const axisarray_t *self, void *dst, size_t from, size_t to)
{
    if (from > to || to > self->nbytes)
        return -1;
    if (self->base64)
        return wire_base64_decode_range((unsigned char *) dst, self->base64, self->base64_len,
                                        from, to);
    if (to > from)
        memcpy(dst, (const unsigned char *) self->data + from, to - from);
    return 0;
}

size_t
axisarray_nbytes(const axisarray_t *self)
{
    return self->nbytes;
}

bool
axisarray_needs_byteswap(const axisarray_t *self)
{
    return self->needs_byteswap;
}

bool
axisarray_has_seq(const axisarray_t *self)
{
    return self->has_seq;
}

uint64_t
axisarray_seq(const axisarray_t *self)
{
    return self->seq;
}

bool
axisarray_has_ts(const axisarray_t *self)
{
    return self->has_ts;
}

double
axisarray_ts(const axisarray_t *self)
{
    return self->ts;
}

size_t
axisarray_naxes(const axisarray_t *self)
{
    return self->naxes;
}

const axisarray_axis_t *
axisarray_axis_at(const axisarray_t *self, size_t i)
{
    return i < self->naxes ? &self->axes[i] : NULL;
}

const axisarray_axis_t *
axisarray_axis(const axisarray_t *self, const char *name)
{
    for (size_t i = 0; i < self->naxes; i++)
        if (strcmp(self->axes[i].name, name) == 0)
            return &self->axes[i];
    return NULL;
}
