/*  ezshm_header.c — layouts, placeholders, detection, validation, and the counters'
    publication protocol. */
#include "ezshm_header.h"
#include "ezshm_dtype.h"
#include "ezshm_error.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>

/*  The offsets are the contract with ezmsg-tools (tests/fixtures/shm-header-layout.json). */
_Static_assert(offsetof(ezshm_meta_t, bvalid) == 0, "bvalid @0");
_Static_assert(offsetof(ezshm_meta_t, dtype) == 1, "dtype @1");
_Static_assert(offsetof(ezshm_meta_t, srate) == 2, "srate @2");
_Static_assert(offsetof(ezshm_meta_t, ndim) == 10, "ndim @10");
_Static_assert(offsetof(ezshm_meta_t, shape) == 14, "shape @14");
_Static_assert(offsetof(ezshm_meta_t, buffer_generation) == 270, "buffer_generation @270");
_Static_assert(offsetof(ezshm_meta_t, wrap_counter) == 274, "wrap_counter @274");
_Static_assert(offsetof(ezshm_meta_t, key) == 282, "key @282");
_Static_assert(offsetof(ezshm_meta_t, key_len) == 1306, "key_len @1306");
_Static_assert(offsetof(ezshm_meta_t, write_index) == 1310, "write_index @1310");
_Static_assert(sizeof(ezshm_meta_t) == 1318, "legacy header is 1318 bytes");
_Static_assert(offsetof(ezshm_header_v1_t, magic) == 0, "magic @0");
_Static_assert(offsetof(ezshm_header_v1_t, struct_version) == 4, "struct_version @4");
_Static_assert(offsetof(ezshm_header_v1_t, meta) == 8, "v1 fields @8");
_Static_assert(offsetof(ezshm_header_v1_t, meta) + offsetof(ezshm_meta_t, write_index) == 1318,
               "v1 write_index @1318");
_Static_assert(offsetof(ezshm_header_v1_t, meta_generation) == 1326, "meta_generation @1326");
_Static_assert(offsetof(ezshm_header_v1_t, aux_nbytes) == 1330, "aux_nbytes @1330");
_Static_assert(sizeof(ezshm_header_v1_t) == 1334, "v1 header is 1334 bytes");

/*  The counters sit at odd offsets, so C11 atomics can't be used on them. A volatile access
    through a packed struct is one unaligned mov on x86-64 (single-copy atomic inside a cache
    line, which both counters are in both layouts); the fences order it against the frames. */
typedef struct __attribute__((packed)) { uint64_t v; } unaligned_u64_t;
typedef struct __attribute__((packed)) { uint32_t v; } unaligned_u32_t;

#define FIELD(meta, name) ((const char *) (meta) + offsetof(ezshm_meta_t, name))

static uint64_t
s_load_u64(const void *p)
{
    return ((const volatile unaligned_u64_t *) p)->v;
}

static void
s_store_u64(void *p, uint64_t v)
{
    ((volatile unaligned_u64_t *) p)->v = v;
}

size_t
ezshm_header_size(ezshm_layout_t layout)
{
    return layout == EZSHM_LAYOUT_V1 ? sizeof(ezshm_header_v1_t) : sizeof(ezshm_meta_t);
}

const char *
ezshm_layout_name(ezshm_layout_t layout)
{
    return layout == EZSHM_LAYOUT_V1 ? "v1" : "legacy";
}

int
ezshm_layout_parse(const char *name, ezshm_layout_t *layout)
{
    if (!name || !layout)
        return EZSHM_ERR_INVAL;
    if (strcmp(name, "legacy") == 0)
        *layout = EZSHM_LAYOUT_LEGACY;
    else if (strcmp(name, "v1") == 0)
        *layout = EZSHM_LAYOUT_V1;
    else
        return EZSHM_ERR_INVAL;
    return EZSHM_OK;
}

ezshm_meta_t *
ezshm_header_meta(void *base, ezshm_layout_t layout)
{
    return layout == EZSHM_LAYOUT_V1 ? &((ezshm_header_v1_t *) base)->meta : (ezshm_meta_t *) base;
}

void
ezshm_header_init(void *base, ezshm_layout_t layout)
{
    memset(base, 0, ezshm_header_size(layout));
    ezshm_header_meta(base, layout)->buffer_generation = EZSHM_GENERATION_NONE;
    if (layout == EZSHM_LAYOUT_V1) {
        /*  Readers may map the segment while we fill it: the magic goes last, so whoever
            sees it sees a complete v1 placeholder. */
        ezshm_header_v1_t *h = base;
        h->struct_version = EZSHM_V1_STRUCT_VERSION;
        atomic_thread_fence(memory_order_release);
        *(volatile uint32_t *) &h->magic = EZSHM_V1_MAGIC;
    }
}

