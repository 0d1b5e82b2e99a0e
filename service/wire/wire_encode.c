/*  wire_encode.c — AxisArray messages in ezmsg's JSON layout, for ezshm-pub and tests.

    Byte layout follows Python's json.dumps(..., cls=MessageEncoder): separators ", " and
    ": ", ensure_ascii escapes, floats in repr form, dataclass fields in declaration order
    followed by "_type".
*/
#include "wire.h"
#include "ezshm_dtype.h"
#include "ezshm_value.h"
#include "numpy_dtype.h"
#include "wire_base64.h"
#include "ezshm_utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_PREFIX "ezmsg.util.messages.axisarray:"

void
wire_buf_free(wire_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->size = buf->cap = 0;
}

/*  Output state: the buffer plus a sticky out-of-memory flag, so the writers below need no
    per-call error checks and the encoder checks once at the end. */
typedef struct {
    wire_buf_t *buf;
    bool failed;
} out_t;

static char *
s_room(out_t *o, size_t n)
{
    wire_buf_t *b = o->buf;
    if (o->failed)
        return NULL;
    if (n > SIZE_MAX - b->size) {
        o->failed = true;
        return NULL;
    }
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->size + n)
            cap = cap > SIZE_MAX / 2 ? b->size + n : cap * 2;
        unsigned char *grown = (unsigned char *) realloc(b->data, cap);
        if (!grown) {
            o->failed = true;
            return NULL;
        }
        b->data = grown;
        b->cap = cap;
    }
    return (char *) b->data + b->size;
}

static void
s_put(out_t *o, const char *s, size_t n)
{
    char *dst = s_room(o, n);
    if (dst) {
        memcpy(dst, s, n);
        o->buf->size += n;
    }
}

static void
s_puts(out_t *o, const char *s)
{
    s_put(o, s, strlen(s));
}

static void
s_put_u64(out_t *o, uint64_t v)
{
    char tmp[24];
    s_put(o, tmp, (size_t) snprintf(tmp, sizeof tmp, "%llu", (unsigned long long) v));
}

/*  A JSON string with Python's ensure_ascii escaping (non-ASCII as \uXXXX, surrogate pairs
    above the BMP). */
static void
s_put_string(out_t *o, const char *s)
{
    size_t len = strlen(s);
    s_put(o, "\"", 1);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += ezshm_utf8_get(s + i, len - i, &cp);
        char tmp[16];
        if (cp == '"' || cp == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char) cp;
            s_put(o, tmp, 2);
        }
        else if (cp >= 0x20 && cp < 0x7f) {
            tmp[0] = (char) cp;
            s_put(o, tmp, 1);
        }
        else if (cp == '\n')
            s_puts(o, "\\n");
        else if (cp == '\r')
            s_puts(o, "\\r");
        else if (cp == '\t')
            s_puts(o, "\\t");
        else if (cp == '\b')
            s_puts(o, "\\b");
        else if (cp == '\f')
            s_puts(o, "\\f");
        else if (cp < 0x10000u)
            s_put(o, tmp, (size_t) snprintf(tmp, sizeof tmp, "\\u%04x", cp));
        else {
            uint32_t v = cp - 0x10000u;
            s_put(o, tmp, (size_t) snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x",
                                            0xD800u + (v >> 10), 0xDC00u + (v & 0x3FFu)));
        }
    }
    s_put(o, "\"", 1);
}

/*  A float as Python's json.dumps writes it (shortest repr digits, NaN, Infinity). */
static void
s_put_double(out_t *o, double v)
{
    char text[EZSHM_DOUBLE_TEXT_SIZE];
    s_put(o, text, (size_t) ezshm_value_format_double(v, text, sizeof text));
}

static void
s_put_base64(out_t *o, const void *bytes, size_t n)
{
    size_t room = WIRE_BASE64_ENCODED_LEN(n);
    char *dst = s_room(o, room);
    if (!dst)
        return;
    wire_base64_encode(dst, bytes, n);
    o->buf->size += room;
}

/*  numpy's str(dtype) as a JSON string: the name for native (little-endian) data,
    ">f4"-style otherwise. */
static void
s_dtype_json(char *dst, size_t cap, char code, bool big_endian)
{
    static const char kinds[] = {'b', 'i', 'u', 'f', 'c'};
    if (!big_endian || ezshm_dtype_component_size(code) == 1)
        snprintf(dst, cap, "\"%s\"", numpy_dtype_name(code));
    else
        snprintf(dst, cap, "\">%c%zu\"", kinds[ezshm_dtype_kind(code)],
                 ezshm_dtype_itemsize(code));
}

static void
s_put_shape(out_t *o, const size_t *shape, size_t ndim)
{
    s_put(o, "[", 1);
    for (size_t i = 0; i < ndim; i++) {
        if (i)
            s_put(o, ", ", 2);
        s_put_u64(o, shape[i]);
    }
    s_put(o, "]", 1);
}

/*  An _ndarray object; bytes NULL leaves out "data" (the native header's data object). */
static void
s_put_ndarray(out_t *o, const char *dtype_json, const void *bytes, size_t nbytes,
              const size_t *shape, size_t ndim)
{
    s_puts(o, "{\"_type\": \"_ndarray\", \"dtype\": ");
    s_puts(o, dtype_json);
    if (bytes) {
        s_puts(o, ", \"data\": \"");
        s_put_base64(o, bytes, nbytes);
        s_put(o, "\"", 1);
    }
    s_puts(o, ", \"shape\": ");
    s_put_shape(o, shape, ndim);
    s_put(o, "}", 1);
}

