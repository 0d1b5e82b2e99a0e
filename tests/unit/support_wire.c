/*  support_wire.c — fixture and hash helpers shared by the wire tests. */
#include "support_wire.h"
#include "support_file.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

char *
support_wire_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ezmsg-zmq/%s", EZSHM_FIXTURES, name);
    return (char *) support_read_file(path, len);
}

char *
support_fixture_in(const char *folder, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", EZSHM_FIXTURES, folder, name);
    char *text = (char *) support_read_file(path, len);
    cr_assert_not_null(text, "cannot read %s", path);
    return text;
}

void
support_wire_sha256(const void *bytes, size_t len, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *) bytes, len);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}
