/*  meta.c — the stream metadata in ezshm-mirror: `--meta` prints it as JSON.

    JSON: dicts are objects, lists and tuples arrays, bytes and 'S' strings Latin-1 text,
    complex numbers [re, im], non-finite floats null (JSON has no NaN), arrays and numpy
    scalars {"dtype", "shape", "data"} with data nested by shape (a record is an object of its
    fields; an object array's elements as values), a dtype {"dtype"}. A dtype is numpy's
    dtype.str ("<f8", "|S2") or, for records, the string form of its descr list. The channel
    labels themselves come from libezshm (ezshm_labels.h).
*/
#include "mirror_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        /*  A lone surrogate (surrogatepass bytes ED A0..BF xx) as its JSON escape: the
            output stays UTF-8 and json.loads gives Python's str back. */
        if (c == 0xED && i + 2 < len && ((unsigned char) s[i + 1] & 0xE0) == 0xA0) {
            fprintf(out, "\\u%04x", 0xD000u | ((unsigned) (s[i + 1] & 0x3F) << 6)
                                     | (unsigned) (s[i + 2] & 0x3F));
            i += 2;
        }
        else if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/*  UCS-4 or Latin-1 code points (trailing NULs dropped) as a UTF-8 JSON string. */
static void
s_text(FILE *out, const unsigned char *p, ezshm_scalar_t t)
{
    size_t used;
    char *buf = ezshm_text_utf8(p, t, &used);
    if (!buf)
        return (void) fputs("null", out);
    s_string(out, buf, used);
    free(buf);
}

static void
s_double(FILE *out, double v)
{
    char text[EZSHM_DOUBLE_TEXT_SIZE];
    if (!isfinite(v))
        fputs("null", out);
    else {
        ezshm_value_format_double(v, text, sizeof text);
        fputs(text, out);
    }
}

/*  One scalar of a plain type. */
static void
s_scalar(FILE *out, const unsigned char *p, ezshm_scalar_t t)
{
    if (t.kind == 'U' || t.kind == 'S')
        return s_text(out, p, t);
    /*  Host order; a big-endian complex swaps each half on its own. */
    unsigned char b[16];
    uint32_t comp = t.kind == 'c' ? t.itemsize / 2 : t.itemsize;
    for (uint32_t i = 0; i < t.itemsize; i++)
        b[i] = t.order == '>' ? p[i / comp * comp + comp - 1 - i % comp] : p[i];
    if (t.kind == 'b')
        return (void) fputs(b[0] ? "true" : "false", out);
    if (t.kind == 'c') {
        double re, im;
        if (t.itemsize == 8) {
            float f[2];
            memcpy(f, b, 8);
            re = f[0], im = f[1];
        }
        else {
            memcpy(&re, b, 8);
            memcpy(&im, b + 8, 8);
        }
        fputc('[', out);
        s_double(out, re);
        fputc(',', out);
        s_double(out, im);
        fputc(']', out);
        return;
    }
    if (t.kind == 'f')
        return s_double(out, ezshm_value_to_double(t.itemsize == 2 ? 'e' : t.itemsize == 4 ? 'f' : 'd', b));
    uint64_t u = 0;
    memcpy(&u, b, t.itemsize);
    if (t.kind == 'i' && t.itemsize < 8 && (u >> (8 * t.itemsize - 1)))
        u |= ~0ull << (8 * t.itemsize);
    if (t.kind == 'i')
        fprintf(out, "%lld", (long long) u);
    else
        fprintf(out, "%llu", (unsigned long long) u);
}

static void s_node(FILE *out, const ezshm_node_t *n);

static void
s_element(FILE *out, const ezshm_node_t *a, size_t i)
{
    const ezshm_descr_t *d = a->descr;
    if (d->kind == 'O')
        return s_node(out, a->items[i]);
    const unsigned char *p = (const unsigned char *) a->bytes + i * d->type.itemsize;
    if (d->kind != 'V')
        return s_scalar(out, p, d->type);
    fputc('{', out);
    for (uint32_t f = 0; f < d->nfields; f++) {
        fputs(f ? "," : "", out);
        s_string(out, d->fields[f].name, strlen(d->fields[f].name));
        fputc(':', out);
        s_scalar(out, p + d->fields[f].offset, d->fields[f].type);
    }
    fputc('}', out);
}

/*  The elements along dims [dim, ndim) from *i on, nested. */
static void
s_nested(FILE *out, const ezshm_node_t *a, size_t dim, size_t *i)
{
    if (dim == a->ndim)
        return s_element(out, a, (*i)++);
    fputc('[', out);
    for (size_t k = 0; k < a->shape[dim]; k++) {
        fputs(k ? "," : "", out);
        s_nested(out, a, dim + 1, i);
    }
    fputc(']', out);
}

