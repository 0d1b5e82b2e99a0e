/*  wire_decode.c — frames -> axisarray_t for the three wire formats. */
#include "wire.h"
#include "axisarray_build.h"
#include "ezshm_dtype.h"
#include "ezshm_error.h"
#include "json_relaxed.h"
#include "wire_attrs.h"
#include "wire_base64.h"
#include "wire_header_cache.h"
#include "wire_ndarray.h"
#include "ezshm_utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _wire_decoder_t {
    jr_doc_t *doc;
    axisarray_t *msg;
    wire_scratch_t data;        /* decoded base64 of the message data */
    wire_scratch_t coord;       /* decoded base64 of one coordinate array */
    wire_scratch_t text;        /* unescaped strings */
    wire_header_cache_t cache;
    uint64_t cache_hits;
    wire_format_t format;
    uint64_t skipped_axes;
    uint64_t attrs_over;        /* metadata builds whose attrs were over the bound */
    char skipped_reason[128];
    const jr_node_t *obj;       /* the AxisArray object of the last full parse */
    const jr_node_t *attrs;     /* of the last full parse */
    wire_scratch_t sig[2];      /* static signatures: [0] the last one, [1] being built */
    size_t sig_len[2];
    bool parsed;                /* the last successful decode parsed its JSON (no cache hit) */
    bool defer_data;            /* wire_decoder_defer_data */
    char error[192];
};

wire_decoder_t *
wire_decoder_new(void)
{
    wire_decoder_t *self = (wire_decoder_t *) calloc(1, sizeof(wire_decoder_t));
    if (!self)
        return NULL;
    self->doc = jr_doc_new();
    self->msg = axisarray_new();
    if (!self->doc || !self->msg) {
        wire_decoder_destroy(&self);
        return NULL;
    }
    return self;
}

void
wire_decoder_destroy(wire_decoder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wire_decoder_t *self = *self_p;
    jr_doc_destroy(&self->doc);
    axisarray_destroy(&self->msg);
    free(self->data.data);
    free(self->coord.data);
    free(self->text.data);
    free(self->sig[0].data);
    free(self->sig[1].data);
    wire_header_cache_free(&self->cache);
    free(self);
    *self_p = NULL;
}

void
wire_decoder_defer_data(wire_decoder_t *self, bool defer)
{
    self->defer_data = defer;
}

const char *
wire_decoder_last_error(const wire_decoder_t *self)
{
    return self->error;
}

wire_format_t
wire_decoder_format(const wire_decoder_t *self)
{
    return self->format;
}

uint64_t
wire_decoder_cache_hits(const wire_decoder_t *self)
{
    return self->cache_hits;
}

uint64_t
wire_decoder_skipped_axes(const wire_decoder_t *self, const char **reason)
{
    if (reason)
        *reason = self->skipped_reason;
    return self->skipped_axes;
}

/*  Copies a JSON string node into the message's string pool; sets *offset. */
static int
s_pool_string(wire_decoder_t *self, const jr_node_t *node, size_t *offset)
{
    char *dst = axisarray_build_reserve_string(self->msg, node->end - node->start, offset);
    if (!dst)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    size_t len = jr_string(self->doc, node, dst);
    axisarray_build_commit_string(self->msg, *offset, len);
    /*  Names, units and the key reach the metadata, where Python's pickle.loads fails on
        bytes that are not UTF-8 (and Python's json.loads would refuse the message). */
    if (!ezshm_utf8_valid(dst, len))
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_JSON, "a name, unit or key is not valid UTF-8");
    return 0;
}

/*  Copies the member key of node into the string pool. */
static int
s_pool_key(wire_decoder_t *self, const jr_node_t *node, size_t *offset)
{
    jr_node_t key = *node;
    key.type = JR_STRING;
    key.start = node->key_start;
    key.end = node->key_end;
    key.escaped = node->key_escaped;
    return s_pool_string(self, &key, offset);
}

