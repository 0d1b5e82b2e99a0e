/*  ezshm-pub — the synthetic rig: publishes AxisArray messages in any of the three wire
    formats over a ZeroMQ PUB socket, paced in real time or as fast as possible.

    Run `ezshm-pub --help` for the flags; docs/wire-protocol.md describes the formats and
    the counter pattern.
*/
#include "ezshm.h"
#include "numpy_dtype.h"
#include "rig_pattern.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>
#include <zmq.h>


typedef enum { FORMAT_NATIVE, FORMAT_EZMSG, FORMAT_EZMSG_SINGLE } format_t;
typedef enum { CHANGE_NONE, CHANGE_SHAPE, CHANGE_DTYPE, CHANGE_AXIS, CHANGE_LABELS } change_t;

/*  The unit --labels gives the channel axis. */
#define LABEL_UNIT "uV"

typedef struct {
    const char *endpoint;
    bool bind;
    const char *topic;
    double fs;
    size_t channels, chunk;
    char dtype;
    format_t format;
    rig_pattern_t pattern;
    double rate;              /* messages/s; 0 = unpaced */
    uint64_t count;           /* 0 = forever */
    bool channel_first;
    bool labels;
    const char *key;
    bool seq;
    bool wall_clock;   /* time axis in wall-clock seconds, newest sample = now at send */
    uint64_t change_after;
    change_t change;
    int sndhwm, linger, wait_sub_ms;   /* wait_sub_ms: longest wait for a subscriber */
    const char *curve_server_cert;   /* czmq certificate with secret key, or NULL */
    bool quiet;
} options_t;

typedef struct {
    uint64_t messages, frames, bytes;
} totals_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static void
s_usage(FILE *out)
{
    fputs("usage: ezshm-pub [options]\n"
          "  --bind E | --connect E   endpoint (default --bind tcp://127.0.0.1:5555)\n"
          "  --topic T                topic (default ezshm)\n"
          "  --fs HZ                  sampling rate (default 1000)\n"
          "  --channels N             channels (default 8)\n"
          "  --chunk FRAMES           frames per message (default 50)\n"
          "  --dtype D                one-char code or numpy name (default float32)\n"
          "  --format F               native | ezmsg | ezmsg-single (default native)\n"
          "  --pattern P              sine | noise | counter (default sine)\n"
          "  --rate R                 messages/s (default fs/chunk; 0 = as fast as possible)\n"
          "  --count N                messages to send (default 0 = until stopped)\n"
          "  --time-dim-index 0|1     1 sends dims [ch, time]\n"
          "  --labels                 send a CoordinateAxis 'ch' with labels Ch0.. and unit uV\n"
          "  --key K                  AxisArray key\n"
          "  --seq                    include the message sequence number \"seq\"\n"
          "  --wall-clock             time axis in UNIX seconds, the newest sample stamped\n"
          "                           at send (default: first_frame / fs from 0)\n"
          "  --change-after N --change shape|dtype|axis|labels\n"
          "                           after N messages: channels+1, dtype float64 (int16 if\n"
          "                           already float64), a CoordinateAxis time axis, or the\n"
          "                           labels E0.. instead of Ch0.. (with --labels)\n"
          "  --sndhwm N               ZMQ_SNDHWM (default libzmq's 1000)\n"
          "  --linger MS              ZMQ_LINGER at exit (default 1000)\n"
          "  --wait-sub MS            wait up to MS for a subscriber of the topic before sending\n"
          "                           (default 10000 with --count, else 500 when binding, 0\n"
          "                           when connecting); with --count, none is an error (exit 3)\n"
          "  --curve-server-cert F    be a CURVE server with the certificate F (its _secret file,\n"
          "                           e.g. from ezshm-ctl keygen); subscribers need its public key\n"
          "  --quiet                  no summary line\n"
          "  --help, --version\n", out);
}

