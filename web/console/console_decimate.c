/*  console_decimate.c — min/max per pixel column of a stream's newest window (see the header). */
#include "console_decimate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct console_decimate_t {
    ezshm_mirror_t     *mirror;
    console_view_t      view;            /* asked for; in force after the next geometry     */
    bool                attached;        /* info holds the ring the geometry was made for   */
    bool                need_geometry;   /* a new view waits for the next pump              */
    bool                need_fill;       /* the window is to be filled from the ring        */
    ezshm_stream_info_t info;
    uint32_t            rebuilds;

    /*  Geometry: which element of a frame is channel c, the plot's size. */
    uint32_t  channels_total, channel_first, channels;
    size_t    channel_stride;            /* bytes between channels                          */
    size_t    element_offset;            /* bytes to the plotted element of channel_first   */
    uint32_t  n_slice, slice[CONSOLE_DECIMATE_MAX_SLICE];
    uint32_t  columns;
    double    window, dt;

    /*  The plot: rings of `columns` slots, slot = grid index mod columns. */
    float    *min, *max;                 /* [channel * columns + slot] */
    uint8_t  *flags;
    bool      have_column;
    int64_t   newest;                    /* grid index of the newest column */

    /*  Frames copied out of the ring, their times, one frame's plotted values. */
    uint8_t  *scratch;
    double   *times;
    uint64_t  scratch_frames;
    float    *row;
    float    *acc_min, *acc_max;         /* the pending column's run, per channel */
    int64_t   acc_column;
    uint64_t  acc_n;                     /* frames in the run (0: none pending)   */

    /*  The sequential reads: frames since the geometry, the last clock time seen and where,
        the last frame taken, lost frames not yet marked. */
    uint64_t  position;
    bool      have_anchor;
    uint64_t  anchor_position;
    double    anchor_time;
    bool      have_last;
    int64_t   last_column;
    double    last_time;
    bool      pending_lost;

    double    t_newest;
    bool      clock;
    uint64_t  frames, lost, changes;
    int64_t   dirty_from;                /* grid index of the oldest column changed since
                                            console_decimate_clean (INT64_MIN: all, MAX: none) */
    uint64_t  geometry;                  /* plots laid out since new                       */
};

bool
console_view_valid(const console_view_t *view)
{
    return view && view->window > 0 && view->window <= CONSOLE_DECIMATE_MAX_WINDOW
        && view->columns >= 1 && view->columns <= CONSOLE_DECIMATE_MAX_COLUMNS
        && view->n_slice <= CONSOLE_DECIMATE_MAX_SLICE;
}

int
console_decimate_new(const char *name, const console_view_t *view, console_decimate_t **out)
{
    if (!out || !console_view_valid(view))
        return EZSHM_ERR_INVAL;
    *out = NULL;
    console_decimate_t *self = calloc(1, sizeof *self);
    if (!self)
        return EZSHM_ERR_NOMEM;
    int rc = ezshm_mirror_new(name, &self->mirror);
    if (rc != EZSHM_OK) {
        free(self);
        return rc;
    }
    self->view = *view;
    self->t_newest = NAN;
    self->dirty_from = INT64_MIN;
    *out = self;
    return EZSHM_OK;
}

static void
s_free_plot(console_decimate_t *self)
{
    free(self->min);
    free(self->max);
    free(self->flags);
    free(self->scratch);
    free(self->times);
    free(self->row);
    free(self->acc_min);
    free(self->acc_max);
    self->acc_min = self->acc_max = NULL;
    self->acc_n = 0;
    self->min = self->max = NULL;
    self->flags = NULL;
    self->scratch = NULL;
    self->times = NULL;
    self->row = NULL;
    self->columns = self->channels = 0;
}

void
console_decimate_destroy(console_decimate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    console_decimate_t *self = *self_p;
    ezshm_mirror_destroy(&self->mirror);
    s_free_plot(self);
    free(self);
    *self_p = NULL;
}

int
console_decimate_set_view(console_decimate_t *self, const console_view_t *view)
{
    if (!self || !console_view_valid(view))
        return EZSHM_ERR_INVAL;
    self->view = *view;
    self->need_geometry = true;
    return EZSHM_OK;
}

