/*  ezshm_segment.c — create/open/map/unlink of shared-memory objects, each open checked. */
#include "ezshm_segment.h"
#include "ezshm_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/*  Linux 5.14; older headers lack the name, older kernels say EINVAL (then: lazy faults). */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

const char *
ezshm_segment_dir(void)
{
    const char *dir = getenv("EZSHM_SHM_DIR");
    return dir && *dir ? dir : "/dev/shm";
}

int
ezshm_segment_path(char *path, size_t size, const char *file)
{
    int n = snprintf(path, size, "%s/%s", ezshm_segment_dir(), file);
    return n > 0 && (size_t) n < size ? EZSHM_OK : EZSHM_ERR_INVAL;
}

int
ezshm_segment_errno_code(int err)
{
    switch (err) {
    case ENOENT: return EZSHM_ERR_NOENT;
    case EACCES: case EPERM: return EZSHM_ERR_PERM;
    case ENOSPC: case EFBIG: return EZSHM_ERR_NOSPACE;
    case ENOMEM: return EZSHM_ERR_NOMEM;
    case ELOOP: return EZSHM_ERR_SYMLINK;   /* O_NOFOLLOW met a symbolic link */
    case EISDIR: return EZSHM_ERR_ISDIR;
    case ENXIO: return EZSHM_ERR_NOTREG;    /* a socket (or a FIFO opened for writing) */
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
        return ezshm_segment_errno_code(errno);
    *free_bytes = (uint64_t) st.f_bavail * st.f_frsize;
    return EZSHM_OK;
}

uint64_t
ezshm_segment_pages(uint64_t bytes)
{
    uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
    return (bytes + page - 1) / page * page;
}

/*  What an fstat says about the object at a segment's name: a regular file of the expected
    owner, or the code naming what else it is. */
static int
s_check_stat(const struct stat *st, long owner)
{
    if (S_ISFIFO(st->st_mode))
        return EZSHM_ERR_FIFO;
    if (S_ISDIR(st->st_mode))
        return EZSHM_ERR_ISDIR;
    if (S_ISLNK(st->st_mode))
        return EZSHM_ERR_SYMLINK;
    if (!S_ISREG(st->st_mode))
        return EZSHM_ERR_NOTREG;
    if (owner != EZSHM_ANY_OWNER && (long) st->st_uid != owner)
        return EZSHM_ERR_OWNER;
    return EZSHM_OK;
}

/*  open() that never blocks (a FIFO) and never follows a link, then the fstat checks. */
static int
s_open_checked(const char *path, int flags, long owner, struct stat *st, int *fd_out)
{
    int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ezshm_segment_errno_code(errno);
    int rc = fstat(fd, st) == 0 ? s_check_stat(st, owner) : ezshm_segment_errno_code(errno);
    if (rc != EZSHM_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return EZSHM_OK;
}

static void
s_identity(ezshm_segment_t *self, const struct stat *st)
{
    self->dev = (uint64_t) st->st_dev;
    self->ino = (uint64_t) st->st_ino;
    self->uid = (uint32_t) st->st_uid;
}

/*  How a segment is created: its fd kept (a header's lock, a ring reserved later), and its
    pages reserved now or later (a sparse ring). */
enum { CREATE_KEEP_FD = 1, CREATE_SPARSE = 2, CREATE_LOCKED = 4 };

static int
s_map(ezshm_segment_t *self, int fd, size_t size, int prot, bool populate)
{
    /*  A reserved segment is mapped with MAP_POPULATE: its page tables are filled now, so the
        first lap of the ring takes no page faults on the data path. */
    int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
    void *addr = mmap(NULL, size, prot, flags, fd, 0);
    if (addr == MAP_FAILED)
        return ezshm_segment_errno_code(errno);
    self->addr = addr;
    self->size = size;
    return EZSHM_OK;
}

/*  A leftover at a segment's name may be reclaimed only when it is provably dead: a regular
    file of ours that no live writer holds. Only a header is locked (ezshm_claim.h), so a file
    whose flock we cannot take is another stream's live header sitting at one of our names
    (a stream named "x/buffer0" beside a stream "x"): EZSHM_ERR_INUSE, left alone. The lock is
    held across the unlink, so a claimant cannot take the name meanwhile, and the object is
    checked to still be the one at the name. */
static int
s_reclaim(const char *path)
{
    struct stat st, now;
    int fd;
    int rc = s_open_checked(path, O_RDONLY, (long) geteuid(), &st, &fd);
    if (rc != EZSHM_OK)
        return rc;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? EZSHM_ERR_INUSE : ezshm_segment_errno_code(errno);
    else if (lstat(path, &now) != 0)
        rc = ezshm_segment_errno_code(errno);
    else if (now.st_dev != st.st_dev || now.st_ino != st.st_ino)
        rc = EZSHM_ERR_INUSE;   /* replaced meanwhile: someone else's now */
    else if (unlink(path) != 0 && errno != ENOENT)
        rc = ezshm_segment_errno_code(errno);
    close(fd);
    return rc;
}

int
ezshm_segment_reclaim(const char *name)
{
    char path[PATH_MAX];
    if (!name || ezshm_segment_path(path, sizeof path, name) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    return s_reclaim(path);
}

/*  A range of pages reserved (allocated) in the file; a file system that cannot reserve
    (EINVAL, EOPNOTSUPP) is not an error: its pages come at first touch. */
static int
s_reserve(int fd, uint64_t offset, uint64_t len)
{
    int err;
    do
        err = posix_fallocate(fd, (off_t) offset, (off_t) len);
    while (err == EINTR);
    if (err == 0 || err == EINVAL || err == EOPNOTSUPP)
        return EZSHM_OK;
    return ezshm_segment_errno_code(err);
}

/*  A sparse segment reserves nothing at creation, but must fit in what the folder has free
    now: a ring that cannot fit is refused here, like a reserved one. */
static int
s_check_fits(int fd, size_t size)
{
    struct statvfs st;
    if (fstatvfs(fd, &st) != 0)
        return ezshm_segment_errno_code(errno);
    return (uint64_t) st.f_bavail * st.f_frsize >= size ? EZSHM_OK : EZSHM_ERR_NOSPACE;
}

/*  Creates path exclusively, sizes it, reserves its pages (unless CREATE_SPARSE) and maps it. */
static int
s_create_at(ezshm_segment_t *self, const char *path, size_t size, unsigned mode, unsigned how)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, (mode_t) mode);
    if (fd < 0)
        return errno == EEXIST ? EZSHM_ERR_INUSE : ezshm_segment_errno_code(errno);
    /*  A header to be published is locked from its first moment: an unlocked temporary file
        is then provably a dead writer's (ezshm_claim_reclaim_dead). */
    if ((how & CREATE_LOCKED) && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        unlink(path);
        return ezshm_segment_errno_code(err);
    }
    int rc = EZSHM_OK;
    struct stat st;
    bool sparse = how & CREATE_SPARSE;
    /*  open() applied the umask; readers in other containers/uids need the mode as asked. */
    if (fchmod(fd, (mode_t) mode) != 0 || ftruncate(fd, (off_t) size) != 0 || fstat(fd, &st) != 0)
        rc = ezshm_segment_errno_code(errno);
    /*  Reserve every page now: a full tmpfs is an error here, not a SIGBUS mid-stream, and the
        first lap of the ring doesn't pay page allocation. A sparse segment is only checked
        against the free space: its owner reserves it later (ezshm_segment_reserve). */
    if (rc == EZSHM_OK)
        rc = sparse ? s_check_fits(fd, size) : s_reserve(fd, 0, size);
    if (rc == EZSHM_OK) {
        s_identity(self, &st);
        rc = s_map(self, fd, size, PROT_READ | PROT_WRITE, !sparse);
    }
    int saved = errno;
    if (rc == EZSHM_OK && (how & (CREATE_KEEP_FD | CREATE_SPARSE))) {
        self->fd = fd;
        self->has_fd = true;
    }
    else
        close(fd);
    if (rc != EZSHM_OK) {
        unlink(path);   /* we created it a moment ago (O_EXCL) */
        errno = saved;
    }
    return rc;
}

static int
s_begin(ezshm_segment_t *self, const char *name, char *path, size_t path_size)
{
    if (!self || !name || strlen(name) >= sizeof self->name)
        return EZSHM_ERR_INVAL;
    if (ezshm_segment_path(path, path_size, name) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    memset(self, 0, sizeof *self);
    strcpy(self->name, name);
    self->fd = -1;
    return EZSHM_OK;
}

static int
s_create(ezshm_segment_t *self, const char *name, size_t size, unsigned mode, unsigned how, bool *replaced)
{
    char path[PATH_MAX];
    if (replaced)
        *replaced = false;
    int rc = size ? s_begin(self, name, path, sizeof path) : EZSHM_ERR_INVAL;
    if (rc != EZSHM_OK)
        return rc;
    rc = s_create_at(self, path, size, mode, how);
    if (rc == EZSHM_ERR_INUSE) {
        /*  A writer that crashed left its segment behind: the caller says the name is ours. */
        rc = s_reclaim(path);
        if (rc != EZSHM_OK && rc != EZSHM_ERR_NOENT)
            return rc;
        if (replaced)
            *replaced = true;
        rc = s_create_at(self, path, size, mode, how);
    }
    return rc;
}

int
ezshm_segment_create(ezshm_segment_t *self, const char *name, size_t size, unsigned mode,
                     bool *replaced)
{
    return s_create(self, name, size, mode, 0, replaced);
}

int
ezshm_segment_create_sparse(ezshm_segment_t *self, const char *name, size_t size, unsigned mode,
                            bool *replaced)
{
    return s_create(self, name, size, mode, CREATE_SPARSE, replaced);
}

int
ezshm_segment_reserve(ezshm_segment_t *self, uint64_t offset, uint64_t len)
{
    if (!self || !self->has_fd || offset > self->size || len > self->size - offset)
        return EZSHM_ERR_INVAL;
    int rc = len ? s_reserve(self->fd, offset, len) : EZSHM_OK;
    /*  And the page tables for it, as MAP_POPULATE does for a segment reserved at once: the
        writer's first lap then takes no page fault (each would zero its page first). */
    if (rc == EZSHM_OK && len)
        madvise((uint8_t *) self->addr + offset, (size_t) len, MADV_POPULATE_WRITE);
    return rc;
}

int
ezshm_segment_create_unpublished(ezshm_segment_t *self, const char *name, size_t size, unsigned mode)
{
    static atomic_uint counter;
    char path[PATH_MAX];
    int rc = size ? s_begin(self, name, path, sizeof path) : EZSHM_ERR_INVAL;
    if (rc != EZSHM_OK)
        return rc;
    /*  Hidden (a leading dot, so no reader's name can match) and unique per process and call. */
    snprintf(self->temp, sizeof self->temp, ".%s-%ld-%u", name, (long) getpid(),
             atomic_fetch_add(&counter, 1));
    if (ezshm_segment_path(path, sizeof path, self->temp) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    rc = s_create_at(self, path, size, mode, CREATE_KEEP_FD | CREATE_LOCKED);
    if (rc != EZSHM_OK)
        self->temp[0] = '\0';
    return rc;
}

int
ezshm_segment_open_fd(ezshm_segment_t *self, const char *name, long owner, int *fd)
{
    char path[PATH_MAX];
    int rc = fd ? s_begin(self, name, path, sizeof path) : EZSHM_ERR_INVAL;
    if (rc != EZSHM_OK)
        return rc;
    struct stat st;
    rc = s_open_checked(path, O_RDONLY, owner, &st, fd);
    if (rc == EZSHM_OK)
        s_identity(self, &st);
    return rc;
}

/*  Maps all of an opened object read-only; smaller than min_size (or empty) is "not ready". */
static int
s_map_opened(ezshm_segment_t *self, int fd, size_t min_size)
{
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? EZSHM_OK : ezshm_segment_errno_code(errno);
    if (rc == EZSHM_OK && (st.st_size <= 0 || (uint64_t) st.st_size < min_size))
        rc = EZSHM_ERR_NOTREADY;   /* created, not yet sized by its writer */
    if (rc == EZSHM_OK)
        rc = s_map(self, fd, (size_t) st.st_size, PROT_READ, false);
    return rc;
}

/*  Fills the page tables of a read-only mapping for the pages the file has allocated, so a
    reader's first lap of a ring takes no page fault per 64 KiB. A fully allocated file (a
    ring ezshmd reserved) is populated whole; otherwise (a ring written sparse, by ezmsg-tools
    or still being reserved) only the pages already written (mincore), since faulting in an
    unallocated page would allocate it, charged to the reader. Best effort: a kernel without
    MADV_POPULATE_READ (< 5.14) faults lazily as before. */
static void
s_populate_allocated(const ezshm_segment_t *self, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;
    if ((uint64_t) st.st_blocks * 512 >= self->size) {
        madvise(self->addr, self->size, MADV_POPULATE_READ);
        return;
    }
    size_t page = (size_t) sysconf(_SC_PAGESIZE), pages = (self->size + page - 1) / page;
    unsigned char *resident = malloc(pages);
    if (!resident || mincore(self->addr, self->size, resident) != 0) {
        free(resident);
        return;
    }
    for (size_t i = 0; i < pages;) {
        size_t j = i;
        while (j < pages && (resident[j] & 1))
            j++;
        if (j > i && madvise((uint8_t *) self->addr + i * page, (j - i) * page, MADV_POPULATE_READ) != 0)
            break;
        i = j + 1;
    }
    free(resident);
}

static int
s_open_mapped(ezshm_segment_t *self, const char *name, long owner, bool populate)
{
    int fd;
    int rc = ezshm_segment_open_fd(self, name, owner, &fd);
    if (rc != EZSHM_OK)
        return rc;
    rc = s_map_opened(self, fd, 1);
    if (rc == EZSHM_OK && populate)
        s_populate_allocated(self, fd);
    close(fd);
    return rc;
}

int
ezshm_segment_open_owned(ezshm_segment_t *self, const char *name, long owner)
{
    return s_open_mapped(self, name, owner, false);
}

int
ezshm_segment_open_populated(ezshm_segment_t *self, const char *name, long owner)
{
    return s_open_mapped(self, name, owner, true);
}

int
ezshm_segment_open_head_rw(ezshm_segment_t *self, const char *name, long owner, size_t head_size,
                           void **head)
{
    char path[PATH_MAX];
    int rc = head && head_size ? s_begin(self, name, path, sizeof path) : EZSHM_ERR_INVAL;
    if (rc != EZSHM_OK)
        return rc;
    *head = NULL;
    struct stat st;
    int fd;
    rc = s_open_checked(path, O_RDWR, owner, &st, &fd);
    if (rc != EZSHM_OK)
        return rc;
    s_identity(self, &st);
    rc = s_map_opened(self, fd, head_size);
    if (rc == EZSHM_OK) {
        /*  Only the head is writable: a bug in the reader can't scribble on the rest. */
        void *addr = mmap(NULL, head_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (addr == MAP_FAILED) {
            rc = ezshm_segment_errno_code(errno);
            ezshm_segment_close(self);
        }
        else
            *head = addr;
    }
    close(fd);
    return rc;
}

int
ezshm_segment_open(ezshm_segment_t *self, const char *name)
{
    return ezshm_segment_open_owned(self, name, EZSHM_ANY_OWNER);
}

bool
ezshm_segment_replaced(const ezshm_segment_t *self)
{
    char path[PATH_MAX];
    struct stat st;
    if (ezshm_segment_path(path, sizeof path, self->name) != EZSHM_OK || lstat(path, &st) != 0)
        return true;
    return (uint64_t) st.st_dev != self->dev || (uint64_t) st.st_ino != self->ino;
}

void
ezshm_segment_close(ezshm_segment_t *self)
{
    if (!self)
        return;
    if (self->addr) {
        munmap(self->addr, self->size);
        self->addr = NULL;
        self->size = 0;
    }
    if (self->has_fd) {
        close(self->fd);
        self->has_fd = false;
        self->fd = -1;
    }
}

int
ezshm_segment_unlink_own(const ezshm_segment_t *self)
{
    if (!self || !self->name[0])
        return EZSHM_ERR_INVAL;
    /*  Checked just before the unlink: only a writer of the same user could swap the file in
        between, and it would have to ignore the stream's lock to do so. */
    if (ezshm_segment_replaced(self))
        return EZSHM_OK;
    char path[PATH_MAX];
    if (ezshm_segment_path(path, sizeof path, self->name) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    if (unlink(path) != 0 && errno != ENOENT)
        return ezshm_segment_errno_code(errno);
    return EZSHM_OK;
}
