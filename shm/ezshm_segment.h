/*  ezshm_segment.h — one POSIX shared-memory object, mapped.

    Segments live in /dev/shm (glibc's shm_open is open() there), or in the directory named by
    the environment variable EZSHM_SHM_DIR (tests use it to put segments on a small tmpfs).
    A created segment is sized and its pages reserved with posix_fallocate, so a full /dev/shm
    fails here with EZSHM_ERR_NOSPACE instead of raising SIGBUS on a later write.
*/
#ifndef EZSHM_SEGMENT_H
#define EZSHM_SEGMENT_H

#include "ezshm_name.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char     name[EZSHM_SHORT_NAME_SIZE];   /* "sm_…" */
    void    *addr;                          /* NULL when not mapped */
    size_t   size;
    uint64_t dev, ino;                      /* identity, to notice a replaced object */
} ezshm_segment_t;

/*  The folder holding segments: $EZSHM_SHM_DIR or "/dev/shm". */
const char *ezshm_segment_dir(void);

/*  Free bytes in that folder (statvfs). */
int ezshm_segment_free_bytes(uint64_t *free_bytes);

/*  Creates, sizes, reserves and maps name read-write with the given mode (umask ignored).
    An existing object of that name (left by a crashed writer) is unlinked first and
    *replaced is set true. Returns EZSHM_OK, EZSHM_ERR_NOSPACE, EZSHM_ERR_PERM or EZSHM_ERR_SYS. */
int ezshm_segment_create(ezshm_segment_t *self, const char *name, size_t size, unsigned mode,
                         bool *replaced);

/*  Maps an existing object read-only, whatever its size. EZSHM_ERR_NOENT when absent. */
int ezshm_segment_open(ezshm_segment_t *self, const char *name);

/*  Opens an existing object read-write but maps it read-only, plus its first head_size
    bytes a second time read-write at *head (munmap(*head, head_size) when done). For a
    reader that must write a few shared words (a waiter count) and nothing else.
    EZSHM_ERR_PERM without write permission; EZSHM_ERR_NOTREADY when smaller than head_size. */
int ezshm_segment_open_head_rw(ezshm_segment_t *self, const char *name, size_t head_size, void **head);

/*  True when name no longer refers to the object self maps (unlinked or recreated). */
bool ezshm_segment_replaced(const ezshm_segment_t *self);

/*  Unmaps (does not unlink). Safe on an unmapped segment. */
void ezshm_segment_close(ezshm_segment_t *self);

/*  Removes the name; EZSHM_OK also when it did not exist. */
int ezshm_segment_unlink(const char *name);

#ifdef __cplusplus
}
#endif
#endif
