/*  fuzz_mirror_header.c — libFuzzer harness for header detection/validation and for a
    mirror attaching to arbitrary header bytes (shm/ezshm_header.h, shm/ezshm_mirror.h).

    Input framing (tests/fuzz/corpus/mirror_header/README.md):

        u8      flags      bit 0: create a ring segment file
                           bit 1: ring size = the size the header implies + delta
                                  (else: ring size = (u32) param % 16 MiB)
                           bits 2-7: n for ezshm_mirror_latest (0..63)
        u8      mode       bit 0: the patches make a NEW header file (unlink + create, as a
                                  restarted writer does) instead of writing into the
                                  mapped one, and nothing is read between attach and
                                  that; bit 1: the header is first unlinked and read
                                  once without it (the mirror sees it gone)
        u16 LE  L          header segment length (cut to what is left)
        i32 LE  param      ring size or delta
        L bytes            the header segment file
        rest               patches (u16 LE position, u8 value) written into the header
                           file after the first attach+read — a writer changing the header
                           under a mapped mirror — then read and latest run again.

    Files go to a private directory given to libezshm through EZSHM_SHM_DIR. Stream name
    "fuzz": the header is shorten("fuzz"), the ring shorten("fuzz/buffer<g>") with g read
    from the header bytes where the layout puts buffer_generation.

    The mappings are not heap memory, so besides ASan (which watches the heap copies and
    the destination buffers) the harness checks the invariant that makes every copy safe:
    an attached mirror never believes in more ring bytes than the ring file has, nor in a
    header larger than the header file.
*/
#include "fuzz_shm_dir.h"
#include "ezshm_dtype.h"
#include "ezshm_error.h"
#include "ezshm_header.h"
#include "ezshm_mirror.h"
#include "ezshm_name.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_MAX (16u << 20)
#define DST_MAX (1u << 20)

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_mirror_header: check failed: %s (line %d)\n", #cond,       \
                    __LINE__);                                                               \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static const char *s_dir;
static char s_header_path[PATH_MAX + 32];
static char s_ring_path[PATH_MAX + 32];
static size_t s_header_size, s_ring_size;
static volatile uint64_t s_sink;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    if (!(s_dir = fuzz_shm_dir_init("fuzz")))
        return -1;
    char name[EZSHM_SHORT_NAME_SIZE];
    CHECK(ezshm_header_segment_name("fuzz", name) == EZSHM_OK);
    snprintf(s_header_path, sizeof s_header_path, "%s/%s", s_dir, name);
    return 0;
}

static uint32_t
s_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void
s_write_file(const char *path, const void *bytes, size_t len, size_t total)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (len)
        CHECK(write(fd, bytes, len) == (ssize_t) len);
    if (total > len)
        CHECK(ftruncate(fd, (off_t) total) == 0);
    close(fd);
}

static bool
s_known_rc(int rc)
{
    return rc == EZSHM_OK || rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY
           || rc == EZSHM_ERR_HEADER || rc == EZSHM_ERR_DTYPE || rc == EZSHM_ERR_STALE;
}

/*  The attached mirror's idea of the stream must fit the files it mapped. */
static void
s_check_info(ezshm_mirror_t *m)
{
    ezshm_stream_info_t info;
    int rc = ezshm_mirror_info(m, &info);
    if (rc != EZSHM_OK) {
        CHECK(rc == EZSHM_ERR_NOTREADY);
        return;
    }
    CHECK(ezshm_header_size(info.layout) <= s_header_size);
    CHECK(info.ndim >= 1 && info.ndim <= EZSHM_MAX_NDIM);
    CHECK(info.itemsize == ezshm_dtype_itemsize(info.dtype) && info.itemsize > 0);
    CHECK(info.n_frames == info.shape[0] && info.n_frames > 0);
    uint64_t frame = info.itemsize;
    for (uint32_t d = 1; d < info.ndim; d++)
        frame *= info.shape[d];
    CHECK(frame == info.frame_bytes);
    CHECK(info.key_len <= EZSHM_MAX_KEYLEN && info.key[info.key_len] == '\0');
    /*  The ring file we made is the only one there is: the mirror must not trust a ring
        size that the file does not have. */
    if (info.n_frames * info.frame_bytes > s_ring_size) {
        fprintf(stderr, "fuzz_mirror_header: attached with %llu x %llu ring bytes, file has %zu\n",
                (unsigned long long) info.n_frames, (unsigned long long) info.frame_bytes,
                s_ring_size);
        abort();
    }
    s_sink += info.key_len;
}

