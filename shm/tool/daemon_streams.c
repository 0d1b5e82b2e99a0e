/*  daemon_streams.c — `ezshm-mirror --all E`: the names of a daemon's streams, asked from
    ezshm-ctl in a child process (no shell: the endpoint is passed as one argument). */
#include "mirror_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*  At most this many names are read (ezshmd's max_streams is at most 4096). */
#define MAX_NAMES 4096

/*  ezshm-ctl next to this executable when there is one, else the name for PATH. */
static void
s_ctl_path(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash && (size_t) (slash - self) + sizeof "/ezshm-ctl" <= size) {
        memcpy(out, self, (size_t) (slash - self));
        strcpy(out + (slash - self), "/ezshm-ctl");
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, size, "ezshm-ctl");
}

/*  Lines of f (without their newline) into *names; -1 when out of memory. */
static int
s_read_lines(FILE *f, char ***names, size_t *n)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0 && *n < MAX_NAMES) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char **grown = len ? realloc(*names, (*n + 1) * sizeof **names) : *names;
        char *copy = len && grown ? strdup(line) : NULL;
        if (len && (!grown || !copy)) {
            free(line);
            return -1;
        }
        if (len) {
            *names = grown;
            (*names)[(*n)++] = copy;
        }
    }
    free(line);
    return 0;
}

int
mirror_daemon_streams(const char *endpoint, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    char ctl[PATH_MAX];
    s_ctl_path(ctl, sizeof ctl);
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "ezshm-mirror: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp(ctl, ctl, "--endpoint", endpoint, "names", (char *) NULL);
        fprintf(stderr, "ezshm-mirror: cannot run %s: %s\n", ctl, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *f = pid > 0 ? fdopen(fds[0], "r") : NULL;
    int rc = f ? s_read_lines(f, names, n) : -1;
    if (f)
        fclose(f);
    else
        close(fds[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (rc == 0 && (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        fprintf(stderr, "ezshm-mirror: could not list the streams of %s (ezshm-ctl failed)\n", endpoint);
        rc = -1;
    }
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
    }
    return rc;
}