/*  An optional string member: absent gives the pool's "" (offset 0). */
static int
s_optional_string(wire_decoder_t *self, const jr_node_t *obj, const char *name,
                  const char *where, size_t *offset)
{
    const jr_node_t *node = jr_member(self->doc, obj, name);
    *offset = 0;
    if (!node)
        return 0;
    if (node->type != JR_STRING)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "%s%s is not a string", where, name);
    return s_pool_string(self, node, offset);
}

/*  True when string node ends with suffix (raw bytes: class names are never escaped). */
static bool
s_ends_with(const jr_doc_t *doc, const jr_node_t *node, const char *suffix)
{
    size_t len, slen = strlen(suffix);
    const char *raw = jr_raw(doc, node, &len);
    return len >= slen && memcmp(raw + len - slen, suffix, slen) == 0;
}

/*  gain/offset: a number (NaN/Infinity included), null (NaN), or absent (the default). */
static int
s_linear_number(wire_decoder_t *self, const jr_node_t *axis, const char *name, double dflt,
                const char *axis_name, double *value, const jr_node_t **number)
{
    const jr_node_t *node = jr_member(self->doc, axis, name);
    *number = NULL;
    if (!node)
        *value = dflt;
    else if (node->type == JR_NULL)
        *value = NAN;
    else if (node->type == JR_NUMBER) {
        *value = jr_number(self->doc, node);
        *number = node;
    }
    else
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "axis '%s' %s is not a number", axis_name,
                      name);
    return 0;
}

/*  Code point c of a 'U' (UCS-4) or 'S' (bytes, read as Latin-1) element. */
static uint32_t
s_code_point(const unsigned char *e, size_t c, ezshm_scalar_t t)
{
    if (t.kind == 'S')
        return e[c];
    uint32_t cp;
    memcpy(&cp, e + c * 4, 4);
    return t.order == '>' ? __builtin_bswap32(cp) : cp;
}

/*  UCS-4 'U' or bytes 'S' elements as UTF-8 labels (bytes are read as Latin-1, so any
    byte string becomes valid text); numpy's trailing NUL padding is not part of the text. */
static int
s_labels(wire_decoder_t *self, axisarray_axis_offsets_t *off, const unsigned char *bytes,
         size_t nelem, ezshm_scalar_t t)
{
    size_t *labels = axisarray_build_add_labels(self->msg, nelem, &off->labels);
    if (!labels)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    size_t unit = t.kind == 'U' ? 4 : 1, chars = t.itemsize / unit;
    for (size_t i = 0; i < nelem; i++) {
        const unsigned char *e = bytes + i * t.itemsize;
        size_t n = chars;
        while (n > 0 && s_code_point(e, n - 1, t) == 0)
            n--;
        char *dst = axisarray_build_reserve_string(self->msg, n * 4, &labels[i]);
        if (!dst)
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
        size_t w = 0;
        for (size_t c = 0; c < n; c++)
            w += ezshm_utf8_put(dst + w, s_code_point(e, c, t));
        axisarray_build_commit_string(self->msg, labels[i], w);
    }
    return 0;
}

/*  The dtype string of a coordinate array, unescaped (a structured descr may name its
    fields in escaped non-ASCII) into the decoder's text scratch. */
static const char *
s_dtype_text(wire_decoder_t *self, const jr_node_t *dtype, size_t *len)
{
    if (!dtype->escaped)
        return jr_raw(self->doc, dtype, len);
    if (!wire_scratch_reserve(&self->text, dtype->end - dtype->start + 1))
        return NULL;
    *len = jr_string(self->doc, dtype, (char *) self->text.data);
    return (const char *) self->text.data;
}

/*  The axis' "dims" list (optional): names of the message dims it runs along. */
static int
s_coordinate_dims(wire_decoder_t *self, axisarray_axis_t *axis, axisarray_axis_offsets_t *off,
                  const jr_node_t *node, const char *axis_name)
{
    const jr_node_t *dims = jr_member(self->doc, node, "dims");
    if (!dims)
        return 0;
    if (dims->type != JR_ARRAY)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "axis '%s' dims is not a list", axis_name);
    for (const jr_node_t *d = jr_first(self->doc, dims); d; d = jr_next(self->doc, d))
        if (d->type != JR_STRING)
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "axis '%s' dims has a non-string",
                          axis_name);
    size_t *names = axisarray_build_add_labels(self->msg, dims->count, &off->dims);
    if (!names)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    size_t i = 0;
    for (const jr_node_t *d = jr_first(self->doc, dims); d; d = jr_next(self->doc, d)) {
        int rc = s_pool_string(self, d, &names[i++]);
        if (rc)
            return rc;
    }
    axis->n_dims = dims->count;
    return 0;
}

