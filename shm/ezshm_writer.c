/*  ezshm_writer.c — header and ring lifecycle, wrap-around writes, publication. */
#include "ezshm_writer.h"
#include "ezshm_aux.h"
#include "ezshm_clock.h"
#include "ezshm_dtype.h"
#include "ezshm_claim.h"
#include "ezshm_error.h"
#include "ezshm_guard_frame.h"
#include "ezshm_name.h"
#include "ezshm_ring.h"
#include "ezshm_segment.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*  Generations a rebuild tries when ring names are taken by live segments of other streams. */
#define NAME_ATTEMPTS 4

struct ezshm_writer_t {
    char                  *name;
    ezshm_writer_options_t opt;
    ezshm_segment_t        header;
    ezshm_meta_t          *meta;        /* inside header.addr */
    ezshm_segment_t        ring;        /* ring.addr NULL: no ring */
    uint32_t               ring_generation; /* the generation ring was created for */
    bool                   generation_unused; /* the header's generation names no ring: the
                                                 folder had no space for it, the next try
                                                 reuses it */
    ezshm_clock_t         *clock;       /* the ring's clock segment; NULL with opt.no_clock */
    /* The live ring's spec, compared per chunk. */
    char                   dtype;
    double                 srate;
    uint64_t               n_frames;
    uint32_t               frame_ndim;
    uint64_t               frame_shape[EZSHM_MAX_NDIM - 1];
    uint8_t                key[EZSHM_MAX_KEYLEN];
    size_t                 key_len;
    uint64_t               frame_bytes;
    uint64_t               ring_bytes;
    uint64_t               reserved;    /* bytes of the ring reserved (ring_bytes: all) */
    uint64_t               write_index; /* our copy of what is published */
    uint64_t               wrap_counter;
    uint64_t               faults;      /* SIGBUS caught on our segments */
    ezshm_aux_t            aux;         /* the published metadata blob (v1 only) */
    bool                   closing;     /* in destroy: a lost header is not recreated */
    bool                   recorded;    /* the header has a record (a rename's, see s_rename) */
};

void
ezshm_writer_options_init(ezshm_writer_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->layout = EZSHM_LAYOUT_LEGACY;
    opt->mode = 0600;
    opt->max_ring_bytes = (uint64_t) 1 << 30;
    /*  EZSHM_CLOCK=0 turns the clock segment off for every writer of the process (ezshmd
        included): exactly ezmsg-tools' footprint, no segment readers may write to. */
    const char *clock = getenv("EZSHM_CLOCK");
    opt->no_clock = clock && strcmp(clock, "0") == 0;
}

const char *
ezshm_event_name(ezshm_event_t event)
{
    switch (event) {
    case EZSHM_EVENT_META_RESET:     return "meta reset";
    case EZSHM_EVENT_BEGIN_UPDATE:   return "begin update";
    case EZSHM_EVENT_META_UPDATED:   return "meta updated";
    case EZSHM_EVENT_BUFFER_CLEANUP: return "buffer cleanup";
    case EZSHM_EVENT_BUFFER_RESET:   return "buffer reset";
    case EZSHM_EVENT_META_CLEANUP:   return "meta cleanup";
    case EZSHM_EVENT_CLOSE:          return "close";
    }
    return "unknown";
}

static void
s_event_of(ezshm_writer_t *self, ezshm_event_t event, uint32_t generation)
{
    if (self->opt.on_event)
        self->opt.on_event(self->opt.arg, event, generation);
}

/*  An event about the header's current generation. */
static void
s_event(ezshm_writer_t *self, ezshm_event_t event)
{
    s_event_of(self, event, self->meta ? self->meta->buffer_generation : EZSHM_GENERATION_NONE);
}

static void
s_log(ezshm_writer_t *self, const char *msg)
{
    if (self->opt.on_log)
        self->opt.on_log(self->opt.arg, msg);
}

/*  "reclaimed stale segment …" through log (NULL: not logged). */
static void
s_report_reclaimed(ezshm_log_fn *log, void *arg, const char *name, const char *segment)
{
    char msg[320];
    snprintf(msg, sizeof msg, "reclaimed stale segment %s/%s of stream '%.120s' (left by a writer that did not exit cleanly)",
             ezshm_segment_dir(), segment, name);
    if (log)
        log(arg, msg);
}

static void
s_log_reclaimed(ezshm_writer_t *self, const char *name, const char *segment)
{
    s_report_reclaimed(self->opt.on_log, self->opt.arg, name, segment);
}

/*  Who hears of reclaimed segments. */
typedef struct {
    ezshm_log_fn *log;
    void         *arg;
} reclaim_t;