/*  Parses an unsigned integer option into *out; false (after a message) when malformed. */
static bool
s_parse_u64(const char *flag, const char *text, uint64_t *out)
{
    long long v;
    if (!ezshm_value_parse_int(text, &v) || v < 0) {
        fprintf(stderr, "ezshm-pub: %s needs a non-negative integer, got '%s'\n", flag, text);
        return false;
    }
    *out = (uint64_t) v;
    return true;
}

static bool
s_parse_double(const char *flag, const char *text, double *out)
{
    double v;
    if (!ezshm_value_parse_double(text, &v) || v < 0) {
        fprintf(stderr, "ezshm-pub: %s needs a non-negative number, got '%s'\n", flag, text);
        return false;
    }
    *out = v;
    return true;
}

/*  Returns 0 to run, 1 to exit successfully (--help/--version), 2 on a usage error. */
static int
s_parse_args(int argc, char **argv, options_t *o)
{
    enum { O_BIND = 256, O_CONNECT, O_TOPIC, O_FS, O_CHANNELS, O_CHUNK, O_DTYPE, O_FORMAT,
           O_PATTERN, O_RATE, O_COUNT, O_TDI, O_LABELS, O_KEY, O_SEQ, O_WALL_CLOCK, O_CHANGE_AFTER, O_CHANGE,
           O_SNDHWM, O_LINGER, O_WAIT_SUB, O_CURVE, O_QUIET, O_HELP, O_VERSION };
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, O_BIND}, {"connect", required_argument, NULL, O_CONNECT},
        {"topic", required_argument, NULL, O_TOPIC}, {"fs", required_argument, NULL, O_FS},
        {"channels", required_argument, NULL, O_CHANNELS},
        {"chunk", required_argument, NULL, O_CHUNK}, {"dtype", required_argument, NULL, O_DTYPE},
        {"format", required_argument, NULL, O_FORMAT},
        {"pattern", required_argument, NULL, O_PATTERN},
        {"rate", required_argument, NULL, O_RATE}, {"count", required_argument, NULL, O_COUNT},
        {"time-dim-index", required_argument, NULL, O_TDI},
        {"labels", no_argument, NULL, O_LABELS}, {"key", required_argument, NULL, O_KEY},
        {"seq", no_argument, NULL, O_SEQ},
        {"wall-clock", no_argument, NULL, O_WALL_CLOCK},
        {"change-after", required_argument, NULL, O_CHANGE_AFTER},
        {"change", required_argument, NULL, O_CHANGE},
        {"sndhwm", required_argument, NULL, O_SNDHWM},
        {"linger", required_argument, NULL, O_LINGER},
        {"wait-sub", required_argument, NULL, O_WAIT_SUB},
        {"curve-server-cert", required_argument, NULL, O_CURVE},
        {"quiet", no_argument, NULL, O_QUIET}, {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION}, {NULL, 0, NULL, 0}};
    bool rate_set = false;
    uint64_t v;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
            case O_BIND: o->endpoint = optarg; o->bind = true; break;
            case O_CONNECT: o->endpoint = optarg; o->bind = false; break;
            case O_TOPIC:
                if (strchr(optarg, '{')) {
                    fprintf(stderr, "ezshm-pub: a topic must not contain '{'\n");
                    return 2;
                }
                o->topic = optarg;
                break;
            case O_FS:
                if (!s_parse_double("--fs", optarg, &o->fs))
                    return 2;
                if (o->fs <= 0) {
                    fprintf(stderr, "ezshm-pub: --fs must be positive\n");
                    return 2;
                }
                break;
            case O_CHANNELS:
            case O_CHUNK:
                if (!s_parse_u64(opt == O_CHANNELS ? "--channels" : "--chunk", optarg, &v))
                    return 2;
                if (v == 0 || v > 1000000) {
                    fprintf(stderr, "ezshm-pub: channels and chunk must be 1..1000000\n");
                    return 2;
                }
                *(opt == O_CHANNELS ? &o->channels : &o->chunk) = (size_t) v;
                break;
            case O_DTYPE:
                o->dtype = numpy_dtype_code(optarg);
                if (optarg[0] == '>') {
                    fprintf(stderr, "ezshm-pub: sends little-endian data only; drop the '>' of '%s'\n", optarg);
                    return 2;
                }
                if (!o->dtype) {
                    fprintf(stderr, "ezshm-pub: unknown dtype '%s'\n", optarg);
                    return 2;
                }
                break;
            case O_FORMAT:
                if (strcmp(optarg, "native") == 0)
                    o->format = FORMAT_NATIVE;
                else if (strcmp(optarg, "ezmsg") == 0)
                    o->format = FORMAT_EZMSG;
                else if (strcmp(optarg, "ezmsg-single") == 0)
                    o->format = FORMAT_EZMSG_SINGLE;
                else {
                    fprintf(stderr, "ezshm-pub: unknown format '%s'\n", optarg);
                    return 2;
                }
                break;
            case O_PATTERN:
                if (rig_pattern_parse(optarg, &o->pattern)) {
                    fprintf(stderr, "ezshm-pub: unknown pattern '%s'\n", optarg);
                    return 2;
                }
                break;
            case O_RATE:
                if (!s_parse_double("--rate", optarg, &o->rate))
                    return 2;
                rate_set = true;
                break;
            case O_COUNT:
                if (!s_parse_u64("--count", optarg, &o->count))
                    return 2;
                break;
            case O_TDI:
                if (strcmp(optarg, "0") && strcmp(optarg, "1")) {
                    fprintf(stderr, "ezshm-pub: --time-dim-index is 0 or 1\n");
                    return 2;
                }
                o->channel_first = optarg[0] == '1';
                break;
            case O_LABELS: o->labels = true; break;
            case O_KEY: o->key = optarg; break;
            case O_SEQ: o->seq = true; break;
            case O_WALL_CLOCK: o->wall_clock = true; break;
            case O_CHANGE_AFTER:
                if (!s_parse_u64("--change-after", optarg, &o->change_after))
                    return 2;
                break;
            case O_CHANGE:
                if (strcmp(optarg, "shape") == 0)
                    o->change = CHANGE_SHAPE;
                else if (strcmp(optarg, "dtype") == 0)
                    o->change = CHANGE_DTYPE;
                else if (strcmp(optarg, "axis") == 0)
                    o->change = CHANGE_AXIS;
                else if (strcmp(optarg, "labels") == 0)
                    o->change = CHANGE_LABELS;
                else {
                    fprintf(stderr, "ezshm-pub: --change is shape, dtype, axis or labels\n");
                    return 2;
                }
                break;
            case O_SNDHWM:
            case O_LINGER:
            case O_WAIT_SUB:
            {
                int *field = opt == O_SNDHWM ? &o->sndhwm
                             : opt == O_LINGER ? &o->linger : &o->wait_sub_ms;
                const char *flag = opt == O_SNDHWM ? "--sndhwm"
                                   : opt == O_LINGER ? "--linger" : "--wait-sub";
                if (!s_parse_u64(flag, optarg, &v))
                    return 2;
                if (v > INT32_MAX) {
                    fprintf(stderr, "ezshm-pub: %s is too large\n", flag);
                    return 2;
                }
                *field = (int) v;
                break;
            }
            case O_CURVE: o->curve_server_cert = optarg; break;
            case O_QUIET: o->quiet = true; break;
            case O_HELP: s_usage(stdout); return 1;
            case O_VERSION: puts("ezshm-pub " EZSHM_VERSION); return 1;
            default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ezshm-pub: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->change == CHANGE_LABELS && !o->labels) {
        fprintf(stderr, "ezshm-pub: --change labels needs --labels\n");
        return 2;
    }
    if ((o->change != CHANGE_NONE) != (o->change_after != 0)) {
        fprintf(stderr, "ezshm-pub: --change-after and --change go together\n");
        return 2;
    }
    if (!rate_set)
        o->rate = o->fs / (double) o->chunk;
    if (o->wait_sub_ms < 0)
        o->wait_sub_ms = o->count ? 10000 : o->bind ? 500 : 0;
    return 0;
}

