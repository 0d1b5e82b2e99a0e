/*  ezshm-bench — the measuring side of bench/run.sh (docs/benchmarks.md).

    ezshm-bench ceiling  --bind E --frame-bytes FB --frames F --ring-frames L --count N [--warmup W]
        [--pos-file P] [--mode ezmsg] The raw ceiling: a bare libzmq SUB that receives native 3-frame messages and memcpy's
        frame 3 into a ring of L frames (wrap-around, like the writer). Timed from the first
        timed message landed to the last landed: rate = (N - 1) / elapsed. --mode ezmsg: the
        JSON ceiling, which receives ezmsg-zmq multipart messages (2 frames, base64 payload) and
        memcpy's F * FB bytes of frame 2 (the decoded payload's size) the same way: what no
        decoder can beat.
    ezshm-bench watch    (--name S | --pos-file P --frame-bytes FB) --frames F --count N [--warmup W]
        Attaches a mirror to ezshmd's stream (or maps the ceiling's --pos-file), waits for the W warm-up messages, then polls the
        ring position (100 us sleeps, so it does not steal a core) and times the same way.
    ezshm-bench latency  --mode raw|raw-spin|shm|shm-wait (--bind E | --name S --connect E) --count N --rate R
                         [--channels C --frames F] [--change-at K]
        Forks a PUB sender that timestamps every send (CLOCK_MONOTONIC) into a MAP_SHARED
        array; the parent observes. raw: a blocking zmq_msg_recv, the ceiling's loop and the
        way libzmq's own perf/local_lat measures; raw-spin: spins on zmq_msg_recv(DONTWAIT),
        the floor (no wake-up at all); shm: spins on the ring position; shm-wait: sleeps in
        ezshm_mirror_wait and stamps when ezshm_mirror_read has returned the frames (a reader
        that burns no CPU). --change-at K (shm only) sends channels + 1 from message K on and
        reports the time to the first frame of the new generation (ring rebuild).
    ezshm-bench follow   --name S --mode wait|block|poll|futex --timeout SECS [--frames F]
        A reader that takes every frame of ezshmd's stream for SECS seconds, sleeping in
        ezshm_mirror_wait (wait), in ezshm_mirror_wait_frames (block: blocks of F frames) or
        1 ms between reads (poll, a naive display); reports its own CPU (getrusage)
        as % of one core, frames, losses and wake-ups. futex: the floor, a reader that
        reads nothing and only sleeps on the stream's wake word (counted a waiter, as
        ezshm_mirror_wait does) — the anchor's bare futex reader, in the same run.
    ezshm-bench ingest   --count N --runs R
        In-process decode + ingest of native 2 KiB messages (64 frames x 8 ch float32) into a
        writer with and one without the clock segment, both live, taking turns in blocks of
        5000 messages (A B, B A, ...): msg/s of each and their ratio per run.
    ezshm-bench send     --connect E --mode native|ezmsg --frames F --channels C --count N [--timeout S]
                         [--labels]
        A fast sender: one message built once and sent N times (SNDHWM 0), after S seconds
        (default 0.3) for the subscription to arrive. Isolates the receiver from the cost of
        ezshm-pub's per-message encoding.
    ezshm-bench multisend --connect E[,E...] --topics N --rate R --frames F --channels C --count K
                         [--storm-every MS]
        N topics s00, s01, ... round robin at R messages/s in total, K messages each (native,
        encoded per message, own seq and offsets per topic); --storm-every adds topic "storm"
        whose channel count alternates every MS ms (a ring rebuild per message).
    ezshm-bench mirror   --span-bytes B --runs R
        ezshm_mirror_read() of B bytes vs memcpy() of the same ring bytes, alternating.
    ezshm-bench base64   --span-bytes B --runs R
        Base64 of B random bytes, per run and in turn: memcpy of B bytes, then decode,
        validate and encode with every path the CPU has (scalar, ssse3, avx2), each repeated
        to ~50 ms; GB/s of decoded bytes, one line per run.

    Every sub-command prints one line "key=value ..." with ok=1 when the frame counts matched,
    ok=0 (and a reason) otherwise. Exit status 0 only when ok=1.
*/
#include "ezshm.h"
#include "ezshm_clock.h"
#include "ingest.h"
#include "wire.h"
#include "wire_base64.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void
s_sleep(double seconds)
{
    struct timespec ts = {(time_t) seconds, (long) ((seconds - (double) (time_t) seconds) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void
s_sleep_until(double t)
{
    double now = ezshm_time_mono();
    if (t > now)
        s_sleep(t - now);
}

typedef struct {
    const char *mode, *bind, *connect, *name, *pos_file;
    uint64_t frame_bytes, frames, ring_frames, count, warmup, channels, change_at, span_bytes, runs, topics;
    double rate, timeout, storm_ms;
    bool labels;
} opts_t;

static int
s_parse(int argc, char **argv, opts_t *o)
{
    enum { O_MODE = 256, O_BIND, O_CONNECT, O_NAME, O_FB, O_FRAMES, O_RING, O_COUNT, O_WARMUP, O_CH,
           O_CHANGE, O_SPAN, O_RUNS, O_RATE, O_TIMEOUT, O_POS, O_LABELS, O_TOPICS, O_STORM };
    static const struct option lo[] = {
        {"mode", 1, NULL, O_MODE}, {"bind", 1, NULL, O_BIND}, {"connect", 1, NULL, O_CONNECT},
        {"name", 1, NULL, O_NAME}, {"frame-bytes", 1, NULL, O_FB}, {"frames", 1, NULL, O_FRAMES},
        {"ring-frames", 1, NULL, O_RING}, {"count", 1, NULL, O_COUNT}, {"warmup", 1, NULL, O_WARMUP},
        {"channels", 1, NULL, O_CH}, {"change-at", 1, NULL, O_CHANGE}, {"span-bytes", 1, NULL, O_SPAN},
        {"runs", 1, NULL, O_RUNS}, {"rate", 1, NULL, O_RATE}, {"timeout", 1, NULL, O_TIMEOUT}, {"pos-file", 1, NULL, O_POS},
        {"labels", 0, NULL, O_LABELS}, {"topics", 1, NULL, O_TOPICS}, {"storm-every", 1, NULL, O_STORM},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_MODE: o->mode = optarg; break;
        case O_BIND: o->bind = optarg; break;
        case O_CONNECT: o->connect = optarg; break;
        case O_NAME: o->name = optarg; break;
        case O_FB: o->frame_bytes = strtoull(optarg, NULL, 10); break;
        case O_FRAMES: o->frames = strtoull(optarg, NULL, 10); break;
        case O_RING: o->ring_frames = strtoull(optarg, NULL, 10); break;
        case O_COUNT: o->count = strtoull(optarg, NULL, 10); break;
        case O_WARMUP: o->warmup = strtoull(optarg, NULL, 10); break;
        case O_CH: o->channels = strtoull(optarg, NULL, 10); break;
        case O_CHANGE: o->change_at = strtoull(optarg, NULL, 10); break;
        case O_SPAN: o->span_bytes = strtoull(optarg, NULL, 10); break;
        case O_RUNS: o->runs = strtoull(optarg, NULL, 10); break;
        case O_RATE: o->rate = strtod(optarg, NULL); break;
        case O_TIMEOUT: o->timeout = strtod(optarg, NULL); break;
        case O_POS: o->pos_file = optarg; break;
        case O_TOPICS: o->topics = strtoull(optarg, NULL, 10); break;
        case O_STORM: o->storm_ms = strtod(optarg, NULL); break;
        case O_LABELS: o->labels = true; break;
        default: return -1;
        }
    }
    return 0;
}

static void
s_fail_line(const char *what, const char *why)
{
    printf("bench=%s ok=0 reason=%s\n", what, why);
    fflush(stdout);
}

/*  A shared position (frames landed) in a small file: the ceiling publishes it, watch polls
    it exactly as it polls ezshmd's ring, so both are timed by the same observer. */
static uint64_t *
s_map_pos(const char *path, bool create)
{
    int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0600);
    if (fd < 0)
        return NULL;
    if (create && ftruncate(fd, 4096) != 0) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, 4096, create ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

/*  ---- ceiling ------------------------------------------------------------------------ */

static int
s_ceiling(const opts_t *o)
{
    if (!o->bind || !o->frame_bytes || !o->frames || !o->ring_frames || o->count < 2) {
        fprintf(stderr, "ceiling: needs --bind --frame-bytes --frames --ring-frames --count>=2\n");
        return 2;
    }
    uint64_t fb = o->frame_bytes, L = o->ring_frames, payload = o->frames * fb;
    /*  The JSON ceiling lands as many bytes, taken from the JSON frame (frame 2 of 2). */
    bool json = o->mode && strcmp(o->mode, "ezmsg") == 0;
    int want_parts = json ? 2 : 3;
    uint8_t *ring = malloc(L * fb);
    if (!ring)
        return 1;
    memset(ring, 0, L * fb);   /* fault the pages in, as posix_fallocate + first lap do */
    uint64_t *shared_pos = o->pos_file ? s_map_pos(o->pos_file, true) : NULL;
    if (o->pos_file && !shared_pos) {
        fprintf(stderr, "ceiling: cannot map %s\n", o->pos_file);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    int timeout_ms = (int) ((o->timeout > 0 ? o->timeout : 20) * 1000);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_bind(sub, o->bind) != 0) {
        fprintf(stderr, "ceiling: bind %s: %s\n", o->bind, zmq_strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    uint64_t total = o->warmup + o->count, got = 0, bad = 0, pos = 0;
    double t0 = 0, t1 = 0;
    zmq_msg_t part[4];
    for (int i = 0; i < 4; i++)
        zmq_msg_init(&part[i]);
    while (got < total) {
        int n = 0;
        bool timed_out = false;
        for (;;) {
            zmq_msg_t *p = &part[n < 3 ? n : 3];
            /*  The barest loop libzmq allows: a blocking receive, which sleeps inside libzmq
                exactly when the queue is empty (fewer syscalls than any poller). */
            if (zmq_msg_recv(p, sub, 0) < 0) {
                timed_out = true;
                break;
            }
            n++;
            if (!zmq_msg_more(p))
                break;
        }
        if (timed_out)
            break;
        zmq_msg_t *body = &part[want_parts - 1];
        if (n != want_parts || (json ? zmq_msg_size(body) < payload : zmq_msg_size(body) != payload)) {
            bad++;
            continue;
        }
        /*  Land the payload: memcpy into the ring with wrap-around. */
        const uint8_t *src = zmq_msg_data(body);
        uint64_t left = o->frames;
        while (left) {
            uint64_t slot = pos % L, run = L - slot < left ? L - slot : left;
            memcpy(ring + slot * fb, src, run * fb);
            src += run * fb;
            left -= run;
            pos += run;
        }
        got++;
        if (shared_pos)
            __atomic_store_n(shared_pos, pos, __ATOMIC_RELEASE);
        if (got == o->warmup + 1)
            t0 = ezshm_time_mono();
        if (got == total)
            t1 = ezshm_time_mono();
    }
    uint64_t landed = got > o->warmup ? got - o->warmup : 0;
    int ok = landed == o->count && bad == 0;
    double el = t1 - t0;
    if (ok)
        printf("bench=ceiling ok=1 landed=%llu expected=%llu bad=%llu elapsed=%.6f msg_per_s=%.1f MB_per_s=%.2f "
               "checksum=%u\n",
               (unsigned long long) landed, (unsigned long long) o->count, (unsigned long long) bad, el,
               (double) (o->count - 1) / el, (double) (o->count - 1) * (double) payload / el / 1e6,
               (unsigned) ring[(pos - 1) % L * fb]);
    else
        printf("bench=ceiling ok=0 reason=frames_lost landed=%llu expected=%llu bad=%llu\n",
               (unsigned long long) landed, (unsigned long long) o->count, (unsigned long long) bad);
    fflush(stdout);
    for (int i = 0; i < 4; i++)
        zmq_msg_close(&part[i]);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    free(ring);
    return ok ? 0 : 1;
}

/*  ---- watch (ezshmd throughput) -------------------------------------------------------- */

static int
s_attach(ezshm_mirror_t *m, double deadline)
{
    while (ezshm_time_mono() < deadline) {
        if (ezshm_mirror_attach(m) == EZSHM_OK)
            return 0;
        s_sleep(0.001);
    }
    return -1;
}

static const uint64_t *s_pos;

static uint64_t
s_written(const ezshm_mirror_t *m)
{
    return s_pos ? __atomic_load_n(s_pos, __ATOMIC_ACQUIRE) : ezshm_mirror_written(m);
}

static int
s_watch(const opts_t *o)
{
    if ((!o->name && !o->pos_file) || !o->frames || o->count < 2) {
        fprintf(stderr, "watch: needs --name or --pos-file, --frames, --count>=2\n");
        return 2;
    }
    double timeout = o->timeout > 0 ? o->timeout : 20;
    ezshm_mirror_t *m = NULL;
    printf("ready\n");
    fflush(stdout);
    ezshm_stream_info_t info = {0};
    if (o->pos_file) {
        double dl = ezshm_time_mono() + timeout;
        while (!(s_pos = s_map_pos(o->pos_file, false)) && ezshm_time_mono() < dl)
            s_sleep(0.001);
        if (!s_pos) {
            s_fail_line("watch", "no_pos_file");
            return 1;
        }
        info.frame_bytes = o->frame_bytes;
    }
    else {
        if (ezshm_mirror_new(o->name, &m) != EZSHM_OK)
            return 1;
        if (s_attach(m, ezshm_time_mono() + timeout) != 0) {
            s_fail_line("watch", "no_ring");
            return 1;
        }
        ezshm_mirror_info(m, &info);
    }
    uint64_t base = o->warmup * o->frames, target = base + o->count * o->frames;
    /*  The warm-up messages built the ring; wait until they all landed. */
    double deadline = ezshm_time_mono() + timeout;
    while (s_written(m) < base && ezshm_time_mono() < deadline)
        s_sleep(0.0002);
    uint64_t p = s_written(m);
    if (p != base) {
        printf("bench=watch ok=0 reason=warmup position=%llu expected=%llu\n", (unsigned long long) p,
               (unsigned long long) base);
        return 1;
    }
    double t0 = 0, t1 = 0, last_move = ezshm_time_mono();
    uint64_t last = p;
    for (;;) {
        p = s_written(m);
        double now = ezshm_time_mono();
        if (p != last) {
            if (last == base)
                t0 = now;
            last = p;
            last_move = now;
            if (p >= target) {
                t1 = now;
                break;
            }
        }
        else if (now - last_move > (t0 ? 2.0 : timeout))
            break;   /* nothing moves any more: frames were lost */
        s_sleep(0.0001);
    }
    /*  Anything beyond the target would be an error too: give stragglers a moment. */
    s_sleep(0.05);
    p = s_written(m);
    uint64_t landed = (p - base) / o->frames;
    int ok = p == target && t1 > t0;
    double el = t1 - t0;
    if (ok)
        printf("bench=watch ok=1 landed=%llu expected=%llu elapsed=%.6f msg_per_s=%.1f MB_per_s=%.2f\n",
               (unsigned long long) landed, (unsigned long long) o->count, el, (double) (o->count - 1) / el,
               (double) (o->count - 1) * (double) (o->frames * info.frame_bytes) / el / 1e6);
    else
        printf("bench=watch ok=0 reason=frames_lost position=%llu target=%llu landed=%llu expected=%llu\n",
               (unsigned long long) p, (unsigned long long) target, (unsigned long long) landed,
               (unsigned long long) o->count);
    fflush(stdout);
    if (m)
        ezshm_mirror_destroy(&m);
    return ok ? 0 : 1;
}

/*  ---- latency / rebuild ------------------------------------------------------------------ */

typedef struct {
    volatile int observer_ready;   /* observer saw a warm-up message */
    volatile int sender_quiet;     /* sender stopped warming up, nothing in flight */
    volatile int go;               /* observer took its base position */
    volatile int sender_done;
    double       t_send[];         /* CLOCK_MONOTONIC of each timed send */
} shared_t;

/*  One bench message of frames x channels float32 [time, ch] through the real encoder (ezshm-pub's):
    native (the JSON header only; frame 3 is data itself) or ezmsg multipart (the JSON payload,
    data in base64). From one message to the next only ts, seq and offset change, so ezshmd's
    header cache recognises a native stream. labels: a CoordinateAxis ch (Ch0.., unit uV), what
    a labelled stream's metadata comes from. Returns 0 or a drop_reason_t. */
static int
s_encode_topic(wire_buf_t *out, const char *topic, bool ezmsg, uint64_t seq, uint64_t frames, uint64_t channels,
               double fs, uint64_t first_frame, const void *data, bool labels)
{
    static const char *const dims[2] = {"time", "ch"};
    size_t shape[2] = {(size_t) frames, (size_t) channels};
    char **names = labels ? calloc(channels, sizeof *names) : NULL;
    for (size_t i = 0; names && i < channels; i++)
        if ((names[i] = malloc(24)))
            snprintf(names[i], 24, "Ch%zu", i);
    wire_message_t m = {.topic = topic, .key = "", .ndim = 2, .dims = dims, .shape = shape, .dtype = 'f',
                        .data = data, .nbytes = frames * channels * 4, .time_dim = "time", .gain = 1.0 / fs,
                        .offset = (double) first_frame / fs, .has_seq = true, .seq = seq,
                        .ts = ezshm_time_wall(), .label_dim = names ? "ch" : NULL,
                        .labels = (const char *const *) names, .n_labels = channels, .label_unit = "uV"};
    int rc = ezmsg ? wire_encode_ezmsg(&m, out) : wire_encode_native(&m, out);
    for (size_t i = 0; names && i < channels; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int
s_encode(wire_buf_t *out, bool ezmsg, uint64_t seq, uint64_t frames, uint64_t channels, double fs,
         uint64_t first_frame, const void *data, bool labels)
{
    return s_encode_topic(out, "bench", ezmsg, seq, frames, channels, fs, first_frame, data, labels);
}

static int
s_send3_topic(void *sock, const char *topic, const void *hdr, size_t hlen, const void *data, size_t dlen)
{
    if (zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE) < 0 || zmq_send(sock, hdr, hlen, ZMQ_SNDMORE) < 0
        || zmq_send(sock, data, dlen, 0) < 0)
        return -1;
    return 0;
}

static int
s_send3(void *sock, const void *hdr, size_t hlen, const void *data, size_t dlen)
{
    return s_send3_topic(sock, "bench", hdr, hlen, data, dlen);
}

static void
s_sender(const opts_t *o, shared_t *sh)
{
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0, linger = 2000;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(pub, o->connect) != 0)
        _exit(3);
    uint64_t frames = o->frames, ch = o->channels;
    size_t cap = frames * (ch + 1) * 4;
    float *data = calloc(1, cap);
    wire_buf_t hdr = {0};
    double fs = 1000.0 * (double) frames;   /* 1 message per ms of signal: irrelevant here */
    uint64_t seq = 0, first = 0;
    /*  Warm up until the observer sees us (the slow-joiner gap eats the first messages). */
    double deadline = ezshm_time_mono() + 10;
    while (!sh->observer_ready && ezshm_time_mono() < deadline) {
        if (s_encode(&hdr, false, seq++, frames, ch, fs, first, data, false) != 0)
            _exit(5);
        s_send3(pub, hdr.data, hdr.size, data, frames * ch * 4);
        first += frames;
        s_sleep(0.01);
    }
    s_sleep(0.1);
    sh->sender_quiet = 1;
    /*  Bounded: an observer that gave up must not leave us spinning (and holding its stdout). */
    deadline = ezshm_time_mono() + (o->timeout > 0 ? o->timeout : 20) + 5;
    while (!sh->go && ezshm_time_mono() < deadline)
        s_sleep(0.0005);
    if (!sh->go)
        _exit(4);
    double start = ezshm_time_mono() + 0.01;
    for (uint64_t i = 0; i < o->count; i++) {
        if (o->change_at && i == o->change_at)
            ch++;
        s_sleep_until(start + (double) i / o->rate);
        uint64_t idx = i;
        memcpy(data, &idx, sizeof idx);   /* the raw observer reads the index back */
        if (s_encode(&hdr, false, seq++, frames, ch, fs, first, data, false) != 0)
            _exit(5);
        sh->t_send[i] = ezshm_time_mono();
        s_send3(pub, hdr.data, hdr.size, data, frames * ch * 4);
        first += frames;
    }
    sh->sender_done = 1;
    zmq_close(pub);
    zmq_ctx_term(ctx);
    wire_buf_free(&hdr);
    free(data);
    _exit(0);
}

static double
s_pct(const double *sorted, size_t n, double q)
{
    size_t i = (size_t) ceil(q * (double) n) - 1;
    return sorted[i < n ? i : n - 1];
}

static int
s_latency(const opts_t *o)
{
    bool spin = o->mode && strcmp(o->mode, "raw-spin") == 0;
    bool raw = spin || (o->mode && strcmp(o->mode, "raw") == 0);
    bool wait_mode = o->mode && strcmp(o->mode, "shm-wait") == 0;
    if (!o->count || o->rate <= 0 || !o->frames || !o->channels || !o->connect || (raw && !o->bind)
        || (!raw && !o->name) || (wait_mode && o->change_at)) {
        fprintf(stderr, "latency: needs --mode --count --rate --frames --channels --connect and --bind (raw) "
                        "or --name (shm)\n");
        return 2;
    }
    size_t shsize = sizeof(shared_t) + o->count * sizeof(double);
    shared_t *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    double *t_vis = calloc(o->count, sizeof(double));
    double timeout = o->timeout > 0 ? o->timeout : 20;
    void *ctx = NULL, *sub = NULL;
    if (raw) {
        /*  Bind before forking the sender so its connect finds us. */
        ctx = zmq_ctx_new();
        sub = zmq_socket(ctx, ZMQ_SUB);
        int zero = 0;
        zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
        if (zmq_bind(sub, o->bind) != 0) {
            fprintf(stderr, "latency: bind %s: %s\n", o->bind, zmq_strerror(errno));
            return 1;
        }
    }
    fflush(stdout);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /*  Die with the observer: a sender orphaned by a crash would keep the caller's pipe open. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(5);
        /*  libzmq contexts must not cross fork: the child never touches ctx. */
        s_sender(o, sh);
    }
    uint64_t seen = 0, lost = 0, unobserved = 0;
    double deadline = ezshm_time_mono() + timeout, t_new_gen = 0;
    ezshm_mirror_t *m = NULL;
    ezshm_segment_t hseg = {0};
    const ezshm_meta_t *meta = NULL;
    uint64_t base = 0, L = 0, F = o->frames;
    uint32_t gen0 = 0;
    if (raw) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        while (!sh->observer_ready && ezshm_time_mono() < deadline) {
            if (zmq_msg_recv(&part, sub, ZMQ_DONTWAIT) >= 0)
                sh->observer_ready = 1;
            else
                s_sleep(0.001);
        }
        while (!sh->sender_quiet && ezshm_time_mono() < deadline)
            s_sleep(0.001);
        while (zmq_msg_recv(&part, sub, ZMQ_DONTWAIT) >= 0)
            ;
        /*  Blocking: wake up at least every 100 ms to look at the deadline. */
        int tick_ms = 100;
        zmq_setsockopt(sub, ZMQ_RCVTIMEO, &tick_ms, sizeof tick_ms);
        sh->go = 1;
        int n = 0;
        while (seen < o->count && ezshm_time_mono() < deadline) {
            /*  spin: no sched_yield either, it hands the CPU to any runnable task. */
            if (zmq_msg_recv(&part, sub, spin ? ZMQ_DONTWAIT : 0) < 0)
                continue;
            n++;
            if (zmq_msg_more(&part))
                continue;
            double now = ezshm_time_mono();
            /*  Last frame of the message: land it and note the index. */
            uint64_t idx;
            if (n == 3 && zmq_msg_size(&part) >= sizeof idx) {
                memcpy(&idx, zmq_msg_data(&part), sizeof idx);
                if (idx < o->count && t_vis[idx] == 0) {
                    t_vis[idx] = now;
                    seen++;
                }
            }
            n = 0;
        }
        zmq_msg_close(&part);
    }
    else {
        ezshm_mirror_new(o->name, &m);
        uint64_t p = 0;
        while (ezshm_time_mono() < deadline) {
            if (ezshm_mirror_attach(m) == EZSHM_OK && (p = ezshm_mirror_written(m)) > 0)
                break;
            s_sleep(0.001);
        }
        if (p == 0) {
            printf("bench=latency mode=shm ok=0 reason=no_stream name=%s\n", o->name);
            fflush(stdout);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return 1;
        }
        sh->observer_ready = 1;
        while (!sh->sender_quiet && ezshm_time_mono() < deadline)
            s_sleep(0.001);
        s_sleep(0.05);
        ezshm_stream_info_t info;
        ezshm_mirror_info(m, &info);
        L = info.n_frames;
        gen0 = info.generation;
        char hname[EZSHM_SHORT_NAME_SIZE];
        ezshm_header_segment_name(o->name, hname);
        ezshm_segment_open(&hseg, hname);
        meta = ezshm_header_meta(hseg.addr, info.layout);
        uint8_t *buf = malloc(L * info.frame_bytes);
        uint64_t got = 0, dropped = 0;
        /*  shm-wait: the cursor starts where the sender went quiet. */
        while (wait_mode && ezshm_mirror_read(m, buf, L, &got, &dropped) == EZSHM_OK && got + dropped)
            ;
        base = ezshm_mirror_written(m);
        sh->go = 1;
        uint64_t last = base, taken = 0;
        while (wait_mode && seen < o->count && ezshm_time_mono() < deadline) {
            if (ezshm_mirror_wait(m, 100) != EZSHM_OK)
                continue;
            if (ezshm_mirror_read(m, buf, L, &got, &dropped) != EZSHM_OK)
                continue;
            double now = ezshm_time_mono();
            taken += got + dropped;
            for (uint64_t k = taken / F; seen < k && seen < o->count; seen++)
                t_vis[seen] = now;
        }
        free(buf);
        while (!wait_mode && seen < o->count && ezshm_time_mono() < deadline) {
            if (o->change_at && seen >= o->change_at) {
                /*  Rebuild: the first frame of the new generation, read off the header. */
                uint64_t wi, wc;
                if (ezshm_header_valid(meta) && ezshm_header_generation(meta) != gen0
                    && ezshm_header_position(meta, &wi, &wc) && (wi || wc)) {
                    t_new_gen = ezshm_time_mono();
                    seen++;
                    break;
                }
                continue;
            }
            if (o->change_at && ezshm_header_generation(meta) != gen0) {
                /*  The rebuild overtook us: the last old-shape messages landed but were
                    overwritten by the rebuild before this observer (preempted) saw them. They
                    are not lost frames (run.sh checks ezshmd's counters); they get no latency. */
                unobserved += o->change_at - seen;
                seen = o->change_at;
                continue;
            }
            uint64_t q = ezshm_mirror_written(m);
            if (q == last || q < last)
                continue;   /* spin: a mirror polling as fast as it can (no sched_yield, as raw) */
            double now = ezshm_time_mono();
            uint64_t k = (q - base) / F;
            for (; seen < k && seen < o->count; seen++)
                t_vis[seen] = now;
            last = q;
        }
        (void) L;
    }
    int status = 0;
    while (!sh->sender_done && ezshm_time_mono() < deadline + 5)
        s_sleep(0.001);
    waitpid(pid, &status, 0);
    if (raw) {
        zmq_close(sub);
        zmq_ctx_term(ctx);
    }
    /*  Latencies of every timed message seen. */
    uint64_t n_normal = o->change_at ? o->change_at : o->count;
    double *lat = malloc(o->count * sizeof(double));
    size_t nl = 0;
    for (uint64_t i = 0; i < n_normal; i++) {
        if (t_vis[i] == 0 && i >= n_normal - unobserved)
            continue;
        if (t_vis[i] > 0)
            lat[nl++] = (t_vis[i] - sh->t_send[i]) * 1e6;
        else
            lost++;
    }
    int ok = lost == 0 && nl > 0 && (!o->change_at || t_new_gen > 0);
    if (!ok) {
        printf("bench=latency mode=%s ok=0 reason=frames_lost seen=%llu expected=%llu lost=%llu rebuild_seen=%d\n",
               o->mode, (unsigned long long) seen, (unsigned long long) o->count,
               (unsigned long long) lost, t_new_gen > 0);
        return 1;
    }
    qsort(lat, nl, sizeof(double), ezshm_value_compare_double);
    printf("bench=latency mode=%s ok=1 n=%zu unobserved=%llu p50_us=%.2f p99_us=%.2f max_us=%.2f", o->mode, nl,
           (unsigned long long) unobserved, s_pct(lat, nl, 0.50), s_pct(lat, nl, 0.99), lat[nl - 1]);
    if (o->change_at)
        printf(" rebuild_us=%.2f", (t_new_gen - sh->t_send[o->change_at]) * 1e6);
    printf("\n");
    fflush(stdout);
    free(lat);
    free(t_vis);
    if (m)
        ezshm_mirror_destroy(&m);
    ezshm_segment_close(&hseg);
    munmap(sh, shsize);
    return 0;
}

/*  ---- follow: a reader's CPU, waiting vs polling ------------------------------------------- */

/*  This process's CPU seconds, and in *sleeps how often it went to sleep (voluntary context
    switches: the kernel wake-ups that followed). */
static double
s_cpu_seconds(long *sleeps)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *sleeps = ru.ru_nvcsw;
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double) ru.ru_stime.tv_sec
           + ru.ru_stime.tv_usec * 1e-6;
}