/*  A crashed writer's header names the ring it left behind, of whatever generation, and (v1)
    its aux segment: remove that ring, its clock and wake segments and the aux before the
    header is replaced or removed. Called by ezshm_claim / ezshm_claim_reclaim_dead while
    they hold the stale header's lock, so no live writer of the stream owns any of them. The
    header is read with pread, not mapped: a file truncated meanwhile is a short read. */
static void
s_reclaim_stale_ring(void *arg, const char *stream, const char *header_segment)
{
    const reclaim_t *r = arg;
    ezshm_segment_t stale;
    unsigned char raw[2048];
    int fd;
    if (ezshm_segment_open_fd(&stale, header_segment, EZSHM_ANY_OWNER, &fd) != EZSHM_OK)
        return;
    ssize_t n = pread(fd, raw, sizeof raw, 0);
    close(fd);
    ezshm_layout_t layout;
    if (n <= 0 || ezshm_header_detect(raw, (size_t) n, &layout) != EZSHM_OK)
        return;
    uint32_t gen = ezshm_header_generation(ezshm_header_meta(raw, layout));
    uint32_t meta = layout == EZSHM_LAYOUT_V1 ? ezshm_aux_generation(raw) : 0;
    char left[4][EZSHM_SHORT_NAME_SIZE];
    int count = 0;
    if (gen != EZSHM_GENERATION_NONE && ezshm_ring_segment_name(stream, gen, left[0]) == EZSHM_OK
        && ezshm_clock_segment_name(stream, gen, left[1]) == EZSHM_OK
        && ezshm_wake_segment_name(stream, gen, left[2]) == EZSHM_OK)
        count = 3;
    if (meta && ezshm_aux_segment_name(stream, meta, left[count]) == EZSHM_OK)
        count++;
    /*  Each only when provably dead: a live header of another stream may sit at one of
        these names ("x/buffer0" beside "x"). */
    for (int i = 0; i < count; i++)
        if (ezshm_segment_reclaim(left[i]) == EZSHM_OK)
            s_report_reclaimed(r->log, r->arg, stream, left[i]);
}

int
ezshm_writer_reclaim_dead(ezshm_log_fn *log, void *arg, unsigned *removed)
{
    reclaim_t reclaim = {log, arg};
    return ezshm_claim_reclaim_dead(s_reclaim_stale_ring, &reclaim, removed);
}

/*  Creates the header segment of name with placeholders and publishes it under our lock,
    without touching self's current segments. */
static int
s_header_claim(ezshm_writer_t *self, const char *name, ezshm_layout_t layout, ezshm_segment_t *seg)
{
    char segname[EZSHM_SHORT_NAME_SIZE];
    int rc = ezshm_header_segment_name(name, segname);
    if (rc == EZSHM_OK)
        rc = ezshm_segment_create_unpublished(seg, segname, ezshm_header_size(layout), self->opt.mode);
    if (rc != EZSHM_OK)
        return rc;
    ezshm_header_init(seg->addr, layout);
    reclaim_t reclaim = {self->opt.on_log, self->opt.arg};
    bool replaced = false;
    rc = ezshm_claim(seg, name, s_reclaim_stale_ring, &reclaim, &replaced);
    if (rc == EZSHM_OK && replaced)
        s_log_reclaimed(self, name, segname);
    return rc;
}

/*  Makes a claimed header self's own. */
static void
s_header_install(ezshm_writer_t *self, const ezshm_segment_t *seg, ezshm_layout_t layout)
{
    self->header = *seg;
    self->opt.layout = layout;
    self->meta = ezshm_header_meta(self->header.addr, layout);
    self->aux.generation = 0;
    self->generation_unused = false;   /* a new header counts generations from its own */
    s_event(self, EZSHM_EVENT_META_RESET);
}

static int
s_header_create(ezshm_writer_t *self)
{
    ezshm_segment_t seg;
    int rc = s_header_claim(self, self->name, self->opt.layout, &seg);
    if (rc == EZSHM_OK)
        s_header_install(self, &seg, self->opt.layout);
    return rc;
}

/*  Drops the ring; its mapping goes to opt.on_retire unless free_now (or no callback). */
static void
s_ring_release(ezshm_writer_t *self, bool free_now)
{
    if (!self->ring.addr)
        return;
    /*  The clock goes first: closing it wakes the ring's waiting readers. */
    ezshm_clock_destroy(&self->clock);
    ezshm_segment_unlink_own(&self->ring);
    if (self->opt.on_retire && !free_now) {
        self->opt.on_retire(self->opt.arg, self->ring.addr, self->ring.size,
                            self->ring.has_fd ? self->ring.fd : -1);
        self->ring.addr = NULL;
        self->ring.has_fd = false;
    }
    ezshm_segment_close(&self->ring);
    self->ring.name[0] = '\0';
    /*  The generation of the ring dropped: during a rebuild the header already names the next. */
    s_event_of(self, EZSHM_EVENT_BUFFER_CLEANUP, self->ring_generation);
}

