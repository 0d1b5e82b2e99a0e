/*  numpy_dtype.c — name and type-string tables for numpy dtypes. */
#include "numpy_dtype.h"
#include "ezshm_dtype.h"
#include "ezshm_utf8.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    const char *name;   /* numpy str(dtype) */
    char kind;          /* array-protocol kind letter: b i u f c */
    unsigned size;      /* bytes */
    char code;
} dtype_name_t;

/*  Order matters for numpy_dtype_name: the first entry with a code gives its name. */
static const dtype_name_t s_names[] = {
    {"bool", 'b', 1, '?'},
    {"int8", 'i', 1, 'b'},      {"uint8", 'u', 1, 'B'},
    {"int16", 'i', 2, 'h'},     {"uint16", 'u', 2, 'H'},
    {"int32", 'i', 4, 'i'},     {"uint32", 'u', 4, 'I'},
    {"int64", 'i', 8, 'l'},     {"uint64", 'u', 8, 'L'},
    {"int64", 'i', 8, 'q'},     {"uint64", 'u', 8, 'Q'},
    {"float16", 'f', 2, 'e'},   {"float32", 'f', 4, 'f'},   {"float64", 'f', 8, 'd'},
    {"complex64", 'c', 8, 'F'}, {"complex128", 'c', 16, 'D'},
};
#define N_NAMES (sizeof s_names / sizeof s_names[0])

/*  Parses the digits of s[0..len) as a small positive count; 0 on failure. */
static size_t
s_count(const char *s, size_t len)
{
    size_t v = 0;
    if (len == 0 || len > 9)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (size_t) (s[i] - '0');
    }
    return v;
}

static int
s_parse_typestr(const char *s, size_t len, numpy_dtype_t *out)
{
    bool big = false;
    if (len > 0 && strchr("<>=|", s[0])) {
        big = s[0] == '>';
        s++;
        len--;
    }
    /*  A one-character code ("?", "f"), as np.dtype takes it. */
    if (len == 1 && ezshm_dtype_valid(s[0])) {
        out->code = s[0];
        out->big_endian = big;
        out->str_chars = 0;
        return 0;
    }
    if (len < 2)
        return -1;
    char kind = s[0];
    size_t size = s_count(s + 1, len - 1);
    if (size == 0)
        return -1;
    if (kind == 'U') {
        out->code = '\0';
        out->big_endian = big;
        out->str_chars = size;
        return 0;
    }
    for (size_t i = 0; i < N_NAMES; i++)
        if (s_names[i].kind == kind && s_names[i].size == size) {
            out->code = s_names[i].code;
            out->big_endian = big;
            out->str_chars = 0;
            return 0;
        }
    return -1;
}

int
numpy_dtype_parse(const char *s, size_t len, numpy_dtype_t *out)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (strlen(s_names[i].name) == len && memcmp(s_names[i].name, s, len) == 0) {
            out->code = s_names[i].code;
            out->big_endian = false;
            out->str_chars = 0;
            return 0;
        }
    return s_parse_typestr(s, len, out);
}

const char *
numpy_dtype_name(char code)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (s_names[i].code == code)
            return s_names[i].name;
    return NULL;
}

char
numpy_dtype_code(const char *s)
{
    if (strlen(s) == 1 && ezshm_dtype_valid(s[0]))
        return s[0];
    numpy_dtype_t dt;
    if (numpy_dtype_parse(s, strlen(s), &dt) || dt.code == '\0')
        return '\0';
    return dt.code;
}

/*  Skips spaces; numpy writes exactly one after each comma, a hand-written string may not. */
static void
s_space(const char **p, const char *end)
{
    while (*p < end && **p == ' ')
        (*p)++;
}

static bool
s_expect(const char **p, const char *end, char c)
{
    s_space(p, end);
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/*  A Python string literal in single or double quotes, no escapes: sets [*start, *len). */
static bool
s_quoted(const char **p, const char *end, const char **start, size_t *len)
{
    s_space(p, end);
    if (*p >= end || (**p != '\'' && **p != '"'))
        return false;
    char quote = *(*p)++;
    const char *s = *p;
    while (*p < end && **p != quote) {
        if (**p == '\\')
            return false;
        (*p)++;
    }
    if (*p >= end)
        return false;
    *start = s;
    *len = (size_t) (*p - s);
    (*p)++;
    return true;
}

static int
s_structured(const char *p, const char *end, ezshm_descr_t *out)
{
    uint32_t offset = 0;
    out->kind = 'V';
    out->nfields = 0;
    if (!s_expect(&p, end, '['))
        return -1;
    do {
        const char *name, *type;
        size_t nlen, tlen;
        if (out->nfields == EZSHM_DESCR_MAX_FIELDS || !s_expect(&p, end, '(')
            || !s_quoted(&p, end, &name, &nlen) || !s_expect(&p, end, ',')
            || !s_quoted(&p, end, &type, &tlen) || !s_expect(&p, end, ')'))
            return -1;
        ezshm_field_t *f = &out->fields[out->nfields];
        if (nlen == 0 || nlen > EZSHM_DESCR_NAME_MAX || memchr(name, '\0', nlen)
            || !ezshm_utf8_valid(name, nlen) || ezshm_descr_parse_typestr(type, tlen, &f->type))
            return -1;
        memcpy(f->name, name, nlen);
        f->name[nlen] = '\0';
        for (uint32_t i = 0; i < out->nfields; i++)
            if (strcmp(out->fields[i].name, f->name) == 0)
                return -1;
        if (f->type.itemsize > UINT32_MAX - offset)
            return -1;
        f->offset = offset;
        offset += f->type.itemsize;
        out->nfields++;
        s_space(&p, end);
    } while (p < end && *p == ',' && ++p);
    if (!s_expect(&p, end, ']'))
        return -1;
    s_space(&p, end);
    if (p != end)
        return -1;
    out->type.kind = 'V';
    out->type.order = '|';
    out->type.itemsize = offset;
    return 0;
}

int
numpy_dtype_descr(const char *s, size_t len, ezshm_descr_t *out)
{
    if (len > 0 && s[0] == '[')
        return s_structured(s, s + len, out);
    ezshm_scalar_t t;
    for (size_t i = 0; i < N_NAMES; i++)
        if (strlen(s_names[i].name) == len && memcmp(s_names[i].name, s, len) == 0) {
            t.kind = s_names[i].kind;
            t.itemsize = s_names[i].size;
            t.order = t.itemsize == 1 ? '|' : '<';
            ezshm_descr_plain(out, t);
            return 0;
        }
    if (ezshm_descr_parse_typestr(s, len, &t))
        return -1;
    ezshm_descr_plain(out, t);
    return 0;
}