/*  CoordinateAxis data. The array is kept as sent for the metadata; numbers also become
    doubles (complex: none) and 'U'/'S' strings UTF-8 labels. A dtype that cannot be carried
    (object, or one numpy_dtype_descr refuses) leaves the axis without data, counted: the
    message itself is fine, only that axis is left out of the metadata. */
static int
s_coordinate(wire_decoder_t *self, axisarray_axis_t *axis, axisarray_axis_offsets_t *off,
             const jr_node_t *node, const char *axis_name)
{
    char what[96];
    snprintf(what, sizeof what, "axis '%s' data", axis_name);
    axis->kind = AXISARRAY_AXIS_COORDINATE;
    int rc = s_coordinate_dims(self, axis, off, node, axis_name);
    if (rc)
        return rc;
    const jr_node_t *data = jr_member(self->doc, node, "data");
    const jr_node_t *dtype = data && data->type == JR_OBJECT
                             ? jr_member(self->doc, data, "dtype") : NULL;
    if (!dtype || dtype->type != JR_STRING)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "%s has no dtype string", what);
    size_t dlen;
    const char *dname = s_dtype_text(self, dtype, &dlen);
    if (!dname)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    ezshm_descr_t descr;
    if (numpy_dtype_descr(dname, dlen, &descr)) {
        self->skipped_axes++;
        snprintf(self->skipped_reason, sizeof self->skipped_reason,
                 "axis '%s' has dtype '%.*s', which the metadata cannot carry", axis_name,
                 (int) (dlen > 48 ? 48 : dlen), dname);
        return 0;
    }
    wire_ndarray_t nd;
    nd.itemsize = ezshm_descr_itemsize(&descr);
    rc = wire_ndarray_read_shape(self->doc, data, what, &nd, self->error, sizeof self->error);
    if (!rc && nd.ndim > EZSHM_NUMPY_MAX_NDIM) {
        self->skipped_axes++;
        snprintf(self->skipped_reason, sizeof self->skipped_reason,
                 "axis '%s' has %zu dimensions, more than numpy 1.x loads", axis_name, nd.ndim);
        return 0;
    }
    if (!rc)
        rc = wire_ndarray_decode_base64(self->doc, &nd, what, &self->coord, &self->text,
                                        self->error, sizeof self->error);
    if (rc)
        return rc == WIRE_ERR_NOMEM ? ezshm_fail(self->error, sizeof self->error, rc, "out of memory") : rc;
    ezshm_descr_t *kept = axisarray_build_add_descr(self->msg, off);
    size_t *shape = kept ? axisarray_build_add_sizes(self->msg, nd.ndim, &off->shape) : NULL;
    unsigned char *bytes = shape ? axisarray_build_add_bytes(self->msg, nd.nbytes, &off->data)
                                 : NULL;
    if (!bytes && (!shape || nd.nbytes))
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    *kept = descr;
    memcpy(shape, nd.shape, nd.ndim * sizeof(size_t));
    if (nd.nbytes)
        memcpy(bytes, self->coord.data, nd.nbytes);
    axis->data_ndim = nd.ndim;
    axis->nbytes = nd.nbytes;
    char kind = descr.kind;
    if (kind == 'U' || kind == 'S') {
        axis->n_labels = nd.nelem;
        return s_labels(self, off, self->coord.data, nd.nelem, descr.type);
    }
    if (kind == 'V' || kind == 'c')
        return 0;
    char typestr[16];
    numpy_dtype_t plain;
    ezshm_descr_typestr(descr.type, typestr, sizeof typestr);
    if (numpy_dtype_parse(typestr, strlen(typestr), &plain) || !plain.code)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_DTYPE, "%s has unknown dtype '%s'", what, typestr);
    double *values = axisarray_build_add_values(self->msg, nd.nelem, &off->values);
    if (!values)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nd.nelem; i++)
        values[i] = wire_ndarray_element(self->coord.data, i, plain.code, plain.big_endian);
    axis->n_values = nd.nelem;
    return 0;
}

