/*  support_shm.c — see support_shm.h. */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[PATH_MAX];
static bool s_atexit_registered;

const char *
shmt_setup(void)
{
    if (s_dir[0]) {
        struct stat st;
        if (stat(s_dir, &st) == 0 && getenv("EZSHM_SHM_DIR")
            && strcmp(getenv("EZSHM_SHM_DIR"), s_dir) == 0)
            return s_dir;
    }
    snprintf(s_dir, sizeof s_dir, "/dev/shm/ezshm-unit-%ld-XXXXXX", (long) getpid());
    if (!mkdtemp(s_dir)) {
        /*  No /dev/shm (odd container): fall back to /tmp. */
        snprintf(s_dir, sizeof s_dir, "/tmp/ezshm-unit-%ld-XXXXXX", (long) getpid());
        if (!mkdtemp(s_dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    setenv("EZSHM_SHM_DIR", s_dir, 1);
    if (!s_atexit_registered) {
        atexit(shmt_teardown);
        s_atexit_registered = true;
    }
    return s_dir;
}

void
shmt_teardown(void)
{
    if (!s_dir[0])
        return;
    DIR *d = opendir(s_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", s_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(s_dir);
    s_dir[0] = '\0';
}

#define ROTATE 8
static char s_rot[ROTATE][PATH_MAX];
static unsigned s_rot_i;

static char *
s_next_buf(void)
{
    return s_rot[s_rot_i++ % ROTATE];
}

const char *
shmt_unique_name(void)
{
    /*  Own rotation, so path/segment helpers never overwrite a name still in use. */
    static unsigned counter;
    static char names[16][64];
    char *buf = names[counter % 16];
    snprintf(buf, sizeof names[0], "ezshm-test-%ld-%u", (long) getpid(), counter);
    counter++;
    return buf;
}

const char *
shmt_seg_path(const char *segname)
{
    char *buf = s_next_buf();
    snprintf(buf, PATH_MAX, "%s/%s", ezshm_segment_dir(), segname);
    return buf;
}

bool
shmt_seg_exists(const char *segname)
{
    struct stat st;
    return stat(shmt_seg_path(segname), &st) == 0;
}

long long
shmt_seg_size(const char *segname)
{
    struct stat st;
    return stat(shmt_seg_path(segname), &st) == 0 ? (long long) st.st_size : -1;
}

int
shmt_seg_mode(const char *segname)
{
    struct stat st;
    return stat(shmt_seg_path(segname), &st) == 0 ? (int) (st.st_mode & 07777) : -1;
}

bool
shmt_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return false;
    bool ok = size == 0 || write(fd, data, size) == (ssize_t) size;
    close(fd);
    return ok;
}

void *
shmt_map_rw(const char *segname, size_t *size)
{
    int fd = open(shmt_seg_path(segname), O_RDWR | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *addr = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        addr = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (addr == MAP_FAILED)
        return NULL;
    *size = (size_t) st.st_size;
    return addr;
}

cJSON *
shmt_load_fixture(const char *relpath)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", EZSHM_FIXTURES, relpath);
    size_t n;
    uint8_t *text = support_read_file(path, &n);
    if (!text)
        return NULL;
    cJSON *root = cJSON_ParseWithLength((const char *) text, n);
    free(text);
    return root;
}

uint8_t *
shmt_hex_decode(const char *hex, size_t *size)
{
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t) v;
    }
    *size = n;
    return out;
}

const char *
shmt_header_seg(const char *name)
{
    char *buf = s_next_buf();
    ezshm_header_segment_name(name, buf);
    return buf;
}

const char *
shmt_ring_seg(const char *name, uint32_t gen)
{
    char *buf = s_next_buf();
    ezshm_ring_segment_name(name, gen, buf);
    return buf;
}

const char *
shmt_clock_seg(const char *name, uint32_t gen)
{
    char *buf = s_next_buf();
    ezshm_clock_segment_name(name, gen, buf);
    return buf;
}

const char *
shmt_wake_seg(const char *name, uint32_t gen)
{
    char *buf = s_next_buf();
    ezshm_wake_segment_name(name, gen, buf);
    return buf;
}

/*  The record of a renamed stream's live header (".sm_….stream" beside "sm_…"), which
    shmt_count_files leaves out: it is not a segment. A record whose header is gone counts. */
static bool
s_live_record(const char *file)
{
    size_t len = strlen(file), suffix = strlen(".stream");
    if (file[0] != '.' || len != 1 + EZSHM_SHORT_NAME_LEN + suffix || strcmp(file + len - suffix, ".stream") != 0)
        return false;
    char header[EZSHM_SHORT_NAME_SIZE];
    memcpy(header, file + 1, EZSHM_SHORT_NAME_LEN);
    header[EZSHM_SHORT_NAME_LEN] = '\0';
    return shmt_seg_exists(header);
}

int
shmt_count_files(void)
{
    DIR *d = opendir(ezshm_segment_dir());
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !s_live_record(e->d_name))
            n++;
    closedir(d);
    return n;
}

ezshm_writer_t *
shmt_writer(const char *name, ezshm_layout_t layout, bool no_clock)
{
    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    opt.no_clock = no_clock;
    ezshm_writer_t *w = NULL;
    cr_assert_eq(ezshm_writer_new(name, &opt, &w), EZSHM_OK);
    return w;
}

void
shmt_configure(ezshm_writer_t *w, double srate, uint64_t L)
{
    static const uint64_t two[1] = {2};
    ezshm_ring_spec_t spec = {'d', srate, L, 1, two, "k", 1};
    cr_assert_eq(ezshm_writer_configure(w, &spec), EZSHM_OK);
}

ezshm_mirror_t *
shmt_mirror(const char *name)
{
    ezshm_mirror_t *m = NULL;
    cr_assert_eq(ezshm_mirror_new(name, &m), EZSHM_OK);
    cr_assert_eq(ezshm_mirror_attach(m), EZSHM_OK);
    return m;
}

long long
shmt_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000LL + (t1.tv_nsec - t0->tv_nsec) / 1000000LL;
}