/*  The floor: sleeps on the wake word of the attached ring's clock until end, reading
    nothing; wake-ups counted. */
static uint64_t
s_follow_futex(ezshm_mirror_t *m, const ezshm_stream_info_t *info, double end)
{
    ezshm_clock_t *clock = NULL;
    uint64_t wakeups = 0;
    if (ezshm_clock_open(ezshm_mirror_name(m), info->generation, info->n_frames, EZSHM_ANY_OWNER, &clock)
        != EZSHM_OK || !ezshm_clock_can_sleep(clock)) {
        ezshm_clock_destroy(&clock);
        return 0;
    }
    for (double left; (left = end - ezshm_time_mono()) > 0; wakeups++) {
        uint32_t seen = ezshm_clock_wake_word(clock);
        ezshm_clock_sleep_any(&clock, &seen, 1, left, 0, NULL, NULL, NULL);
    }
    ezshm_clock_destroy(&clock);
    return wakeups;
}

static int
s_follow(const opts_t *o)
{
    bool poll_mode = o->mode && strcmp(o->mode, "poll") == 0, futex_mode = o->mode && strcmp(o->mode, "futex") == 0;
    bool block_mode = o->mode && strcmp(o->mode, "block") == 0;
    if (!o->name || !o->mode || (!poll_mode && !futex_mode && !block_mode && strcmp(o->mode, "wait") != 0)
        || o->timeout <= 0) {
        fprintf(stderr, "follow: needs --name --mode wait|block|poll|futex --timeout SECS\n");
        return 2;
    }
    ezshm_mirror_t *m = NULL;
    if (ezshm_mirror_new(o->name, &m) != EZSHM_OK || s_attach(m, ezshm_time_mono() + 20) != 0) {
        s_fail_line("follow", "no_ring");
        return 1;
    }
    ezshm_stream_info_t info;
    ezshm_mirror_info(m, &info);
    uint8_t *buf = malloc(info.n_frames * info.frame_bytes);
    uint64_t frames = 0, lost = 0, wakeups = 0, got, dropped;
    long sleeps0, sleeps1;
    double t0 = ezshm_time_mono(), c0 = s_cpu_seconds(&sleeps0), end = t0 + o->timeout;
    if (futex_mode)
        wakeups = s_follow_futex(m, &info, end);
    while (!futex_mode && ezshm_time_mono() < end) {
        if (poll_mode)
            s_sleep(0.001);
        else {
            double left = end - ezshm_time_mono();
            ezshm_mirror_wait_frames(m, block_mode ? o->frames : 1, left > 0 ? (int) (left * 1000) + 1 : 0);
        }
        wakeups++;
        int rc = ezshm_mirror_read(m, buf, info.n_frames, &got, &dropped);
        if (rc == EZSHM_ERR_STALE) {
            ezshm_mirror_info(m, &info);
            free(buf);
            buf = malloc(info.n_frames * info.frame_bytes);
        }
        frames += got;
        lost += dropped;
    }
    double wall = ezshm_time_mono() - t0, cpu = s_cpu_seconds(&sleeps1) - c0;
    printf("bench=follow mode=%s block=%llu ok=%d frames=%llu lost=%llu wakeups=%llu sleeps=%ld secs=%.3f "
           "cpu_pct=%.3f\n",
           o->mode, (unsigned long long) (block_mode && o->frames > 1 ? o->frames : 1),
           lost == 0 && (!futex_mode || wakeups > 0), (unsigned long long) frames, (unsigned long long) lost,
           (unsigned long long) wakeups, sleeps1 - sleeps0, wall, cpu / wall * 100.0);
    fflush(stdout);
    free(buf);
    ezshm_mirror_destroy(&m);
    return lost == 0 ? 0 : 1;
}

