/*  json_tolerant.h — JSON parsing that tells "non-finite number" apart from "not JSON".

    Python's json module writes NaN, Infinity and -Infinity as bare tokens, which strict
    parsers (cJSON included) reject as a syntax error. A peer that sends
    {"buf_dur": NaN} deserves "buf_dur must be finite", not "bad JSON", so this parser
    accepts those three tokens outside strings and yields numbers whose valuedouble is
    NAN / +INFINITY / -INFINITY. Everything else is parsed by cJSON unchanged.

    A "\u0000" escape inside a string would silently truncate cJSON's C string; it is
    decoded as the byte 0xFF instead, so ezshm_utf8_valid() rejects the string.
*/
#ifndef EZSHM_JSON_TOLERANT_H
#define EZSHM_JSON_TOLERANT_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Parses text[0..len) (need not be NUL-terminated) as one JSON value. Returns the tree
    (free with cJSON_Delete) or NULL with a one-line reason in err: a NUL byte, out of
    memory, or the byte offset (in the original text) where cJSON stopped. */
cJSON *json_parse_tolerant(const char *text, size_t len, char *err, size_t errlen);

/*  Copies s into buf for quoting in a message: cut at a character boundary with
    "..." if longer than buflen - 1 bytes (buflen >= 8), or "<not UTF-8>" if s is not
    UTF-8, so that the message stays valid in a JSON reply. */
void json_excerpt(const char *s, char *buf, size_t buflen);

/*  Writes v the way Python's json module does (NaN, Infinity, -Infinity, else repr's
    shortest digits that round-trip: ezshm_value_format_double) into buf; integral values
    below 2^53 as integers ("3", not "3.0"), as counters, shapes and byte counts are. */
void json_format_number(double v, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
