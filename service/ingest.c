/*  ingest.c — message → ring spec → writer, with the axis move done in the copy. */
#include "ingest.h"
#include "wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  A message's dims become a ring's frame shape plus the buffered axis: both limits must agree
    (frame_shape below holds ndim - 1 extents). */
_Static_assert(AXISARRAY_MAX_NDIM == EZSHM_MAX_NDIM, "a decodable message always fits a ring header");

struct ingest_t {
    ezshm_writer_t *writer;
    char           *axis;
    double          buf_dur;
    /*  A coordinate time axis estimates fs from jittering timestamps; the ring keeps its
        length while dtype, frame shape and key stay the same, so jitter never rebuilds. */
    uint64_t        coord_frames;
    ingest_budget_fn *budget;
    void           *budget_arg;
    ingest_publish_fn *publish;
    void           *publish_arg;
    /*  Rebuild token bucket: a sender that changes the ring's shape with every message would
        otherwise make the daemon spend its time allocating rings (see INGEST_REBUILD_*). */
    double          rebuild_tokens;
    double          rebuild_refilled;   /* ezshm_time_mono() of the last refill */
    /*  The last message written: its newest sample's time and when it was ingested. */
    double          last_sample_time;
    int64_t         last_wall_ns;
    /*  Deferred base64 data (axisarray_copy_data) of a message whose buffered axis must move
        is decoded here once, then moved; a straight message decodes into the ring itself. */
    uint8_t        *unmoved;
    size_t          unmoved_cap;
};

/*  Where the buffered axis sits: the data is [outer][n][inner] with inner in bytes. */
typedef struct {
    const uint8_t *src;
    uint64_t       n;             /* frames in the message */
    uint64_t       outer;         /* product of the dims before the buffered axis */
    uint64_t       inner_bytes;   /* product of the dims after it, times itemsize */
    size_t         component;     /* byte-swap unit, 0 when no swap is needed */
} axis_move_t;

ingest_t *
ingest_new(ezshm_writer_t *writer, const char *axis, double buf_dur)
{
    ingest_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->writer = writer;
    self->buf_dur = buf_dur;
    self->rebuild_tokens = INGEST_REBUILD_BURST;
    self->rebuild_refilled = ezshm_time_mono();
    if (ingest_set_axis(self, axis) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
ingest_destroy(ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->axis);
    free((*self_p)->unmoved);
    free(*self_p);
    *self_p = NULL;
}

int
ingest_set_axis(ingest_t *self, const char *axis)
{
    char *copy = strdup(axis ? axis : "time");
    if (!copy)
        return -1;
    free(self->axis);
    self->axis = copy;
    self->coord_frames = 0;
    return 0;
}

const char *
ingest_axis(const ingest_t *self)
{
    return self->axis;
}

void
ingest_set_budget(ingest_t *self, ingest_budget_fn *budget, void *arg)
{
    self->budget = budget;
    self->budget_arg = arg;
}

void
ingest_set_publish(ingest_t *self, ingest_publish_fn *publish, void *arg)
{
    self->publish = publish;
    self->publish_arg = arg;
}

/*  Asked only when configure would create a ring (the caller checks ezshm_writer_matches),
    so the check costs nothing on the steady path. */
static int
s_check_budget(ingest_t *self, const ezshm_ring_spec_t *spec, char *errbuf, size_t errlen)
{
    uint64_t need = 0;
    if (!self->budget || ezshm_writer_ring_bytes_for(spec, &need) != EZSHM_OK)
        return DROP_OK;
    int rc = self->budget(self->budget_arg, need, errbuf, errlen);
    if (rc != DROP_OK)
        self->coord_frames = 0;
    return rc;
}

void
ingest_set_buf_dur(ingest_t *self, double buf_dur)
{
    self->buf_dur = buf_dur;
    self->coord_frames = 0;
}

/*  Copies frames [first, first + count) of a message whose buffered axis is not first (or
    whose bytes need swapping) into the ring: frame t is the outer blocks of inner_bytes at
    src + (o * n + t) * inner_bytes, laid end to end. */
static int
s_copy_moved(void *arg, void *dst, uint64_t first, uint64_t count)
{
    const axis_move_t *mv = arg;
    uint8_t *out = dst;
    uint64_t inner = mv->inner_bytes, stride = mv->n * inner;
    for (uint64_t t = first; t < first + count; t++) {
        const uint8_t *src = mv->src + t * inner;
        /*  The common [ch, time] case moves one element per channel: typed loads beat a
            memcpy call per element by an order of magnitude. */
        switch (inner) {
        case 2:
            for (uint64_t o = 0; o < mv->outer; o++, out += 2, src += stride)
                memcpy(out, src, 2);
            break;
        case 4:
            for (uint64_t o = 0; o < mv->outer; o++, out += 4, src += stride)
                memcpy(out, src, 4);
            break;
        case 8:
            for (uint64_t o = 0; o < mv->outer; o++, out += 8, src += stride)
                memcpy(out, src, 8);
            break;
        default:
            for (uint64_t o = 0; o < mv->outer; o++, out += inner, src += stride)
                memcpy(out, src, inner);
        }
    }
    if (mv->component > 1) {
        uint64_t bytes = (uint64_t) (out - (uint8_t *) dst);
        wire_byteswap(dst, dst, bytes, mv->component);
    }
    return 0;
}

static int
s_writer_code(int rc)
{
    switch (rc) {
    case EZSHM_ERR_TOOBIG:   return INGEST_ERR_TOO_BIG;
    case EZSHM_ERR_OVERFLOW: return DROP_SIZE_OVERFLOW;
    default:                 return INGEST_ERR_SHM;
    }
}

/*  A ring that does not fit: say how big it is, what is free, and what to set. */
static int
s_no_space(ingest_t *self, const ezshm_ring_spec_t *spec, char *errbuf, size_t errlen)
{
    self->coord_frames = 0;
    uint64_t need = 0, free_bytes = 0;
    ezshm_writer_ring_bytes_for(spec, &need);
    ezshm_segment_free_bytes(&free_bytes);
    /*  Room for the ring, the header, and a reader still mapping the previous ring. */
    uint64_t advise_mib = (2 * need + (1u << 20) - 1) / (1u << 20) + 1;
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "a ring of %llu bytes does not fit in %s (%llu bytes free): give it at least "
                 "%llum (docker shm_size, k8s emptyDir sizeLimit) or lower buf_dur",
                 (unsigned long long) need, ezshm_segment_dir(), (unsigned long long) free_bytes,
                 (unsigned long long) advise_mib);
    return INGEST_ERR_NO_SPACE;
}