/*  ---- ingest: the clock segment's cost, A/B in one process ------------------------------- */

#define INGEST_POOL 64
#define INGEST_BLOCK 5000

/*  One side of the A/B: a writer (with or without its clock segment), its ingest, a decoder. */
typedef struct {
    ezshm_writer_t *w;
    ingest_t       *in;
    wire_decoder_t *dec;
    double          secs;
} ingest_side_t;

static int
s_side_open(ingest_side_t *side, bool clock)
{
    char name[64];
    snprintf(name, sizeof name, "ezshm-bench-ingest-%d-%d", (int) getpid(), clock);
    ezshm_writer_options_t wo;
    ezshm_writer_options_init(&wo);
    wo.no_clock = !clock;
    memset(side, 0, sizeof *side);
    if (ezshm_writer_new(name, &wo, &side->w) != EZSHM_OK)
        return -1;
    side->in = ingest_new(side->w, "time", 10.0);
    side->dec = wire_decoder_new();
    return side->in && side->dec ? 0 : -1;
}

static void
s_side_close(ingest_side_t *side)
{
    wire_decoder_destroy(&side->dec);
    ingest_destroy(&side->in);
    ezshm_writer_destroy(&side->w);
}

/*  Decodes and ingests messages [first, first + n) of the pool cycle; adds the time taken. */
static int
s_side_run(ingest_side_t *side, wire_buf_t *pool, const float *data, size_t nbytes, uint64_t first, uint64_t n)
{
    char err[256];
    uint64_t frames;
    int ok = 1;
    double t0 = ezshm_time_mono();
    for (uint64_t i = first; i < first + n; i++) {
        wire_buf_t *h = &pool[i % INGEST_POOL];
        wire_frame_t fr[3] = {{"t", 1}, {h->data, h->size}, {data, nbytes}};
        const axisarray_t *msg;
        if (wire_decode(side->dec, fr, 3, &msg) != DROP_OK
            || ingest_message(side->in, msg, &frames, err, sizeof err) != DROP_OK)
            ok = 0;
    }
    side->secs += ezshm_time_mono() - t0;
    return ok;
}

