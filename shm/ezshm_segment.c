/*  ezshm_segment.c — create/open/map/unlink of shared-memory objects. */
#include "ezshm_segment.h"
#include "ezshm_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

const char *
ezshm_segment_dir(void)
{
    const char *dir = getenv("EZSHM_SHM_DIR");
    return dir && *dir ? dir : "/dev/shm";
}

static int
s_path(char *path, size_t size, const char *name)
{
    int n = snprintf(path, size, "%s/%s", ezshm_segment_dir(), name);
    return n > 0 && (size_t) n < size ? EZSHM_OK : EZSHM_ERR_INVAL;
}

static int
s_errno_code(int err)
{
    switch (err) {
    case ENOENT: return EZSHM_ERR_NOENT;
    case EACCES: case EPERM: return EZSHM_ERR_PERM;
    case ENOSPC: case EFBIG: return EZSHM_ERR_NOSPACE;
    case ENOMEM: return EZSHM_ERR_NOMEM;
    default: return EZSHM_ERR_SYS;
    }
}

int
ezshm_segment_free_bytes(uint64_t *free_bytes)
{
    struct statvfs st;
    if (!free_bytes)
        return EZSHM_ERR_INVAL;
    if (statvfs(ezshm_segment_dir(), &st) != 0)
        return s_errno_code(errno);
    *free_bytes = (uint64_t) st.f_bavail * st.f_frsize;
    return EZSHM_OK;
}

static int
s_map(ezshm_segment_t *self, int fd, size_t size, int prot)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return s_errno_code(errno);
    /*  The writer maps with MAP_POPULATE: its page tables are filled now, so the first lap
        of the ring takes no page faults on the data path. */
    int flags = MAP_SHARED | ((prot & PROT_WRITE) ? MAP_POPULATE : 0);
    void *addr = mmap(NULL, size, prot, flags, fd, 0);
    if (addr == MAP_FAILED)
        return s_errno_code(errno);
    self->addr = addr;
    self->size = size;
    self->dev = (uint64_t) st.st_dev;
    self->ino = (uint64_t) st.st_ino;
    return EZSHM_OK;
}

int
ezshm_segment_create(ezshm_segment_t *self, const char *name, size_t size, unsigned mode,
                     bool *replaced)
{
    char path[PATH_MAX];
    if (!self || !name || size == 0 || strlen(name) >= sizeof self->name)
        return EZSHM_ERR_INVAL;
    if (s_path(path, sizeof path, name) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    memset(self, 0, sizeof *self);
    strcpy(self->name, name);
    if (replaced)
        *replaced = false;

    int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(path, flags, (mode_t) mode);
    if (fd < 0 && errno == EEXIST) {
        /*  A writer that crashed left its segment behind: the name is ours now. */
        if (unlink(path) != 0 && errno != ENOENT)
            return s_errno_code(errno);
        if (replaced)
            *replaced = true;
        fd = open(path, flags, (mode_t) mode);
    }
    if (fd < 0)
        return s_errno_code(errno);

    int rc = EZSHM_OK;
    /*  open() applied the umask; readers in other containers/uids need the mode as asked. */
    if (fchmod(fd, (mode_t) mode) != 0 || ftruncate(fd, (off_t) size) != 0)
        rc = s_errno_code(errno);
    if (rc == EZSHM_OK) {
        /*  Reserve every page now: a full tmpfs is an error here, not a SIGBUS mid-stream,
            and the first lap of the ring doesn't pay page allocation. */
        int err = posix_fallocate(fd, 0, (off_t) size);
        if (err != 0)
            rc = err == EINVAL || err == EOPNOTSUPP ? EZSHM_OK : s_errno_code(err);
    }
    if (rc == EZSHM_OK)
        rc = s_map(self, fd, size, PROT_READ | PROT_WRITE);
    int saved = errno;
    close(fd);
    if (rc != EZSHM_OK) {
        unlink(path);
        errno = saved;
    }
    return rc;
}

/*  Opens an existing object with oflags and maps all of it read-only; an object smaller than
    min_size is "not ready". With fd_out the descriptor stays open for the caller. */
static int
s_open(ezshm_segment_t *self, const char *name, int oflags, size_t min_size, int *fd_out)
{
    char path[PATH_MAX];
    if (!self || !name || strlen(name) >= sizeof self->name)
        return EZSHM_ERR_INVAL;
    if (s_path(path, sizeof path, name) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    memset(self, 0, sizeof *self);
    strcpy(self->name, name);
    int fd = open(path, oflags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return s_errno_code(errno);
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? EZSHM_OK : s_errno_code(errno);
    if (rc == EZSHM_OK && (st.st_size <= 0 || (uint64_t) st.st_size < min_size))
        rc = EZSHM_ERR_NOTREADY;   /* created, not yet sized by its writer */
    if (rc == EZSHM_OK)
        rc = s_map(self, fd, (size_t) st.st_size, PROT_READ);
    if (rc == EZSHM_OK && fd_out)
        *fd_out = fd;
    else
        close(fd);
    return rc;
}

int
ezshm_segment_open(ezshm_segment_t *self, const char *name)
{
    return s_open(self, name, O_RDONLY, 1, NULL);
}

int
ezshm_segment_open_head_rw(ezshm_segment_t *self, const char *name, size_t head_size, void **head)
{
    if (!head || head_size == 0)
        return EZSHM_ERR_INVAL;
    *head = NULL;
    int fd = -1;
    int rc = s_open(self, name, O_RDWR, head_size, &fd);
    if (rc != EZSHM_OK)
        return rc;
    /*  Only the head is writable: a bug in the reader can't scribble on the rest. */
    void *addr = mmap(NULL, head_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
        rc = s_errno_code(errno);
        ezshm_segment_close(self);
    }
    else
        *head = addr;
    close(fd);
    return rc;
}

bool
ezshm_segment_replaced(const ezshm_segment_t *self)
{
    char path[PATH_MAX];
    struct stat st;
    if (s_path(path, sizeof path, self->name) != EZSHM_OK || stat(path, &st) != 0)
        return true;
    return (uint64_t) st.st_dev != self->dev || (uint64_t) st.st_ino != self->ino;
}

void
ezshm_segment_close(ezshm_segment_t *self)
{
    if (self && self->addr) {
        munmap(self->addr, self->size);
        self->addr = NULL;
        self->size = 0;
    }
}

int
ezshm_segment_unlink(const char *name)
{
    char path[PATH_MAX];
    if (!name || s_path(path, sizeof path, name) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    if (unlink(path) != 0 && errno != ENOENT)
        return s_errno_code(errno);
    return EZSHM_OK;
}