/*  What the rig currently sends; --change rewrites it once. */
typedef struct {
    char dtype;
    size_t channels;
    bool coordinate_time;
    char **labels;            /* "Ch0".. for channels ("E0".. after --change labels) */
    const char *label_prefix;
    size_t n_labels;
    unsigned char *data;
    size_t data_cap;
    double *times;            /* coordinate time values, chunk long */
} stream_t;

static void
s_stream_free(stream_t *st)
{
    for (size_t i = 0; i < st->n_labels; i++)
        free(st->labels[i]);
    free(st->labels);
    free(st->data);
    free(st->times);
}

/*  (Re)sizes buffers and labels for the current dtype/channels; -1 when out of memory. */
static int
s_stream_prepare(stream_t *st, const options_t *o)
{
    size_t need = o->chunk * st->channels * ezshm_dtype_itemsize(st->dtype);
    if (need > st->data_cap) {
        unsigned char *grown = (unsigned char *) realloc(st->data, need);
        if (!grown)
            return -1;
        st->data = grown;
        st->data_cap = need;
    }
    if (!st->times && !(st->times = (double *) calloc(o->chunk, sizeof(double))))
        return -1;
    if (!o->labels || st->n_labels == st->channels)
        return 0;
    char **labels = (char **) realloc(st->labels, st->channels * sizeof(char *));
    if (!labels)
        return -1;
    st->labels = labels;
    for (; st->n_labels < st->channels; st->n_labels++) {
        char name[32];
        snprintf(name, sizeof name, "%s%zu", st->label_prefix, st->n_labels);
        if (!(st->labels[st->n_labels] = strdup(name)))
            return -1;
    }
    return 0;
}

static void
s_apply_change(stream_t *st, change_t change)
{
    if (change == CHANGE_SHAPE)
        st->channels++;
    else if (change == CHANGE_DTYPE)
        st->dtype = st->dtype == 'd' ? 'h' : 'd';
    else if (change == CHANGE_AXIS)
        st->coordinate_time = true;
    else if (change == CHANGE_LABELS) {
        /*  s_stream_prepare makes them again with the new prefix. */
        for (size_t i = 0; i < st->n_labels; i++)
            free(st->labels[i]);
        st->n_labels = 0;
        st->label_prefix = "E";
    }
}

/*  Sends frames as one multipart message; -1 on a send error other than an interrupt. */
static int
s_send(void *sock, const wire_frame_t *frames, size_t n, totals_t *totals)
{
    for (size_t i = 0; i < n; i++) {
        int flags = i + 1 < n ? ZMQ_SNDMORE : 0;
        while (zmq_send(sock, frames[i].data, frames[i].size, flags) < 0) {
            if (errno != EINTR || s_stop)
                return -1;
        }
        totals->bytes += frames[i].size;
    }
    totals->frames += n;
    totals->messages++;
    return 0;
}

/*  Sleeps until the absolute deadline (ezshm_time_mono() seconds) or a stop signal. */
static void
s_sleep_until(double deadline)
{
    double whole = floor(deadline);
    struct timespec ts = {(time_t) whole, (long) ((deadline - whole) * 1e9)};
    while (!s_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/*  Builds and sends message number index (its first frame is first_frame). */
static int
s_send_message(void *sock, const options_t *o, stream_t *st, uint64_t index,
               uint64_t first_frame, uint64_t *noise, wire_buf_t *buf, totals_t *totals)
{
    size_t nbytes = rig_pattern_fill(st->data, st->dtype, o->pattern, o->chunk, st->channels,
                                     o->channel_first, first_frame, o->fs, noise);
    const char *dims_tc[] = {"time", "ch"}, *dims_ct[] = {"ch", "time"};
    size_t shape[2] = {o->chunk, st->channels};
    if (o->channel_first) {
        shape[0] = st->channels;
        shape[1] = o->chunk;
    }
    /*  --wall-clock: like an ezmsg source stamping time.time() when a chunk is complete,
        so a receiver can tell its transport delay. */
    double t0 = o->wall_clock ? ezshm_time_wall() - (double) (o->chunk - 1) / o->fs : (double) first_frame / o->fs;
    for (size_t k = 0; k < o->chunk; k++)
        st->times[k] = o->wall_clock ? t0 + (double) k / o->fs : (double) (first_frame + k) / o->fs;
    wire_message_t m = {
        .topic = o->topic, .key = o->key, .ndim = 2,
        .dims = o->channel_first ? dims_ct : dims_tc, .shape = shape, .dtype = st->dtype,
        .data = st->data, .nbytes = nbytes, .time_dim = "time", .gain = 1.0 / o->fs,
        .offset = t0,
        .time_values = st->coordinate_time ? st->times : NULL, .n_time_values = o->chunk,
        .label_dim = o->labels ? "ch" : NULL, .labels = (const char *const *) st->labels,
        .n_labels = st->channels, .label_unit = LABEL_UNIT, .has_seq = o->seq, .seq = index, .ts = ezshm_time_wall()};
    size_t topic_len = strlen(o->topic);
    int rc;
    if (o->format == FORMAT_NATIVE) {
        rc = wire_encode_native(&m, buf);
        wire_frame_t frames[3] = {{o->topic, topic_len}, {buf->data, buf->size},
                                  {st->data, nbytes}};
        return rc ? rc : s_send(sock, frames, 3, totals);
    }
    if (o->format == FORMAT_EZMSG) {
        rc = wire_encode_ezmsg(&m, buf);
        wire_frame_t frames[2] = {{o->topic, topic_len}, {buf->data, buf->size}};
        return rc ? rc : s_send(sock, frames, 2, totals);
    }
    rc = wire_encode_ezmsg_single(&m, buf);
    wire_frame_t frame = {buf->data, buf->size};
    return rc ? rc : s_send(sock, &frame, 1, totals);
}

static int
s_run(void *sock, const options_t *o, totals_t *totals)
{
    stream_t st = {.dtype = o->dtype, .channels = o->channels, .label_prefix = "Ch"};
    wire_buf_t buf = {0};
    uint64_t noise = 0x9E3779B97F4A7C15u, first_frame = 0;
    int rc = 0;
    double start = ezshm_time_mono();
    for (uint64_t index = 0; !s_stop && (o->count == 0 || index < o->count); index++) {
        if (o->change != CHANGE_NONE && index == o->change_after)
            s_apply_change(&st, o->change);
        if (s_stream_prepare(&st, o)) {
            fprintf(stderr, "ezshm-pub: out of memory\n");
            rc = -1;
            break;
        }
        /*  Absolute deadlines: a late message does not delay the ones after it. */
        if (o->rate > 0) {
            s_sleep_until(start + (double) index / o->rate);
            if (s_stop)
                break;
        }
        rc = s_send_message(sock, o, &st, index, first_frame, &noise, &buf, totals);
        if (rc) {
            if (!s_stop)
                fprintf(stderr, "ezshm-pub: send failed: %s\n",
                        rc == -1 ? zmq_strerror(errno) : wire_strerror(rc));
            break;
        }
        first_frame += o->chunk;
    }
    wire_buf_free(&buf);
    s_stream_free(&st);
    return s_stop ? 0 : rc;
}

static int
s_setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
        return -1;
    return 0;
}

/*  Waits up to ms milliseconds for a subscriber whose subscription covers the topic. The
    socket is an XPUB: it receives each new subscription ("\x01" + prefix) once the
    subscriber's connection is up and the subscription has reached it, and from then on
    every message sent reaches that subscriber (within the high-water marks). A fixed sleep
    only guesses how long connecting, the handshake and the subscription's trip back take
    (the slow-joiner gap: the first messages of a --count run were lost). True when one
    came; false on timeout or a stop signal. */
static bool
s_wait_subscriber(void *sock, const char *topic, int ms)
{
    double deadline = ezshm_time_mono() + ms / 1000.0;
    size_t topic_len = strlen(topic);
    bool found = false;
    while (!found && !s_stop) {
        double left = deadline - ezshm_time_mono();
        if (left <= 0)
            break;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long) ceil(left * 1000.0)) <= 0)
            continue;   /* timed out, or a signal: the loop's conditions decide */
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 1) {
            const char *sub = zmq_msg_data(&msg);
            size_t prefix = zmq_msg_size(&msg) - 1;
            found = sub[0] == 1 && prefix <= topic_len && memcmp(sub + 1, topic, prefix) == 0;
        }
        zmq_msg_close(&msg);
    }
    return found;
}

