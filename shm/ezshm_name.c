/*  ezshm_name.c — hashed segment names (SHA-256 and base64 from libsodium). */
#include "ezshm_name.h"
#include "ezshm_error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
ezshm_shorten_name(const char *name, size_t len, char out[EZSHM_SHORT_NAME_SIZE])
{
    if (!name || !out)
        return EZSHM_ERR_INVAL;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *) name, len);

    /*  44 characters + NUL for 32 bytes; Python's urlsafe_b64encode uses the same alphabet
        (- and _) and we keep only the first 20, so padding never matters. */
    char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_URLSAFE)];
    sodium_bin2base64(b64, sizeof b64, digest, sizeof digest, sodium_base64_VARIANT_URLSAFE);
    memcpy(out, "sm_", 3);
    memcpy(out + 3, b64, EZSHM_SHORT_NAME_LEN - 3);
    out[EZSHM_SHORT_NAME_LEN] = '\0';
    return EZSHM_OK;
}

int
ezshm_header_segment_name(const char *name, char out[EZSHM_SHORT_NAME_SIZE])
{
    if (!name)
        return EZSHM_ERR_INVAL;
    return ezshm_shorten_name(name, strlen(name), out);
}

/*  short(name + suffix + decimal(gen)): the ring and the clock segment of a generation. */
static int
s_generation_name(const char *name, const char *suffix, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE])
{
    if (!name)
        return EZSHM_ERR_INVAL;
    size_t len = strlen(name) + strlen(suffix);
    char *full = malloc(len + 11);
    if (!full)
        return EZSHM_ERR_NOMEM;
    int n = sprintf(full, "%s%s%u", name, suffix, (unsigned) gen);
    int rc = ezshm_shorten_name(full, (size_t) n, out);
    free(full);
    return rc;
}

int
ezshm_ring_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE])
{
    return s_generation_name(name, "/buffer", gen, out);
}

int
ezshm_clock_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE])
{
    return s_generation_name(name, "/clock", gen, out);
}

int
ezshm_generate_name(char *out, size_t size)
{
    if (!out || size < 48)
        return EZSHM_ERR_INVAL;
    if (sodium_init() < 0)
        return EZSHM_ERR_SYS;
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    char hex[sizeof rnd * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(out, size, "ezshm-%ld-%s", (long) getpid(), hex);
    return EZSHM_OK;
}
