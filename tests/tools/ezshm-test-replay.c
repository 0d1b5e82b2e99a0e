/*  ezshm-test-replay — test helper: replays captured wire messages through a real PUB socket.

    usage: ezshm-test-replay ENDPOINT TOPIC [--single] FILE...
    Binds a PUB socket at ENDPOINT, waits 300 ms for subscribers to connect, then sends each
    FILE as one message: [TOPIC, file bytes] (ezmsg-zmq multipart), or with --single the file
    bytes alone as one frame (the .singlepart.bin captures already start with the topic).
    Lingers until everything is delivered; exits 0, or 1 on any error. */
#include <zmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *
s_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t) n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t) n;
    return buf;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: ezshm-test-replay ENDPOINT TOPIC [--single] FILE...\n");
        return 64;
    }
    int first = 3, single = strcmp(argv[3], "--single") == 0;
    first += single;
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int linger = 5000;
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(pub, argv[1]) != 0) {
        fprintf(stderr, "ezshm-test-replay: bind %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    struct timespec wait = {0, 300000000L};
    nanosleep(&wait, NULL);
    int rc = 0;
    for (int i = first; i < argc && rc == 0; i++) {
        size_t size;
        char *bytes = s_read(argv[i], &size);
        if (!bytes) {
            fprintf(stderr, "ezshm-test-replay: cannot read %s\n", argv[i]);
            rc = 1;
            break;
        }
        if (!single && zmq_send(pub, argv[2], strlen(argv[2]), ZMQ_SNDMORE) < 0)
            rc = 1;
        if (rc == 0 && zmq_send(pub, bytes, size, 0) < 0)
            rc = 1;
        free(bytes);
    }
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return rc;
}
