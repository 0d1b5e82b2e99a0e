/*  ezshm_labels.h — the names of a frame's elements, from the stream metadata tree
    (docs/shm-layout.md §12): what a reader shows as channel labels (ezshm-mirror's --watch
    and CSV header row, the browser console's stream message).

        ezshm_tree_t *tree = ezshm_tree_new();
        ezshm_mirror_meta(m, tree, &gen, err, sizeof err);
        char unit[32];
        char **labels = ezshm_frame_labels(ezshm_tree_root(tree), &info, unit, sizeof unit);
        ... labels[e] for each of info.frame_bytes / info.itemsize elements ...
        ezshm_labels_free(labels, info.frame_bytes / info.itemsize);
*/
#ifndef EZSHM_LABELS_H
#define EZSHM_LABELS_H

#include "ezshm_descr.h"
#include "ezshm_mirror.h"
#include "ezshm_tree.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  One 'U' (UCS-4) or 'S' (Latin-1) scalar at p as UTF-8 (malloc'd, NUL-terminated, trailing
    NULs dropped); *len gets its bytes. NULL when out of memory. */
char *ezshm_text_utf8(const unsigned char *p, ezshm_scalar_t t, size_t *len);

/*  Names of the elements of one frame (info->frame_bytes / itemsize of them, malloc'd) from
    the metadata tree: the first frame dim's coordinate labels ('U'/'S' strings, or a record's
    "label" field), "[i]" per further frame dim; "<dim>[i]" without labels. unit gets that
    axis' unit ("" without one). NULL without usable metadata. */
char **ezshm_frame_labels(const ezshm_node_t *root, const ezshm_stream_info_t *info, char *unit,
                          size_t unit_len);

/*  Frees what ezshm_frame_labels returned (n: its element count; NULL is fine). */
void ezshm_labels_free(char **labels, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif
