/*  console_frame.c — the columns frame's bytes (docs/console.md, "Columns frame"). */
#include "console_frame.h"

#include <string.h>

static void
s_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
}

static void
s_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static void
s_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static void
s_f64(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    s_u64(p, bits);
}

/*  The rows are copied as they lie in memory: the frame is little-endian, and so is every
    host ezshm runs on (the ring itself is native little-endian, docs/shm-layout.md). */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "console_frame.c copies float32 rows as they are: a little-endian host is needed"
#endif

/*  Columns [first, first + n) of the plot. */
typedef struct {
    uint32_t first, n;
} span_t;

static span_t
s_span(const console_columns_t *c, bool delta)
{
    span_t sp = {0, c->columns};
    if (delta) {
        sp.first = c->changed_first < c->columns ? c->changed_first : c->columns;
        sp.n = c->columns - sp.first;
    }
    return sp;
}

/*  Channel ch's row over the span, oldest column first: two copies around the slot ring's
    wrap at most. */
static uint8_t *
s_row(uint8_t *p, const float *ring, const console_columns_t *c, span_t sp, uint32_t ch)
{
    if (!sp.n)
        return p;
    const float *row = ring + (size_t) ch * c->columns;
    uint32_t slot = (c->start + sp.first) % (c->columns ? c->columns : 1);
    size_t first = c->columns - slot < sp.n ? c->columns - slot : sp.n;
    memcpy(p, row + slot, first * sizeof(float));
    memcpy(p + first * sizeof(float), row, (sp.n - first) * sizeof(float));
    return p + (size_t) sp.n * sizeof(float);
}

/*  Bit k (byte k/8, least significant bit first) set when column k has flag bit (when_set)
    or lacks it (!when_set): the gap bitmap is the columns without CONSOLE_COLUMN_DATA, the
    lost bitmap those with CONSOLE_COLUMN_LOST. */
static uint8_t *
s_bitmap(uint8_t *p, const console_columns_t *c, span_t sp, uint8_t bit, bool when_set)
{
    size_t bytes = ((size_t) sp.n + 7) / 8;
    memset(p, 0, bytes);
    for (uint32_t j = 0; j < sp.n; j++)
        if (!!(c->flags[(c->start + sp.first + j) % c->columns] & bit) == when_set)
            p[j / 8] |= (uint8_t) (1u << (j % 8));
    return p + bytes;
}

size_t
console_frame_size(const console_columns_t *cols, bool delta)
{
    if (!cols)
        return 0;
    span_t sp = s_span(cols, delta);
    return CONSOLE_FRAME_HEADER_BYTES + 8 * (size_t) cols->channels * sp.n + 2 * (((size_t) sp.n + 7) / 8);
}

int
console_frame_encode(const console_columns_t *cols, const console_frame_ids_t *ids, uint8_t *dst,
                     size_t cap, size_t *len)
{
    if (!cols || !ids || !dst || !len)
        return EZSHM_ERR_INVAL;
    size_t need = console_frame_size(cols, ids->delta);
    span_t sp = s_span(cols, ids->delta);
    if (cap < need || (cols->columns && (!cols->min || !cols->max || !cols->flags)))
        return EZSHM_ERR_INVAL;
    uint8_t *h = dst;
    memset(h, 0, CONSOLE_FRAME_HEADER_BYTES);
    s_u32(h + 0, CONSOLE_FRAME_MAGIC);
    s_u16(h + 4, CONSOLE_FRAME_VERSION);
    s_u16(h + 6, CONSOLE_FRAME_KIND_COLUMNS);
    s_u32(h + 8, CONSOLE_FRAME_HEADER_BYTES);
    uint32_t flags = ids->flags & ~(CONSOLE_FRAME_CLOCK | CONSOLE_FRAME_DELTA);
    s_u32(h + 12, flags | (cols->clock ? CONSOLE_FRAME_CLOCK : 0) | (ids->delta ? CONSOLE_FRAME_DELTA : 0));
    s_u32(h + 16, ids->subscription);
    s_u32(h + 20, ids->sequence);
    s_u32(h + 24, cols->generation);
    s_u32(h + 28, cols->rebuilds);
    s_u32(h + 32, cols->columns);
    s_u32(h + 36, cols->channels);
    s_u32(h + 40, cols->channel_first);
    s_u32(h + 44, cols->channels_total);
    s_f64(h + 48, cols->t0);
    s_f64(h + 56, cols->t1);
    s_f64(h + 64, cols->t_newest);
    s_u64(h + 72, (uint64_t) cols->first_column);
    s_u64(h + 80, cols->frames);
    s_u64(h + 88, cols->lost);
    s_u32(h + 96, sp.first);
    s_u32(h + 100, sp.n);
    uint8_t *p = dst + CONSOLE_FRAME_HEADER_BYTES;
    for (uint32_t ch = 0; ch < cols->channels; ch++)
        p = s_row(p, cols->min, cols, sp, ch);
    for (uint32_t ch = 0; ch < cols->channels; ch++)
        p = s_row(p, cols->max, cols, sp, ch);
    p = s_bitmap(p, cols, sp, CONSOLE_COLUMN_DATA, false);
    p = s_bitmap(p, cols, sp, CONSOLE_COLUMN_LOST, true);
    *len = (size_t) (p - dst);
    return EZSHM_OK;
}
