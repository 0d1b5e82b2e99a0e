/*  wire_base64_kernels.h — the vectorised base64 block kernels behind wire_base64.c
    (internal to the wire codec).

    A kernel handles whole groups only (4 characters <-> 3 bytes, no padding) and as many
    of the n groups as its blocks cover without reading or writing past the n groups'
    characters and bytes; it returns how many groups it did, the caller's scalar code does
    the rest. A decode kernel also stops before the first block holding a character outside
    the alphabet, so the scalar code finds the error and every path gives the same verdict;
    a validate kernel does only that check.
*/
#ifndef EZSHM_WIRE_BASE64_KERNELS_H
#define EZSHM_WIRE_BASE64_KERNELS_H

#include <stddef.h>

typedef size_t (*wire_base64_decode_fn)(unsigned char *dst, const unsigned char *src, size_t n);
typedef size_t (*wire_base64_validate_fn)(const unsigned char *src, size_t n);
typedef size_t (*wire_base64_encode_fn)(char *dst, const unsigned char *src, size_t n);

#if defined(__x86_64__)
#define WIRE_BASE64_X86 1
size_t wire_base64_decode_ssse3(unsigned char *dst, const unsigned char *src, size_t n);
size_t wire_base64_decode_avx2(unsigned char *dst, const unsigned char *src, size_t n);
size_t wire_base64_validate_ssse3(const unsigned char *src, size_t n);
size_t wire_base64_validate_avx2(const unsigned char *src, size_t n);
size_t wire_base64_encode_ssse3(char *dst, const unsigned char *src, size_t n);
size_t wire_base64_encode_avx2(char *dst, const unsigned char *src, size_t n);
#endif

#endif
