/*  json_relaxed.c — recursive-descent JSON parser into a grow-only node array. */
#include "json_relaxed.h"
#include "ezshm_error.h"
#include "ezshm_utf8.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Longest number token accepted; Python never writes more than ~25 characters. */
#define JR_MAX_NUMBER 400

struct _jr_doc_t {
    const char *text;
    size_t len;
    jr_node_t *nodes;
    size_t count;
    size_t cap;
    bool out_of_memory;
    char error[96];
};

jr_doc_t *
jr_doc_new(void)
{
    return (jr_doc_t *) calloc(1, sizeof(jr_doc_t));
}

void
jr_doc_destroy(jr_doc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->nodes);
    free(*self_p);
    *self_p = NULL;
}

const char *
jr_doc_error(const jr_doc_t *self)
{
    return self->error;
}

/*  Returns the index of a fresh node, or 0 when out of memory (0 is the root, never fresh
    after the first call). */
static uint32_t
s_alloc(jr_doc_t *self, jr_type_t type, size_t start)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        jr_node_t *nodes = (jr_node_t *) realloc(self->nodes, cap * sizeof(jr_node_t));
        if (!nodes) {
            self->out_of_memory = true;
            return 0;
        }
        self->nodes = nodes;
        self->cap = cap;
    }
    jr_node_t *node = &self->nodes[self->count];
    memset(node, 0, sizeof *node);
    node->type = (uint8_t) type;
    node->start = (uint32_t) start;
    return (uint32_t) self->count++;
}

static size_t
s_skip_ws(const char *t, size_t n, size_t p)
{
    while (p < n && (t[p] == ' ' || t[p] == '\n' || t[p] == '\r' || t[p] == '\t'))
        p++;
    return p;
}

static bool
s_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*  True when byte c neither ends nor escapes a string and is not a control character. */
static inline bool
s_plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

#if defined(__x86_64__)
/*  Bytes equal to '"' or '\\', or <= 0x1F (saturated c - 0x1F is zero), as 0xFF. */
#define STOP16(v) _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),          \
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),        \
                               _mm_cmpeq_epi8(_mm_subs_epu8(v, _mm_set1_epi8(0x1F)),           \
                                              _mm_setzero_si128()))
#define STOP32(v) _mm256_or_si256(                                                             \
        _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),                          \
                        _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))),                        \
        _mm256_cmpeq_epi8(_mm256_subs_epu8(v, _mm256_set1_epi8(0x1F)), _mm256_setzero_si256()))

/*  Skips whole 64-byte blocks with no stop byte; the caller finds the stop in the next one. */
__attribute__((target("avx2"))) static size_t
s_skip_avx2(const char *t, size_t i, size_t n)
{
    for (; i + 64 <= n; i += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *) (t + i));
        __m256i b = _mm256_loadu_si256((const __m256i *) (t + i + 32));
        __m256i stop = _mm256_or_si256(STOP32(a), STOP32(b));
        if (!_mm256_testz_si256(stop, stop))
            break;
    }
    return i;
}
#endif

/*  The first byte at or after i that is not plain, or n. Base64 payloads are up to megabytes
    of plain bytes: on x86-64 AVX2 (where the CPU has it) steps 64 bytes a turn, SSE2 (every
    x86-64) 16 and finds the stop; elsewhere an 8-byte SWAR test does ("has byte" tests, each
    exact about whether such a byte exists; bytes >= 0x80 never match). Measured on a 1.3 MB
    string: ~40 GB/s, ~15 GB/s and ~4 GB/s (the SWAR loop used on x86-64 before). */
static size_t
s_plain_run(const char *t, size_t i, size_t n)
{
#if defined(__x86_64__)
    if (n - i >= 64 && __builtin_cpu_supports("avx2"))
        i = s_skip_avx2(t, i, n);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *) (t + i));
        int stop = _mm_movemask_epi8(STOP16(v));
        if (stop)
            return i + (size_t) __builtin_ctz((unsigned) stop);
    }
#else
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, t + i, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high)
            break;
    }
#endif
    while (i < n && s_plain((unsigned char) t[i]))
        i++;
    return i;
}

