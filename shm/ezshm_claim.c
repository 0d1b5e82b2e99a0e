/*  ezshm_claim.c — flock on the header, atomic publication by rename, holder lookup. */
#define _GNU_SOURCE
#include "ezshm_claim.h"
#include "ezshm_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/*  Attempts when the object at the name changes between our open and our lock. */
#define CLAIM_RETRIES 8

/*  Links temp at final unless final exists (EEXIST). RENAME_NOREPLACE where the file system
    has it (tmpfs does), else link + unlink, equally exclusive. */
static int
s_link_new(const char *temp, const char *final)
{
    if (renameat2(AT_FDCWD, temp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (link(temp, final) != 0)
        return -1;
    unlink(temp);
    return 0;
}

/*  An unlocked file at stream's header name is a dead header, unless the name is also one
    that another stream generates (stream "x/buffer0" is the ring of stream "x"): rings, clock,
    wake and aux segments carry no lock, so such a file is provably dead only while that
    stream has no live writer. */
static bool
s_generated_by_live(const char *stream)
{
    size_t size = strlen(stream) + 1;
    char *owner = malloc(size);
    long pid;
    bool live = owner && ezshm_name_generated_by(stream, owner, size) && ezshm_claim_holder(owner, &pid) == EZSHM_OK;
    free(owner);
    return live;
}

/*  The object now at the name, locked by us; or why not. */
static int
s_lock_existing(const ezshm_segment_t *seg, const char *stream, const char *final, int *fd_out)
{
    ezshm_segment_t existing;
    int fd;
    int rc = ezshm_segment_open_fd(&existing, seg->name, EZSHM_ANY_OWNER, &fd);
    if (rc != EZSHM_OK)
        return rc;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        return err == EWOULDBLOCK ? EZSHM_ERR_INUSE : ezshm_segment_errno_code(err);
    }
    /*  Unlocked but another user's: not ours to replace (nor could we, in a sticky folder). */
    if (existing.uid != (uint32_t) geteuid()) {
        close(fd);
        return EZSHM_ERR_OWNER;
    }
    if (s_generated_by_live(stream)) {
        close(fd);
        return EZSHM_ERR_INUSE;
    }
    /*  Locked: but is it still the object at the name? A writer that won the same race may
        have renamed its own header over it meanwhile. */
    struct stat st;
    if (stat(final, &st) != 0 || (uint64_t) st.st_ino != existing.ino || (uint64_t) st.st_dev != existing.dev) {
        close(fd);
        return EZSHM_ERR_STALE;   /* look again */
    }
    *fd_out = fd;
    return EZSHM_OK;
}

int
ezshm_claim(ezshm_segment_t *seg, const char *stream, ezshm_reclaim_fn *reclaim, void *arg, bool *replaced)
{
    char temp[PATH_MAX], final[PATH_MAX];
    if (replaced)
        *replaced = false;
    if (!seg || !stream || !seg->has_fd || !seg->temp[0])
        return EZSHM_ERR_INVAL;
    int rc = ezshm_segment_path(temp, sizeof temp, seg->temp) == EZSHM_OK
             && ezshm_segment_path(final, sizeof final, seg->name) == EZSHM_OK ? EZSHM_OK : EZSHM_ERR_INVAL;
    if (rc == EZSHM_OK && flock(seg->fd, LOCK_EX | LOCK_NB) != 0)
        rc = ezshm_segment_errno_code(errno);
    for (int attempt = 0; rc == EZSHM_OK && attempt < CLAIM_RETRIES; attempt++) {
        if (s_link_new(temp, final) == 0)
            break;
        if (errno != EEXIST) {
            rc = ezshm_segment_errno_code(errno);
            break;
        }
        int stale_fd = -1;
        rc = s_lock_existing(seg, stream, final, &stale_fd);
        if (rc == EZSHM_ERR_STALE || rc == EZSHM_ERR_NOENT) {
            rc = EZSHM_OK;   /* the name changed under us: look again */
            continue;
        }
        if (rc != EZSHM_OK)
            break;
        /*  A leftover, and ours to take while we hold its lock: no other claimant can decide
            the same, since it would need this lock too. */
        if (reclaim)
            reclaim(arg, seg->name);
        if (rename(temp, final) != 0)
            rc = ezshm_segment_errno_code(errno);
        else if (replaced)
            *replaced = true;
        close(stale_fd);
        break;
    }
    if (rc == EZSHM_OK && access(temp, F_OK) == 0)
        rc = EZSHM_ERR_INUSE;   /* retries exhausted: the name keeps changing */
    if (rc != EZSHM_OK) {
        unlink(temp);
        ezshm_segment_close(seg);
        return rc;
    }
    seg->temp[0] = '\0';
    return EZSHM_OK;
}

int
ezshm_claim_holder(const char *stream_name, long *pid)
{
    char segname[EZSHM_SHORT_NAME_SIZE], path[PATH_MAX];
    struct stat st;
    if (!pid || ezshm_header_segment_name(stream_name, segname) != EZSHM_OK
        || ezshm_segment_path(path, sizeof path, segname) != EZSHM_OK)
        return EZSHM_ERR_INVAL;
    if (lstat(path, &st) != 0)
        return EZSHM_ERR_NOENT;
    FILE *f = fopen("/proc/locks", "re");
    if (!f)
        return EZSHM_ERR_SYS;
    /*  "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF": kind, pid, major:minor:inode (hex
        device numbers). Lines of waiters start with "1: ->" and do not parse. */
    char line[256], kind[16];
    long holder;
    unsigned maj, min;
    unsigned long long ino;
    int rc = EZSHM_ERR_NOENT;
    while (rc == EZSHM_ERR_NOENT && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &holder, &maj, &min, &ino) == 5
            && ino == (unsigned long long) st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev)) {
            *pid = holder > 0 ? holder : 0;
            rc = EZSHM_OK;
        }
    }
    fclose(f);
    return rc;
}