static void
s_ring_drop(ezshm_writer_t *self)
{
    s_ring_release(self, false);
}

/*  What a ring of spec takes in the folder with its clock and wake segments. */
static uint64_t
s_footprint(const ezshm_writer_t *self, const ezshm_ring_spec_t *spec, uint64_t ring_bytes)
{
    uint64_t clock = self->opt.no_clock ? 0 : ezshm_clock_footprint(spec->n_frames, spec->srate);
    return ezshm_segment_pages(ring_bytes) + clock;
}

/*  A rebuild whose new segments (need bytes) do not fit beside the old ring's pages needs
    them freed before it creates the new ring, not whenever on_retire gets to it. */
static bool
s_needs_old_pages(uint64_t need)
{
    uint64_t free_bytes = 0;
    return ezshm_segment_free_bytes(&free_bytes) != EZSHM_OK || free_bytes < need;
}

/*  Unlinks our header (only if the name is still ours), then closes it, which releases the
    stream's lock. */
static void
s_header_release(ezshm_writer_t *self)
{
    ezshm_aux_retract(&self->aux, NULL);
    ezshm_segment_unlink_own(&self->header);
    if (self->recorded)
        ezshm_claim_record(self->name, false);
    self->recorded = false;
    ezshm_segment_close(&self->header);
    self->header.name[0] = '\0';
    self->meta = NULL;
    s_event(self, EZSHM_EVENT_META_CLEANUP);
}

static void
s_header_drop(ezshm_writer_t *self)
{
    if (!self->header.addr)
        return;
    ezshm_header_set_valid(self->meta, false);
    ezshm_aux_retract(&self->aux, self->opt.layout == EZSHM_LAYOUT_V1 ? self->header.addr : NULL);
    s_header_release(self);
}

/*  bvalid 0 after a ring fault, in a guard of its own: the header may be truncated too.
    False when it was (then it is lost as well). */
static bool
s_invalidate(ezshm_writer_t *self)
{
    ezshm_guard_frame_t frame;
    if (!self->meta)
        return true;
    if (!EZSHM_GUARD_ENTER(&frame))
        return false;
    ezshm_header_set_valid(self->meta, false);
    EZSHM_GUARD_LEAVE(&frame);
    return true;
}

/*  A SIGBUS was caught while we touched a segment: another process truncated it, or (a ring
    reserved in steps) the folder had no page left for a part not yet reserved. What faulted
    is dropped without touching its memory again; a lost ring is rebuilt by the next
    configure as a new generation, a lost header is recreated at once (placeholders, so
    readers re-attach), unless the writer is closing. */
static void
s_fault(ezshm_writer_t *self, const void *fault)
{
    self->faults++;
    /*  A ring fault may come with a truncated header too: setting bvalid 0 then faults. */
    bool header = ezshm_guard_hit(fault, self->header.addr, self->header.size) || !s_invalidate(self);
    bool unreserved = !header && self->reserved < self->ring_bytes;
    char msg[320];
    const char *clock = header ? NULL : ezshm_clock_hit_segment(self->clock, fault);
    snprintf(msg, sizeof msg, "%s segment %s/%s of stream '%.80s' was truncated by another process%s (SIGBUS "
             "caught): dropped, %s", header ? "header" : clock ? "clock or wake" : "ring", ezshm_segment_dir(),
             header ? self->header.name : clock ? clock : self->ring.name, self->name,
             unreserved ? ", or the folder had no page left for it" : "",
             self->closing ? "closing" : header ? "header recreated, ring rebuilt by the next chunk"
                                                : "rebuilt by the next chunk");
    s_log(self, msg);
    /*  A truncated clock segment is let go without another touch (closing it would write). */
    if (header ? ezshm_clock_hit(self->clock, fault) : clock != NULL)
        ezshm_clock_abandon(&self->clock);
    if (!header) {
        s_ring_drop(self);
        return;
    }
    /*  No write to the header's memory from here on: it is what faulted. */
    s_ring_drop(self);
    s_header_release(self);
    if (!self->closing && s_header_create(self) != EZSHM_OK)
        s_log(self, "the header could not be recreated: no stream until the next rename");
}

typedef int (writer_op_fn)(ezshm_writer_t *self, const void *arg);