/*  Makes the PUB socket a CURVE server: traffic encrypted, subscribers must know our public
    key (ezshmd --sub-curve-serverkey). Without a ZAP handler any client key is accepted. */
static int
s_curve_server(void *sock, const char *path)
{
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        fprintf(stderr, "ezshm-pub: cannot load CURVE certificate '%s'\n", path);
        errno = EINVAL;
        return -1;
    }
    int server = 1;
    int rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &server, sizeof server);
    if (!rc)
        rc = zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(cert), 32);
    zcert_destroy(&cert);
    return rc;
}

int
main(int argc, char **argv)
{
    options_t o = {.endpoint = "tcp://127.0.0.1:5555", .bind = true, .topic = "ezshm",
                   .fs = 1000, .channels = 8, .chunk = 50, .dtype = 'f',
                   .format = FORMAT_NATIVE, .pattern = RIG_PATTERN_SINE, .linger = 1000,
                   .sndhwm = -1, .wait_sub_ms = -1};
    int rc = s_parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (s_setup_signals()) {
        perror("ezshm-pub: sigaction");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_XPUB) : NULL;
    if (!sock) {
        fprintf(stderr, "ezshm-pub: cannot create a PUB socket: %s\n", zmq_strerror(errno));
        if (ctx)
            zmq_ctx_term(ctx);
        return 1;
    }
    rc = zmq_setsockopt(sock, ZMQ_LINGER, &o.linger, sizeof o.linger);
    if (!rc && o.sndhwm >= 0)
        rc = zmq_setsockopt(sock, ZMQ_SNDHWM, &o.sndhwm, sizeof o.sndhwm);
    if (!rc && o.curve_server_cert)
        rc = s_curve_server(sock, o.curve_server_cert);
    if (rc)
        fprintf(stderr, "ezshm-pub: cannot set socket options: %s\n", zmq_strerror(errno));
    else if ((rc = o.bind ? zmq_bind(sock, o.endpoint) : zmq_connect(sock, o.endpoint)))
        fprintf(stderr, "ezshm-pub: cannot %s %s: %s\n", o.bind ? "bind" : "connect",
                o.endpoint, zmq_strerror(errno));
    if (rc) {
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 1;
    }
    /*  A run with a count must deliver every message: without a subscriber nothing is sent.
        A rig without one publishes anyway, as a real one would. */
    if (o.wait_sub_ms > 0 && !s_wait_subscriber(sock, o.topic, o.wait_sub_ms) && o.count && !s_stop) {
        fprintf(stderr, "ezshm-pub: no subscriber of topic '%s' within %d ms; nothing sent\n", o.topic,
                o.wait_sub_ms);
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 3;
    }
    totals_t totals = {0};
    double t0 = ezshm_time_mono();
    rc = s_run(sock, &o, &totals);
    double secs = ezshm_time_mono() - t0;
    zmq_close(sock);
    zmq_ctx_term(ctx);
    if (!o.quiet) {
        fprintf(stderr, "ezshm-pub: sent %llu messages, %llu frames, %llu bytes in %.3f s\n",
                (unsigned long long) totals.messages, (unsigned long long) totals.frames,
                (unsigned long long) totals.bytes, secs);
    }
    return rc ? 1 : 0;
}