static void
s_put_coordinate_end(out_t *o, const char *dim, const char *unit)
{
    s_puts(o, ", \"dims\": [");
    s_put_string(o, dim);
    s_puts(o, "], \"unit\": ");
    s_put_string(o, unit);
    s_puts(o, ", \"_type\": \"" TYPE_PREFIX "CoordinateAxis\"}");
}

/*  Labels as numpy does: "<U{n}" with n the longest label in code points, NUL padded. */
static void
s_put_labels(out_t *o, const wire_message_t *m)
{
    size_t width = 1;
    for (size_t i = 0; i < m->n_labels; i++) {
        size_t len = strlen(m->labels[i]), chars = 0;
        for (size_t k = 0; k < len; chars++) {
            uint32_t cp;
            k += ezshm_utf8_get(m->labels[i] + k, len - k, &cp);
        }
        if (chars > width)
            width = chars;
    }
    size_t nbytes = m->n_labels * width * 4;
    uint32_t *ucs = (uint32_t *) calloc(nbytes ? nbytes : 1, 1);
    if (!ucs) {
        o->failed = true;
        return;
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        size_t len = strlen(m->labels[i]);
        uint32_t *dst = ucs + i * width;
        for (size_t k = 0; k < len; dst++)
            k += ezshm_utf8_get(m->labels[i] + k, len - k, dst);
    }
    char dtype[32];
    snprintf(dtype, sizeof dtype, "\"<U%zu\"", width);
    s_put_string(o, m->label_dim);
    s_puts(o, ": {\"data\": ");
    size_t shape = m->n_labels;
    s_put_ndarray(o, dtype, ucs, nbytes, &shape, 1);
    free(ucs);
    s_put_coordinate_end(o, m->label_dim, m->label_unit ? m->label_unit : "");
}

static void
s_put_time_axis(out_t *o, const wire_message_t *m)
{
    s_put_string(o, m->time_dim);
    if (m->time_values) {
        s_puts(o, ": {\"data\": ");
        size_t shape = m->n_time_values;
        s_put_ndarray(o, "\"float64\"", m->time_values, shape * sizeof(double), &shape, 1);
        s_put_coordinate_end(o, m->time_dim, "s");
        return;
    }
    s_puts(o, ": {\"unit\": \"s\", \"gain\": ");
    s_put_double(o, m->gain);
    s_puts(o, ", \"offset\": ");
    s_put_double(o, m->offset);
    s_puts(o, ", \"_type\": \"" TYPE_PREFIX "LinearAxis\"}");
}

static int
s_check(const wire_message_t *m)
{
    if (!ezshm_dtype_valid(m->dtype))
        return WIRE_ERR_DTYPE;
    if (m->ndim == 0 || m->ndim > AXISARRAY_MAX_NDIM)
        return WIRE_ERR_NDIM;
    size_t nbytes = ezshm_dtype_itemsize(m->dtype);
    for (size_t i = 0; i < m->ndim; i++) {
        if (m->shape[i] && nbytes > SIZE_MAX / m->shape[i])
            return DROP_SIZE_OVERFLOW;
        nbytes *= m->shape[i];
    }
    return nbytes == m->nbytes ? 0 : WIRE_ERR_SHAPE;
}

/*  {"ts": .., ["seq": ..,] "obj": {AxisArray}}; with_data false writes the native header. */
static int
s_encode(const wire_message_t *m, out_t *o, bool with_data)
{
    int rc = s_check(m);
    if (rc)
        return rc;
    s_puts(o, "{\"ts\": ");
    s_put_double(o, m->ts);
    if (m->has_seq) {
        s_puts(o, ", \"seq\": ");
        s_put_u64(o, m->seq);
    }
    s_puts(o, ", \"obj\": {\"data\": ");
    char dtype[32];
    s_dtype_json(dtype, sizeof dtype, m->dtype, m->big_endian);
    s_put_ndarray(o, dtype, with_data ? m->data : NULL, m->nbytes, m->shape, m->ndim);
    s_puts(o, ", \"dims\": [");
    for (size_t i = 0; i < m->ndim; i++) {
        if (i)
            s_put(o, ", ", 2);
        s_put_string(o, m->dims[i]);
    }
    s_puts(o, "], \"axes\": {");
    if (m->time_dim)
        s_put_time_axis(o, m);
    if (m->label_dim) {
        if (m->time_dim)
            s_put(o, ", ", 2);
        s_put_labels(o, m);
    }
    s_puts(o, "}, \"attrs\": {}, \"key\": ");
    s_put_string(o, m->key ? m->key : "");
    s_puts(o, ", \"_type\": \"" TYPE_PREFIX "AxisArray\"}}");
    return o->failed ? WIRE_ERR_NOMEM : 0;
}

int
wire_encode_ezmsg(const wire_message_t *m, wire_buf_t *payload)
{
    payload->size = 0;
    out_t o = {payload, false};
    return s_encode(m, &o, true);
}

int
wire_encode_ezmsg_single(const wire_message_t *m, wire_buf_t *frame)
{
    frame->size = 0;
    out_t o = {frame, false};
    s_puts(&o, m->topic);
    return s_encode(m, &o, true);
}

int
wire_encode_native(const wire_message_t *m, wire_buf_t *header)
{
    header->size = 0;
    out_t o = {header, false};
    return s_encode(m, &o, false);
}