/*  Runs op inside a guard frame: a SIGBUS on one of our segments becomes EZSHM_ERR_BUS. */
static int
s_guarded(ezshm_writer_t *self, writer_op_fn *op, const void *arg)
{
    ezshm_guard_frame_t frame;
    if (EZSHM_GUARD_ENTER(&frame)) {
        int rc = op(self, arg);
        EZSHM_GUARD_LEAVE(&frame);
        return rc;
    }
    s_fault(self, frame.fault);
    return EZSHM_ERR_BUS;
}

/*  A copy of name, or of a generated unique name when name is NULL. */
static int
s_resolve_name(const char *name, char **out)
{
    char generated[64];
    if (!name) {
        int rc = ezshm_generate_name(generated, sizeof generated);
        if (rc != EZSHM_OK)
            return rc;
        name = generated;
    }
    *out = strdup(name);
    return *out ? EZSHM_OK : EZSHM_ERR_NOMEM;
}

static int
s_new_op(ezshm_writer_t *self, const void *arg)
{
    (void) arg;
    return s_header_create(self);
}

int
ezshm_writer_new(const char *name, const ezshm_writer_options_t *opt, ezshm_writer_t **out)
{
    if (!out || (name && !*name))
        return EZSHM_ERR_INVAL;
    *out = NULL;
    ezshm_writer_t *self = calloc(1, sizeof *self);
    if (!self)
        return EZSHM_ERR_NOMEM;
    if (opt)
        self->opt = *opt;
    else
        ezshm_writer_options_init(&self->opt);
    self->header.fd = self->ring.fd = -1;
    int rc = s_resolve_name(name, &self->name);
    if (rc == EZSHM_OK)
        rc = s_guarded(self, s_new_op, NULL);
    if (rc != EZSHM_OK) {
        free(self->name);
        free(self);
        return rc;
    }
    *out = self;
    return EZSHM_OK;
}

/*  bvalid 0, then the ring goes (readers see an invalid stream, never a vanished ring). */
static int
s_reset(ezshm_writer_t *self, const void *arg)
{
    (void) arg;
    if (self->meta)
        ezshm_header_set_valid(self->meta, false);
    s_ring_drop(self);
    return EZSHM_OK;
}

static int
s_drop_all(ezshm_writer_t *self, const void *arg)
{
    s_reset(self, arg);
    s_header_drop(self);
    return EZSHM_OK;
}

void
ezshm_writer_destroy(ezshm_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ezshm_writer_t *self = *self_p;
    self->closing = true;
    /*  A fault drops the segment that faulted; the second pass drops what is left. */
    if (s_guarded(self, s_drop_all, NULL) != EZSHM_OK)
        s_guarded(self, s_drop_all, NULL);
    s_event(self, EZSHM_EVENT_CLOSE);
    free(self->name);
    free(self);
    *self_p = NULL;
}

static size_t
s_stored_key_len(const ezshm_ring_spec_t *spec)
{
    return spec->key_len > EZSHM_MAX_KEYLEN ? EZSHM_MAX_KEYLEN : spec->key_len;
}

/*  True when spec describes the live ring (key compared as stored, i.e. truncated), its
    ring length too when with_length. */
static bool
s_spec_matches(const ezshm_writer_t *self, const ezshm_ring_spec_t *spec, bool with_length)
{
    size_t key_len = s_stored_key_len(spec);
    if (!self->ring.addr || spec->dtype != self->dtype || spec->srate != self->srate
        || (with_length && spec->n_frames != self->n_frames) || spec->frame_ndim != self->frame_ndim
        || key_len != self->key_len)
        return false;
    if (spec->frame_ndim
        && memcmp(spec->frame_shape, self->frame_shape, spec->frame_ndim * sizeof(uint64_t)) != 0)
        return false;
    return key_len == 0 || memcmp(spec->key, self->key, key_len) == 0;
}

/*  Validates spec and computes the ring's sizes without touching anything (the
    max_ring_bytes limit is the caller's to check). */
static int
s_spec_sizes(const ezshm_ring_spec_t *spec, uint64_t *frame_bytes, uint64_t *ring_bytes)
{
    size_t itemsize = ezshm_dtype_itemsize(spec->dtype);
    if (!itemsize)
        return EZSHM_ERR_DTYPE;
    if (spec->frame_ndim > EZSHM_MAX_NDIM - 1 || (spec->frame_ndim && !spec->frame_shape)
        || spec->n_frames < EZSHM_RING_MIN_FRAMES || spec->n_frames > UINT32_MAX || (spec->key_len && !spec->key))
        return EZSHM_ERR_INVAL;
    uint64_t frame = itemsize;
    for (uint32_t d = 0; d < spec->frame_ndim; d++) {
        uint64_t extent = spec->frame_shape[d];
        if (extent == 0)
            return EZSHM_ERR_INVAL;
        if (extent > UINT32_MAX || __builtin_mul_overflow(frame, extent, &frame))
            return EZSHM_ERR_OVERFLOW;
    }
    uint64_t ring;
    if (__builtin_mul_overflow(frame, spec->n_frames, &ring) || ring > (uint64_t) SIZE_MAX / 2)
        return EZSHM_ERR_OVERFLOW;
    *frame_bytes = frame;
    *ring_bytes = ring;
    return EZSHM_OK;
}