int
console_decimate_info(const console_decimate_t *self, ezshm_stream_info_t *info)
{
    if (!self || !info)
        return EZSHM_ERR_INVAL;
    if (!self->attached)
        return EZSHM_ERR_NOTREADY;
    *info = self->info;
    return EZSHM_OK;
}

ezshm_mirror_t *
console_decimate_mirror(console_decimate_t *self)
{
    return self ? self->mirror : NULL;
}

/*  ---- the plot's grid ----------------------------------------------------------------- */

static uint32_t
s_slot(const console_decimate_t *self, int64_t column)
{
    int64_t r = column % (int64_t) self->columns;
    return (uint32_t) (r < 0 ? r + self->columns : r);
}

/*  Grid column b (and every one after it) changed since the last console_decimate_clean. */
static void
s_dirty(console_decimate_t *self, int64_t b)
{
    if (b < self->dirty_from)
        self->dirty_from = b;
}

static void
s_clear_slot(console_decimate_t *self, uint32_t slot)
{
    self->flags[slot] = 0;
    for (uint32_t c = 0; c < self->channels; c++) {
        self->min[(size_t) c * self->columns + slot] = NAN;
        self->max[(size_t) c * self->columns + slot] = NAN;
    }
}

static void
s_clear_plot(console_decimate_t *self)
{
    for (uint32_t s = 0; s < self->columns; s++)
        s_clear_slot(self, s);
    self->have_column = false;
    self->acc_n = 0;
    self->t_newest = NAN;
    self->dirty_from = INT64_MIN;
}

/*  Fast paths for the rig dtypes: a switch per element (ezshm_value_to_double) costs more
    than the min/max itself at 30 kHz × 256 channels. */
#define GATHER_STRIDE(type, step) do {                                \
        for (uint32_t c = 0; c < n; c++) {                            \
            type v;                                                   \
            memcpy(&v, p + c * (step), sizeof v);                     \
            row[c] = (float) v;                                       \
        }                                                             \
    } while (0)
/*  Channels side by side (a 2-D stream) is a constant stride the compiler vectorizes. */
#define GATHER(type) do {                                             \
        if (stride == sizeof(type))                                   \
            GATHER_STRIDE(type, sizeof(type));                        \
        else                                                          \
            GATHER_STRIDE(type, stride);                              \
    } while (0)

static void
s_gather(const console_decimate_t *self, const uint8_t *frame, float *row)
{
    const uint8_t *p = frame + self->element_offset;
    size_t stride = self->channel_stride;
    uint32_t n = self->channels;
    switch (self->info.dtype) {
    case 'h': GATHER(int16_t); break;
    case 'i': GATHER(int32_t); break;
    case 'f': GATHER(float); break;
    case 'd': GATHER(double); break;
    default:
        for (uint32_t c = 0; c < n; c++)
            row[c] = (float) ezshm_value_to_double(self->info.dtype, p + c * stride);
    }
}

/*  Puts the frames taken into the pending column (acc_*) into the plot: per channel, the
    run's min and max merged into the column's. A run of only NaN samples leaves the
    column's values as they are. */
static void
s_flush(console_decimate_t *self)
{
    if (!self->acc_n)
        return;
    self->acc_n = 0;
    if (self->acc_column <= self->newest - (int64_t) self->columns)
        return;
    uint32_t slot = s_slot(self, self->acc_column);
    float *mn = self->min + slot, *mx = self->max + slot;
    size_t C = self->columns;
    bool fresh = !(self->flags[slot] & CONSOLE_COLUMN_DATA);
    for (uint32_t c = 0; c < self->channels; c++) {
        float lo = self->acc_min[c], hi = self->acc_max[c];
        if (!(lo <= hi))
            continue;
        if (fresh || lo < mn[c * C] || mn[c * C] != mn[c * C])
            mn[c * C] = lo;
        if (fresh || hi > mx[c * C] || mx[c * C] != mx[c * C])
            mx[c * C] = hi;
    }
    self->flags[slot] |= CONSOLE_COLUMN_DATA;
    s_dirty(self, self->acc_column);
}

