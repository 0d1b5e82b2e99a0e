/*  wire_header_cache.c — span-masked comparison of native headers. */
#include "wire_header_cache.h"
#include "json_relaxed.h"

#include <stdlib.h>
#include <string.h>

void
wire_header_cache_free(wire_header_cache_t *self)
{
    free(self->header);
    free(self->spans);
    memset(self, 0, sizeof *self);
}

void
wire_header_cache_reset(wire_header_cache_t *self)
{
    self->valid = false;
    self->nspans = 0;
}

int
wire_header_cache_add_span(wire_header_cache_t *self, size_t start, size_t end,
                           wire_span_kind_t kind, size_t axis)
{
    if (self->nspans == self->spans_cap) {
        size_t cap = self->spans_cap ? self->spans_cap * 2 : 8;
        wire_span_t *spans = (wire_span_t *) realloc(self->spans, cap * sizeof(wire_span_t));
        if (!spans)
            return -1;
        self->spans = spans;
        self->spans_cap = cap;
    }
    /*  Keep the spans sorted by position: the JSON key order is not fixed, so "ts" may
        follow "obj". Spans never overlap (they are distinct number tokens). */
    size_t i = self->nspans++;
    while (i > 0 && self->spans[i - 1].start > start) {
        self->spans[i] = self->spans[i - 1];
        i--;
    }
    self->spans[i] = (wire_span_t) {.start = start, .end = end, .kind = kind, .axis = axis};
    return 0;
}

int
wire_header_cache_store(wire_header_cache_t *self, const char *header, size_t len)
{
    if (len > self->cap) {
        char *copy = (char *) realloc(self->header, len);
        if (!copy) {
            self->valid = false;
            return -1;
        }
        self->header = copy;
        self->cap = len;
    }
    memcpy(self->header, header, len);
    self->len = len;
    self->valid = true;
    return 0;
}

static bool
s_digits_to_u64(const char *s, size_t len, uint64_t *value)
{
    uint64_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned) (s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *value = v;
    return true;
}

bool
wire_header_cache_match(wire_header_cache_t *self, const char *header, size_t len)
{
    if (!self->valid)
        return false;
    size_t old_pos = 0, pos = 0;
    for (size_t k = 0; k < self->nspans; k++) {
        wire_span_t *span = &self->spans[k];
        size_t fixed = span->start - old_pos;
        if (len - pos < fixed || memcmp(self->header + old_pos, header + pos, fixed) != 0)
            return false;
        pos += fixed;
        /*  jr_scan_number takes the longest valid token, and the cached byte after every
            span is a delimiter, so the comparison of the next fixed run catches any junk. */
        size_t end;
        if (!jr_scan_number(header, len, pos, &end, &span->value))
            return false;
        if (span->kind == WIRE_SPAN_SEQ && !s_digits_to_u64(header + pos, end - pos, &span->integer))
            return false;
        pos = end;
        old_pos = span->end;
    }
    size_t tail = self->len - old_pos;
    return len - pos == tail && memcmp(self->header + old_pos, header + pos, tail) == 0;
}
