/*  ezshm_labels.c — see ezshm_labels.h. */
#include "ezshm_labels.h"
#include "ezshm_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
ezshm_text_utf8(const unsigned char *p, ezshm_scalar_t t, size_t *len)
{
    size_t unit = t.kind == 'U' ? 4 : 1, n = t.itemsize / unit, w = 0;
    char *buf = malloc(4 * n + 1);
    if (!buf)
        return NULL;
    size_t used = 0;
    for (size_t c = 0; c < n; c++) {
        uint32_t cp = 0;
        for (size_t b = 0; b < unit; b++)
            cp |= (uint32_t) p[c * unit + (t.order == '>' ? unit - 1 - b : b)] << (8 * b);
        w += ezshm_utf8_put(buf + w, cp);
        if (cp)
            used = w;
    }
    buf[used] = '\0';
    if (len)
        *len = used;
    return buf;
}

/*  The text of element i of a labelled coordinate array: a 'U'/'S' array, or a record's
    'label' field. NULL when the axis has no such labels. */
static char *
s_label_of(const ezshm_node_t *a, size_t i)
{
    const ezshm_descr_t *d = a->descr;
    ezshm_scalar_t t = d->type;
    size_t offset = 0;
    if (d->kind == 'V') {
        uint32_t f = 0;
        while (f < d->nfields && strcmp(d->fields[f].name, "label") != 0)
            f++;
        if (f == d->nfields)
            return NULL;
        t = d->fields[f].type;
        offset = d->fields[f].offset;
    }
    if ((t.kind != 'U' && t.kind != 'S') || a->ndim != 1 || i >= a->shape[0])
        return NULL;
    return ezshm_text_utf8((const unsigned char *) a->bytes + i * d->type.itemsize + offset, t, NULL);
}

char **
ezshm_frame_labels(const ezshm_node_t *root, const ezshm_stream_info_t *info, char *unit, size_t unit_len)
{
    const ezshm_node_t *dims = ezshm_node_get(root, "dims");
    const ezshm_node_t *axes = ezshm_node_get(root, "axes");
    uint64_t per_frame = info->frame_bytes / info->itemsize;
    if (!dims || dims->type != EZSHM_NODE_LIST || dims->n != info->ndim || dims->n < 2 || !axes)
        return NULL;
    /*  The first frame dim names the channel; the others add "[i]" indices. */
    const char *dim = ezshm_node_str(dims->items[1]);
    const ezshm_node_t *axis = dim ? ezshm_node_get(axes, dim) : NULL;
    const ezshm_node_t *data = ezshm_node_get(axis, "data");
    const char *u = ezshm_node_str(ezshm_node_get(axis, "unit"));
    snprintf(unit, unit_len, "%s", u ? u : "");
    char **labels = calloc(per_frame, sizeof *labels);
    uint64_t inner = per_frame / (info->shape[1] ? info->shape[1] : 1);
    for (uint64_t e = 0; labels && e < per_frame; e++) {
        uint64_t c = e / inner, rest = e % inner;
        char *base = data && data->type == EZSHM_NODE_NDARRAY ? s_label_of(data, c) : NULL;
        char index[96] = "";
        size_t w = 0;
        for (uint32_t d = info->ndim - 1; d >= 2 && w < sizeof index - 24; d--) {
            char part[24];
            snprintf(part, sizeof part, "[%llu]", (unsigned long long) (rest % info->shape[d]));
            memmove(index + strlen(part), index, w + 1);
            memcpy(index, part, strlen(part));
            w += strlen(part);
            rest /= info->shape[d];
        }
        size_t need = (base ? strlen(base) : strlen(dim) + 24) + w + 1;
        labels[e] = malloc(need);
        if (labels[e] && base)
            snprintf(labels[e], need, "%s%s", base, index);
        else if (labels[e])
            snprintf(labels[e], need, "%s[%llu]%s", dim, (unsigned long long) c, index);
        free(base);
    }
    return labels;
}

void
ezshm_labels_free(char **labels, uint64_t n)
{
    for (uint64_t i = 0; labels && i < n; i++)
        free(labels[i]);
    free(labels);
}