/*  Scans a string body starting after the opening quote; *p ends on the closing quote. */
static int
s_scan_string(jr_doc_t *self, size_t *p, uint8_t *escaped)
{
    const char *t = self->text;
    size_t n = self->len, i = *p;
    *escaped = 0;
    while (i < n) {
        i = s_plain_run(t, i, n);
        if (i >= n)
            break;
        unsigned char c = (unsigned char) t[i];
        if (c == '"') {
            *p = i;
            return 0;
        }
        if (c == '\\') {
            *escaped = 1;
            if (i + 1 >= n)
                break;
            char e = t[i + 1];
            if (e == 'u') {
                if (i + 6 > n || !s_is_hex(t[i + 2]) || !s_is_hex(t[i + 3])
                    || !s_is_hex(t[i + 4]) || !s_is_hex(t[i + 5]))
                    return ezshm_fail(self->error, sizeof self->error, -1, "bad \\u escape at byte %zu", i);
                i += 6;
                continue;
            }
            if (e == '\0' || !strchr("\"\\/bfnrt", e))
                return ezshm_fail(self->error, sizeof self->error, -1, "bad escape at byte %zu", i);
            i += 2;
            continue;
        }
        return ezshm_fail(self->error, sizeof self->error, -1, "control character in string at byte %zu", i);
    }
    return ezshm_fail(self->error, sizeof self->error, -1, "unterminated string at byte %zu", *p);
}

bool
jr_scan_number(const char *text, size_t len, size_t pos, size_t *end, double *value)
{
    size_t p = pos;
    if (len - pos >= 3 && memcmp(text + p, "NaN", 3) == 0) {
        *end = p + 3;
        *value = NAN;
        return true;
    }
    bool negative = false;
    if (p < len && text[p] == '-') {
        negative = true;
        p++;
    }
    if (len - p >= 8 && memcmp(text + p, "Infinity", 8) == 0) {
        *end = p + 8;
        *value = negative ? -INFINITY : INFINITY;
        return true;
    }
    size_t digits_start = p;
    if (p < len && text[p] == '0')
        p++;
    else if (p < len && text[p] >= '1' && text[p] <= '9') {
        while (p < len && text[p] >= '0' && text[p] <= '9')
            p++;
    }
    else
        return false;
    bool integral = true;
    if (p < len && text[p] == '.') {
        integral = false;
        p++;
        size_t frac = p;
        while (p < len && text[p] >= '0' && text[p] <= '9')
            p++;
        if (p == frac)
            return false;
    }
    if (p < len && (text[p] == 'e' || text[p] == 'E')) {
        integral = false;
        p++;
        if (p < len && (text[p] == '+' || text[p] == '-'))
            p++;
        size_t exp = p;
        while (p < len && text[p] >= '0' && text[p] <= '9')
            p++;
        if (p == exp)
            return false;
    }
    size_t token = p - pos;
    if (token > JR_MAX_NUMBER)
        return false;
    /*  Small integers (shapes, seq) are the common case and need no strtod. */
    if (integral && p - digits_start <= 15) {
        double v = 0;
        for (size_t i = digits_start; i < p; i++)
            v = v * 10 + (text[i] - '0');
        *value = negative ? -v : v;
    }
    else {
        char buf[JR_MAX_NUMBER + 1];
        memcpy(buf, text + pos, token);
        buf[token] = '\0';
        *value = strtod(buf, NULL);
    }
    *end = p;
    return true;
}

static int s_value(jr_doc_t *self, size_t *p, unsigned depth, uint32_t *out);

static int
s_container(jr_doc_t *self, size_t *p, unsigned depth, uint32_t index, bool object)
{
    const char *t = self->text;
    size_t n = self->len;
    char close = object ? '}' : ']';
    size_t i = s_skip_ws(t, n, *p + 1);
    if (i < n && t[i] == close) {
        self->nodes[index].end = (uint32_t) (i + 1);
        *p = i + 1;
        return 0;
    }
    uint32_t prev = 0;
    while (true) {
        size_t key_start = 0, key_end = 0;
        uint8_t key_escaped = 0;
        if (object) {
            if (i >= n || t[i] != '"')
                return ezshm_fail(self->error, sizeof self->error, -1, "expected a key string at byte %zu", i);
            key_start = ++i;
            if (s_scan_string(self, &i, &key_escaped))
                return -1;
            key_end = i;
            i = s_skip_ws(t, n, i + 1);
            if (i >= n || t[i] != ':')
                return ezshm_fail(self->error, sizeof self->error, -1, "expected ':' at byte %zu", i);
            i = s_skip_ws(t, n, i + 1);
        }
        uint32_t child;
        if (s_value(self, &i, depth + 1, &child))
            return -1;
        jr_node_t *node = &self->nodes[child];
        node->key_start = (uint32_t) key_start;
        node->key_end = (uint32_t) key_end;
        node->key_escaped = key_escaped;
        if (prev)
            self->nodes[prev].next = child;
        else
            self->nodes[index].child = child;
        self->nodes[index].count++;
        prev = child;
        i = s_skip_ws(t, n, i);
        if (i < n && t[i] == ',') {
            i = s_skip_ws(t, n, i + 1);
            continue;
        }
        if (i < n && t[i] == close)
            break;
        return ezshm_fail(self->error, sizeof self->error, -1,
                          object ? "expected ',' or '}' at byte %zu" : "expected ',' or ']' at byte %zu", i);
    }
    self->nodes[index].end = (uint32_t) (i + 1);
    *p = i + 1;
    return 0;
}