static void
s_write_fields(ezshm_writer_t *self, const ezshm_ring_spec_t *spec, size_t key_len)
{
    ezshm_meta_t *m = self->meta;
    m->dtype = spec->dtype;
    m->srate = spec->srate;
    m->ndim = spec->frame_ndim + 1;
    memset(m->shape, 0, sizeof m->shape);
    m->shape[0] = (uint32_t) spec->n_frames;
    for (uint32_t d = 0; d < spec->frame_ndim; d++)
        m->shape[d + 1] = (uint32_t) spec->frame_shape[d];
    memset(m->key, 0, sizeof m->key);
    if (key_len)
        memcpy(m->key, spec->key, key_len);
    m->key_len = (uint32_t) key_len;
    ezshm_header_publish(m, 0, 0);
    /*  0xFFFFFFFF + 1 = 0: the first ring is generation 0. */
    if (!self->generation_unused)
        m->buffer_generation += 1;
    self->generation_unused = false;

    self->dtype = spec->dtype;
    self->srate = spec->srate;
    self->n_frames = spec->n_frames;
    self->frame_ndim = spec->frame_ndim;
    if (spec->frame_ndim)   /* frame_shape may be NULL for scalar frames */
        memcpy(self->frame_shape, spec->frame_shape, spec->frame_ndim * sizeof(uint64_t));
    memcpy(self->key, m->key, key_len);
    self->key_len = key_len;
    self->write_index = 0;
    self->wrap_counter = 0;
}

/*  Creates the ring of the header's generation and its clock and wake segments, all or
    none. The three must fit in the free space together before any is made: a ring whose
    clock then finds the folder full would burn a generation per message, and a sparse ring
    whose clock took its room would fail its reservation after messages were counted
    written into it. */
static int
s_create_ring(ezshm_writer_t *self, const ezshm_ring_spec_t *spec, uint64_t ring_bytes)
{
    uint32_t gen = self->meta->buffer_generation;
    uint64_t free_bytes = 0;
    if (ezshm_segment_free_bytes(&free_bytes) == EZSHM_OK && free_bytes < s_footprint(self, spec, ring_bytes))
        return EZSHM_ERR_NOSPACE;
    char segname[EZSHM_SHORT_NAME_SIZE];
    bool replaced = false;
    int rc = ezshm_ring_segment_name(self->name, gen, segname);
    if (rc == EZSHM_OK)
        rc = self->opt.reserve_in_steps
                 ? ezshm_segment_create_sparse(&self->ring, segname, (size_t) ring_bytes, self->opt.mode, &replaced)
                 : ezshm_segment_create(&self->ring, segname, (size_t) ring_bytes, self->opt.mode, &replaced);
    if (rc != EZSHM_OK) {
        self->ring.addr = NULL;
        return rc;
    }
    if (replaced)
        s_log_reclaimed(self, self->name, segname);
    if (self->opt.no_clock)
        return EZSHM_OK;
    rc = ezshm_clock_create(self->name, gen, spec->n_frames, spec->srate, self->opt.mode, &self->clock, &replaced);
    if (rc != EZSHM_OK) {
        ezshm_segment_unlink_own(&self->ring);
        ezshm_segment_close(&self->ring);
        return rc;
    }
    if (replaced)
        s_log_reclaimed(self, self->name, ezshm_clock_segment(self->clock));
    return EZSHM_OK;
}