/*  Takes one frame at time t into the plot, its grid index in *column; false when t lies off
    any grid index a column can hold (not finite, or beyond ±4e18 columns). Frames of one
    column are gathered in acc_min/acc_max (contiguous: the loop vectorizes) and merged into
    the plot's strided rows once per column (s_flush): the strided writes per frame cost
    more than the min/max itself at 256 channels. */
static bool
s_take(console_decimate_t *self, const uint8_t *frame, double t, int64_t *column)
{
    double g = floor(t / self->dt);
    if (!(fabs(g) < 4.0e18))
        return false;
    int64_t b = (int64_t) g;
    *column = b;
    if (!self->acc_n || b != self->acc_column) {
        s_flush(self);
        if (!self->have_column) {
            self->newest = b;
            self->have_column = true;
        }
        else if (b > self->newest) {
            /*  The window slides: columns it uncovers start empty. */
            uint64_t steps = (uint64_t) b - (uint64_t) self->newest;
            if (steps >= self->columns)
                s_clear_plot(self);
            else {
                for (uint64_t k = 1; k <= steps; k++)
                    s_clear_slot(self, s_slot(self, self->newest + (int64_t) k));
                s_dirty(self, self->newest + 1);
            }
            self->have_column = true;
            self->newest = b;
        }
        if (b <= self->newest - (int64_t) self->columns)
            return true;   /* older than the window: not drawn */
        self->acc_column = b;
        for (uint32_t c = 0; c < self->channels; c++) {
            self->acc_min[c] = INFINITY;
            self->acc_max[c] = -INFINITY;
        }
    }
    self->acc_n++;
    if (!(t <= self->t_newest))
        self->t_newest = t;
    s_gather(self, frame, self->row);
    for (uint32_t c = 0; c < self->channels; c++) {
        float v = self->row[c];
        self->acc_min[c] = v < self->acc_min[c] ? v : self->acc_min[c];
        self->acc_max[c] = v > self->acc_max[c] ? v : self->acc_max[c];
    }
    return true;
}

/*  Marks grid columns [from, to] (those inside the window) as where frames were lost. */
static void
s_mark_lost(console_decimate_t *self, int64_t from, int64_t to)
{
    int64_t oldest = self->newest - (int64_t) self->columns + 1;
    if (from < oldest)
        from = oldest;
    if (to > self->newest)
        to = self->newest;
    for (int64_t b = from; b <= to; b++)
        self->flags[s_slot(self, b)] |= CONSOLE_COLUMN_LOST;
    if (from <= to)
        s_dirty(self, from);
}

/*  ---- geometry: the stream's shape and the view -------------------------------------- */

/*  Which element of a frame each channel plots, from the frame shape and the view's slice. */
static void
s_elements(console_decimate_t *self)
{
    const ezshm_stream_info_t *in = &self->info;
    uint32_t frame_ndim = in->ndim > 0 ? in->ndim - 1 : 0;
    const uint32_t *dims = in->shape + 1;
    self->channels_total = frame_ndim >= 1 ? dims[0] : 1;
    /*  Bytes of one channel's block (every dim after the channel dim) and, inside it, the
        offset of the slice's element, C order. */
    size_t inner = in->itemsize, offset = 0;
    bool empty = false;
    self->n_slice = frame_ndim > 1 ? frame_ndim - 1 : 0;
    if (self->n_slice > CONSOLE_DECIMATE_MAX_SLICE)
        self->n_slice = CONSOLE_DECIMATE_MAX_SLICE;
    for (uint32_t d = frame_ndim; d-- > 1;) {
        uint32_t j = d - 1;
        uint32_t want = j < self->view.n_slice ? self->view.slice[j] : 0;
        if (want >= dims[d])
            want = 0;
        if (j < self->n_slice)
            self->slice[j] = want;
        empty |= dims[d] == 0;
        offset += (size_t) want * inner;
        inner *= dims[d];
    }
    self->channel_stride = inner;
    uint32_t first = self->view.channel_first < self->channels_total ? self->view.channel_first : 0;
    uint32_t count = self->channels_total - first;
    if (self->view.channel_count && self->view.channel_count < count)
        count = self->view.channel_count;
    if (count > CONSOLE_DECIMATE_MAX_CELLS / self->view.columns)
        count = CONSOLE_DECIMATE_MAX_CELLS / self->view.columns;
    if (empty || self->channels_total == 0)
        count = 0;
    self->channel_first = first;
    self->channels = count;
    self->element_offset = (size_t) first * inner + offset;
}

