/*  ezshm-test-sub — test helper: a ZeroMQ SUB that prints every multipart message it
    receives as one line, frames separated by a TAB (frames are printed as text; bytes
    < 0x20 other than TAB are written as '?'), flushed after each line.

    usage: ezshm-test-sub ENDPOINT [PREFIX [SECONDS]]
    Connects to ENDPOINT, subscribes to PREFIX (default: everything), prints "ready" on
    stderr once connected and exits 0 after SECONDS (default 30) or on SIGTERM/SIGINT. */
#include <zmq.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: ezshm-test-sub ENDPOINT [PREFIX [SECONDS]]\n");
        return 64;
    }
    const char *prefix = argc > 2 ? argv[2] : "";
    double seconds = argc > 3 ? atof(argv[3]) : 30.0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int timeout = 100, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    if (zmq_connect(sub, argv[1]) != 0) {
        fprintf(stderr, "ezshm-test-sub: cannot connect %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    fprintf(stderr, "ready\n");
    double deadline = s_now() + seconds;
    while (!s_stop && s_now() < deadline) {
        int more = 1, first = 1;
        int got = 0;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, sub, 0) < 0) {
                zmq_msg_close(&part);
                break;
            }
            got = 1;
            if (!first)
                putchar('\t');
            first = 0;
            const unsigned char *p = zmq_msg_data(&part);
            for (size_t i = 0; i < zmq_msg_size(&part); i++)
                putchar(p[i] < 0x20 && p[i] != '\t' ? '?' : p[i]);
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        if (got) {
            putchar('\n');
            fflush(stdout);
        }
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return 0;
}
