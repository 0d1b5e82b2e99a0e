/*  ezshm-stress — test helper: a counter-pattern writer and a verifying reader.

    ezshm-stress write NAME [--ring L] [--chunks 64,37,...] [--elems E] [--dtype I|d]
                            [--seconds S | --count N] [--hold S] [--layout legacy|v1]
                            [--no-clock]
        frame i holds E elements all equal to i (uint32 or float64); chunk sizes cycle.
        --count N writes N frames then stops; --hold S keeps the segments S seconds after.
        --no-clock: no clock segment (what an ezmsg-tools writer looks like to readers:
        the mirror's torn-read check then waits instead of asking the anchors).
    ezshm-stress read NAME [--seconds S] [--wait S] [--min-frames N] [--keep]
        --keep: a ring being rebuilt (not ready) is waited for, not taken as the end;
        integer counters of any item size are checked modulo their range (ezshm-pub counter).
        reads with ezshm_mirror_read, verifies every returned frame: all elements equal,
        value == previous + 1 + lost. Exits 1 on any corrupt/duplicated/misplaced frame.
        Prints "clock yes" once a chunk anchor was seen (the writer has a clock segment).
*/
#include "ezshm.h"

#include <getopt.h>
#include <sched.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
s_write(const char *name, uint64_t ring, const char *chunks_arg, uint64_t elems, char dtype,
        double seconds, long long count, double hold, ezshm_layout_t layout, bool no_clock)
{
    uint64_t chunks[64];
    int n_chunks = 0;
    char *copy = strdup(chunks_arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && n_chunks < 64; tok = strtok_r(NULL, ",", &save))
        chunks[n_chunks++] = strtoull(tok, NULL, 10);
    free(copy);
    if (!n_chunks)
        return 64;
    uint64_t max_chunk = 0;
    for (int i = 0; i < n_chunks; i++)
        max_chunk = chunks[i] > max_chunk ? chunks[i] : max_chunk;

    ezshm_writer_options_t opt;
    ezshm_writer_options_init(&opt);
    opt.layout = layout;
    opt.no_clock = opt.no_clock || no_clock;
    ezshm_writer_t *w = NULL;
    int rc = ezshm_writer_new(name, &opt, &w);
    if (rc != EZSHM_OK) {
        fprintf(stderr, "ezshm-stress write: %s\n", ezshm_strerror(rc));
        return 1;
    }
    uint64_t shape[1] = {elems};
    ezshm_ring_spec_t spec = {dtype, 1000.0, ring, 1, shape, "stress", 6};
    rc = ezshm_writer_configure(w, &spec);
    if (rc != EZSHM_OK) {
        fprintf(stderr, "ezshm-stress write: configure: %s\n", ezshm_strerror(rc));
        ezshm_writer_destroy(&w);
        return 1;
    }
    size_t item = ezshm_dtype_itemsize(dtype);
    uint8_t *buf = malloc(max_chunk * elems * item);
    uint64_t next = 0;
    double end = ezshm_time_mono() + seconds;
    for (int c = 0;; c = (c + 1) % n_chunks) {
        if (count >= 0 ? next >= (uint64_t) count : ezshm_time_mono() >= end)
            break;
        uint64_t n = chunks[c];
        if (count >= 0 && next + n > (uint64_t) count)
            n = (uint64_t) count - next;
        for (uint64_t f = 0; f < n; f++)
            for (uint64_t e = 0; e < elems; e++) {
                uint8_t *p = buf + (f * elems + e) * item;
                if (dtype == 'd') {
                    double v = (double) (next + f);
                    memcpy(p, &v, 8);
                }
                else {
                    uint32_t v = (uint32_t) (next + f);
                    memcpy(p, &v, 4);
                }
            }
        rc = ezshm_writer_write(w, buf, n);
        if (rc != EZSHM_OK) {
            fprintf(stderr, "ezshm-stress write: %s\n", ezshm_strerror(rc));
            break;
        }
        next += n;
    }
    printf("writer: %" PRIu64 " frames\n", next);
    fflush(stdout);
    if (hold > 0) {
        struct timespec ts = {(time_t) hold, (long) ((hold - floor(hold)) * 1e9)};
        nanosleep(&ts, NULL);
    }
    free(buf);
    ezshm_writer_destroy(&w);
    return rc == EZSHM_OK ? 0 : 1;
}