static int
s_geometry(console_decimate_t *self)
{
    s_free_plot(self);
    s_elements(self);
    uint32_t C = self->view.columns;
    size_t cells = (size_t) self->channels * C;
    uint64_t fb = self->info.frame_bytes ? self->info.frame_bytes : 1;
    uint64_t sf = CONSOLE_DECIMATE_SCRATCH_BYTES / fb;
    if (sf < 1)
        sf = 1;
    if (sf > self->info.n_frames && self->info.n_frames > 0)
        sf = self->info.n_frames;
    self->min = malloc((cells ? cells : 1) * sizeof(float));
    self->max = malloc((cells ? cells : 1) * sizeof(float));
    self->flags = malloc(C);
    size_t per_channel = (self->channels ? self->channels : 1) * sizeof(float);
    self->row = malloc(per_channel);
    self->acc_min = malloc(per_channel);
    self->acc_max = malloc(per_channel);
    self->scratch = malloc(sf * fb);
    self->times = malloc(sf * sizeof(double));
    if (!self->min || !self->max || !self->flags || !self->row || !self->acc_min || !self->acc_max
        || !self->scratch || !self->times) {
        s_free_plot(self);
        self->attached = false;
        return EZSHM_ERR_NOMEM;
    }
    self->columns = C;
    self->window = self->view.window;
    self->dt = self->view.window / C;
    self->scratch_frames = sf;
    s_clear_plot(self);
    self->need_geometry = false;
    self->need_fill = true;
    self->position = 0;
    self->have_anchor = self->have_last = self->pending_lost = false;
    self->clock = false;
    self->changes++;
    self->geometry++;
    return EZSHM_OK;
}

/*  The mirror attached a ring (first attach, rebuild, restarted writer): its shape is the
    plot's from now on. */
static int
s_follow(console_decimate_t *self)
{
    ezshm_stream_info_t info;
    int rc = ezshm_mirror_info(self->mirror, &info);
    if (rc != EZSHM_OK)
        return rc;
    if (info.frame_bytes > CONSOLE_DECIMATE_MAX_FRAME_BYTES) {
        self->attached = false;
        return EZSHM_ERR_TOOBIG;
    }
    if (self->attached)
        self->rebuilds++;
    self->info = info;
    self->attached = true;
    return s_geometry(self);
}

/*  ---- reading ------------------------------------------------------------------------- */

/*  The window from the ring's newest frames (those with a clock time: without one there is
    no place on the grid for frames not read in order). */
static int
s_fill(console_decimate_t *self)
{
    uint64_t want = self->scratch_frames, n = 0;
    double span = self->window * self->info.srate + 1.0;
    if (self->info.srate > 0 && span < (double) want)
        want = (uint64_t) span;
    int rc = ezshm_mirror_latest_ts(self->mirror, self->scratch, want, &n, self->times);
    if (rc != EZSHM_OK)
        return rc;
    self->need_fill = false;
    int64_t column;
    for (uint64_t i = 0; i < n; i++)
        if (isfinite(self->times[i]))
            s_take(self, self->scratch + i * self->info.frame_bytes, self->times[i], &column);
    s_flush(self);
    if (n)
        self->changes++;
    return EZSHM_OK;
}

/*  Frames read in order: times for those without a clock time, lost frames, a restarted
    sender clock. */