static int
s_ingest(const opts_t *o)
{
    uint64_t count = o->count ? o->count : 1000000, runs = o->runs ? o->runs : 5;
    static float data[64 * 8];
    const char *dims[] = {"time", "ch"};
    size_t shape[] = {64, 8};
    /*  Offsets and seq move on like a real sender's (the header cache still hits). */
    wire_buf_t pool[INGEST_POOL] = {{0}};
    for (int i = 0; i < INGEST_POOL; i++) {
        wire_message_t m = {.topic = "t", .ndim = 2, .dims = dims, .shape = shape, .dtype = 'f', .data = data,
                            .nbytes = sizeof data, .time_dim = "time", .gain = 0.001, .offset = i * 0.064,
                            .has_seq = true, .seq = (uint64_t) i};
        if (wire_encode_native(&m, &pool[i]) != 0) {
            s_fail_line("ingest", "encode");
            return 1;
        }
    }
    int ok = 1;
    for (uint64_t r = 0; r < runs; r++) {
        /*  Both sides live at once and take turns in blocks of INGEST_BLOCK messages, so
            load from other processes falls on both alike. */
        ingest_side_t with, without;
        if (s_side_open(&with, true) != 0 || s_side_open(&without, false) != 0) {
            s_fail_line("ingest", "writer");
            return 1;
        }
        ok &= s_side_run(&with, pool, data, sizeof data, 0, INGEST_BLOCK);   /* warm-up: rings faulted in */
        ok &= s_side_run(&without, pool, data, sizeof data, 0, INGEST_BLOCK);
        with.secs = without.secs = 0;
        for (uint64_t done = 0; done < count; done += INGEST_BLOCK) {
            bool flip = (done / INGEST_BLOCK) % 2;
            ok &= s_side_run(flip ? &without : &with, pool, data, sizeof data, done, INGEST_BLOCK);
            ok &= s_side_run(flip ? &with : &without, pool, data, sizeof data, done, INGEST_BLOCK);
        }
        ok &= ezshm_writer_clock_segment(with.w)[0] != '\0' && ezshm_writer_clock_segment(without.w)[0] == '\0';
        uint64_t n = (count + INGEST_BLOCK - 1) / INGEST_BLOCK * INGEST_BLOCK;
        double a = (double) n / with.secs, b = (double) n / without.secs;
        printf("bench=ingest ok=%d run=%llu n=%llu clock_msg_per_s=%.1f noclock_msg_per_s=%.1f ratio=%.4f\n", ok,
               (unsigned long long) r, (unsigned long long) n, a, b, a / b);
        s_side_close(&with);
        s_side_close(&without);
    }
    fflush(stdout);
    for (int i = 0; i < INGEST_POOL; i++)
        wire_buf_free(&pool[i]);
    return ok ? 0 : 1;
}

