/*  ezshm-mirror — attach to a stream by name; print its header, dump frames, or watch it live.

    ezshm-mirror [--wait S] NAME                                  header, then rates and losses
    ezshm-mirror --dump csv|raw --latest N [--timestamps] NAME    newest N frames, then exit
    ezshm-mirror --follow [--dump csv|raw] [--frames N] [--timestamps] NAME
                                                                  every frame as it arrives
    ezshm-mirror --watch NAME...                                  live view of one stream or several
    ezshm-mirror --watch --all E                                  every stream of the daemon at control E
    ezshm-mirror --meta [--follow [--count N]] NAME                stream metadata as JSON
*/
#include "mirror_cli.h"

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t mirror_interrupted = 0;

static void
s_on_signal(int sig)
{
    (void) sig;
    mirror_interrupted = 1;
}

void
mirror_sleep(double seconds)
{
    struct timespec ts = {(time_t) seconds, (long) ((seconds - floor(seconds)) * 1e9)};
    while (!mirror_interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void
mirror_report(const ezshm_mirror_t *m, int rc)
{
    fprintf(stderr, "ezshm-mirror: %s: %s\n", ezshm_mirror_name(m), ezshm_strerror(rc));
}

int
mirror_wait(ezshm_mirror_t *const *m, size_t n, uint64_t block, int timeout_ms, size_t *which)
{
    if (which)
        *which = 0;
    int rc = n == 1 && block > 1 ? ezshm_mirror_wait_frames(m[0], block, timeout_ms)
                                 : ezshm_mirror_wait_any(m, n, timeout_ms, which);
    bool carry_on = rc == EZSHM_OK || rc == EZSHM_ERR_STALE || rc == EZSHM_ERR_TIMEOUT || rc == EZSHM_ERR_NOENT
                    || rc == EZSHM_ERR_NOTREADY;
    return carry_on ? EZSHM_OK : rc;
}

int
mirror_exit_code(int rc)
{
    switch (rc) {
    case EZSHM_OK: case EZSHM_ERR_STALE: return MIRROR_EXIT_OK;
    case EZSHM_ERR_NOENT: case EZSHM_ERR_NOTREADY: return MIRROR_EXIT_NOSTREAM;
    case EZSHM_ERR_HEADER: case EZSHM_ERR_DTYPE: return MIRROR_EXIT_BADHEADER;
    default: return MIRROR_EXIT_ERROR;
    }
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: ezshm-mirror [--wait SECONDS] NAME\n"
        "       ezshm-mirror [--wait SECONDS] --dump csv|raw --latest N [--timestamps] [--header-row] NAME\n"
        "       ezshm-mirror [--wait SECONDS] --follow [--dump csv|raw] [--frames N] [--timestamps]\n"
        "                    [--header-row] NAME\n"
        "       ezshm-mirror [--wait SECONDS] --watch [--refresh HZ] NAME...\n"
        "       ezshm-mirror [--wait SECONDS] --watch [--refresh HZ] --all ENDPOINT\n"
        "       ezshm-mirror [--wait SECONDS] --meta [--follow [--count N]] NAME\n"
        "       ezshm-mirror --help | --version\n"
        "Attaches to the ezmsg-tools compatible shared-memory stream NAME (the long name).\n"
        "  --wait S      wait up to S seconds for the stream to appear (default 0)\n"
        "  --refresh HZ  redraws per second of --watch (default 5)\n"
        "  --all E       --watch every stream of the ezshmd whose control endpoint is E\n"
        "                (their names from ezshm-ctl names)\n"
        "  --follow      stream every new frame to stdout (csv unless --dump raw) until\n"
        "                SIGINT/SIGTERM, a closed pipe, or --frames N frames; losses on stderr\n"
        "  --frames N    stop --follow after N frames\n"
        "  --timestamps  csv: first column the frame's time (%%.9f, nan when unknown)\n"
        "  --header-row  csv: first a line of channel labels from the stream metadata\n"
        "  --meta        print the stream metadata (v1 aux segment) as JSON; --follow: a line\n"
        "                per change, --count N: stop after N lines\n"
        "exit: 0 ok, 1 error, 2 no such stream, 3 invalid header, 64 usage\n");
}

/*  Attaches, retrying the retryable states: a missing stream (NOENT) until the deadline; a
    stream without a ring yet (NOTREADY: before its first message, or a rebuild) too, except
    for a follower, which — like tail -F — waits for the ring of a stream it has seen for as
    long as it takes. */
static int
s_attach(ezshm_mirror_t *m, double wait, bool follow)
{
    double deadline = ezshm_time_mono() + wait;
    bool seen = false;
    for (;;) {
        int rc = ezshm_mirror_attach(m);
        if (rc == EZSHM_OK || (rc != EZSHM_ERR_NOENT && rc != EZSHM_ERR_NOTREADY) || mirror_interrupted)
            return rc;
        seen |= follow && rc == EZSHM_ERR_NOTREADY;
        if (!seen && ezshm_time_mono() >= deadline)
            return rc;
        mirror_sleep(0.02);
    }
}

static void
s_print_info(const ezshm_stream_info_t *info, const char *name)
{
    printf("stream: %s\nheader segment: %s\nring segment: %s\nlayout: %s\ndtype: %c\nshape: [",
           name, info->header_segment, info->ring_segment, ezshm_layout_name(info->layout),
           info->dtype);
    for (uint32_t d = 0; d < info->ndim; d++)
        printf("%s%u", d ? ", " : "", info->shape[d]);
    printf("]\nsrate: %.17g\ngeneration: %u\nkey: %s\n", info->srate, info->generation, info->key);
    fflush(stdout);
}

/*  t: each frame's time as the first CSV column, or NULL. */
static void
s_print_frames(const ezshm_stream_info_t *info, const uint8_t *frames, uint64_t n, bool csv,
               const double *t)
{
    if (!csv) {
        fwrite(frames, info->frame_bytes, n, stdout);
        return;
    }
    uint64_t per_frame = info->frame_bytes / info->itemsize;
    char text[96];
    for (uint64_t f = 0; f < n; f++) {
        if (t)
            printf("%.9f,", t[f]);
        for (uint64_t e = 0; e < per_frame; e++) {
            ezshm_value_format(info->dtype, frames + f * info->frame_bytes + e * info->itemsize,
                               text, sizeof text);
            fputs(text, stdout);
            fputc(e + 1 < per_frame ? ',' : '\n', stdout);
        }
    }
}

/*  The CSV header line: one label per frame element (see ezshm_frame_labels), CSV-quoted
    when needed, after a "time" column with --timestamps; plain element indices when the
    stream publishes no metadata. */
static void
s_header_row(ezshm_mirror_t *m, const ezshm_stream_info_t *info, bool stamps)
{
    uint64_t n = info->frame_bytes / info->itemsize;
    ezshm_tree_t *tree = ezshm_tree_new();
    char err[64], unit[32];
    uint32_t gen;
    char **labels = tree && ezshm_mirror_meta(m, tree, &gen, err, sizeof err) == EZSHM_OK
                    ? ezshm_frame_labels(ezshm_tree_root(tree), info, unit, sizeof unit) : NULL;
    if (stamps)
        fputs("time,", stdout);
    for (uint64_t e = 0; e < n; e++) {
        const char *l = labels && labels[e] ? labels[e] : NULL;
        if (!l)
            printf("%llu", (unsigned long long) e);
        else if (strpbrk(l, ",\"\n\r")) {
            fputc('"', stdout);
            for (; *l; l++)
                fputs(*l == '"' ? "\"\"" : (char[2]) {*l, 0}, stdout);
            fputc('"', stdout);
        }
        else
            fputs(l, stdout);
        fputc(e + 1 < n ? ',' : '\n', stdout);
    }
    ezshm_labels_free(labels, n);
    ezshm_tree_destroy(&tree);
}

/*  Frame and time buffers for n frames (at least one, so a ring not built yet is no
    allocation failure), replacing *buf and *t; -1 with both freed (NULL) when out of memory. */
static int
s_frame_buffers(uint64_t n, uint64_t frame_bytes, bool stamps, uint8_t **buf, double **t)
{
    free(*buf);
    free(*t);
    if (n == 0)
        n = 1;
    *buf = malloc(n * frame_bytes);
    *t = stamps ? malloc(n * sizeof **t) : NULL;
    if (*buf && (*t || !stamps))
        return 0;
    free(*buf);
    free(*t);
    *buf = NULL;
    *t = NULL;
    return -1;
}

/*  The stream's shape into info, and the CSV header row first when asked. */
static void
s_dump_start(ezshm_mirror_t *m, ezshm_stream_info_t *info, bool stamps, bool header_row)
{
    ezshm_mirror_info(m, info);
    if (header_row)
        s_header_row(m, info, stamps);
}

static int
s_dump_latest(ezshm_mirror_t *m, uint64_t n, bool csv, bool stamps, bool header_row)
{
    ezshm_stream_info_t info;
    s_dump_start(m, &info, stamps, header_row);
    /*  The ring never holds more than n_frames: a larger N asks for what cannot exist. The
        ring itself fits in memory (it is mapped), so n * frame_bytes cannot overflow now. */
    if (n > info.n_frames)
        n = info.n_frames;
    uint8_t *buf = NULL;
    double *t = NULL;
    if (s_frame_buffers(n, info.frame_bytes, stamps, &buf, &t) != 0)
        return MIRROR_EXIT_ERROR;
    uint64_t got = 0;
    int rc = ezshm_mirror_latest_ts(m, buf, n, &got, t);
    if (rc == EZSHM_OK)
        s_print_frames(&info, buf, got, csv, t);
    else
        mirror_report(m, rc);
    free(buf);
    free(t);
    return mirror_exit_code(rc);
}

/*  A reader on the other end of the pipe went away (`| head`): a normal end. */
static bool
s_stdout_closed(void)
{
    return (fflush(stdout) != 0 || ferror(stdout)) && errno == EPIPE;
}

/*  A segment was truncated under the follower (whoever may write it can: the owner, root, a
    group with write — the wake segment gives a reader group write): the library has unmapped
    everything, ezshmd rebuilds the ring with its next chunk, and the next read attaches to
    what is there (STALE: the stream's shape again). A follower, like tail -F, goes on; the
    pause keeps a segment truncated again and again from spinning the loop. */
static void
s_reattach_after_fault(ezshm_mirror_t *m)
{
    fprintf(stderr, "ezshm-mirror: %s: %s: re-attaching\n", ezshm_mirror_name(m), ezshm_strerror(EZSHM_ERR_BUS));
    mirror_sleep(0.01);
}

static int
s_dump_follow(ezshm_mirror_t *m, uint64_t want, bool csv, bool stamps, bool header_row)
{
    ezshm_stream_info_t info;
    s_dump_start(m, &info, stamps, header_row);
    uint64_t printed = 0, lost_total = 0;
    uint8_t *buf = NULL;
    double *t = NULL;
    if (s_frame_buffers(info.n_frames, info.frame_bytes, stamps, &buf, &t) != 0)
        return MIRROR_EXIT_ERROR;
    int rc = EZSHM_OK;
    while (!mirror_interrupted && printed < want) {
        uint64_t got = 0, lost = 0, ask = want - printed < info.n_frames ? want - printed : info.n_frames;
        rc = ezshm_mirror_read_ts(m, buf, ask, &got, &lost, t);
        if (lost) {
            lost_total += lost;
            fprintf(stderr, "ezshm-mirror: lost %llu frames (total %llu)\n",
                    (unsigned long long) lost, (unsigned long long) lost_total);
        }
        if (rc == EZSHM_ERR_STALE) {
            ezshm_mirror_info(m, &info);
            fprintf(stderr, "ezshm-mirror: ring rebuilt, generation %u\n", info.generation);
            if (s_frame_buffers(info.n_frames, info.frame_bytes, stamps, &buf, &t) != 0) {
                rc = EZSHM_ERR_NOMEM;
                break;
            }
            continue;
        }
        if (rc == EZSHM_ERR_BUS) {
            s_reattach_after_fault(m);
            continue;
        }
        if (rc != EZSHM_OK && rc != EZSHM_ERR_NOTREADY && rc != EZSHM_ERR_NOENT)
            break;
        rc = EZSHM_OK;
        if (got) {
            s_print_frames(&info, buf, got, csv, t);
            printed += got;
            if (s_stdout_closed())
                break;
            continue;
        }
        /*  Asleep until frames land (or the stream changes); the short timeout keeps
            SIGINT/SIGTERM prompt, since a futex wait restarts after the handler. */
        if ((rc = mirror_wait(&m, 1, 1, 100, NULL)) == EZSHM_ERR_BUS)
            s_reattach_after_fault(m);
        else if (rc != EZSHM_OK)
            break;
        rc = EZSHM_OK;
    }
    fflush(stdout);
    free(buf);
    free(t);
    if (rc != EZSHM_OK)
        mirror_report(m, rc);
    return mirror_exit_code(rc);
}

/*  Default mode: header, then a line per second with frames/s and losses. */
static int
s_monitor(ezshm_mirror_t *m)
{
    ezshm_stream_info_t info;
    ezshm_mirror_info(m, &info);
    s_print_info(&info, ezshm_mirror_name(m));
    uint8_t *buf = malloc(info.n_frames * info.frame_bytes);
    if (!buf)
        return MIRROR_EXIT_ERROR;
    uint64_t frames = 0, lost_window = 0;
    double t0 = ezshm_time_mono();
    int rc = EZSHM_OK;
    while (!mirror_interrupted) {
        uint64_t got = 0, lost = 0;
        rc = ezshm_mirror_read(m, buf, info.n_frames, &got, &lost);
        if (rc == EZSHM_ERR_STALE) {
            ezshm_mirror_info(m, &info);
            free(buf);
            if (!(buf = malloc(info.n_frames * info.frame_bytes)))
                return MIRROR_EXIT_ERROR;
            s_print_info(&info, ezshm_mirror_name(m));
        }
        else if (rc != EZSHM_OK && rc != EZSHM_ERR_NOTREADY && rc != EZSHM_ERR_NOENT)
            break;
        rc = EZSHM_OK;
        frames += got;
        lost_window += lost;
        double now = ezshm_time_mono();
        if (now - t0 >= 1.0) {
            printf("rate: %.1f frames/s  %.3f MB/s  lost: %llu\n", frames / (now - t0),
                   frames * (double) info.frame_bytes / (now - t0) / 1e6, (unsigned long long) lost_window);
            fflush(stdout);
            frames = lost_window = 0;
            t0 = now;
        }
        if (!got)
            mirror_sleep(0.002);
    }
    free(buf);
    if (rc != EZSHM_OK)
        mirror_report(m, rc);
    return mirror_exit_code(rc);
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {
        {"wait", required_argument, NULL, 'w'},   {"dump", required_argument, NULL, 'd'},
        {"latest", required_argument, NULL, 'l'}, {"follow", no_argument, NULL, 'f'},
        {"frames", required_argument, NULL, 'n'}, {"watch", no_argument, NULL, 'W'},
        {"refresh", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {"timestamps", no_argument, NULL, 'T'},
        {"meta", no_argument, NULL, 'M'},         {"count", required_argument, NULL, 'c'},
        {"header-row", no_argument, NULL, 'H'},   {"all", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0}};
    double wait = 0.0, refresh = 5.0;
    const char *dump = NULL, *all = NULL;
    long long latest = -1, frames = -1, count = -1;
    bool follow = false, watch = false, refresh_given = false, stamps = false, meta = false;
    bool header_row = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'w': if (!ezshm_value_parse_double(optarg, &wait) || wait < 0) goto usage; break;
        case 'd': dump = optarg; if (strcmp(dump, "csv") && strcmp(dump, "raw")) goto usage; break;
        case 'l': if (!ezshm_value_parse_int(optarg, &latest) || latest < 0) goto usage; break;
        case 'n': if (!ezshm_value_parse_int(optarg, &frames) || frames < 0) goto usage; break;
        case 'f': follow = true; break;
        case 'W': watch = true; break;
        case 'T': stamps = true; break;
        case 'M': meta = true; break;
        case 'c': if (!ezshm_value_parse_int(optarg, &count) || count < 1) goto usage; break;
        case 'H': header_row = true; break;
        case 'a': all = optarg; break;
        case 'r': refresh_given = true; if (!ezshm_value_parse_double(optarg, &refresh) || refresh <= 0) goto usage; break;
        case 'h': s_usage(stdout); return MIRROR_EXIT_OK;
        case 'V': printf("ezshm-mirror %s\n", EZSHM_VERSION); return MIRROR_EXIT_OK;
        default: goto usage;
        }
    }
    size_t n = (size_t) (argc - optind);
    if (meta && (dump || watch || latest >= 0 || frames >= 0 || stamps || header_row || all
                 || refresh_given || (count >= 0 && !follow) || optind != argc - 1))
        goto usage;
    if (follow && !dump && !meta)
        dump = "csv";
    if (!meta && ((all ? n != 0 || !watch : n == 0) || (n > 1 && !watch) || (dump && (latest >= 0) == follow) || (frames >= 0 && !follow)
                  || (!dump && latest >= 0) || (watch && dump) || (refresh_given && !watch)
                  || (stamps && (!dump || strcmp(dump, "csv") != 0)) || count >= 0
                  || (header_row && (!dump || strcmp(dump, "csv") != 0))))
        goto usage;

    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    /*  A closed pipe is seen as EPIPE on the next write: a clean end of --follow. */
    signal(SIGPIPE, SIG_IGN);
    /*  A segment truncated under us becomes an error message, not a silent SIGBUS death. */
    if (ezshm_guard_enable() != EZSHM_OK)
        fprintf(stderr, "ezshm-mirror: cannot install the SIGBUS guard: %s\n", strerror(errno));
    if (meta) {
        ezshm_mirror_t *m = NULL;
        int rc = ezshm_mirror_new(argv[optind], &m);
        if (rc != EZSHM_OK) {
            fprintf(stderr, "ezshm-mirror: %s\n", ezshm_strerror(rc));
            return MIRROR_EXIT_ERROR;
        }
        int code = mirror_meta(m, wait, follow, count);
        ezshm_mirror_destroy(&m);
        return code;
    }
    char **found = NULL;
    if (all && mirror_daemon_streams(all, &found, &n) != 0)
        return MIRROR_EXIT_ERROR;
    if (all && n == 0) {
        fprintf(stderr, "ezshm-mirror: the daemon at %s has no stream\n", all);
        return MIRROR_EXIT_NOSTREAM;
    }
    char **names = all ? found : argv + optind;
    ezshm_mirror_t **m = calloc(n, sizeof *m);
    int rc = m ? EZSHM_OK : EZSHM_ERR_NOMEM, code = MIRROR_EXIT_ERROR;
    size_t i = 0;
    for (; i < n && rc == EZSHM_OK; i++)
        rc = ezshm_mirror_new(names[i], &m[i]);
    if (rc != EZSHM_OK)
        fprintf(stderr, "ezshm-mirror: %s\n", ezshm_strerror(rc));
    for (i = 0; i < n && rc == EZSHM_OK; i++)
        rc = s_attach(m[i], wait, follow);
    if (rc != EZSHM_OK && follow && mirror_interrupted)
        code = MIRROR_EXIT_OK;
    else if (m && rc != EZSHM_OK && i > 0 && m[i - 1]) {
        mirror_report(m[i - 1], rc);
        code = mirror_exit_code(rc);
    }
    else if (rc != EZSHM_OK)
        ;
    else if (watch)
        code = mirror_watch(m, n, refresh);
    else if (dump && latest >= 0)
        code = s_dump_latest(m[0], (uint64_t) latest, strcmp(dump, "csv") == 0, stamps, header_row);
    else if (dump)
        code = s_dump_follow(m[0], frames >= 0 ? (uint64_t) frames : UINT64_MAX, strcmp(dump, "csv") == 0,
                             stamps, header_row);
    else
        code = s_monitor(m[0]);
    for (i = 0; m && i < n; i++)
        ezshm_mirror_destroy(&m[i]);
    free(m);
    for (i = 0; all && i < n; i++)
        free(found[i]);
    free(found);
    return code;

usage:
    s_usage(stderr);
    return MIRROR_EXIT_USAGE;
}
