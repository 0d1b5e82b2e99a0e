/*  ezshm_claim.c — flock on the header, atomic publication by rename, holder lookup. */
#define _GNU_SOURCE
#include "ezshm_claim.h"
#include "ezshm_error.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
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

/*  The record of a header "sm_…" is ".sm_….stream", holding the stream's name. */
#define RECORD_SUFFIX ".stream"
#define RECORD_MAX 4096

static int
s_record_path(char *path, size_t size, const char *segment)
{
    char file[EZSHM_SHORT_NAME_SIZE + sizeof RECORD_SUFFIX + 1];
    snprintf(file, sizeof file, ".%s" RECORD_SUFFIX, segment);
    return ezshm_segment_path(path, size, file);
}

/*  Writes the record of stream's header segment. Best effort: without it only the reclaim
    after a kill is lost. Only a regular file of ours is overwritten. */
static void
s_record_write(const char *segment, const char *stream)
{
    char path[PATH_MAX];
    struct stat st;
    if (s_record_path(path, sizeof path, segment) != EZSHM_OK)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t len = strlen(stream);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && ftruncate(fd, 0) == 0
        && write(fd, stream, len) != (ssize_t) len)
        unlink(path);
    close(fd);
}

/*  The stream name a record of ours holds, if it is one: a regular file of ours whose name
    hashes to segment. */
static bool
s_record_read(const char *segment, char *stream, size_t size)
{
    char path[PATH_MAX], check[EZSHM_SHORT_NAME_SIZE];
    struct stat st;
    if (s_record_path(path, sizeof path, segment) != EZSHM_OK)
        return false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() ? read(fd, stream, size - 1) : -1;
    close(fd);
    if (n <= 0 || memchr(stream, '\0', (size_t) n))
        return false;
    stream[n] = '\0';
    return ezshm_header_segment_name(stream, check) == EZSHM_OK && strcmp(check, segment) == 0;
}

/*  True while path still names the object existing describes. */
static bool
s_still_at(const char *path, const ezshm_segment_t *existing)
{
    struct stat st;
    return stat(path, &st) == 0 && (uint64_t) st.st_ino == existing->ino && (uint64_t) st.st_dev == existing->dev;
}

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
    if (!s_still_at(final, &existing)) {
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
            reclaim(arg, stream, seg->name);
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

void
ezshm_claim_record(const char *stream, bool on)
{
    char segment[EZSHM_SHORT_NAME_SIZE], path[PATH_MAX];
    if (!stream || ezshm_header_segment_name(stream, segment) != EZSHM_OK)
        return;
    if (on)
        s_record_write(segment, stream);
    else if (s_record_path(path, sizeof path, segment) == EZSHM_OK)
        unlink(path);
}

/*  A recorded header: removed with what it names when provably dead. 1 when removed. */
static unsigned
s_reclaim_recorded(const char *segment, ezshm_reclaim_fn *reclaim, void *arg)
{
    char stream[RECORD_MAX], path[PATH_MAX], record[PATH_MAX];
    ezshm_segment_t header;
    int fd;
    if (!s_record_read(segment, stream, sizeof stream) || ezshm_segment_path(path, sizeof path, segment) != EZSHM_OK
        || s_record_path(record, sizeof record, segment) != EZSHM_OK)
        return 0;
    int rc = ezshm_segment_open_fd(&header, segment, (long) geteuid(), &fd);
    if (rc == EZSHM_ERR_NOENT)
        unlink(record);   /* its header is gone: nothing left to describe */
    if (rc != EZSHM_OK)
        return 0;
    /*  Dead only when we hold its lock, it is still the object at the name, and no live
        writer generates that name (then the file may be that writer's ring). */
    bool dead = flock(fd, LOCK_EX | LOCK_NB) == 0 && s_still_at(path, &header) && !s_generated_by_live(stream);
    if (dead) {
        if (reclaim)
            reclaim(arg, stream, segment);
        dead = unlink(path) == 0;
        unlink(record);
    }
    close(fd);
    return dead ? 1 : 0;
}

/*  A temporary header ".sm_…-<pid>-<n>": dead when unlocked (its creator locks it as soon as it
    made it) and its creator is gone or is this process. 1 when removed. */
static unsigned
s_reclaim_temp(const char *file, const char *pid_text)
{
    char *end;
    long pid = strtol(pid_text, &end, 10);
    if (end == pid_text || *end != '-' || pid <= 0)
        return 0;
    if (pid != (long) getpid() && (kill((pid_t) pid, 0) == 0 || errno == EPERM))
        return 0;
    return ezshm_segment_reclaim(file) == EZSHM_OK ? 1 : 0;
}

int
ezshm_claim_reclaim_dead(ezshm_reclaim_fn *reclaim, void *arg, unsigned *removed)
{
    unsigned n = 0;
    DIR *dir = opendir(ezshm_segment_dir());
    if (!dir)
        return ezshm_segment_errno_code(errno);
    struct dirent *e;
    while ((e = readdir(dir))) {
        const char *f = e->d_name;
        if (f[0] != '.' || strncmp(f + 1, "sm_", 3) != 0 || strlen(f) <= 1 + EZSHM_SHORT_NAME_LEN)
            continue;
        char segment[EZSHM_SHORT_NAME_SIZE];
        memcpy(segment, f + 1, EZSHM_SHORT_NAME_LEN);
        segment[EZSHM_SHORT_NAME_LEN] = '\0';
        const char *rest = f + 1 + EZSHM_SHORT_NAME_LEN;
        if (strcmp(rest, RECORD_SUFFIX) == 0)
            n += s_reclaim_recorded(segment, reclaim, arg);
        else if (rest[0] == '-')
            n += s_reclaim_temp(f, rest + 1);
    }
    closedir(dir);
    if (removed)
        *removed = n;
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