static int
s_configure(ezshm_writer_t *self, const void *arg)
{
    const ezshm_ring_spec_t *spec = arg;
    size_t key_len = s_stored_key_len(spec);
    if (s_spec_matches(self, spec, true))
        return EZSHM_OK;
    uint64_t frame_bytes, ring_bytes;
    int rc = s_spec_sizes(spec, &frame_bytes, &ring_bytes);
    if (rc == EZSHM_OK && ring_bytes > self->opt.max_ring_bytes)
        rc = EZSHM_ERR_TOOBIG;
    if (rc != EZSHM_OK) {
        /*  As documented: TOOBIG / OVERFLOW leave no ring, so the new spec's frames can
            never be written into the old ring. */
        if ((rc == EZSHM_ERR_TOOBIG || rc == EZSHM_ERR_OVERFLOW) && self->ring.addr) {
            ezshm_header_set_valid(self->meta, false);
            s_ring_drop(self);
        }
        return rc;
    }

    s_event(self, EZSHM_EVENT_BEGIN_UPDATE);
    ezshm_header_set_valid(self->meta, false);
    s_write_fields(self, spec, key_len);
    s_event(self, EZSHM_EVENT_META_UPDATED);
    bool free_now = self->ring.addr && self->opt.on_retire && s_needs_old_pages(s_footprint(self, spec, ring_bytes));
    s_ring_release(self, free_now);

    /*  A name taken by something live (another stream's header: a stream named "x/buffer1"
        beside "x") costs its generation: the next generation's name escapes it. */
    rc = EZSHM_ERR_INUSE;
    for (int attempt = 0; attempt < NAME_ATTEMPTS && rc == EZSHM_ERR_INUSE; attempt++) {
        if (attempt)
            self->meta->buffer_generation += 1;
        rc = s_create_ring(self, spec, ring_bytes);
    }
    /*  A full folder costs no generation per retry (one per message while it stays full). */
    self->generation_unused = rc == EZSHM_ERR_NOSPACE;
    if (rc != EZSHM_OK)
        return rc;
    self->ring_generation = self->meta->buffer_generation;
    self->frame_bytes = frame_bytes;
    self->ring_bytes = ring_bytes;
    self->reserved = self->opt.reserve_in_steps ? 0 : ring_bytes;
    s_event(self, EZSHM_EVENT_BUFFER_RESET);
    ezshm_header_set_valid(self->meta, true);
    return EZSHM_OK;
}

int
ezshm_writer_configure(ezshm_writer_t *self, const ezshm_ring_spec_t *spec)
{
    if (!self || !spec)
        return EZSHM_ERR_INVAL;
    if (!self->meta)
        return EZSHM_ERR_NOENT;
    return s_guarded(self, s_configure, spec);
}

typedef struct {
    uint64_t                  n;
    ezshm_copy_fn            *copy;
    void                     *arg;
    const ezshm_chunk_time_t *time;
} write_args_t;

static int
s_write(ezshm_writer_t *self, const void *arg)
{
    const write_args_t *w = arg;
    uint64_t n = w->n;
    if (n == 0)
        return EZSHM_OK;
    uint64_t len = self->n_frames, guard = ezshm_ring_guard(len);
    /*  The chunk's anchor is published before any of its frames. */
    ezshm_clock_begin_chunk(self->clock, self->wrap_counter * len + self->write_index, n, w->time);
    const double *times = w->time ? w->time->times : NULL;
    uint8_t *base = self->ring.addr;
    /*  Pieces of at most `guard` frames, never across the ring's end, each published on its
        own: a reader then knows that only the `guard` oldest slots may be in flux. A chunk
        longer than the ring is written whole, lap after lap, so every published position
        describes the slots truthfully. */
    for (uint64_t first = 0; first < n;) {
        uint64_t piece = n - first;
        if (piece > guard)
            piece = guard;
        if (piece > len - self->write_index)
            piece = len - self->write_index;
        /*  What is published so far (this chunk's anchor, the last piece's counters) is
            ordered before this piece's times and frames: a reader whose copy saw any of them
            then also sees the position and anchor it judges the copy by. A release store
            orders only what comes before it. (A compiler barrier only on x86-64.) */
        atomic_thread_fence(memory_order_release);
        ezshm_clock_put_times(self->clock, self->write_index, times ? times + first : NULL, piece);
        if (w->copy(w->arg, base + self->write_index * self->frame_bytes, first, piece) != 0) {
            ezshm_clock_trim_chunk(self->clock, first);
            ezshm_clock_notify(self->clock);
            return EZSHM_ERR_INVAL;
        }
        first += piece;
        self->write_index += piece;
        if (self->write_index == len) {
            self->write_index = 0;
            self->wrap_counter += 1;
        }
        ezshm_header_publish(self->meta, self->write_index, self->wrap_counter);
    }
    ezshm_clock_notify(self->clock);
    return EZSHM_OK;
}

int
ezshm_writer_write_timed(ezshm_writer_t *self, uint64_t n, ezshm_copy_fn *copy, void *arg,
                         const ezshm_chunk_time_t *time)
{
    if (!self || !copy)
        return EZSHM_ERR_INVAL;
    if (!self->ring.addr)
        return EZSHM_ERR_NOTREADY;
    write_args_t args = {n, copy, arg, time};
    return s_guarded(self, s_write, &args);
}

int
ezshm_writer_write_with(ezshm_writer_t *self, uint64_t n, ezshm_copy_fn *copy, void *arg)
{
    return ezshm_writer_write_timed(self, n, copy, arg, NULL);
}