static int
s_axis(wire_decoder_t *self, const jr_node_t *node)
{
    const jr_doc_t *doc = self->doc;
    size_t name;
    int rc = s_pool_key(self, node, &name);
    if (rc)
        return rc;
    const char *axis_name = self->msg->strings + name;
    if (node->type != JR_OBJECT)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "axis '%s' is not an object", axis_name);
    const jr_node_t *type = jr_member(doc, node, "_type");
    bool linear, coordinate;
    if (type && type->type == JR_STRING) {
        linear = s_ends_with(doc, type, ":LinearAxis") || s_ends_with(doc, type, ":AxisArray.Axis");
        coordinate = s_ends_with(doc, type, ":CoordinateAxis");
    }
    else {
        linear = jr_member(doc, node, "gain") != NULL;
        coordinate = !linear && jr_member(doc, node, "data") != NULL;
    }
    /*  An axis class we do not know says nothing about the data layout: leave it out. */
    if (!linear && !coordinate)
        return 0;
    size_t unit;
    rc = s_optional_string(self, node, "unit", "axis unit ", &unit);
    if (rc)
        return rc;
    axis_name = self->msg->strings + name;
    axisarray_axis_offsets_t *off;
    axisarray_axis_t *axis = axisarray_build_add_axis(self->msg, name, unit, &off);
    if (!axis)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    if (coordinate) {
        char copy[64];
        snprintf(copy, sizeof copy, "%s", axis_name);
        return s_coordinate(self, axis, off, node, copy);
    }
    const jr_node_t *gain_num, *offset_num;
    rc = s_linear_number(self, node, "gain", 1.0, axis_name, &axis->gain, &gain_num);
    if (!rc)
        rc = s_linear_number(self, node, "offset", 0.0, axis_name, &axis->offset, &offset_num);
    if (rc)
        return rc;
    if (offset_num && wire_header_cache_add_span(&self->cache, offset_num->start, offset_num->end,
                                                 WIRE_SPAN_OFFSET, self->msg->naxes - 1))
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    return 0;
}

