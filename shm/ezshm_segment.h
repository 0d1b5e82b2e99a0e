/*  ezshm_segment.h — one POSIX shared-memory object, mapped.

    Segments live in /dev/shm (glibc's shm_open is open() there), or in the directory named by
    the environment variable EZSHM_SHM_DIR (tests use it to put segments on a small tmpfs).
    A created segment is sized and its pages reserved with posix_fallocate, so a full /dev/shm
    fails here with EZSHM_ERR_NOSPACE instead of raising SIGBUS on a later write. A sparse one
    (a daemon's ring) is only checked against the free space at creation and reserved later in
    steps the caller paces: reserving 2 MB takes ~1.5 ms, too long to stall an event loop.

    The segment folder is world-writable in general, so whatever sits at a name is hostile until
    checked: every open is O_NOFOLLOW | O_NONBLOCK (a FIFO never blocks us), then fstat must show
    a regular file. A symbolic link, FIFO, directory or socket/device at the name is reported as
    such (EZSHM_ERR_SYMLINK / _FIFO / _ISDIR / _NOTREG), never followed, opened or removed.
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

/*  Any owner (for ezshm_segment_open_owned). */
#define EZSHM_ANY_OWNER (-1L)

typedef struct {
    char     name[EZSHM_SHORT_NAME_SIZE];   /* "sm_…" */
    void    *addr;                          /* NULL when not mapped */
    size_t   size;
    uint64_t dev, ino;                      /* identity, to notice a replaced object */
    uint32_t uid;                           /* owner */
    bool     has_fd;                        /* fd kept open (a writer's header: its lock) */
    int      fd;
    char     temp[64];                      /* while unpublished: the temporary file name */
} ezshm_segment_t;

/*  The folder holding segments: $EZSHM_SHM_DIR or "/dev/shm". */
const char *ezshm_segment_dir(void);

/*  Free bytes in that folder (statvfs). */
int ezshm_segment_free_bytes(uint64_t *free_bytes);

/*  bytes rounded up to whole pages: what a segment of that size takes in the folder. */
uint64_t ezshm_segment_pages(uint64_t bytes);

/*  Creates, sizes, reserves and maps name read-write with the given mode (umask ignored).
    An existing object of that name is reclaimed (unlinked, *replaced set true) only when it is
    provably dead (ezshm_segment_reclaim): the caller must know no live writer of its own
    stream owns it (the writer does: it holds the stream's lock). Anything else at the name is
    reported (see above; EZSHM_ERR_OWNER for another user's file, EZSHM_ERR_INUSE for a live
    header). Returns EZSHM_OK, EZSHM_ERR_NOSPACE, EZSHM_ERR_PERM, one of those, or
    EZSHM_ERR_SYS. */
int ezshm_segment_create(ezshm_segment_t *self, const char *name, size_t size, unsigned mode,
                         bool *replaced);

/*  Same, but sparse: nothing reserved, EZSHM_ERR_NOSPACE when the folder has less than size
    bytes free now; mapped without populating, the fd kept for ezshm_segment_reserve. */
int ezshm_segment_create_sparse(ezshm_segment_t *self, const char *name, size_t size, unsigned mode,
                                bool *replaced);

/*  Removes a leftover at name, only when it is provably dead: a regular file of this
    process's user on which no live process holds a flock (a live writer locks its header,
    ezshm_claim.h), still the object at the name when unlinked under our lock. EZSHM_OK when
    removed, EZSHM_ERR_NOENT when absent, EZSHM_ERR_INUSE when locked (another stream's live header), else the
    refusals of a checked open (EZSHM_ERR_OWNER, _FIFO, _SYMLINK, ...). */
int ezshm_segment_reclaim(const char *name);

/*  Reserves (allocates) bytes [offset, offset + len) of a segment created with its fd kept.
    EZSHM_ERR_NOSPACE when the folder is full, EZSHM_ERR_INVAL outside the segment or without
    an fd. */
int ezshm_segment_reserve(ezshm_segment_t *self, uint64_t offset, uint64_t len);

/*  Same as ezshm_segment_create, but under a fresh hidden temporary name in the segment
    folder (".sm_…-<pid>-<n>"), with the file descriptor kept: the caller fills the mapping,
    then publishes the file under name with ezshm_claim(), so no reader ever sees it
    half-written. */
int ezshm_segment_create_unpublished(ezshm_segment_t *self, const char *name, size_t size,
                                     unsigned mode);

/*  Maps an existing object read-only, whatever its size. EZSHM_ERR_NOENT when absent,
    EZSHM_ERR_NOTREADY when zero-sized. */
int ezshm_segment_open(ezshm_segment_t *self, const char *name);

/*  Same, and the file must belong to owner (EZSHM_ANY_OWNER: any), else EZSHM_ERR_OWNER. */
int ezshm_segment_open_owned(ezshm_segment_t *self, const char *name, long owner);

/*  Same, and the page tables of every page the file has allocated are filled now
    (MADV_POPULATE_READ), so reading it takes no page faults; unallocated pages stay so. */
int ezshm_segment_open_populated(ezshm_segment_t *self, const char *name, long owner);

/*  Opens name read-only without mapping it, with the same checks; returns the descriptor in
    *fd and its identity in self (for locking a published header). */
int ezshm_segment_open_fd(ezshm_segment_t *self, const char *name, long owner, int *fd);

/*  Opens an existing object of owner (EZSHM_ANY_OWNER: any) read-write, with the same checks,
    but maps it read-only, plus its first head_size bytes a second time read-write at *head
    (munmap(*head, head_size) when done). For a reader that must write a few shared words (a
    waiter count) and nothing else. EZSHM_ERR_PERM without write permission;
    EZSHM_ERR_NOTREADY when smaller than head_size. */
int ezshm_segment_open_head_rw(ezshm_segment_t *self, const char *name, long owner, size_t head_size,
                               void **head);

/*  True when name no longer refers to the object self maps (unlinked or recreated). */
bool ezshm_segment_replaced(const ezshm_segment_t *self);

/*  Unmaps and closes a kept descriptor (does not unlink). Safe on an unmapped segment. */
void ezshm_segment_close(ezshm_segment_t *self);

/*  Removes the name only while it still refers to the object self describes (dev/inode):
    a writer never removes a segment someone else created at its name since. EZSHM_OK also
    when the name is gone or belongs to another object (then left alone). */
int ezshm_segment_unlink_own(const ezshm_segment_t *self);

/*  Full path of a file in the segment folder. EZSHM_ERR_INVAL when it does not fit. */
int ezshm_segment_path(char *path, size_t size, const char *file);

/*  An errno value as a result code. */
int ezshm_segment_errno_code(int err);

#ifdef __cplusplus
}
#endif
#endif
