/*  support_wire.h — helpers for the wire tests: fixture files, hashes, message building. */
#ifndef EZSHM_SUPPORT_WIRE_H
#define EZSHM_SUPPORT_WIRE_H

#include <stddef.h>

/*  Reads EZSHM_FIXTURES "/ezmsg-zmq/<name>" (support_read_file: NUL-terminated, malloc'd). */
char *support_wire_fixture(const char *name, size_t *len);

/*  Reads EZSHM_FIXTURES "/<folder>/<name>" (NUL-terminated, malloc'd); asserts it exists. */
char *support_fixture_in(const char *folder, const char *name, size_t *len);

/*  Lower-case hex sha256 of bytes into hex (65 bytes). */
void support_wire_sha256(const void *bytes, size_t len, char hex[65]);

#endif
