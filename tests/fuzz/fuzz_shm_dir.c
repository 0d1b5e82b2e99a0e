/*  fuzz_shm_dir.c — the private segment folder of a fuzz harness. */
#include "fuzz_shm_dir.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[PATH_MAX];

static void
s_remove(void)
{
    DIR *d = opendir(s_dir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        char path[PATH_MAX + 256];
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", s_dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(s_dir);
}

const char *
fuzz_shm_dir_init(const char *tag)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(s_dir, sizeof s_dir, "%s/ezshm-%s-XXXXXX", base, tag);
    if (!mkdtemp(s_dir)) {
        perror("fuzz: mkdtemp");
        return NULL;
    }
    setenv("EZSHM_SHM_DIR", s_dir, 1);
    atexit(s_remove);
    return s_dir;
}