/*  Ring length and srate for the message's buffered axis. */
static int
s_ring_length(ingest_t *self, const axisarray_axis_t *ax, const ezshm_ring_spec_t *spec,
              uint64_t *n_frames, double *srate, char *errbuf, size_t errlen)
{
    if (ax->kind == AXISARRAY_AXIS_LINEAR) {
        if (!isfinite(ax->gain) || ax->gain <= 0.0)
            return ezshm_fail(errbuf, errlen, INGEST_ERR_BAD_GAIN,
                          "axis '%s' has a non-positive or non-finite gain", self->axis);
        *srate = 1.0 / ax->gain;
        int rc = ezshm_ring_frames(self->buf_dur, *srate, n_frames);
        if (rc == EZSHM_ERR_OVERFLOW)
            return ezshm_fail(errbuf, errlen, DROP_SIZE_OVERFLOW,
                          "ring for axis '%s' would exceed 2^32 frames", self->axis);
        return rc == EZSHM_OK ? DROP_OK
                              : ezshm_fail(errbuf, errlen, INGEST_ERR_BAD_GAIN,
                                       "axis '%s' gives no finite ring length", self->axis);
    }
    *srate = 0.0;
    /*  Same stream shape as the live ring: keep its length (see coord_frames). */
    if (self->coord_frames && ezshm_writer_keeps_ring(self->writer, spec)) {
        *n_frames = self->coord_frames;
        return DROP_OK;
    }
    double fs = ezshm_ring_coordinate_fs(ax->values, ax->n_values);
    int rc = fs > 0.0 ? ezshm_ring_frames(self->buf_dur, fs, n_frames) : EZSHM_ERR_INVAL;
    if (rc != EZSHM_OK)
        return ezshm_fail(errbuf, errlen, rc == EZSHM_ERR_OVERFLOW ? DROP_SIZE_OVERFLOW : INGEST_ERR_BAD_GAIN,
                      "coordinate axis '%s' gives no usable sampling rate", self->axis);
    /*  Keep the length only when it came from timestamps, not from the 100 Hz fallback for a
        single coordinate: the next chunk with two or more values sizes the ring properly. */
    self->coord_frames = ax->n_values >= 2 ? *n_frames : 0;
    return DROP_OK;
}

/*  The chunk's timing for the clock segment: the axis' offset and gain, or its coordinate
    values (one per frame, else unknown), the sequence number, the wall clock now. */