/*  The top level: wrapper fields ts and seq, then the AxisArray fields. */
static int
s_envelope(wire_decoder_t *self, const jr_node_t *root, const jr_node_t **obj)
{
    const jr_doc_t *doc = self->doc;
    axisarray_t *msg = self->msg;
    if (!root || root->type != JR_OBJECT)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_JSON, "payload is not a JSON object");
    const jr_node_t *wrapped = jr_member(doc, root, "obj");
    *obj = wrapped && wrapped->type == JR_OBJECT ? wrapped : root;
    const jr_node_t *ts = jr_member(doc, root, "ts");
    if (ts && ts->type == JR_NUMBER) {
        msg->has_ts = true;
        msg->ts = jr_number(doc, ts);
        if (wire_header_cache_add_span(&self->cache, ts->start, ts->end, WIRE_SPAN_TS, 0))
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    }
    const jr_node_t *seq = jr_member(doc, root, "seq");
    if (seq) {
        if (!jr_uint64(doc, seq, &msg->seq))
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "seq is not a non-negative integer");
        msg->has_seq = true;
        if (wire_header_cache_add_span(&self->cache, seq->start, seq->end, WIRE_SPAN_SEQ, 0))
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int
s_dims(wire_decoder_t *self, const jr_node_t *obj)
{
    const jr_node_t *dims = jr_member(self->doc, obj, "dims");
    if (!dims || dims->type != JR_ARRAY)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "AxisArray has no dims array");
    if (dims->count != self->msg->ndim)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_SHAPE, "dims has %u names but shape has %zu entries",
                      dims->count, self->msg->ndim);
    size_t i = 0;
    for (const jr_node_t *d = jr_first(self->doc, dims); d; d = jr_next(self->doc, d), i++) {
        if (d->type != JR_STRING)
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "dims[%zu] is not a string", i);
        int rc = s_pool_string(self, d, &self->msg->dim_offsets[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/*  Data frame: the base64 "data" string when raw is NULL, else the raw native frame. */
static int
s_data(wire_decoder_t *self, const jr_node_t *obj, const wire_frame_t *raw)
{
    axisarray_t *msg = self->msg;
    wire_ndarray_t nd;
    int rc = wire_ndarray_read(self->doc, jr_member(self->doc, obj, "data"), "data", &nd,
                               self->error, sizeof self->error);
    if (rc)
        return rc;
    if (!nd.dtype.code)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_DTYPE, "data has a string dtype");
    msg->ndim = nd.ndim;
    memcpy(msg->shape, nd.shape, nd.ndim * sizeof(size_t));
    msg->dtype = nd.dtype.code;
    msg->itemsize = nd.itemsize;
    msg->nbytes = nd.nbytes;
    rc = s_dims(self, obj);
    if (rc)
        return rc;
    size_t component = ezshm_dtype_component_size(nd.dtype.code);
    if (raw) {
        if (raw->size != nd.nbytes)
            return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_SHAPE, "data frame has %zu bytes but shape and dtype "
                          "need %zu", raw->size, nd.nbytes);
        msg->data = raw->data;
        msg->needs_byteswap = nd.dtype.big_endian && component > 1;
        return 0;
    }
    /*  Deferred: the reader decodes straight into the ring. Escaped text (unescaped into a
        scratch the rest of the decode reuses) and data to swap are decoded here, and so is
        everything on the scalar path, whose validation costs as much as its decode (a
        second pass would cost more than the copy it saves). */
    if (self->defer_data && nd.base64 && !nd.base64->escaped && !(nd.dtype.big_endian && component > 1)
        && wire_base64_selected() != WIRE_BASE64_SCALAR)
        return wire_ndarray_validate_base64(self->doc, &nd, "data", &msg->base64, &msg->base64_len,
                                            self->error, sizeof self->error);
    rc = wire_ndarray_decode_base64(self->doc, &nd, "data", &self->data, &self->text,
                                    self->error, sizeof self->error);
    if (rc)
        return rc == WIRE_ERR_NOMEM ? ezshm_fail(self->error, sizeof self->error, rc, "out of memory") : rc;
    /*  The buffer is ours, so big-endian data is fixed here once, not by every reader. */
    if (nd.dtype.big_endian && component > 1)
        wire_byteswap(self->data.data, self->data.data, nd.nbytes, component);
    msg->data = self->data.data;
    return 0;
}

/*  Full decode of one JSON payload/header; raw is the native data frame or NULL. */
static int
s_decode_json(wire_decoder_t *self, const void *topic, size_t topic_len, const char *text,
              size_t len, const wire_frame_t *raw)
{
    axisarray_t *msg = self->msg;
    axisarray_build_reset(msg);
    wire_header_cache_reset(&self->cache);
    msg->topic = topic;
    msg->topic_len = topic_len;
    int rc = jr_parse(self->doc, text, len);
    if (rc == -2)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    if (rc)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_JSON, "invalid JSON: %s", jr_doc_error(self->doc));
    const jr_node_t *obj = NULL;
    rc = s_envelope(self, jr_root(self->doc), &obj);
    if (!rc)
        rc = s_data(self, obj, raw);
    if (!rc)
        rc = s_optional_string(self, obj, "key", "", &msg->key);
    if (rc)
        return rc;
    const jr_node_t *axes = jr_member(self->doc, obj, "axes");
    if (axes && axes->type != JR_OBJECT)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_MISSING_FIELD, "axes is not an object");
    for (const jr_node_t *a = jr_first(self->doc, axes); a; a = jr_next(self->doc, a)) {
        rc = s_axis(self, a);
        if (rc)
            return rc;
    }
    self->obj = obj;
    self->attrs = jr_member(self->doc, obj, "attrs");
    axisarray_build_finish(msg);
    return 0;
}