/*  ---- send: a fast sender ---------------------------------------------------------------- */

/*  Sends --count messages of --frames x --channels float32 as fast as ZeroMQ takes them.
    The message is built once (same header, same data every time): what it measures is the
    receiver, not the sender's encoder. --mode native (3 frames) or ezmsg (2 frames, base64). */
static int
s_send(const opts_t *o)
{
    if (!o->connect || !o->frames || !o->channels || !o->count) {
        fprintf(stderr, "send: needs --connect --frames --channels --count\n");
        return 2;
    }
    bool json = o->mode && strcmp(o->mode, "ezmsg") == 0;
    size_t dlen = o->frames * o->channels * 4;
    float *data = malloc(dlen);
    for (size_t i = 0; i < o->frames * o->channels; i++)
        data[i] = (float) (i % 1000);
    /*  Native: frame 2 is the JSON header and frame 3 the data; ezmsg-zmq multipart: frame 2 is
        the JSON payload with the data in base64. */
    wire_buf_t doc = {0};
    if (s_encode(&doc, json, 0, o->frames, o->channels, 1000.0, 0, data, o->labels) != 0) {
        fprintf(stderr, "send: cannot encode the message\n");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0, linger = -1;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(pub, o->connect) != 0) {
        fprintf(stderr, "send: connect %s: %s\n", o->connect, zmq_strerror(errno));
        return 1;
    }
    s_sleep(o->timeout > 0 ? o->timeout : 0.3);   /* slow-joiner: let the subscription arrive */
    double t0 = ezshm_time_mono();
    for (uint64_t i = 0; i < o->count; i++) {
        int rc = json ? (zmq_send(pub, "bench", 5, ZMQ_SNDMORE) < 0 || zmq_send(pub, doc.data, doc.size, 0) < 0)
                      : s_send3(pub, doc.data, doc.size, data, dlen);
        if (rc) {
            fprintf(stderr, "send: %s\n", zmq_strerror(errno));
            return 1;
        }
    }
    double t1 = ezshm_time_mono();
    fprintf(stderr, "ezshm-bench send: %llu messages in %.3f s (%.0f msg/s)\n", (unsigned long long) o->count,
            t1 - t0, (double) o->count / (t1 - t0));
    zmq_close(pub);
    zmq_ctx_term(ctx);
    free(data);
    wire_buf_free(&doc);
    return 0;
}