static void
s_chunk_time(ingest_t *self, const axisarray_t *msg, const axisarray_axis_t *ax, uint64_t n,
             ezshm_chunk_time_t *time)
{
    *time = (ezshm_chunk_time_t) {NAN, NAN, NULL, ezshm_time_wall_ns(),
                                  axisarray_has_seq(msg) ? axisarray_seq(msg) : EZSHM_SEQ_NONE};
    if (ax->kind == AXISARRAY_AXIS_LINEAR) {
        time->t0 = ax->offset;
        time->gain = ax->gain;
        self->last_sample_time = ax->offset + (double) (n - 1) * ax->gain;
    }
    else if (ax->n_values == n) {
        time->t0 = ax->values[0];
        time->times = ax->values;
        self->last_sample_time = ax->values[n - 1];
    }
    else
        self->last_sample_time = NAN;
    /*  A time axis in another unit than seconds is no clock we can compare with. */
    if (ax->unit[0] && strcmp(ax->unit, "s") != 0)
        self->last_sample_time = NAN;
    self->last_wall_ns = time->wall_ns;
}

bool
ingest_last_delay(const ingest_t *self, double *seconds)
{
    return ezshm_clock_transport_delay(self->last_sample_time, self->last_wall_ns, seconds);
}

/*  Frames [first, first + count) of a message whose frames lie end to end in its data (the
    buffered axis first, or only size-1 dims before it): copied, or decoded from deferred
    base64 straight into the ring. */
typedef struct {
    const axisarray_t *msg;
    uint64_t           frame_bytes;
} straight_t;

static int
s_copy_straight(void *arg, void *dst, uint64_t first, uint64_t count)
{
    const straight_t *s = arg;
    return axisarray_copy_data(s->msg, dst, first * s->frame_bytes, (first + count) * s->frame_bytes);
}

/*  The message's bytes for a move: its data, or deferred base64 decoded into self->unmoved.
    NULL when out of memory. */
static const uint8_t *
s_unmoved(ingest_t *self, const axisarray_t *msg)
{
    if (axisarray_data(msg))
        return axisarray_data(msg);
    size_t need = axisarray_nbytes(msg);
    if (need > self->unmoved_cap) {
        uint8_t *grown = realloc(self->unmoved, need);
        if (!grown)
            return NULL;
        self->unmoved = grown;
        self->unmoved_cap = need;
    }
    return axisarray_copy_data(msg, self->unmoved, 0, need) ? NULL : self->unmoved;
}

/*  What s_store did: whether the ring matched (a failure then came from the write), and the
    publish hook's verdict (DROP_OK, or why nothing was written, explained in errbuf). */
typedef struct {
    bool   configured;
    int    publish_rc;
    char  *errbuf;
    size_t errlen;
} store_t;

/*  Matches the ring to spec when rebuild (the caller found that it does not match: the steady
    path skips a second comparison and guard frame), lets the publish hook put out what
    describes the frames, then writes the message's frames with their timing: straight
    (mv->src NULL), or moving the buffered axis to the front (and swapping bytes) on the way. */
static int
s_store(ingest_t *self, const ezshm_ring_spec_t *spec, const axisarray_t *msg, axis_move_t *mv,
        const ezshm_chunk_time_t *time, bool rebuild, store_t *out)
{
    int rc = rebuild ? ezshm_writer_configure(self->writer, spec) : EZSHM_OK;
    out->configured = rc == EZSHM_OK;
    if (rc != EZSHM_OK)
        return rc;
    out->publish_rc = self->publish ? self->publish(self->publish_arg, out->errbuf, out->errlen) : DROP_OK;
    if (out->publish_rc != DROP_OK)
        return EZSHM_OK;
    if (!mv->src) {
        straight_t src = {msg, ezshm_writer_frame_bytes(self->writer)};
        return ezshm_writer_write_timed(self->writer, mv->n, s_copy_straight, &src, time);
    }
    return ezshm_writer_write_timed(self->writer, mv->n, s_copy_moved, mv, time);
}

/*  True when a rebuild may happen now: tokens refill at INGEST_REBUILDS_PER_SECOND up to
    INGEST_REBUILD_BURST; a successful rebuild takes one. */
static bool
s_rebuild_allowed(ingest_t *self)
{
    double now = ezshm_time_mono();
    self->rebuild_tokens += (now - self->rebuild_refilled) * INGEST_REBUILDS_PER_SECOND;
    if (self->rebuild_tokens > INGEST_REBUILD_BURST)
        self->rebuild_tokens = INGEST_REBUILD_BURST;
    self->rebuild_refilled = now;
    return self->rebuild_tokens >= 1.0;
}

