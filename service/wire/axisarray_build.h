/*  axisarray_build.h — how the wire decoder fills an axisarray_t (not for readers).

    Strings, coordinate values and labels live in three grow-only pools owned by the
    message, so a decode allocates nothing once the pools have grown to the working size.
    Pools move when they grow, so while building, axes refer to pool offsets; 
    axisarray_build_finish() turns the offsets into the pointers readers see.
*/
#ifndef EZSHM_AXISARRAY_BUILD_H
#define EZSHM_AXISARRAY_BUILD_H

#include "axisarray.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  Pool offsets of one axis while it is being built. */
typedef struct {
    size_t name, unit;          /* string pool offsets */
    size_t values;              /* first index in the value pool */
    size_t labels;              /* first index in the label table */
    size_t descr;               /* 1 + index in the descr pool; 0 = none */
    size_t shape;               /* first index in the size pool */
    size_t data;                /* offset in the byte pool */
    size_t dims;                /* first index in the label table */
} axisarray_axis_offsets_t;

struct _axisarray_t {
    const void *topic;
    size_t topic_len;
    size_t key;                             /* string pool offset */
    size_t ndim;
    size_t shape[AXISARRAY_MAX_NDIM];
    size_t dim_offsets[AXISARRAY_MAX_NDIM]; /* string pool offsets */
    const char *dims[AXISARRAY_MAX_NDIM];
    char dtype;
    size_t itemsize;
    const void *data;
    const char *base64;                     /* deferred data: its validated base64 text */
    size_t base64_len;
    size_t nbytes;
    bool needs_byteswap;
    bool has_seq;
    uint64_t seq;
    bool has_ts;
    double ts;

    axisarray_axis_t *axes;
    axisarray_axis_offsets_t *axis_offsets;
    size_t naxes, axes_cap;

    char *strings;                          /* NUL-terminated strings back to back */
    size_t strings_len, strings_cap;
    double *values;
    size_t values_len, values_cap;
    size_t *label_offsets;                  /* string pool offsets of labels */
    const char **labels;
    size_t labels_len, labels_cap;
    ezshm_descr_t *descrs;                  /* coordinate dtypes */
    size_t descrs_len, descrs_cap;
    size_t *sizes;                          /* coordinate shapes */
    size_t sizes_len, sizes_cap;
    unsigned char *bytes;                   /* coordinate arrays */
    size_t bytes_len, bytes_cap;
};

/*  Empties the message for a new decode (keeps the pools' memory). */
void axisarray_build_reset(axisarray_t *self);

/*  Reserves len + 1 bytes in the string pool; sets *offset and returns where to write
    (valid until the next reserve), or NULL when out of memory. The caller writes at most
    len bytes plus a NUL, then calls axisarray_build_commit_string with the length written. */
char *axisarray_build_reserve_string(axisarray_t *self, size_t len, size_t *offset);
void axisarray_build_commit_string(axisarray_t *self, size_t offset, size_t written);

/*  Appends an axis (name and unit offsets from the string pool); NULL when out of memory.
    The returned pointers are valid until the next add. */
axisarray_axis_t *axisarray_build_add_axis(axisarray_t *self, size_t name, size_t unit,
                                           axisarray_axis_offsets_t **offsets);

/*  Reserves n doubles at the end of the value pool; NULL when out of memory. */
double *axisarray_build_add_values(axisarray_t *self, size_t n, size_t *first);

/*  Reserves n label slots (string pool offsets to fill in); NULL when out of memory. */
size_t *axisarray_build_add_labels(axisarray_t *self, size_t n, size_t *first);

/*  Appends a descr slot (offsets->descr is set to it); NULL when out of memory. */
ezshm_descr_t *axisarray_build_add_descr(axisarray_t *self, axisarray_axis_offsets_t *offsets);

/*  Reserves n entries in the size pool; NULL when out of memory. */
size_t *axisarray_build_add_sizes(axisarray_t *self, size_t n, size_t *first);

/*  Reserves n bytes in the byte pool; NULL when out of memory. */
unsigned char *axisarray_build_add_bytes(axisarray_t *self, size_t n, size_t *first);

/*  Resolves every pool offset into a pointer. Call once after the last add. */
void axisarray_build_finish(axisarray_t *self);

#ifdef __cplusplus
}
#endif
#endif