/*  ---- multisend: many topics at once ---------------------------------------------------------- */

/*  --topics N topics "s00", "s01", ... (two digits at least, so that a topic is never another's
    prefix) round robin, --rate messages/s in total, --count messages per topic, each topic
    with its own seq and time offsets, native format, encoded per message like ezshm-pub.
    --connect takes a comma list (a PUB connected to every receiver; SUB-side topics pick).
    --storm-every MS adds topic "storm": a message every MS ms whose channel count alternates
    C, C + 1 (a ring rebuild each time) for as long as the topics run. */
static int
s_multisend(const opts_t *o)
{
    uint64_t n = o->topics;
    if (!o->connect || !n || n > 1000 || !o->frames || !o->channels || !o->count || o->rate <= 0) {
        fprintf(stderr, "multisend: needs --connect --topics (1..1000) --frames --channels --count --rate\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0, linger = -1;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    char *list = strdup(o->connect);
    for (char *save = NULL, *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        if (zmq_connect(pub, ep) != 0) {
            fprintf(stderr, "multisend: connect %s: %s\n", ep, zmq_strerror(errno));
            return 1;
        }
    free(list);
    size_t dlen = o->frames * (o->channels + 1) * 4;
    float *data = calloc(1, dlen);
    char (*topics)[8] = calloc(n, sizeof *topics);
    uint64_t *seq = calloc(n, sizeof *seq);
    wire_buf_t hdr = {0};
    for (uint64_t t = 0; t < n; t++)
        snprintf(topics[t], sizeof topics[t], n > 100 ? "s%03llu" : "s%02llu", (unsigned long long) t);
    s_sleep(o->timeout > 0 ? o->timeout : 0.5);   /* slow-joiner: let the subscriptions arrive */
    double fs = 1000.0 * (double) o->frames, t0 = ezshm_time_mono(), storm_next = t0;
    uint64_t total = n * o->count, storms = 0;
    int rc = 0;
    for (uint64_t i = 0; i < total && rc == 0; i++) {
        double due = t0 + (double) i / o->rate, now = ezshm_time_mono();
        if (now < due)
            s_sleep_until(due);
        uint64_t t = i % n, k = seq[t]++;
        rc = s_encode_topic(&hdr, topics[t], false, k, o->frames, o->channels, fs, k * o->frames, data, false)
             || s_send3_topic(pub, topics[t], hdr.data, hdr.size, data, o->frames * o->channels * 4);
        if (o->storm_ms > 0 && rc == 0 && ezshm_time_mono() >= storm_next) {
            uint64_t ch = o->channels + (storms & 1);
            rc = s_encode_topic(&hdr, "storm", false, storms, o->frames, ch, fs, storms * o->frames, data, false)
                 || s_send3_topic(pub, "storm", hdr.data, hdr.size, data, o->frames * ch * 4);
            storms++;
            storm_next += o->storm_ms / 1000.0;
        }
    }
    double t1 = ezshm_time_mono();
    printf("bench=multisend ok=%d topics=%llu sent=%llu storm=%llu secs=%.3f rate=%.0f\n", rc == 0,
           (unsigned long long) n, (unsigned long long) total, (unsigned long long) storms, t1 - t0,
           (double) total / (t1 - t0));
    fflush(stdout);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    wire_buf_free(&hdr);
    free(data);
    free(topics);
    free(seq);
    return rc == 0 ? 0 : 1;
}

/*  ---- mirror read bandwidth ---------------------------------------------------------------- */

static int
s_mirror(const opts_t *o)
{
    uint64_t span = o->span_bytes ? o->span_bytes : 1 << 20, runs = o->runs ? o->runs : 5;
    const uint64_t ch = 256, fb = ch * 4;   /* float32 x 256: 1 KiB frames */
    uint64_t span_frames = span / fb, L = span_frames * 4 + 1;   /* +1: never rest at write_index 0 */
    char name[64];
    snprintf(name, sizeof name, "ezshm-bench-mirror-%d", (int) getpid());
    ezshm_writer_options_t wo;
    ezshm_writer_options_init(&wo);
    wo.max_ring_bytes = L * fb + 1;
    ezshm_writer_t *w;
    if (ezshm_writer_new(name, &wo, &w) != EZSHM_OK) {
        s_fail_line("mirror", "writer");
        return 1;
    }
    uint64_t shape[1] = {ch};
    ezshm_ring_spec_t spec = {.dtype = 'f', .srate = 1000, .n_frames = L, .frame_ndim = 1, .frame_shape = shape,
                              .key = "", .key_len = 0};
    if (ezshm_writer_configure(w, &spec) != EZSHM_OK) {
        s_fail_line("mirror", "configure");
        return 1;
    }
    uint8_t *src = malloc(span), *dst = malloc(span);
    for (uint64_t i = 0; i < span; i++)
        src[i] = (uint8_t) i;
    memset(dst, 0, span);
    ezshm_writer_write(w, src, span_frames);   /* the mirror needs a non-empty ring to attach */
    ezshm_mirror_t *m;
    ezshm_mirror_new(name, &m);
    if (ezshm_mirror_attach(m) != EZSHM_OK) {
        s_fail_line("mirror", "attach");
        return 1;
    }
    ezshm_segment_t rseg;
    if (ezshm_segment_open(&rseg, ezshm_writer_ring_segment(w)) != EZSHM_OK) {
        s_fail_line("mirror", "ring_open");
        return 1;
    }
    uint64_t junk, lost;
    ezshm_mirror_read(m, dst, span_frames, &junk, &lost);   /* catch up */
    uint64_t pos = span_frames;
    double *a = calloc(runs, sizeof(double)), *b = calloc(runs, sizeof(double));
    int ok = 1;
    /*  The first 3 rounds touch every page of the ring through both mappings (minor faults)
        and are not reported. */
    const uint64_t warm = 3;
    for (uint64_t rr = 0; rr < runs + warm; rr++) {
        uint64_t r = rr < warm ? 0 : rr - warm;
        /*  A: mirror_read of a fresh span. */
        ezshm_writer_write(w, src, span_frames);
        uint64_t got = 0;
        double t0 = ezshm_time_mono();
        ezshm_mirror_read(m, dst, span_frames, &got, &lost);
        double t1 = ezshm_time_mono();
        if (got != span_frames || lost)
            ok = 0;
        a[r] = (double) span / (t1 - t0) / 1e9;
        pos += span_frames;
        /*  B: memcpy of the same ring bytes (written again, so the cache state matches). */
        ezshm_writer_write(w, src, span_frames);
        uint64_t from_b = pos % L;
        pos += span_frames;
        t0 = ezshm_time_mono();
        if (from_b + span_frames <= L)
            memcpy(dst, (const uint8_t *) rseg.addr + from_b * fb, span);
        else {
            uint64_t first = (L - from_b) * fb;
            memcpy(dst, (const uint8_t *) rseg.addr + from_b * fb, first);
            memcpy(dst + first, rseg.addr, span - first);
        }
        t1 = ezshm_time_mono();
        b[r] = (double) span / (t1 - t0) / 1e9;
        /*  Consume B's span without timing so the next A reads fresh frames. */
        ezshm_mirror_read(m, dst, span_frames, &got, &lost);
    }
    for (uint64_t r = 0; r < runs; r++)
        printf("bench=mirror ok=%d span_bytes=%llu run=%llu mirror_GBps=%.3f memcpy_GBps=%.3f ratio=%.3f\n", ok,
               (unsigned long long) span, (unsigned long long) r, a[r], b[r], a[r] / b[r]);
    fflush(stdout);
    ezshm_segment_close(&rseg);
    ezshm_mirror_destroy(&m);
    ezshm_writer_destroy(&w);
    free(src);
    free(dst);
    free(a);
    free(b);
    return ok ? 0 : 1;
}

/*  ---- base64: the decoder paths against memcpy -------------------------------------------- */

/*  Seconds per call of one operation, repeated until ~50 ms have passed. */
typedef enum { B64_MEMCPY, B64_DECODE, B64_VALIDATE, B64_ENCODE } b64_op_t;

static double
s_b64_time(b64_op_t op, unsigned char *bin, char *text, unsigned char *out, size_t span)
{
    size_t len = WIRE_BASE64_ENCODED_LEN(span), got;
    int reps = 0;
    double t0 = ezshm_time_mono(), t;
    do {
        switch (op) {
        case B64_MEMCPY: memcpy(out, bin, span); break;
        case B64_DECODE: wire_base64_decode(out, text, len, &got); break;
        case B64_VALIDATE: wire_base64_validate(text, len, &got); break;
        case B64_ENCODE: wire_base64_encode(text, bin, span); break;
        }
        __asm__ volatile("" : : "r"(out), "r"(text) : "memory");
        reps++;
        t = ezshm_time_mono() - t0;
    } while (t < 0.05);
    return t / reps;
}

static int
s_base64(const opts_t *o)
{
    size_t span = o->span_bytes ? o->span_bytes : 1 << 20;
    uint64_t runs = o->runs ? o->runs : 5;
    unsigned char *bin = malloc(span), *out = malloc(span + 64), *back = malloc(span + 64);
    char *text = malloc(WIRE_BASE64_ENCODED_LEN(span));
    if (!bin || !out || !back || !text)
        return 1;
    for (size_t i = 0; i < span; i++)
        bin[i] = (unsigned char) (i * 2654435761u >> 13);
    wire_base64_encode(text, bin, span);
    static const char *ops[] = {"dec", "val", "enc"};
    int all_ok = 1;
    for (uint64_t r = 0; r < runs; r++) {
        int ok = 1;
        char line[1024];
        int at = snprintf(line, sizeof line, "span_bytes=%zu run=%llu memcpy_GBps=%.3f", span, (unsigned long long) r,
                          span / s_b64_time(B64_MEMCPY, bin, text, out, span) / 1e9);
        for (int p = 0; p < WIRE_BASE64_NPATHS; p++) {
            if (wire_base64_select((wire_base64_path_t) p))
                continue;
            for (int k = 0; k < 3 && at < (int) sizeof line; k++)
                at += snprintf(line + at, sizeof line - (size_t) at, " %s_%s_GBps=%.3f",
                               wire_base64_path_name((wire_base64_path_t) p), ops[k],
                               span / s_b64_time((b64_op_t) (B64_DECODE + k), bin, text, out, span) / 1e9);
            /*  Every path must give back the bytes. */
            size_t got = 0;
            ok &= wire_base64_decode(back, text, WIRE_BASE64_ENCODED_LEN(span), &got) == 0 && got == span
                  && memcmp(back, bin, span) == 0;
        }
        printf("bench=base64 ok=%d %s\n", ok, line);
        fflush(stdout);
        all_ok &= ok;
    }
    free(bin);
    free(out);
    free(back);
    free(text);
    return all_ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ezshm-bench ceiling|watch|latency|send|multisend|mirror|follow|ingest|base64 [options] (see the source header)\n");
        return 2;
    }
    opts_t o = {0};
    const char *cmd = argv[1];
    if (s_parse(argc - 1, argv + 1, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(cmd, "ceiling") == 0)
        return s_ceiling(&o);
    if (strcmp(cmd, "watch") == 0)
        return s_watch(&o);
    if (strcmp(cmd, "latency") == 0)
        return s_latency(&o);
    if (strcmp(cmd, "send") == 0)
        return s_send(&o);
    if (strcmp(cmd, "mirror") == 0)
        return s_mirror(&o);
    if (strcmp(cmd, "multisend") == 0)
        return s_multisend(&o);
    if (strcmp(cmd, "follow") == 0)
        return s_follow(&o);
    if (strcmp(cmd, "ingest") == 0)
        return s_ingest(&o);
    if (strcmp(cmd, "base64") == 0)
        return s_base64(&o);
    fprintf(stderr, "ezshm-bench: unknown command '%s'\n", cmd);
    return 2;
}
