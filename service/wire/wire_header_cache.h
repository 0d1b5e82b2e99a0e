/*  wire_header_cache.h — recognise a native header that differs from the previous one only
    in its volatile numbers (internal to the wire decoder).

    A native stream sends the same header over and over; only "ts", "seq" and the time
    axis "offset" change. After a full parse the decoder records where those number tokens
    sit (spans) and keeps a copy of the header bytes. The next header matches when every
    byte outside the spans is equal and every span holds a valid number token; the
    decoder then only stores the new numbers. Anything else is a miss and a full parse.
*/
#ifndef EZSHM_WIRE_HEADER_CACHE_H
#define EZSHM_WIRE_HEADER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    WIRE_SPAN_TS,        /* the payload's "ts" */
    WIRE_SPAN_SEQ,       /* "seq": must stay a non-negative integer */
    WIRE_SPAN_OFFSET     /* "offset" of LinearAxis number `axis` */
} wire_span_kind_t;

typedef struct {
    size_t start, end;   /* token span in the cached header */
    wire_span_kind_t kind;
    size_t axis;
    double value;        /* filled by a match */
    uint64_t integer;    /* WIRE_SPAN_SEQ: filled by a match */
} wire_span_t;

typedef struct {
    bool valid;
    char *header;
    size_t len, cap;
    wire_span_t *spans;
    size_t nspans, spans_cap;
} wire_header_cache_t;

/*  Frees the buffers; the struct may be zeroed again for reuse. */
void wire_header_cache_free(wire_header_cache_t *self);

/*  Forgets the cached header and its spans (before a full parse). */
void wire_header_cache_reset(wire_header_cache_t *self);

/*  Records a volatile number span of the header being parsed; -1 when out of memory. */
int wire_header_cache_add_span(wire_header_cache_t *self, size_t start, size_t end,
                               wire_span_kind_t kind, size_t axis);

/*  Keeps a copy of the fully parsed header and makes the cache valid; -1 when out of memory. */
int wire_header_cache_store(wire_header_cache_t *self, const char *header, size_t len);

/*  True when header matches the cached one outside the spans; then every span's value (and
    integer, for seq) holds the new number. */
bool wire_header_cache_match(wire_header_cache_t *self, const char *header, size_t len);

#ifdef __cplusplus
}
#endif
#endif