/*  numpy's str of a dtype: dtype.str, or the descr list of a record. */
static void
s_dtype(FILE *out, const ezshm_descr_t *d)
{
    char text[16];
    if (d->kind == 'O')
        return (void) fputs("\"object\"", out);
    if (d->kind != 'V') {
        ezshm_descr_typestr(d->type, text, sizeof text);
        return s_string(out, text, strlen(text));
    }
    fputs("\"[", out);
    for (uint32_t f = 0; f < d->nfields; f++) {
        ezshm_descr_typestr(d->fields[f].type, text, sizeof text);
        fprintf(out, "%s('", f ? ", " : "");
        for (const char *c = d->fields[f].name; *c; c++)
            fprintf(out, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
        fprintf(out, "', '%s')", text);
    }
    fputs("]\"", out);
}

static void
s_node(FILE *out, const ezshm_node_t *n)
{
    switch (n->type) {
    case EZSHM_NODE_NONE:    fputs("null", out); break;
    case EZSHM_NODE_BOOL:    fputs(n->boolean ? "true" : "false", out); break;
    case EZSHM_NODE_INT:
        if (n->u64)
            fprintf(out, "%llu", (unsigned long long) (uint64_t) n->integer);
        else
            fprintf(out, "%lld", (long long) n->integer);
        break;
    case EZSHM_NODE_FLOAT:   s_double(out, n->re); break;
    case EZSHM_NODE_COMPLEX:
        fputc('[', out);
        s_double(out, n->re);
        fputc(',', out);
        s_double(out, n->im);
        fputc(']', out);
        break;
    case EZSHM_NODE_STR:     s_string(out, n->bytes, n->len); break;
    case EZSHM_NODE_BYTES:
        s_text(out, (const unsigned char *) n->bytes, (ezshm_scalar_t) {'S', '|', (uint32_t) n->len});
        break;
    case EZSHM_NODE_LIST:
    case EZSHM_NODE_TUPLE:
        fputc('[', out);
        for (size_t i = 0; i < n->n; i++) {
            fputs(i ? "," : "", out);
            s_node(out, n->items[i]);
        }
        fputc(']', out);
        break;
    case EZSHM_NODE_DICT:
        fputc('{', out);
        for (size_t i = 0; i < n->n; i++) {
            fputs(i ? "," : "", out);
            s_node(out, n->items[2 * i]);
            fputc(':', out);
            s_node(out, n->items[2 * i + 1]);
        }
        fputc('}', out);
        break;
    case EZSHM_NODE_DTYPE:
        fputs("{\"dtype\":", out);
        s_dtype(out, n->descr);
        fputc('}', out);
        break;
    case EZSHM_NODE_NDARRAY: {
        fputs("{\"dtype\":", out);
        s_dtype(out, n->descr);
        fputs(",\"shape\":[", out);
        for (size_t d = 0; d < n->ndim; d++)
            fprintf(out, "%s%zu", d ? "," : "", n->shape[d]);
        fputs("],\"data\":", out);
        size_t i = 0;
        s_nested(out, n, 0, &i);
        fputc('}', out);
        break;
    }
    }
}

/*  Takes cost from *left; false when there is not that much left. */
static bool
s_spend(uint64_t *left, uint64_t cost)
{
    if (cost > *left)
        return false;
    *left -= cost;
    return true;
}

/*  Whether n printed stays within *left values: a node, a nested list, an array element or
    a byte of text each cost one, and a node referenced twice is printed (and costs) twice.
    Stops as soon as the budget is spent, so a tree of shared references that would print
    gigabytes ("billion laughs") is judged in bounded time. */
static bool
s_weigh(const ezshm_node_t *n, uint64_t *left)
{
    if (!s_spend(left, 1 + n->len))
        return false;
    if (n->type == EZSHM_NODE_NDARRAY) {
        /*  One list per prefix of the shape, then the elements. */
        uint64_t lists = 1;
        for (size_t d = 0; d < n->ndim; d++) {
            if (!s_spend(left, lists))
                return false;
            lists = n->shape[d] && lists > *left / n->shape[d] ? *left + 1 : lists * n->shape[d];
        }
        if (!s_spend(left, lists))
            return false;
        if (n->descr->kind != 'O')
            return true;
    }
    size_t items = n->type == EZSHM_NODE_DICT ? 2 * n->n : n->n;
    if (n->type == EZSHM_NODE_LIST || n->type == EZSHM_NODE_TUPLE || n->type == EZSHM_NODE_DICT
        || n->type == EZSHM_NODE_NDARRAY)
        for (size_t i = 0; i < items; i++)
            if (!s_weigh(n->items[i], left))
                return false;
    return true;
}

int
mirror_meta(ezshm_mirror_t *m, double wait, bool follow, long long count)
{
    ezshm_tree_t *tree = ezshm_tree_new();
    if (!tree)
        return MIRROR_EXIT_ERROR;
    double deadline = ezshm_time_mono() + wait;
    uint32_t shown = 0;
    long long printed = 0;
    int rc = EZSHM_OK;
    char err[256] = "";
    while (!mirror_interrupted && (count < 0 || printed < count)) {
        uint32_t gen = ezshm_mirror_meta_generation(m);
        if (gen && gen != shown) {
            rc = ezshm_mirror_meta(m, tree, &gen, err, sizeof err);
            uint64_t left = MIRROR_META_MAX_VALUES;
            if (rc == EZSHM_OK && !s_weigh(ezshm_tree_root(tree), &left)) {
                rc = EZSHM_ERR_PICKLE;
                snprintf(err, sizeof err, "it expands to more than %llu values (shared "
                         "references); not printed", (unsigned long long) MIRROR_META_MAX_VALUES);
                break;
            }
            if (rc == EZSHM_OK) {
                s_node(stdout, ezshm_tree_root(tree));
                fputc('\n', stdout);
                fflush(stdout);
                shown = gen;
                printed++;
                if (!follow)
                    break;
            }
            else if (rc != EZSHM_ERR_NOTREADY && rc != EZSHM_ERR_NOENT)
                break;
        }
        else if (!gen)
            rc = EZSHM_ERR_NOENT;
        if (!follow && ezshm_time_mono() >= deadline)
            break;
        mirror_sleep(0.01);
    }
    ezshm_tree_destroy(&tree);
    if (rc != EZSHM_OK)
        fprintf(stderr, "ezshm-mirror: %s%s%s\n", rc == EZSHM_ERR_NOENT ? "no metadata published"
                : ezshm_strerror(rc), err[0] ? ": " : "", err);
    return mirror_interrupted && follow ? MIRROR_EXIT_OK : mirror_exit_code(rc);
}