static void
s_sequential(console_decimate_t *self, uint64_t got, uint64_t lost)
{
    if (lost) {
        self->lost += lost;
        self->position += lost;
        self->pending_lost = true;
    }
    for (uint64_t i = 0; i < got; i++, self->position++) {
        double t = self->times[i];
        self->clock = isfinite(t);
        if (self->clock) {
            self->have_anchor = true;
            self->anchor_position = self->position;
            self->anchor_time = t;
        }
        else {
            double rate = self->info.srate > 0 ? self->info.srate : 1.0;
            double base = self->have_anchor ? self->anchor_time : 0.0;
            uint64_t from = self->have_anchor ? self->anchor_position : 0;
            t = base + (double) (self->position - from) / rate;
        }
        if (self->have_last && t < self->last_time - self->window)
            s_clear_plot(self);
        int64_t column;
        if (!s_take(self, self->scratch + i * self->info.frame_bytes, t, &column))
            continue;
        if (self->pending_lost) {
            s_mark_lost(self, self->have_last ? self->last_column + 1 : column, column);
            self->pending_lost = false;
        }
        self->have_last = true;
        self->last_column = column;
        self->last_time = t;
    }
    s_flush(self);
    self->frames += got;
    if (got || lost)
        self->changes++;
}

/*  Reads in order until budget frames were taken or none are left (*drained). */
static int
s_read(console_decimate_t *self, uint64_t budget, uint64_t *done, bool *drained)
{
    while (*done < budget) {
        uint64_t want = budget - *done, got, lost;
        if (want > self->scratch_frames)
            want = self->scratch_frames;
        int rc = ezshm_mirror_read_ts(self->mirror, self->scratch, want, &got, &lost, self->times);
        if (rc != EZSHM_OK)
            return rc;
        s_sequential(self, got, lost);
        *done += got;
        if (got < want) {
            *drained = true;
            break;
        }
    }
    return EZSHM_OK;
}

int
console_decimate_pump(console_decimate_t *self, uint64_t max_frames, bool *more)
{
    if (more)
        *more = false;
    if (!self)
        return EZSHM_ERR_INVAL;
    int rc;
    if (!self->attached) {
        rc = ezshm_mirror_attach(self->mirror);
        if (rc == EZSHM_OK)
            rc = s_follow(self);
        if (rc != EZSHM_OK)
            return rc;
    }
    else if (self->need_geometry && (rc = s_geometry(self)) != EZSHM_OK)
        return rc;
    uint64_t done = 0;
    bool drained = false;
    /*  A stream that keeps changing is followed a few times per call, then left to the next
        one: the caller's turn stays bounded. */
    for (int follows = 0; !drained && done < max_frames;) {
        rc = self->need_fill ? s_fill(self) : s_read(self, max_frames, &done, &drained);
        if (rc == EZSHM_ERR_STALE) {
            if (follows++ == 4)
                break;
            rc = s_follow(self);
        }
        if (rc != EZSHM_OK)
            return rc;
    }
    if (more)
        *more = !drained;
    return EZSHM_OK;
}

void
console_decimate_columns(const console_decimate_t *self, console_columns_t *out)
{
    memset(out, 0, sizeof *out);
    out->t0 = out->t1 = out->t_newest = NAN;
    if (!self)
        return;
    out->attached = self->attached;
    out->generation = self->info.generation;
    out->rebuilds = self->rebuilds;
    out->dtype = self->info.dtype;
    out->srate = self->info.srate;
    out->channels_total = self->channels_total;
    out->channel_first = self->channel_first;
    out->channels = self->channels;
    out->n_slice = self->n_slice;
    memcpy(out->slice, self->slice, sizeof out->slice);
    out->columns = self->columns;
    out->window = self->window;
    if (self->have_column) {
        out->first_column = self->newest - (int64_t) self->columns + 1;
        out->start = s_slot(self, out->first_column);
        out->t0 = (double) out->first_column * self->dt;
        out->t1 = (double) (self->newest + 1) * self->dt;
    }
    out->t_newest = self->t_newest;
    out->clock = self->clock;
    out->min = self->min;
    out->max = self->max;
    out->flags = self->flags;
    out->frames = self->frames;
    out->lost = self->lost;
    out->changes = self->changes;
    out->geometry = self->geometry;
    out->changed_first = self->columns;
    if (self->have_column) {
        if (self->dirty_from <= out->first_column)
            out->changed_first = 0;
        else if (self->dirty_from <= self->newest)
            out->changed_first = (uint32_t) (self->dirty_from - out->first_column);
    }
}

void
console_decimate_clean(console_decimate_t *self)
{
    if (self)
        self->dirty_from = INT64_MAX;
}