int
ezshm_copy_contiguous(void *arg, void *dst, uint64_t first, uint64_t count)
{
    const ezshm_contiguous_t *source = arg;
    memcpy(dst, (const uint8_t *) source->frames + first * source->frame_bytes, count * source->frame_bytes);
    return 0;
}

int
ezshm_writer_write(ezshm_writer_t *self, const void *frames, uint64_t n)
{
    if (!self || (n && !frames))
        return EZSHM_ERR_INVAL;
    ezshm_contiguous_t source = {frames, self->frame_bytes};
    return ezshm_writer_write_with(self, n, ezshm_copy_contiguous, &source);
}

typedef struct {
    uint64_t  max_bytes;
    uint64_t *pending;
} reserve_args_t;

static int
s_reserve(ezshm_writer_t *self, const void *arg)
{
    const reserve_args_t *r = arg;
    uint64_t left = self->ring.addr ? self->ring_bytes - self->reserved : 0;
    uint64_t step = left < r->max_bytes ? left : r->max_bytes;
    int rc = ezshm_segment_reserve(&self->ring, self->reserved, step);
    if (rc == EZSHM_OK) {
        self->reserved += step;
        *r->pending = left - step;
        return EZSHM_OK;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "ring segment %s/%s of stream '%.80s' could not be reserved (%s): dropped, "
             "rebuilt by the next chunk if it fits", ezshm_segment_dir(), self->ring.name, self->name,
             ezshm_strerror(rc));
    s_log(self, msg);
    ezshm_header_set_valid(self->meta, false);
    s_ring_drop(self);
    return rc;
}

int
ezshm_writer_reserve(ezshm_writer_t *self, uint64_t max_bytes, uint64_t *pending)
{
    if (!self || !pending)
        return EZSHM_ERR_INVAL;
    *pending = 0;
    /*  The common case, without a guard frame: nothing left to reserve. */
    if (!self->ring.addr || self->reserved >= self->ring_bytes)
        return EZSHM_OK;
    reserve_args_t args = {max_bytes, pending};
    return s_guarded(self, s_reserve, &args);
}

int
ezshm_writer_reset_buffer(ezshm_writer_t *self)
{
    if (!self)
        return EZSHM_ERR_INVAL;
    return s_guarded(self, s_reset, NULL);
}

typedef struct {
    char          *name;   /* resolved, owned */
    ezshm_layout_t layout;
} rename_args_t;

/*  The header of a rename's new name, claimed with its record (none left on failure). */
static int
s_recorded_claim(ezshm_writer_t *self, const rename_args_t *r, ezshm_segment_t *seg)
{
    ezshm_claim_record(r->name, true);
    int rc = s_header_claim(self, r->name, r->layout, seg);
    if (rc != EZSHM_OK)
        ezshm_claim_record(r->name, false);
    return rc;
}

/*  The new name is claimed before the old stream is touched, so a name held by another
    writer (or anything else that fails the claim) leaves everything as it was. Only a new
    layout under the same name drops the header first: we hold that name's lock ourselves. */
static int
s_rename(ezshm_writer_t *self, const void *arg)
{
    const rename_args_t *r = arg;
    char segname[EZSHM_SHORT_NAME_SIZE];
    int rc = ezshm_header_segment_name(r->name, segname);
    if (rc != EZSHM_OK)
        return rc;
    bool same = self->header.addr && strcmp(segname, self->header.name) == 0;
    ezshm_segment_t seg;
    /*  A kill from the new header's claim on would leave it to no one: a restart under the
        old (configured) name reclaims only the old stream. So a renamed stream's header is
        recorded from before its claim to its release, and the next start-up reclaims it
        (ezshm_writer_reclaim_dead). */
    if (!same && (rc = s_recorded_claim(self, r, &seg)) != EZSHM_OK)
        return rc;
    s_reset(self, NULL);
    s_header_drop(self);
    if (same && (rc = s_recorded_claim(self, r, &seg)) != EZSHM_OK)
        return rc;
    free(self->name);
    self->name = r->name;
    s_header_install(self, &seg, r->layout);
    self->recorded = true;
    return EZSHM_OK;
}

int
ezshm_writer_rename(ezshm_writer_t *self, const char *name, ezshm_layout_t layout)
{
    if (!self || (name && !*name))
        return EZSHM_ERR_INVAL;
    rename_args_t args = {NULL, layout};
    int rc = s_resolve_name(name, &args.name);
    if (rc == EZSHM_OK)
        rc = s_guarded(self, s_rename, &args);
    if (!self->name || self->name != args.name)
        free(args.name);
    return rc;
}

