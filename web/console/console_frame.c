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

/*  Channel ch's row of a ring of slots, oldest column first: two copies around the wrap. */
static uint8_t *
s_row(uint8_t *p, const float *ring, const console_columns_t *c, uint32_t ch)
{
    const float *row = ring + (size_t) ch * c->columns;
    size_t tail = c->columns - c->start;
    memcpy(p, row + c->start, tail * sizeof(float));
    memcpy(p + tail * sizeof(float), row, (size_t) c->start * sizeof(float));
    return p + (size_t) c->columns * sizeof(float);
}

/*  Bit k (byte k/8, least significant bit first) set when column k has flag bit (when_set)
    or lacks it (!when_set): the gap bitmap is the columns without CONSOLE_COLUMN_DATA, the
    lost bitmap those with CONSOLE_COLUMN_LOST. */
static uint8_t *
s_bitmap(uint8_t *p, const console_columns_t *c, uint8_t bit, bool when_set)
{
    size_t bytes = ((size_t) c->columns + 7) / 8;
    memset(p, 0, bytes);
    for (uint32_t k = 0; k < c->columns; k++)
        if (!!(c->flags[(c->start + k) % c->columns] & bit) == when_set)
            p[k / 8] |= (uint8_t) (1u << (k % 8));
    return p + bytes;
}

size_t
console_frame_size(const console_columns_t *cols)
{
    if (!cols)
        return 0;
    size_t cells = (size_t) cols->channels * cols->columns;
    return CONSOLE_FRAME_HEADER_BYTES + 8 * cells + 2 * (((size_t) cols->columns + 7) / 8);
}

int
console_frame_encode(const console_columns_t *cols, const console_frame_ids_t *ids, uint8_t *dst,
                     size_t cap, size_t *len)
{
    if (!cols || !ids || !dst || !len)
        return EZSHM_ERR_INVAL;
    size_t need = console_frame_size(cols);
    if (cap < need || (cols->columns && (!cols->min || !cols->max || !cols->flags)))
        return EZSHM_ERR_INVAL;
    uint8_t *h = dst;
    memset(h, 0, CONSOLE_FRAME_HEADER_BYTES);
    s_u32(h + 0, CONSOLE_FRAME_MAGIC);
    s_u16(h + 4, CONSOLE_FRAME_VERSION);
    s_u16(h + 6, CONSOLE_FRAME_KIND_COLUMNS);
    s_u32(h + 8, CONSOLE_FRAME_HEADER_BYTES);
    s_u32(h + 12, (ids->flags & ~CONSOLE_FRAME_CLOCK) | (cols->clock ? CONSOLE_FRAME_CLOCK : 0));
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
    uint8_t *p = dst + CONSOLE_FRAME_HEADER_BYTES;
    for (uint32_t ch = 0; ch < cols->channels; ch++)
        p = s_row(p, cols->min, cols, ch);
    for (uint32_t ch = 0; ch < cols->channels; ch++)
        p = s_row(p, cols->max, cols, ch);
    p = s_bitmap(p, cols, CONSOLE_COLUMN_DATA, false);
    p = s_bitmap(p, cols, CONSOLE_COLUMN_LOST, true);
    *len = (size_t) (p - dst);
    return EZSHM_OK;
}
