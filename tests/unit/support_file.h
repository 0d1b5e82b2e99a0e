/*  support_file.h — reading a whole file, for every unit test's helpers. */
#ifndef EZSHM_SUPPORT_FILE_H
#define EZSHM_SUPPORT_FILE_H

#include <stddef.h>
#include <stdint.h>

/*  The whole file, malloc'd (caller frees), with a NUL byte after its last byte so text can be
    used as a string; its size in *size when size is not NULL. NULL when it cannot be read. */
uint8_t *support_read_file(const char *path, size_t *size);

#endif
