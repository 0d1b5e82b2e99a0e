/*  reaper.c — a thread that unmaps the rings the loop has dropped. */
#define _GNU_SOURCE   /* pipe2 */
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    void  *addr;
    size_t size;
    int    fd;
} retired_t;

/*  A pipe writes and reads records up to PIPE_BUF bytes whole: it never splits one. */
_Static_assert(sizeof(retired_t) <= PIPE_BUF, "one record per write");

struct reaper_t {
    int       pipe_rd, pipe_wr;   /* the queue: whole records, written and read atomically */
    pthread_t thread;
};

static void
s_release(const retired_t *r)
{
    if (r->addr)
        munmap(r->addr, r->size);
    if (r->fd >= 0)
        close(r->fd);
}

static void *
s_run(void *arg)
{
    reaper_t *self = arg;
    retired_t r;
    for (;;) {
        ssize_t n = read(self->pipe_rd, &r, sizeof r);
        if (n == (ssize_t) sizeof r)
            s_release(&r);
        else if (n == 0 || (n < 0 && errno != EINTR))
            break;   /* the loop closed its end: everything queued has been read */
    }
    return NULL;
}

reaper_t *
reaper_new(char *err, size_t errlen)
{
    reaper_t *self = calloc(1, sizeof *self);
    int fds[2];
    if (!self || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot create the reaper's queue: %s", self ? strerror(errno) : "out of memory");
        free(self);
        return NULL;
    }
    self->pipe_rd = fds[0];
    self->pipe_wr = fds[1];
    /*  Never block the loop: a full queue means the caller unmaps itself. */
    int rc = fcntl(self->pipe_wr, F_SETFL, O_NONBLOCK) == 0 ? pthread_create(&self->thread, NULL, s_run, self) : errno;
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the reaper thread: %s", strerror(rc));
        close(fds[0]);
        close(fds[1]);
        free(self);
        return NULL;
    }
    return self;
}

void
reaper_retire(reaper_t *self, void *addr, size_t size, int fd)
{
    retired_t r;
    memset(&r, 0, sizeof r);   /* the padding too: the whole record goes through the pipe */
    r.addr = addr;
    r.size = size;
    r.fd = fd;
    if (!self || write(self->pipe_wr, &r, sizeof r) != (ssize_t) sizeof r)
        s_release(&r);
}

void
reaper_destroy(reaper_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reaper_t *self = *self_p;
    close(self->pipe_wr);
    pthread_join(self->thread, NULL);
    close(self->pipe_rd);
    free(self);
    *self_p = NULL;
}
