/*  ezshm_value.h — reading one element of a ring as a number or as text. */
#ifndef EZSHM_VALUE_H
#define EZSHM_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The element at p (dtype code c, native little-endian) as a double; complex: the modulus. */
double ezshm_value_to_double(char c, const void *p);

/*  Writes the element as CSV text: integers in decimal, bool as 0/1, floats with enough
    digits to round-trip (%.9g float32/float16, %.17g float64), complex as "re+imj".
    Returns the length written (snprintf semantics). */
int ezshm_value_format(char c, const void *p, char *buf, size_t size);

/*  Room for any ezshm_value_format_double() text and its NUL. */
#define EZSHM_DOUBLE_TEXT_SIZE 32

/*  Writes v as Python's json.dumps writes a float: repr's shortest digits that read back as
    the same double (positional for exponents -4..15, e.g. "3.0", "0.001", "1e-05",
    "1.5e+16"), and NaN, Infinity, -Infinity. Returns the length (snprintf semantics). */
int ezshm_value_format_double(double v, char *buf, size_t size);

/*  Reads text as a decimal number, the whole text: an optional sign, digits with an optional
    fraction ("2", "2.5", ".5", "5."), an optional exponent ("1e-3") — no whitespace,
    hexadecimal, inf, nan or empty text, so a command-line value means what it reads. True and
    *out set, or false (also for a value beyond a finite double). The CLIs' one number parser. */
bool ezshm_value_parse_double(const char *text, double *out);

/*  The same for a decimal integer (an optional sign, digits) that fits a long long. */
bool ezshm_value_parse_int(const char *text, long long *out);

/*  qsort's comparison of two doubles, ascending (NaN compares equal to everything: sort
    finite values). */
int ezshm_value_compare_double(const void *a, const void *b);

#ifdef __cplusplus
}
#endif
#endif
