/*  support_wire.c — file and hash helpers shared by the wire tests. */
#include "support_wire.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

char *
support_wire_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = (char *) malloc((size_t) size + 1);
    if (buf && fread(buf, 1, (size_t) size, f) != (size_t) size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[size] = '\0';
        *len = (size_t) size;
    }
    return buf;
}

char *
support_wire_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ezmsg-zmq/%s", EZSHM_FIXTURES, name);
    return support_wire_read_file(path, len);
}

void
support_wire_sha256(const void *bytes, size_t len, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *) bytes, len);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}