typedef struct {
    const void *blob;
    size_t len;
} aux_args_t;

static int
s_publish_aux(ezshm_writer_t *self, const void *arg)
{
    const aux_args_t *a = arg;
    return ezshm_aux_publish(&self->aux, self->name, self->header.addr, a->blob, a->len, self->opt.mode);
}

int
ezshm_writer_publish_aux(ezshm_writer_t *self, const void *blob, size_t len)
{
    if (!self || !self->header.addr || self->opt.layout != EZSHM_LAYOUT_V1)
        return EZSHM_ERR_INVAL;
    aux_args_t args = {blob, len};
    return s_guarded(self, s_publish_aux, &args);
}

static int
s_retract_aux(ezshm_writer_t *self, const void *arg)
{
    (void) arg;
    ezshm_aux_retract(&self->aux, self->header.addr);
    return EZSHM_OK;
}

int
ezshm_writer_retract_aux(ezshm_writer_t *self)
{
    if (!self)
        return EZSHM_ERR_INVAL;
    if (!self->header.addr || self->opt.layout != EZSHM_LAYOUT_V1)
        return EZSHM_OK;
    return s_guarded(self, s_retract_aux, NULL);
}

uint32_t
ezshm_writer_aux_generation(const ezshm_writer_t *self)
{
    return self && self->aux.seg.addr ? self->aux.generation : 0;
}

size_t
ezshm_writer_aux_bytes(const ezshm_writer_t *self)
{
    return self && self->aux.seg.addr ? self->aux.len : 0;
}

int
ezshm_writer_ring_bytes_for(const ezshm_ring_spec_t *spec, uint64_t *bytes)
{
    if (!spec || !bytes)
        return EZSHM_ERR_INVAL;
    uint64_t frame_bytes;
    return s_spec_sizes(spec, &frame_bytes, bytes);
}

bool
ezshm_writer_matches(const ezshm_writer_t *self, const ezshm_ring_spec_t *spec)
{
    return self && spec && s_spec_matches(self, spec, true);
}

bool
ezshm_writer_keeps_ring(const ezshm_writer_t *self, const ezshm_ring_spec_t *spec)
{
    return self && spec && s_spec_matches(self, spec, false);
}

void
ezshm_writer_set_max_ring_bytes(ezshm_writer_t *self, uint64_t max_ring_bytes)
{
    if (self)
        self->opt.max_ring_bytes = max_ring_bytes;
}

const char *
ezshm_writer_name(const ezshm_writer_t *self)
{
    return self->name;
}

const char *
ezshm_writer_header_segment(const ezshm_writer_t *self)
{
    return self->header.name;
}

const char *
ezshm_writer_clock_segment(const ezshm_writer_t *self)
{
    return self->clock ? ezshm_clock_segment(self->clock) : "";
}

const char *
ezshm_writer_ring_segment(const ezshm_writer_t *self)
{
    return self->ring.addr ? self->ring.name : "";
}

ezshm_layout_t
ezshm_writer_layout(const ezshm_writer_t *self)
{
    return self->opt.layout;
}

bool
ezshm_writer_has_ring(const ezshm_writer_t *self)
{
    return self->ring.addr != NULL;
}

uint64_t
ezshm_writer_frame_bytes(const ezshm_writer_t *self)
{
    return self->ring.addr ? self->frame_bytes : 0;
}

uint64_t
ezshm_writer_ring_bytes(const ezshm_writer_t *self)
{
    return self->ring.addr ? self->ring_bytes : 0;
}

static int
s_snapshot(ezshm_writer_t *self, const void *arg)
{
    memcpy((ezshm_meta_t *) arg, self->meta, sizeof *self->meta);
    return EZSHM_OK;
}

int
ezshm_writer_snapshot(ezshm_writer_t *self, ezshm_meta_t *out)
{
    if (!self || !out)
        return EZSHM_ERR_INVAL;
    if (!self->meta)
        return EZSHM_ERR_NOENT;
    return s_guarded(self, s_snapshot, out);
}

static int
s_waiters(ezshm_writer_t *self, const void *arg)
{
    *(uint32_t *) arg = ezshm_clock_waiters(self->clock);
    return EZSHM_OK;
}

int
ezshm_writer_readers_waiting(ezshm_writer_t *self, uint32_t *out)
{
    if (!self || !out)
        return EZSHM_ERR_INVAL;
    *out = 0;
    return self->clock ? s_guarded(self, s_waiters, out) : EZSHM_OK;
}

uint64_t
ezshm_writer_faults(const ezshm_writer_t *self)
{
    return self->faults;
}

const ezshm_meta_t *
ezshm_writer_meta(const ezshm_writer_t *self)
{
    return self->meta;
}