static bool
s_literal(const jr_doc_t *self, size_t p, const char *word, size_t wlen)
{
    return self->len - p >= wlen && memcmp(self->text + p, word, wlen) == 0;
}

static int
s_value(jr_doc_t *self, size_t *p, unsigned depth, uint32_t *out)
{
    const char *t = self->text;
    size_t i = *p;
    if (depth > JR_MAX_DEPTH)
        return ezshm_fail(self->error, sizeof self->error, -1, "nesting too deep at byte %zu", i);
    if (i >= self->len)
        return ezshm_fail(self->error, sizeof self->error, -1, "unexpected end at byte %zu", i);
    char c = t[i];
    jr_type_t type;
    if (c == '{')
        type = JR_OBJECT;
    else if (c == '[')
        type = JR_ARRAY;
    else if (c == '"')
        type = JR_STRING;
    else if (c == 't')
        type = JR_TRUE;
    else if (c == 'f')
        type = JR_FALSE;
    else if (c == 'n')
        type = JR_NULL;
    else
        type = JR_NUMBER;
    uint32_t index = s_alloc(self, type, i);
    if (self->out_of_memory)
        return -1;
    *out = index;
    switch (type) {
        case JR_OBJECT:
        case JR_ARRAY:
            return s_container(self, p, depth, index, type == JR_OBJECT);
        case JR_STRING: {
            uint8_t escaped;
            size_t j = i + 1;
            if (s_scan_string(self, &j, &escaped))
                return -1;
            self->nodes[index].start = (uint32_t) (i + 1);
            self->nodes[index].end = (uint32_t) j;
            self->nodes[index].escaped = escaped;
            *p = j + 1;
            return 0;
        }
        case JR_TRUE:
        case JR_FALSE:
        case JR_NULL: {
            const char *word = type == JR_TRUE ? "true" : type == JR_FALSE ? "false" : "null";
            size_t wlen = strlen(word);
            if (!s_literal(self, i, word, wlen))
                return ezshm_fail(self->error, sizeof self->error, -1, "invalid literal at byte %zu", i);
            self->nodes[index].end = (uint32_t) (i + wlen);
            *p = i + wlen;
            return 0;
        }
        case JR_NUMBER: {
            size_t end;
            double value;
            if (!jr_scan_number(t, self->len, i, &end, &value))
                return ezshm_fail(self->error, sizeof self->error, -1, "invalid value at byte %zu", i);
            self->nodes[index].end = (uint32_t) end;
            *p = end;
            return 0;
        }
    }
    return ezshm_fail(self->error, sizeof self->error, -1, "invalid value at byte %zu", i);
}

int
jr_parse(jr_doc_t *self, const char *text, size_t len)
{
    self->text = text;
    self->len = len;
    self->count = 0;
    self->out_of_memory = false;
    self->error[0] = '\0';
    /*  Spans are 32-bit; a frame that large is far beyond any sane message. */
    if (len >= UINT32_MAX)
        return ezshm_fail(self->error, sizeof self->error, -1, "document too large at byte %zu", (size_t) 0);
    size_t p = s_skip_ws(text, len, 0);
    uint32_t root;
    if (s_value(self, &p, 0, &root)) {
        if (self->out_of_memory) {
            snprintf(self->error, sizeof self->error, "out of memory");
            return -2;
        }
        return -1;
    }
    p = s_skip_ws(text, len, p);
    if (p != len)
        return ezshm_fail(self->error, sizeof self->error, -1, "trailing characters at byte %zu", p);
    return 0;
}

