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
ezshm_wake_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE])
{
    return s_generation_name(name, "/wake", gen, out);
}

/*  The suffixes a stream appends to its name for its generated segments. */
static const char *const GENERATED_SUFFIX[] = {"/buffer", "/clock", "/wake", "/meta"};

/*  True when s[0..len) is a uint32 as "%u" prints it. */
static bool
s_is_generation(const char *s, size_t len)
{
    if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    return v <= UINT32_MAX;
}

bool
ezshm_name_generated_by(const char *name, char *owner, size_t size)
{
    if (!name)
        return false;
    size_t len = strlen(name), digits = 0;
    while (digits < len && name[len - 1 - digits] >= '0' && name[len - 1 - digits] <= '9')
        digits++;
    if (!s_is_generation(name + len - digits, digits))
        return false;
    for (size_t i = 0; i < sizeof GENERATED_SUFFIX / sizeof *GENERATED_SUFFIX; i++) {
        size_t slen = strlen(GENERATED_SUFFIX[i]), stem = len - digits;
        if (stem < slen || memcmp(name + stem - slen, GENERATED_SUFFIX[i], slen) != 0)
            continue;
        if (!owner || stem - slen >= size)
            return false;
        memcpy(owner, name, stem - slen);
        owner[stem - slen] = '\0';
        return true;
    }
    return false;
}

/*  True when name is a segment name stream generates. */
static bool
s_generates(const char *stream, const char *name)
{
    size_t size = strlen(name) + 1;
    char *owner = malloc(size);
    bool yes = owner && ezshm_name_generated_by(name, owner, size) && strcmp(owner, stream) == 0;
    free(owner);
    return yes;
}

bool
ezshm_names_collide(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    return strcmp(a, b) == 0 || s_generates(a, b) || s_generates(b, a);
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
