/*  support_wire.h — helpers for the wire tests: fixture files, hashes, message building. */
#ifndef SUPPORT_WIRE_H
#define SUPPORT_WIRE_H

#include <stddef.h>

/*  Reads a whole file into a malloc'd buffer (NUL-terminated, *len excludes the NUL);
    NULL when it cannot be read. */
char *support_wire_read_file(const char *path, size_t *len);

/*  Reads EZSHM_FIXTURES "/ezmsg-zmq/<name>". */
char *support_wire_fixture(const char *name, size_t *len);

/*  Lower-case hex sha256 of bytes into hex (65 bytes). */
void support_wire_sha256(const void *bytes, size_t len, char hex[65]);

#endif