/*  A native header equal to the cached one but for its volatile numbers: update those only. */
static int
s_cache_hit(wire_decoder_t *self, const wire_frame_t *frames)
{
    axisarray_t *msg = self->msg;
    if (frames[2].size != msg->nbytes)
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_SHAPE, "data frame has %zu bytes but shape and dtype "
                      "need %zu", frames[2].size, msg->nbytes);
    msg->topic = frames[0].data;
    msg->topic_len = frames[0].size;
    msg->data = frames[2].data;
    for (size_t k = 0; k < self->cache.nspans; k++) {
        const wire_span_t *span = &self->cache.spans[k];
        if (span->kind == WIRE_SPAN_TS)
            msg->ts = span->value;
        else if (span->kind == WIRE_SPAN_SEQ)
            msg->seq = span->integer;
        else
            msg->axes[span->axis].offset = span->value;
    }
    self->cache_hits++;
    self->parsed = false;
    return 0;
}

static int
s_decode_native(wire_decoder_t *self, const wire_frame_t *frames)
{
    const char *header = (const char *) frames[1].data;
    size_t len = frames[1].size;
    if (wire_header_cache_match(&self->cache, header, len))
        return s_cache_hit(self, frames);
    int rc = s_decode_json(self, frames[0].data, frames[0].size, header, len, &frames[2]);
    if (rc)
        return rc;
    if (wire_header_cache_store(&self->cache, header, len))
        return ezshm_fail(self->error, sizeof self->error, WIRE_ERR_NOMEM, "out of memory");
    return 0;
}

int
wire_topic(const wire_frame_t *frames, size_t nframes, const void **topic, size_t *len)
{
    *topic = NULL;
    *len = 0;
    if (nframes == 2 || nframes == 3) {
        *topic = frames[0].data;
        *len = frames[0].size;
        return 0;
    }
    if (nframes != 1)
        return WIRE_ERR_FRAME_COUNT;
    const char *frame = (const char *) frames[0].data;
    const char *brace = frames[0].size ? memchr(frame, '{', frames[0].size) : NULL;
    if (!brace)
        return WIRE_ERR_JSON;
    *topic = frame;
    *len = (size_t) (brace - frame);
    return 0;
}

int
wire_decode(wire_decoder_t *self, const wire_frame_t *frames, size_t nframes,
            const axisarray_t **out)
{
    *out = NULL;
    self->error[0] = '\0';
    self->parsed = false;
    uint64_t hits = self->cache_hits;
    int rc;
    if (nframes == 3) {
        self->format = WIRE_FORMAT_NATIVE;
        rc = s_decode_native(self, frames);
    }
    else if (nframes == 2) {
        self->format = WIRE_FORMAT_MULTIPART;
        rc = s_decode_json(self, frames[0].data, frames[0].size, (const char *) frames[1].data,
                           frames[1].size, NULL);
    }
    else if (nframes == 1) {
        self->format = WIRE_FORMAT_SINGLEPART;
        const char *frame = (const char *) frames[0].data;
        const void *topic;
        size_t topic_len;
        if (wire_topic(frames, nframes, &topic, &topic_len) != 0)
            rc = ezshm_fail(self->error, sizeof self->error, WIRE_ERR_JSON, "single-part frame has no '{'");
        else
            rc = s_decode_json(self, frame, topic_len, frame + topic_len, frames[0].size - topic_len, NULL);
    }
    else {
        self->format = WIRE_FORMAT_NONE;
        rc = ezshm_fail(self->error, sizeof self->error, WIRE_ERR_FRAME_COUNT, "got %zu frames, expected 1, 2 or 3", nframes);
    }
    /*  The cache describes self->msg; any other decode (or a failed one) rebuilt or broke it. */
    if (self->format != WIRE_FORMAT_NATIVE || (rc && rc != WIRE_ERR_SHAPE))
        wire_header_cache_reset(&self->cache);
    if (rc)
        return rc;
    self->parsed = self->cache_hits == hits;
    *out = self->msg;
    return 0;
}