const jr_node_t *
jr_root(const jr_doc_t *self)
{
    return self->count ? &self->nodes[0] : NULL;
}

const jr_node_t *
jr_first(const jr_doc_t *self, const jr_node_t *node)
{
    return node && node->child ? &self->nodes[node->child] : NULL;
}

const jr_node_t *
jr_next(const jr_doc_t *self, const jr_node_t *node)
{
    return node && node->next ? &self->nodes[node->next] : NULL;
}

/*  The value of four hex digits (already validated by the scanner). */
static uint32_t
s_hex4(const char *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (uint32_t) (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/*  Unescapes src[0..len) into dst (at least len + 1 bytes); returns the length. A lone
    surrogate becomes U+FFFD, or with pass its surrogatepass bytes. */
static size_t
s_unescape(const char *src, size_t len, char *dst, bool pass)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (src[i] != '\\') {
            dst[o++] = src[i++];
            continue;
        }
        char e = src[i + 1];
        i += 2;
        if (e != 'u') {
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            dst[o++] = to[strchr(from, e) - from];
            continue;
        }
        uint32_t cp = s_hex4(src + i);
        i += 4;
        /*  A high surrogate followed by an escaped low surrogate is one code point. */
        if (cp >= 0xD800u && cp <= 0xDBFFu && i + 6 <= len && src[i] == '\\' && src[i + 1] == 'u') {
            uint32_t low = s_hex4(src + i + 2);
            if (low >= 0xDC00u && low <= 0xDFFFu) {
                cp = 0x10000u + ((cp - 0xD800u) << 10) + (low - 0xDC00u);
                i += 6;
            }
        }
        o += pass ? ezshm_utf8_put_surrogatepass(dst + o, cp) : ezshm_utf8_put(dst + o, cp);
    }
    dst[o] = '\0';
    return o;
}

bool
jr_key_is(const jr_doc_t *self, const jr_node_t *node, const char *key)
{
    size_t klen = strlen(key);
    size_t raw = node->key_end - node->key_start;
    const char *src = self->text + node->key_start;
    if (!node->key_escaped)
        return raw == klen && memcmp(src, key, klen) == 0;
    /*  An escaped key can only match when it is short; the keys we look up are. */
    char buf[128];
    if (raw >= sizeof buf)
        return false;
    size_t n = s_unescape(src, raw, buf, false);
    return n == klen && memcmp(buf, key, klen) == 0;
}

const jr_node_t *
jr_member(const jr_doc_t *self, const jr_node_t *obj, const char *key)
{
    if (!obj || obj->type != JR_OBJECT)
        return NULL;
    const jr_node_t *found = NULL;
    for (const jr_node_t *m = jr_first(self, obj); m; m = jr_next(self, m))
        if (jr_key_is(self, m, key))
            found = m;
    return found;
}

double
jr_number(const jr_doc_t *self, const jr_node_t *node)
{
    size_t end;
    double value = NAN;
    jr_scan_number(self->text, node->end, node->start, &end, &value);
    return value;
}

bool
jr_uint64(const jr_doc_t *self, const jr_node_t *node, uint64_t *value)
{
    if (node->type != JR_NUMBER || node->end == node->start)
        return false;
    uint64_t v = 0;
    for (uint32_t i = node->start; i < node->end; i++) {
        char c = self->text[i];
        if (c < '0' || c > '9')
            return false;
        unsigned d = (unsigned) (c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *value = v;
    return true;
}

const char *
jr_raw(const jr_doc_t *self, const jr_node_t *node, size_t *len)
{
    *len = node->end - node->start;
    return self->text + node->start;
}

static size_t
s_text(const jr_doc_t *self, const jr_node_t *node, char *dst, bool pass)
{
    size_t len = node->end - node->start;
    if (!node->escaped) {
        memcpy(dst, self->text + node->start, len);
        dst[len] = '\0';
        return len;
    }
    return s_unescape(self->text + node->start, len, dst, pass);
}

size_t
jr_string(const jr_doc_t *self, const jr_node_t *node, char *dst)
{
    return s_text(self, node, dst, false);
}

size_t
jr_string_surrogatepass(const jr_doc_t *self, const jr_node_t *node, char *dst)
{
    return s_text(self, node, dst, true);
}
