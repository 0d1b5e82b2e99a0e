/*  ezshm_aux.h — the stream-metadata ("aux") segment of a v1 stream, ezmsg-tools 0.6's format.

    A v1 header has two fields after the common ones: meta_generation (u32 at 1326) and
    aux_nbytes (u32 at 1330); 0 means nothing published. The blob — a pickle of the static half
    of the AxisArray (ezshm_pickle.h / ezshm_unpickle.h) — lives in its own segment named
    short(name + "/meta" + decimal(meta_generation)), exactly aux_nbytes long.

    Writer side (ezshm_aux_t, zero-initialised, one per header): publishing writes the whole
    new segment, stores aux_nbytes, release-stores meta_generation and only then unlinks the
    previous segment, so a reader never finds the header naming a missing segment because of
    a republish. Generations start at 1, grow by one per republish and skip 0 on wrap. Equal
    bytes are not republished. Retracting zeroes both fields and unlinks the segment.

    Reader side: ezshm_aux_read loads the generation (acquire), the size, copies the segment
    out and checks the generation did not move meanwhile, then decodes the copy with the
    restricted unpickler: nothing is parsed in place in memory another process can change.
    The legacy layout has no such fields, hence no aux segment.
*/
#ifndef EZSHM_AUX_H
#define EZSHM_AUX_H

#include "ezshm_header.h"
#include "ezshm_segment.h"
#include "ezshm_tree.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  short(name + "/meta" + decimal(generation)). */
int ezshm_aux_segment_name(const char *name, uint32_t generation,
                           char out[EZSHM_SHORT_NAME_SIZE]);

/*  The header's meta_generation (acquire) and aux_nbytes; header is a mapped v1 header. */
uint32_t ezshm_aux_generation(const void *header);
uint32_t ezshm_aux_nbytes(const void *header);

/*  What a writer keeps of its published blob. */
typedef struct {
    ezshm_segment_t seg;        /* seg.addr NULL: nothing published */
    uint32_t generation;        /* the last generation used for this header (0: none yet) */
    unsigned char *blob;        /* a copy of the published bytes */
    size_t len;
} ezshm_aux_t;

/*  Publishes blob (len > 0, at most UINT32_MAX bytes) for stream name whose mapped v1 header
    is header, creating the segment with mode. Bytes equal to the published ones: nothing
    happens. A generation whose name a live header holds (a stream named "<name>/meta<g>") is
    skipped, a few at most. EZSHM_OK, EZSHM_ERR_INVAL, EZSHM_ERR_NOMEM, EZSHM_ERR_NOSPACE,
    EZSHM_ERR_PERM, EZSHM_ERR_INUSE or EZSHM_ERR_SYS; on failure the previous blob stays
    published. */
int ezshm_aux_publish(ezshm_aux_t *self, const char *name, void *header, const void *blob,
                      size_t len, unsigned mode);

/*  Zeroes both header fields (header may be NULL when it is gone), unlinks the segment,
    forgets the blob. The generation count goes on (a reader must never see a generation
    come back); set self->generation to 0 for a newly created header. */
void ezshm_aux_retract(ezshm_aux_t *self, void *header);

/*  Reads and decodes the blob the mapped v1 header of stream name points at into tree; the
    segment must belong to owner (the header's owner; EZSHM_ANY_OWNER: any). *generation
    gets the generation read. EZSHM_ERR_NOENT: nothing published; EZSHM_ERR_NOTREADY: the
    writer replaced it meanwhile, try again; EZSHM_ERR_OWNER and the other refusals of
    ezshm_segment_open_fd; EZSHM_ERR_TOOBIG (a blob over EZSHM_UNPICKLE_MAX_BYTES, err says
    its size), EZSHM_ERR_PICKLE (err says why) or EZSHM_ERR_NOMEM. The header's
    two fields are read from its mapping: call it inside a guard frame (ezshm_guard.h). */
int ezshm_aux_read(const char *name, const void *header, long owner, ezshm_tree_t *tree,
                   uint32_t *generation, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