/*  Appends a length-prefixed span of the parsed text (or of s when node is NULL) to sig[1]. */
static bool
s_sig_put(wire_decoder_t *self, const jr_node_t *node, const char *s, size_t len)
{
    if (node)
        s = jr_raw(self->doc, node, &len);
    wire_scratch_t *sig = &self->sig[1];
    size_t at = self->sig_len[1];
    if (!wire_scratch_reserve(sig, at + sizeof len + len))
        return false;
    memcpy(sig->data + at, &len, sizeof len);
    memcpy(sig->data + at + sizeof len, s, len);
    self->sig_len[1] = at + sizeof len + len;
    return true;
}

/*  The key span of a member node, as a string node jr_raw can read. */
static jr_node_t
s_key_node(const jr_node_t *member)
{
    jr_node_t k = *member;
    k.type = JR_STRING;
    k.start = member->key_start;
    k.end = member->key_end;
    return k;
}

/*  True when member node's key is key[0..len): lengths first, so most keys cost one compare. */
static bool
s_key_eq(const jr_doc_t *doc, const jr_node_t *node, const char *key, size_t len)
{
    if (node->key_escaped)
        return jr_key_is(doc, node, key);
    jr_node_t k = s_key_node(node);
    size_t n;
    const char *raw = jr_raw(doc, &k, &n);
    return n == len && memcmp(raw, key, len) == 0;
}

bool
wire_decoder_static_same(wire_decoder_t *self, const char *buffered_axis)
{
    if (!self->parsed)
        return true;
    const jr_doc_t *doc = self->doc;
    size_t blen = strlen(buffered_axis);
    self->sig_len[1] = 0;
    bool ok = s_sig_put(self, NULL, buffered_axis, blen);
    /*  One pass over the AxisArray in document order: every member but the samples ("data"),
        the axes member by member. */
    for (const jr_node_t *m = jr_first(doc, self->obj); ok && m; m = jr_next(doc, m)) {
        if (s_key_eq(doc, m, "data", 4))
            continue;
        jr_node_t name = s_key_node(m);
        ok = s_sig_put(self, &name, NULL, 0);
        if (!s_key_eq(doc, m, "axes", 4) || m->type != JR_OBJECT) {
            ok = ok && s_sig_put(self, m, NULL, 0);
            continue;
        }
        for (const jr_node_t *a = jr_first(doc, m); ok && a; a = jr_next(doc, a)) {
            jr_node_t axis = s_key_node(a);
            ok = s_sig_put(self, &axis, NULL, 0);
            if (!s_key_eq(doc, a, buffered_axis, blen) || a->type != JR_OBJECT) {
                ok = ok && s_sig_put(self, a, NULL, 0);
                continue;
            }
            /*  The buffered axis: its static part only (the offset and the coordinates move). */
            for (const jr_node_t *f = jr_first(doc, a); ok && f; f = jr_next(doc, f)) {
                jr_node_t field = s_key_node(f);
                ok = s_sig_put(self, &field, NULL, 0);
                if (ok && !s_key_eq(doc, f, "offset", 6) && !s_key_eq(doc, f, "data", 4))
                    ok = s_sig_put(self, f, NULL, 0);
            }
        }
    }
    bool same = ok && self->sig_len[0] == self->sig_len[1]
                && memcmp(self->sig[0].data, self->sig[1].data, self->sig_len[1]) == 0;
    /*  The new signature becomes the last one (a failed build leaves none: never "same"). */
    size_t built = self->sig_len[1];
    wire_scratch_t t = self->sig[0];
    self->sig[0] = self->sig[1];
    self->sig[1] = t;
    self->sig_len[0] = ok ? built : SIZE_MAX;
    self->sig_len[1] = 0;
    return same;
}

int
wire_decoder_attrs(wire_decoder_t *self, ezshm_tree_t *tree, int key_pool, ezshm_node_t **out,
                   char *dropped, size_t dropped_len)
{
    if (!self->parsed)
        return WIRE_ERR_MISSING_FIELD;
    int rc = wire_attrs_to_tree(self->doc, self->attrs, tree, key_pool, &self->coord,
                                &self->text, out, dropped, dropped_len);
    if (rc == WIRE_ATTRS_OVER)
        self->attrs_over++;
    return rc == WIRE_ATTRS_OVER ? 0 : rc;
}

uint64_t
wire_decoder_attrs_over(const wire_decoder_t *self)
{
    return self->attrs_over;
}
