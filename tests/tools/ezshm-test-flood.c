/*  ezshm-test-flood — test helper: sends many control requests through ONE long-lived
    ZeroMQ REQ socket and checks that each gets exactly one reply.

    usage: ezshm-test-flood ENDPOINT FILE [TIMEOUT_MS]
    FILE: one request per line; a request is one or more frames separated by ',', each
    frame hex-encoded (an empty frame is an empty field). For every request one line is
    printed on stdout: the reply frame as text (a JSON object), "MULTI <n>" if the reply
    had n > 1 frames, or "TIMEOUT" (then the REQ socket is recreated so the run goes on).
    At the end, on stderr: "sent N replied N timeouts N multi N".
    Exit 0 when every request got a single-frame reply, 1 otherwise, 64 on usage. */
#include <zmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
s_open(void *ctx, const char *endpoint, int timeout_ms)
{
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(req, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(req, endpoint) != 0) {
        fprintf(stderr, "ezshm-test-flood: cannot connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        exit(1);
    }
    return req;
}

static int
s_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: ezshm-test-flood ENDPOINT FILE [TIMEOUT_MS]\n");
        return 64;
    }
    int timeout_ms = argc > 3 ? atoi(argv[3]) : 5000;
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror(argv[2]);
        return 64;
    }
    void *ctx = zmq_ctx_new();
    void *req = s_open(ctx, argv[1], timeout_ms);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long sent = 0, replied = 0, timeouts = 0, multi = 0;
    unsigned char *buf = NULL;
    size_t bufcap = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if ((size_t) len / 2 + 1 > bufcap) {
            bufcap = (size_t) len / 2 + 1;
            buf = realloc(buf, bufcap);
        }
        /*  Frames: split at ','. */
        const char *p = line;
        int ok = 1;
        for (;;) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t) (end - p) : strlen(p);
            size_t nb = 0;
            for (size_t i = 0; i + 1 < n; i += 2) {
                int hi = s_hex(p[i]), lo = s_hex(p[i + 1]);
                if (hi < 0 || lo < 0) {
                    fprintf(stderr, "ezshm-test-flood: bad hex in line %lu\n", sent + 1);
                    return 64;
                }
                buf[nb++] = (unsigned char) (hi * 16 + lo);
            }
            if (zmq_send(req, buf, nb, end ? ZMQ_SNDMORE : 0) < 0) {
                ok = 0;
                break;
            }
            if (!end)
                break;
            p = end + 1;
        }
        sent++;
        int parts = 0;
        int more = ok;
        while (more) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, req, 0) < 0) {
                zmq_msg_close(&msg);
                parts = -1;
                break;
            }
            if (parts == 0) {
                fwrite(zmq_msg_data(&msg), 1, zmq_msg_size(&msg), stdout);
            }
            parts++;
            more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        if (parts <= 0) {
            printf("TIMEOUT\n");
            timeouts++;
            zmq_close(req);
            req = s_open(ctx, argv[1], timeout_ms);
            continue;
        }
        if (parts > 1) {
            printf("\nMULTI %d\n", parts);
            multi++;
            continue;
        }
        putchar('\n');
        replied++;
    }
    fflush(stdout);
    fprintf(stderr, "sent %lu replied %lu timeouts %lu multi %lu\n", sent, replied, timeouts, multi);
    free(line);
    free(buf);
    fclose(in);
    zmq_close(req);
    zmq_ctx_term(ctx);
    return replied == sent ? 0 : 1;
}
