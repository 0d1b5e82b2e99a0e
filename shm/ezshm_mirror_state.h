/*  ezshm_mirror_state.h — the mirror's state, shared by its two halves: ezshm_mirror.c
    (attach, follow generations, torn-read-safe copies) and ezshm_mirror_wait.c (sleep until
    data lands). Internal to libezshm: not installed, and its functions are hidden from the
    shared library's interface. */
#ifndef EZSHM_MIRROR_STATE_H
#define EZSHM_MIRROR_STATE_H

#include "ezshm_clock.h"
#include "ezshm_header.h"
#include "ezshm_mirror.h"
#include "ezshm_segment.h"

#include <stdbool.h>
#include <stdint.h>

#define EZSHM_HIDDEN __attribute__((visibility("hidden")))

/*  How often an idle or not-ready mirror stats the header's name to notice a restarted
    writer (which unlinks and recreates the segment). */
#define REPLACED_CHECK_S 0.2

struct ezshm_mirror_t {
    char               *name;
    ezshm_segment_t     header;
    const ezshm_meta_t *meta;
    ezshm_segment_t     ring;
    ezshm_clock_t      *clock;         /* the ring's clock segment; NULL: none (timestamps NaN) */
    ezshm_stream_info_t info;
    bool                attached;      /* ring mapped and info valid */
    bool                was_attached;  /* info was handed out: a re-attach must say STALE */
    uint64_t            guard;
    uint64_t            cursor;        /* position of the next frame to return */
    uint64_t            wanted;        /* the wait in progress returns at cursor + wanted frames */
    double              next_replaced_check;   /* monotonic seconds */
    bool                replaced;      /* a restarted writer was noticed, not yet followed */
};

/*  Unmaps the ring and its clock (the header stays). */
EZSHM_HIDDEN void ezshm_mirror_detach_ring(ezshm_mirror_t *self);

/*  Unmaps everything; the next call attaches afresh. */
EZSHM_HIDDEN void ezshm_mirror_detach_all(ezshm_mirror_t *self);

/*  Maps and recognises the header segment (EZSHM_ERR_NOTREADY: a layout not yet certain). */
EZSHM_HIDDEN int ezshm_mirror_attach_header(ezshm_mirror_t *self);

/*  Position P of the writer, or false when no consistent pair could be read. */
EZSHM_HIDDEN bool ezshm_mirror_position(const ezshm_mirror_t *self, uint64_t *pos);

/*  True once a restarted writer has replaced the header's name (sticky until followed);
    looked at most every REPLACED_CHECK_S seconds. */
EZSHM_HIDDEN bool ezshm_mirror_header_replaced(ezshm_mirror_t *self);

#endif
