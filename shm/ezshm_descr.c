/*  ezshm_descr.c — plain numpy type strings and the record descr. */
#include "ezshm_descr.h"
#include "ezshm_dtype.h"

#include <stdio.h>
#include <string.h>

/*  Largest 'U'/'S' element accepted: far beyond any label, small enough for uint32 sizes. */
#define MAX_STRING_ITEM (1u << 24)

static bool
s_size_ok(char kind, uint32_t n)
{
    switch (kind) {
    case 'b': return n == 1;
    case 'i':
    case 'u': return n == 1 || n == 2 || n == 4 || n == 8;
    case 'f': return n == 2 || n == 4 || n == 8;
    case 'c': return n == 8 || n == 16;
    case 'U':
    case 'S': return n >= 1 && n <= MAX_STRING_ITEM;
    default:  return false;
    }
}

int
ezshm_descr_parse_typestr(const char *s, size_t len, ezshm_scalar_t *out)
{
    char order = '<';
    if (len > 0 && strchr("<>=|", s[0])) {
        order = s[0] == '>' ? '>' : '<';
        s++;
        len--;
    }
    if (len == 0 || len > 9)
        return -1;
    char kind = s[0];
    uint32_t n = 0;
    /*  A one-character code ("?", "e", "d"): numpy writes a bool record field as '?'. */
    if (len == 1 && ezshm_dtype_valid(kind)) {
        kind = "biufc"[ezshm_dtype_kind(kind)];
        n = (uint32_t) ezshm_dtype_itemsize(s[0]);
    }
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || (i == 1 && s[i] == '0'))
            return -1;
        n = n * 10 + (uint32_t) (s[i] - '0');
    }
    if (!s_size_ok(kind, n))
        return -1;
    out->kind = kind;
    out->itemsize = kind == 'U' ? 4 * n : n;
    /*  numpy says '|' where byte order means nothing: one-byte scalars and bytes strings. */
    out->order = kind == 'S' || (kind != 'U' && n == 1) ? '|' : order;
    return 0;
}

void
ezshm_descr_plain(ezshm_descr_t *out, ezshm_scalar_t t)
{
    out->kind = t.kind;
    out->type = t;
    out->nfields = 0;
}

uint32_t
ezshm_descr_itemsize(const ezshm_descr_t *d)
{
    return d->type.itemsize;
}

void
ezshm_descr_typestr(ezshm_scalar_t t, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%c%c%u", t.order, t.kind, t.kind == 'U' ? t.itemsize / 4 : t.itemsize);
}

static bool
s_scalar_equal(ezshm_scalar_t a, ezshm_scalar_t b)
{
    return a.kind == b.kind && a.order == b.order && a.itemsize == b.itemsize;
}

bool
ezshm_descr_equal(const ezshm_descr_t *a, const ezshm_descr_t *b)
{
    if (a->kind != b->kind || !s_scalar_equal(a->type, b->type) || a->nfields != b->nfields)
        return false;
    for (uint32_t i = 0; i < a->nfields; i++)
        if (!s_scalar_equal(a->fields[i].type, b->fields[i].type)
            || a->fields[i].offset != b->fields[i].offset
            || strcmp(a->fields[i].name, b->fields[i].name) != 0)
            return false;
    return true;
}