static int
s_read(const char *name, double seconds, double wait, uint64_t min_frames, bool keep)
{
    ezshm_mirror_t *m = NULL;
    if (ezshm_mirror_new(name, &m) != EZSHM_OK)
        return 1;
    double deadline = ezshm_time_mono() + wait;
    int rc;
    while ((rc = ezshm_mirror_attach(m)) != EZSHM_OK) {
        if (ezshm_time_mono() > deadline) {
            fprintf(stderr, "ezshm-stress read: attach: %s\n", ezshm_strerror(rc));
            ezshm_mirror_destroy(&m);
            return 2;
        }
        usleep(1000);
    }
    ezshm_stream_info_t info;
    ezshm_mirror_info(m, &info);
    uint64_t elems = info.frame_bytes / info.itemsize;
    uint8_t *buf = malloc(info.n_frames * info.frame_bytes);
    bool have_last = false, clock = false;
    uint64_t pending_lost = 0;   /* lost since the last returned frame (reads may return 0 frames) */
    uint64_t last = 0, frames = 0, lost_total = 0, gaps = 0, reads = 0, errors = 0, stale = 0;
    double end = ezshm_time_mono() + seconds;
    while (ezshm_time_mono() < end && errors < 10) {
        uint64_t got = 0, lost = 0;
        rc = ezshm_mirror_read(m, buf, info.n_frames, &got, &lost);
        reads++;
        if (rc == EZSHM_ERR_STALE) {
            stale++;
            ezshm_mirror_info(m, &info);
            free(buf);
            buf = malloc(info.n_frames * info.frame_bytes);
            elems = info.frame_bytes / info.itemsize;
            have_last = false;
            pending_lost = 0;
            continue;
        }
        if (rc != EZSHM_OK) {
            if ((rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY) && keep) {
                usleep(1000);   /* a ring being rebuilt: wait for it */
                continue;
            }
            if (rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY)
                break;   /* writer finished */
            fprintf(stderr, "ezshm-stress read: %s\n", ezshm_strerror(rc));
            errors++;
            break;
        }
        if (lost) {
            gaps++;
            lost_total += lost;
            pending_lost += lost;
        }
        for (uint64_t f = 0; f < got; f++) {
            uint64_t v = 0;
            for (uint64_t e = 0; e < elems; e++) {
                const uint8_t *p = buf + f * info.frame_bytes + e * info.itemsize;
                uint64_t x;
                if (info.dtype == 'd') {
                    double d;
                    memcpy(&d, p, 8);
                    x = (uint64_t) d;
                }
                else {
                    uint64_t u = 0;   /* little-endian integer of itemsize bytes */
                    memcpy(&u, p, info.itemsize);
                    x = u;
                }
                if (e == 0)
                    v = x;
                else if (x != v) {
                    if (errors++ < 10)
                        fprintf(stderr, "CORRUPT frame: element %" PRIu64 " = %" PRIu64 ", element 0 = %" PRIu64 "\n", e, x, v);
                }
            }
            if (have_last) {
                uint64_t want = last + 1 + (f == 0 ? pending_lost : 0);
                if (info.dtype != 'd' && info.itemsize < 8)
                    want &= (UINT64_C(1) << (8 * info.itemsize)) - 1;
                if (v != want && errors++ < 10)
                    fprintf(stderr, "DISCONTINUITY: got %" PRIu64 ", want %" PRIu64 " (last %" PRIu64 ", lost %" PRIu64 ", frame %" PRIu64 " of %" PRIu64 ")\n",
                            v, want, last, pending_lost, f, got);
            }
            have_last = true;
            last = v;
            pending_lost = 0;
        }
        frames += got;
        ezshm_newest_t newest;
        if (got && !clock && ezshm_mirror_newest(m, &newest) == EZSHM_OK)
            clock = newest.wall_ns != 0;   /* only an anchor carries the writer's wall clock */
        if (!got && !lost)
            sched_yield();
    }
    printf("reader: frames %" PRIu64 " lost %" PRIu64 " gaps %" PRIu64 " reads %" PRIu64 " stale %" PRIu64 " errors %" PRIu64 " last %" PRIu64 " clock %s\n",
           frames, lost_total, gaps, reads, stale, errors, last, clock ? "yes" : "no");
    free(buf);
    ezshm_mirror_destroy(&m);
    if (errors)
        return 1;
    if (frames < min_frames) {
        fprintf(stderr, "ezshm-stress read: only %" PRIu64 " frames (< %" PRIu64 ")\n", frames, min_frames);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3)
        goto usage;
    const char *mode = argv[1], *name = argv[2];
    static const struct option options[] = {
        {"ring", required_argument, NULL, 'r'},    {"chunks", required_argument, NULL, 'c'},
        {"elems", required_argument, NULL, 'e'},   {"dtype", required_argument, NULL, 't'},
        {"seconds", required_argument, NULL, 's'}, {"count", required_argument, NULL, 'n'},
        {"hold", required_argument, NULL, 'h'},    {"layout", required_argument, NULL, 'l'},
        {"wait", required_argument, NULL, 'w'},    {"min-frames", required_argument, NULL, 'm'},
        {"keep", no_argument, NULL, 'k'},          {"no-clock", no_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    uint64_t ring = 256, elems = 3, min_frames = 0;
    const char *chunks = "64,37";
    char dtype = 'I';
    double seconds = 5.0, hold = 0.0, wait = 5.0;
    long long count = -1;
    bool keep = false, no_clock = false;
    ezshm_layout_t layout = EZSHM_LAYOUT_LEGACY;
    optind = 3;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'r': ring = strtoull(optarg, NULL, 10); break;
        case 'c': chunks = optarg; break;
        case 'e': elems = strtoull(optarg, NULL, 10); break;
        case 't': dtype = optarg[0]; break;
        case 's': seconds = atof(optarg); break;
        case 'n': count = atoll(optarg); break;
        case 'h': hold = atof(optarg); break;
        case 'l': if (ezshm_layout_parse(optarg, &layout) != EZSHM_OK) goto usage; break;
        case 'w': wait = atof(optarg); break;
        case 'm': min_frames = strtoull(optarg, NULL, 10); break;
        case 'k': keep = true; break;
        case 'C': no_clock = true; break;
        default: goto usage;
        }
    }
    if (dtype != 'I' && dtype != 'd')
        goto usage;
    if (!strcmp(mode, "write"))
        return s_write(name, ring, chunks, elems ? elems : 1, dtype, seconds, count, hold, layout, no_clock);
    if (!strcmp(mode, "read"))
        return s_read(name, seconds, wait, min_frames, keep);
usage:
    fprintf(stderr, "usage: ezshm-stress write|read NAME [options] (see source)\n");
    return 64;
}
