/*  ezshm_aux.c — publishing and reading the aux (stream metadata) segment. */
#include "ezshm_aux.h"
#include "ezshm_error.h"
#include "ezshm_unpickle.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*  The two fields sit at odd offsets of a packed header: one unaligned 32-bit access each
    (single-copy atomic on x86-64 and aarch64 inside a cache line, which 1326..1333 is). */
typedef struct __attribute__((packed)) { uint32_t v; } unaligned_u32_t;

static volatile unaligned_u32_t *
s_field(const void *header, size_t offset)
{
    return (volatile unaligned_u32_t *) ((const char *) header + offset);
}

#define GENERATION offsetof(ezshm_header_v1_t, meta_generation)
#define NBYTES offsetof(ezshm_header_v1_t, aux_nbytes)

/*  Generations a publish tries when names are taken by live segments of other streams. */
#define NAME_ATTEMPTS 4

/*  A reader retries this often when the writer republishes under it. */
#define READ_ATTEMPTS 8

int
ezshm_aux_segment_name(const char *name, uint32_t generation, char out[EZSHM_SHORT_NAME_SIZE])
{
    if (!name)
        return EZSHM_ERR_INVAL;
    size_t len = strlen(name);
    char *full = (char *) malloc(len + 32);
    if (!full)
        return EZSHM_ERR_NOMEM;
    int n = snprintf(full, len + 32, "%s/meta%u", name, generation);
    int rc = ezshm_shorten_name(full, (size_t) n, out);
    free(full);
    return rc;
}

uint32_t
ezshm_aux_generation(const void *header)
{
    uint32_t g = s_field(header, GENERATION)->v;
    atomic_thread_fence(memory_order_acquire);
    return g;
}

uint32_t
ezshm_aux_nbytes(const void *header)
{
    return s_field(header, NBYTES)->v;
}

/*  aux_nbytes, then meta_generation with release semantics (after the segment's bytes). */
static void
s_store(void *header, uint32_t generation, uint32_t nbytes)
{
    atomic_thread_fence(memory_order_release);
    s_field(header, NBYTES)->v = nbytes;
    atomic_thread_fence(memory_order_release);
    s_field(header, GENERATION)->v = generation;
    atomic_thread_fence(memory_order_seq_cst);
}

/*  Unlinks (while the name is still ours) and unmaps a segment of ours. */
static void
s_drop(ezshm_segment_t *seg)
{
    if (!seg->addr)
        return;
    ezshm_segment_unlink_own(seg);
    ezshm_segment_close(seg);
    seg->name[0] = '\0';
}

int
ezshm_aux_publish(ezshm_aux_t *self, const char *name, void *header, const void *blob,
                  size_t len, unsigned mode)
{
    if (!self || !name || !header || !blob || len == 0 || len > UINT32_MAX)
        return EZSHM_ERR_INVAL;
    if (self->seg.addr && len == self->len && memcmp(blob, self->blob, len) == 0)
        return EZSHM_OK;
    unsigned char *copy = (unsigned char *) malloc(len);
    if (!copy)
        return EZSHM_ERR_NOMEM;
    uint32_t generation = self->generation;
    ezshm_segment_t seg = {0};
    int rc = EZSHM_ERR_INUSE;
    /*  A name taken by something live (another stream's header: a stream named "x/meta3"
        beside "x") costs its generation, as a ring's does: the next one escapes it. */
    for (int attempt = 0; attempt < NAME_ATTEMPTS && rc == EZSHM_ERR_INUSE; attempt++) {
        char segname[EZSHM_SHORT_NAME_SIZE];
        bool replaced = false;
        generation = generation + 1 ? generation + 1 : 1;
        rc = ezshm_aux_segment_name(name, generation, segname);
        if (rc == EZSHM_OK)
            rc = ezshm_segment_create(&seg, segname, len, mode, &replaced);
        if (rc == EZSHM_ERR_INUSE)
            self->generation = generation;
    }
    if (rc != EZSHM_OK) {
        free(copy);
        return rc;
    }
    memcpy(seg.addr, blob, len);
    memcpy(copy, blob, len);
    s_store(header, generation, (uint32_t) len);
    /*  Only now that the header names the new segment does the old one go. */
    s_drop(&self->seg);
    free(self->blob);
    self->seg = seg;
    self->generation = generation;
    self->blob = copy;
    self->len = len;
    return EZSHM_OK;
}

void
ezshm_aux_retract(ezshm_aux_t *self, void *header)
{
    if (!self)
        return;
    if (header)
        s_store(header, 0, 0);
    s_drop(&self->seg);
    free(self->blob);
    self->blob = NULL;
    self->len = 0;
}

/*  One attempt: the blob of the generation the header names, copied out with pread (never
    mapped: a segment truncated under the copy gives a short read, not a SIGBUS). */
static int
s_copy(const char *name, const void *header, long owner, unsigned char **out, size_t *len,
       uint32_t *gen)
{
    *gen = ezshm_aux_generation(header);
    uint32_t nbytes = ezshm_aux_nbytes(header);
    if (*gen == 0)
        return EZSHM_ERR_NOENT;
    if (nbytes > EZSHM_UNPICKLE_MAX_BYTES)
        return EZSHM_ERR_TOOBIG;
    if (nbytes == 0)
        return EZSHM_ERR_NOTREADY;
    char segname[EZSHM_SHORT_NAME_SIZE];
    ezshm_segment_t seg = {0};
    int fd = -1;
    int rc = ezshm_aux_segment_name(name, *gen, segname);
    if (rc == EZSHM_OK)
        rc = ezshm_segment_open_fd(&seg, segname, owner, &fd);
    if (rc == EZSHM_ERR_NOENT)
        return EZSHM_ERR_NOTREADY;
    if (rc != EZSHM_OK)
        return rc;
    unsigned char *copy = (unsigned char *) malloc(nbytes);
    struct stat st;
    /*  The writer makes the segment exactly aux_nbytes long: any other size means the two
        fields were read across a republish. */
    bool ok = copy && fstat(fd, &st) == 0 && st.st_size == (off_t) nbytes
              && pread(fd, copy, nbytes, 0) == (ssize_t) nbytes;
    close(fd);
    if (!copy)
        return EZSHM_ERR_NOMEM;
    if (!ok || ezshm_aux_generation(header) != *gen || ezshm_aux_nbytes(header) != nbytes) {
        free(copy);
        return EZSHM_ERR_NOTREADY;
    }
    *out = copy;
    *len = nbytes;
    return EZSHM_OK;
}

int
ezshm_aux_read(const char *name, const void *header, long owner, ezshm_tree_t *tree,
               uint32_t *generation, char *err, size_t errlen)
{
    if (!name || !header || !tree)
        return EZSHM_ERR_INVAL;
    unsigned char *blob = NULL;
    size_t len = 0;
    uint32_t gen = 0;
    int rc = EZSHM_ERR_NOTREADY;
    for (int attempt = 0; attempt < READ_ATTEMPTS && rc == EZSHM_ERR_NOTREADY; attempt++)
        rc = s_copy(name, header, owner, &blob, &len, &gen);
    if (generation)
        *generation = gen;
    if (rc == EZSHM_ERR_TOOBIG)
        return ezshm_fail(err, errlen, rc, "the blob is %u bytes, over the reader's limit of %u",
                          ezshm_aux_nbytes(header), EZSHM_UNPICKLE_MAX_BYTES);
    if (rc != EZSHM_OK)
        return rc;
    rc = ezshm_unpickle(blob, len, tree, err, errlen);
    free(blob);
    return rc;
}
