/*  json_relaxed.h — a small validating JSON parser for the wire decoder.

    Why not cJSON: Python's json.dumps writes the bare tokens NaN, Infinity and -Infinity,
    which cJSON rejects; cJSON also mallocs every node and copies every string (the base64
    payload included), which costs more than the rest of a decode. This parser accepts
    those three tokens as numbers, builds its tree in one grow-only node array, and refers
    to strings and numbers as byte spans of the source text, so the decoder can hand the
    base64 span straight to the base64 decoder and can remember where a number sits (the
    native header cache re-reads only those spans).

    Everything else is strict RFC 8259: no comments, no trailing commas, no single quotes,
    one value per document, nesting limited to JR_MAX_DEPTH. Strings are not checked for
    valid UTF-8 (they are bytes to us).

    A jr_doc_t is reused across parses; nodes are valid until the next jr_parse.
*/
#ifndef EZSHM_JSON_RELAXED_H
#define EZSHM_JSON_RELAXED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JR_MAX_DEPTH 64

typedef enum {
    JR_NULL, JR_FALSE, JR_TRUE, JR_NUMBER, JR_STRING, JR_ARRAY, JR_OBJECT
} jr_type_t;

/*  One value. Spans are byte offsets into the parsed text, [start, end).
    A string's span is its content without the quotes, still escaped when `escaped`.
    A number's span is its token (so `-Infinity` spans 9 bytes). */
typedef struct {
    uint8_t type;            /* jr_type_t */
    uint8_t escaped;         /* string value contains a backslash escape */
    uint8_t key_escaped;     /* object member key contains a backslash escape */
    uint32_t start, end;
    uint32_t key_start, key_end;  /* key span of an object member, else 0, 0 */
    uint32_t child;          /* first element/member, 0 = none (node 0 is the root) */
    uint32_t next;           /* next sibling, 0 = none */
    uint32_t count;          /* number of elements/members */
} jr_node_t;

typedef struct _jr_doc_t jr_doc_t;

jr_doc_t *jr_doc_new(void);
void jr_doc_destroy(jr_doc_t **self_p);

/*  Parses text[0..len) (no NUL needed). Returns 0, or -1 for invalid JSON, -2 when out of
    memory. After -1, jr_doc_error() says what and where. */
int jr_parse(jr_doc_t *self, const char *text, size_t len);

/*  The last error as "expected ':' at byte 17"; "" when none. */
const char *jr_doc_error(const jr_doc_t *self);

/*  The root value of the last successful parse. */
const jr_node_t *jr_root(const jr_doc_t *self);

/*  First child and next sibling of a node, NULL at the end. */
const jr_node_t *jr_first(const jr_doc_t *self, const jr_node_t *node);
const jr_node_t *jr_next(const jr_doc_t *self, const jr_node_t *node);

/*  The member of object obj whose key equals key (the last one when repeated, as Python
    does), or NULL. NULL obj or a non-object obj gives NULL. */
const jr_node_t *jr_member(const jr_doc_t *self, const jr_node_t *obj, const char *key);

/*  True when the member key of node equals key. */
bool jr_key_is(const jr_doc_t *self, const jr_node_t *node, const char *key);

/*  The value of a number node; NaN/Infinity tokens give NAN/±INFINITY. */
double jr_number(const jr_doc_t *self, const jr_node_t *node);

/*  Reads an integer number token (no fraction, no exponent) in [0, UINT64_MAX] into *value.
    Returns false for anything else. */
bool jr_uint64(const jr_doc_t *self, const jr_node_t *node, uint64_t *value);

/*  The raw (possibly escaped) bytes of a string node and their length. */
const char *jr_raw(const jr_doc_t *self, const jr_node_t *node, size_t *len);

/*  Writes the unescaped content of string node into dst, which must hold at least
    (node->end - node->start + 1) bytes, NUL-terminates it, and returns its length.
    \u escapes become UTF-8; lone surrogates become U+FFFD. */
size_t jr_string(const jr_doc_t *self, const jr_node_t *node, char *dst);

/*  jr_string, except that an escaped lone surrogate (text a Python str holds but UTF-8
    cannot) is written as CPython's 'surrogatepass' bytes, as pickle writes that str. */
size_t jr_string_surrogatepass(const jr_doc_t *self, const jr_node_t *node, char *dst);

/*  Scans one number token (JSON grammar plus NaN, Infinity, -Infinity) at text[pos..len).
    On success sets *end to the first byte after it and *value, and returns true. Used by
    the parser and by the native header cache to re-read a number in a changed header. */
bool jr_scan_number(const char *text, size_t len, size_t pos, size_t *end, double *value);

#ifdef __cplusplus
}
#endif
#endif
