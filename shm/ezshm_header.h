/*  ezshm_header.h — the header segment, byte for byte as ezmsg-tools' ShmemArrMeta.

    Two layouts, both packed (no padding), native little-endian:
      legacy (ezmsg-tools <= 0.3.x, our default)   1318 bytes, the fields below at offset 0
      v1     (ezmsg-tools >= 0.4)                  1334 bytes: magic u32 0x455A4D53, struct_version
             u32 = 1, the same fields at offset 8, then meta_generation u32, aux_nbytes u32
    The header segment is exactly the header size; the ring segment is exactly
    shape[0] * prod(shape[1:ndim]) * itemsize bytes, frames first, C order.
    See docs/shm-layout.md for the publication protocol.
*/
#ifndef EZSHM_HEADER_H
#define EZSHM_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EZSHM_MAX_NDIM 64
#define EZSHM_MAX_KEYLEN 1024
#define EZSHM_V1_MAGIC 0x455A4D53u          /* "SMZE" in memory */
#define EZSHM_V1_STRUCT_VERSION 1u
#define EZSHM_GENERATION_NONE 0xFFFFFFFFu   /* placeholder: the first ring is generation 0 */

typedef enum {
    EZSHM_LAYOUT_LEGACY = 0,
    EZSHM_LAYOUT_V1 = 1
} ezshm_layout_t;

/*  The fields common to both layouts (ShmemArrMeta without v1's prefix and suffix). */
typedef struct __attribute__((packed)) {
    uint8_t  bvalid;                      /* 0 while the ring is being (re)built        */
    char     dtype;                       /* numpy dtype.char                           */
    double   srate;                       /* 1/gain, 0.0 for a coordinate time axis     */
    uint32_t ndim;                        /* 1 + frame dims                             */
    uint32_t shape[EZSHM_MAX_NDIM];       /* shape[0] = ring length in frames           */
    uint32_t buffer_generation;           /* names the ring segment                     */
    uint64_t wrap_counter;                /* completed laps                             */
    uint8_t  key[EZSHM_MAX_KEYLEN];       /* UTF-8, key_len bytes valid                 */
    uint32_t key_len;
    uint64_t write_index;                 /* next slot to write, in [0, shape[0])       */
} ezshm_meta_t;

typedef struct __attribute__((packed)) {
    uint32_t     magic;
    uint32_t     struct_version;
    ezshm_meta_t meta;
    uint32_t     meta_generation;         /* 0: no aux blob (we never write one)        */
    uint32_t     aux_nbytes;
} ezshm_header_v1_t;

/*  Size of the header segment for a layout. */
size_t ezshm_header_size(ezshm_layout_t layout);

/*  Name of a layout ("legacy" / "v1"); parse the name back (EZSHM_ERR_INVAL if unknown). */
const char *ezshm_layout_name(ezshm_layout_t layout);
int ezshm_layout_parse(const char *name, ezshm_layout_t *layout);

/*  The common fields inside a mapped header of the given layout. */
ezshm_meta_t *ezshm_header_meta(void *base, ezshm_layout_t layout);

/*  Writes the placeholder header of a freshly created segment: bvalid 0, dtype 0, srate 0,
    ndim 0, shape 0, generation 0xFFFFFFFF, counters 0, key empty (v1: magic, version 1,
    meta_generation 0, aux_nbytes 0). Byte-identical to what ShMemCircBuff writes. */
void ezshm_header_init(void *base, ezshm_layout_t layout);

/*  Which layout the bytes hold: v1 when they start with the magic and struct_version 1,
    legacy when byte 0 is a bool (0 or 1). size must cover the detected layout.
    Returns EZSHM_OK or EZSHM_ERR_HEADER. */
int ezshm_header_detect(const void *base, size_t size, ezshm_layout_t *layout);

/*  Checks a snapshot of a valid (bvalid 1) header: ndim 1..64, known dtype, non-zero shape,
    key_len <= 1024, write_index <= shape[0], and a ring size that fits 64 bits.
    On success *frame_bytes and *ring_bytes are set. Returns EZSHM_OK, EZSHM_ERR_HEADER or
    EZSHM_ERR_DTYPE. */
int ezshm_header_validate(const ezshm_meta_t *meta, uint64_t *frame_bytes, uint64_t *ring_bytes);

/*  Publication protocol (see docs/shm-layout.md): the writer stores the frames, then a
    release fence, then write_index, then wrap_counter. The reader loads wrap_counter,
    write_index, wrap_counter, write_index and accepts only two equal pairs, then an acquire
    fence before it touches the frames. */
void ezshm_header_publish(ezshm_meta_t *meta, uint64_t write_index, uint64_t wrap_counter);

/*  One consistent (write_index, wrap_counter) pair, or false after too many retries. */
bool ezshm_header_position(const ezshm_meta_t *meta, uint64_t *write_index, uint64_t *wrap_counter);

/*  bvalid and buffer_generation, read with acquire semantics. */
bool ezshm_header_valid(const ezshm_meta_t *meta);
uint32_t ezshm_header_generation(const ezshm_meta_t *meta);

/*  Stores bvalid with release semantics (after every other field when setting it to 1). */
void ezshm_header_set_valid(ezshm_meta_t *meta, bool valid);

#ifdef __cplusplus
}
#endif
#endif