int
ingest_message(ingest_t *self, const axisarray_t *msg, uint64_t *frames, char *errbuf,
               size_t errlen)
{
    *frames = 0;
    self->last_sample_time = NAN;
    int k = axisarray_find_dim(msg, self->axis);
    if (k < 0)
        return ezshm_fail(errbuf, errlen, INGEST_ERR_AXIS_MISSING, "buffered axis '%s' is not in dims",
                      self->axis);
    const axisarray_axis_t *ax = axisarray_axis(msg, self->axis);
    if (!ax)
        return ezshm_fail(errbuf, errlen, INGEST_ERR_AXIS_MISSING, "buffered axis '%s' has no entry in axes",
                      self->axis);

    size_t ndim = axisarray_ndim(msg);
    const size_t *shape = axisarray_shape(msg);
    uint64_t frame_shape[EZSHM_MAX_NDIM - 1];
    uint64_t outer = 1, inner = 1;
    for (size_t d = 0, j = 0; d < ndim; d++) {
        if ((int) d == k)
            continue;
        frame_shape[j++] = shape[d];
        if (shape[d] == 0)
            return ezshm_fail(errbuf, errlen, INGEST_ERR_EMPTY, "a frame has zero elements (dims other than '%s')",
                          self->axis);
        if ((int) d < k)
            outer *= shape[d];
        else
            inner *= shape[d];
    }
    uint64_t n = shape[k];
    if (n == 0)
        return ezshm_fail(errbuf, errlen, INGEST_ERR_EMPTY, "message has zero frames along '%s'", self->axis);

    const char *key = axisarray_key(msg);
    ezshm_ring_spec_t spec = {.dtype = axisarray_dtype(msg), .frame_ndim = (uint32_t) (ndim - 1),
                              .frame_shape = frame_shape, .key = key, .key_len = strlen(key)};
    int rc = s_ring_length(self, ax, &spec, &spec.n_frames, &spec.srate, errbuf, errlen);
    if (rc != DROP_OK)
        return rc;
    /*  Only a rebuild that happens costs a token: a failing one (no space, too big, over the
        budget) is counted under its own reason every time, and a matching spec costs nothing. */
    bool rebuild = !ezshm_writer_matches(self->writer, &spec);
    rc = rebuild ? s_check_budget(self, &spec, errbuf, errlen) : DROP_OK;
    if (rc != DROP_OK)
        return rc;
    if (rebuild && !s_rebuild_allowed(self))
        return ezshm_fail(errbuf, errlen, INGEST_ERR_REBUILD_RATE,
                          "the ring's shape changes faster than %g rebuilds a second (burst %g): message dropped",
                          INGEST_REBUILDS_PER_SECOND, INGEST_REBUILD_BURST);
    bool swap = axisarray_needs_byteswap(msg);
    /*  Frames lie end to end when nothing but size-1 dims precede the buffered axis: then
        they go in as they are (mv.src NULL), else the axis moves from mv.src on the way. */
    bool straight = outer == 1 && !swap;
    axis_move_t mv = {straight ? NULL : s_unmoved(self, msg), n, outer, inner * axisarray_itemsize(msg),
                      swap ? ezshm_dtype_component_size(spec.dtype) : 0};
    if (!straight && !mv.src)
        return ezshm_fail(errbuf, errlen, WIRE_ERR_NOMEM, "out of memory for a %zu-byte message",
                          axisarray_nbytes(msg));
    store_t store = {false, DROP_OK, errbuf, errlen};
    ezshm_chunk_time_t time;
    s_chunk_time(self, msg, ax, n, &time);
    rc = s_store(self, &spec, msg, &mv, &time, rebuild, &store);
    /*  Another process truncated a segment under the writer (SIGBUS caught): the writer
        dropped it; rebuild now, as a new generation, and write the message there. Once. */
    if (rc == EZSHM_ERR_BUS)
        rc = s_store(self, &spec, msg, &mv, &time, true, &store);
    bool configured = store.configured;
    if (configured && rebuild)
        self->rebuild_tokens -= 1.0;
    if (configured && store.publish_rc != DROP_OK) {
        self->last_sample_time = NAN;
        return store.publish_rc;
    }
    if (!configured && rc == EZSHM_ERR_NOSPACE)
        return s_no_space(self, &spec, errbuf, errlen);
    if (!configured) {
        self->coord_frames = 0;
        return ezshm_fail(errbuf, errlen, s_writer_code(rc), "ring not created: %s", ezshm_strerror(rc));
    }
    if (rc != EZSHM_OK)
        return ezshm_fail(errbuf, errlen, INGEST_ERR_SHM, "ring write failed: %s", ezshm_strerror(rc));
    *frames = n;
    return DROP_OK;
}