int
ezshm_header_detect(const void *base, size_t size, ezshm_layout_t *layout)
{
    if (!base || !layout)
        return EZSHM_ERR_INVAL;
    uint32_t magic = 0, version = 0;
    if (size >= 8) {
        memcpy(&magic, base, 4);
        memcpy(&version, (const char *) base + 4, 4);
    }
    if (magic == EZSHM_V1_MAGIC) {
        if (version != EZSHM_V1_STRUCT_VERSION || size < sizeof(ezshm_header_v1_t))
            return EZSHM_ERR_HEADER;
        *layout = EZSHM_LAYOUT_V1;
        return EZSHM_OK;
    }
    if (size < sizeof(ezshm_meta_t) || *(const uint8_t *) base > 1)
        return EZSHM_ERR_HEADER;
    *layout = EZSHM_LAYOUT_LEGACY;
    return EZSHM_OK;
}

int
ezshm_header_validate(const ezshm_meta_t *meta, uint64_t *frame_bytes, uint64_t *ring_bytes)
{
    if (!meta)
        return EZSHM_ERR_INVAL;
    uint32_t ndim = meta->ndim;
    if (ndim < 1 || ndim > EZSHM_MAX_NDIM)
        return EZSHM_ERR_HEADER;
    size_t itemsize = ezshm_dtype_itemsize(meta->dtype);
    if (!itemsize)
        return EZSHM_ERR_DTYPE;
    if (meta->key_len > EZSHM_MAX_KEYLEN)
        return EZSHM_ERR_HEADER;
    uint64_t frame = itemsize;
    for (uint32_t d = 1; d < ndim; d++) {
        uint32_t extent = meta->shape[d];
        if (extent == 0 || __builtin_mul_overflow(frame, (uint64_t) extent, &frame))
            return EZSHM_ERR_HEADER;
    }
    uint64_t frames = meta->shape[0], ring;
    if (frames == 0 || __builtin_mul_overflow(frame, frames, &ring) || ring > (uint64_t) SIZE_MAX / 2)
        return EZSHM_ERR_HEADER;
    /*  ShMemCircBuff itself may leave write_index == shape[0] (full, not yet wrapped). */
    if (s_load_u64(FIELD(meta, write_index)) > frames)
        return EZSHM_ERR_HEADER;
    if (frame_bytes)
        *frame_bytes = frame;
    if (ring_bytes)
        *ring_bytes = ring;
    return EZSHM_OK;
}

void
ezshm_header_publish(ezshm_meta_t *meta, uint64_t write_index, uint64_t wrap_counter)
{
    /*  write_index before wrap_counter: a reader that catches the gap between the two stores
        sees a position one lap *behind* the truth (never ahead of the written frames), and its
        monotonic check rejects it. */
    atomic_thread_fence(memory_order_release);
    s_store_u64((char *) FIELD(meta, write_index), write_index);
    atomic_thread_fence(memory_order_release);   /* index before wrap, on weakly ordered CPUs too */
    s_store_u64((char *) FIELD(meta, wrap_counter), wrap_counter);
}

bool
ezshm_header_position(const ezshm_meta_t *meta, uint64_t *write_index, uint64_t *wrap_counter)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint64_t w1 = s_load_u64(FIELD(meta, wrap_counter));
        atomic_thread_fence(memory_order_acquire);
        uint64_t i1 = s_load_u64(FIELD(meta, write_index));
        atomic_thread_fence(memory_order_acquire);
        uint64_t w2 = s_load_u64(FIELD(meta, wrap_counter));
        atomic_thread_fence(memory_order_acquire);
        uint64_t i2 = s_load_u64(FIELD(meta, write_index));
        if (w1 == w2 && i1 == i2) {
            atomic_thread_fence(memory_order_acquire);
            *write_index = i1;
            *wrap_counter = w1;
            return true;
        }
        if (attempt > 8)
            sched_yield();
    }
    return false;
}

bool
ezshm_header_valid(const ezshm_meta_t *meta)
{
    uint8_t v = *(const volatile uint8_t *) &meta->bvalid;
    atomic_thread_fence(memory_order_acquire);
    return v != 0;
}

uint32_t
ezshm_header_generation(const ezshm_meta_t *meta)
{
    uint32_t g = ((const volatile unaligned_u32_t *) FIELD(meta, buffer_generation))->v;
    atomic_thread_fence(memory_order_acquire);
    return g;
}

void
ezshm_header_set_valid(ezshm_meta_t *meta, bool valid)
{
    atomic_thread_fence(memory_order_release);
    *(volatile uint8_t *) &meta->bvalid = valid ? 1 : 0;
    atomic_thread_fence(memory_order_seq_cst);
}