static void
s_read_latest(ezshm_mirror_t *m, unsigned latest_n)
{
    ezshm_stream_info_t info;
    uint64_t frame_bytes = 0;
    if (ezshm_mirror_info(m, &info) == EZSHM_OK)
        frame_bytes = info.frame_bytes;
    /*  Exact-size destinations: ASan sees a frame too many. */
    uint64_t max_frames = 0;
    if (frame_bytes && frame_bytes <= DST_MAX)
        max_frames = DST_MAX / frame_bytes < 64 ? DST_MAX / frame_bytes : 64;
    size_t cap = (size_t) (max_frames * frame_bytes);
    unsigned char *dst = malloc(cap ? cap : 1);
    CHECK(dst != NULL);
    uint64_t n_read = 0, n_lost = 0;
    int rc = ezshm_mirror_read(m, cap ? dst : NULL, max_frames, &n_read, &n_lost);
    CHECK(s_known_rc(rc));
    CHECK(n_read <= max_frames);
    if (rc == EZSHM_ERR_STALE || rc == EZSHM_OK)
        s_check_info(m);
    free(dst);

    /*  latest: n from the flags, within what fits DST_MAX with the current frame size. */
    frame_bytes = 0;
    if (ezshm_mirror_info(m, &info) == EZSHM_OK)
        frame_bytes = info.frame_bytes;
    uint64_t n = latest_n;
    if (!frame_bytes || frame_bytes > DST_MAX)
        n = 0;
    else if (n > DST_MAX / frame_bytes)
        n = DST_MAX / frame_bytes;
    cap = (size_t) (n * frame_bytes);
    dst = malloc(cap ? cap : 1);
    CHECK(dst != NULL);
    uint64_t n_out = 0;
    rc = ezshm_mirror_latest(m, cap ? dst : NULL, n, &n_out);
    CHECK(s_known_rc(rc));
    if (rc == EZSHM_OK) {
        /*  latest may re-attach (first attach or after a rebuild) with another frame size;
            it only copies with the size it reports. */
        if (ezshm_mirror_info(m, &info) == EZSHM_OK && info.frame_bytes == frame_bytes)
            CHECK(n_out <= n);
        else
            CHECK(n_out == 0 || n == 0);
        s_check_info(m);
    }
    free(dst);
    s_sink += ezshm_mirror_written(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint8_t flags = data[0], mode = data[1];
    size_t hlen = (size_t) data[2] | (size_t) data[3] << 8;
    int32_t param = (int32_t) s_u32(data + 4);
    const uint8_t *rest = data + 8;
    size_t left = size - 8;
    if (hlen > left)
        hlen = left;

    /*  1. detect + validate on an exact-size heap copy. */
    uint8_t *hdr = malloc(hlen ? hlen : 1);
    CHECK(hdr != NULL);
    memcpy(hdr, rest, hlen);
    ezshm_layout_t layout = EZSHM_LAYOUT_LEGACY;
    int rc = ezshm_header_detect(hlen ? hdr : hdr + 1, hlen, &layout);
    CHECK(rc == EZSHM_OK || rc == EZSHM_ERR_HEADER);
    uint64_t frame_bytes = 0, ring_bytes = 0;
    bool valid = false;
    uint32_t generation = 0;
    if (rc == EZSHM_OK) {
        CHECK(ezshm_header_size(layout) <= hlen);
        const ezshm_meta_t *meta = ezshm_header_meta(hdr, layout);
        generation = ezshm_header_generation(meta);
        s_sink += ezshm_header_valid(meta);
        uint64_t wi, wc;
        if (ezshm_header_position(meta, &wi, &wc))
            s_sink += wi + wc;
        rc = ezshm_header_validate(meta, &frame_bytes, &ring_bytes);
        CHECK(rc == EZSHM_OK || rc == EZSHM_ERR_HEADER || rc == EZSHM_ERR_DTYPE);
        valid = rc == EZSHM_OK;
        if (valid) {
            CHECK(frame_bytes > 0 && ring_bytes >= frame_bytes);
            CHECK(ring_bytes / frame_bytes == meta->shape[0]);
            CHECK(ezshm_dtype_itemsize(meta->dtype) > 0);
        }
    }
    free(hdr);

    /*  2. the files. */
    s_header_size = hlen;
    s_write_file(s_header_path, rest, hlen, hlen);
    if (*s_ring_path) {
        unlink(s_ring_path);
        *s_ring_path = '\0';
    }
    s_ring_size = 0;
    if (flags & 1) {
        uint64_t ring_size;
        if ((flags & 2) && valid && ring_bytes <= RING_MAX) {
            int64_t want = (int64_t) ring_bytes + param % 4096;
            ring_size = want < 0 ? 0 : (uint64_t) want;
        }
        else
            ring_size = (uint32_t) param % RING_MAX;
        char name[EZSHM_SHORT_NAME_SIZE];
        CHECK(ezshm_ring_segment_name("fuzz", generation, name) == EZSHM_OK);
        snprintf(s_ring_path, sizeof s_ring_path, "%s/%s", s_dir, name);
        s_write_file(s_ring_path, NULL, 0, (size_t) ring_size);
        s_ring_size = (size_t) ring_size;
    }

    /*  3. the mirror. */
    ezshm_mirror_t *m = NULL;
    CHECK(ezshm_mirror_new("fuzz", &m) == EZSHM_OK);
    rc = ezshm_mirror_attach(m);
    CHECK(s_known_rc(rc) && rc != EZSHM_ERR_STALE);
    if (rc == EZSHM_OK)
        s_check_info(m);
    bool replace = mode & 1;
    if (!replace)
        s_read_latest(m, flags >> 2);

    /*  4. a writer changes the header (in place, or restarted: a new file) under the
        mapping; read again. */
    const uint8_t *patch = rest + hlen;
    size_t npatch = (left - hlen) / 3;
    if (npatch && hlen) {
        if (mode & 2) {
            unlink(s_header_path);
            s_read_latest(m, flags >> 2);
        }
        uint8_t *h = malloc(hlen);
        CHECK(h != NULL);
        memcpy(h, rest, hlen);
        for (size_t i = 0; i < npatch; i++, patch += 3)
            h[((size_t) patch[0] | (size_t) patch[1] << 8) % hlen] = patch[2];
        if (replace || (mode & 2)) {
            unlink(s_header_path);
            s_write_file(s_header_path, h, hlen, hlen);
        }
        else {
            int fd = open(s_header_path, O_RDWR | O_CLOEXEC);
            CHECK(fd >= 0);
            CHECK(pwrite(fd, h, hlen, 0) == (ssize_t) hlen);
            close(fd);
        }
        free(h);
        s_read_latest(m, flags >> 2);
        s_read_latest(m, flags >> 2);
    }
    ezshm_mirror_detach(m);
    rc = ezshm_mirror_attach(m);
    CHECK(s_known_rc(rc) && rc != EZSHM_ERR_STALE);
    if (rc == EZSHM_OK)
        s_check_info(m);
    ezshm_mirror_destroy(&m);
    CHECK(m == NULL);
    return 0;
}
