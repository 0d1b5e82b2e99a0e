/*  test_wire_rig.c — ezshm-pub's counter pattern, and the real ezshm-pub binary feeding the
    wire decoder through a ZeroMQ SUB socket in all three formats. */
#include "rig_pattern.h"
#include "wire.h"
#include "ezshm_dtype.h"

#include <criterion/criterion.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

extern char **environ;

Test(wire_rig, counter_values_per_dtype)
{
    cr_assert_eq(rig_pattern_counter_value('?', 3), 1);
    cr_assert_eq(rig_pattern_counter_value('b', 128), -128);
    cr_assert_eq(rig_pattern_counter_value('b', 255), -1);
    cr_assert_eq(rig_pattern_counter_value('B', 257), 1);
    cr_assert_eq(rig_pattern_counter_value('h', 32768), -32768);
    cr_assert_eq(rig_pattern_counter_value('H', 65537), 1);
    cr_assert_eq(rig_pattern_counter_value('i', 1u << 31), -2147483648.0);
    cr_assert_eq(rig_pattern_counter_value('I', UINT64_C(1) << 32), 0);
    cr_assert_eq(rig_pattern_counter_value('e', 2049), 1);
    cr_assert_eq(rig_pattern_counter_value('f', (1u << 24) + 5), 5);
    cr_assert_eq(rig_pattern_counter_value('F', (1u << 24) + 5), 5);
    cr_assert_eq(rig_pattern_counter_value('d', (UINT64_C(1) << 53) + 7), 7);
    cr_assert_eq(rig_pattern_counter_value('l', 12345), 12345);
}

Test(wire_rig, counter_fill_layouts)
{
    uint64_t state = 1;
    int16_t tc[3 * 2], ct[2 * 3];
    rig_pattern_fill(tc, 'h', RIG_PATTERN_COUNTER, 3, 2, false, 32766, 1000, &state);
    rig_pattern_fill(ct, 'h', RIG_PATTERN_COUNTER, 3, 2, true, 32766, 1000, &state);
    const int16_t want_tc[6] = {32766, 32766, 32767, 32767, -32768, -32768};
    const int16_t want_ct[6] = {32766, 32767, -32768, 32766, 32767, -32768};
    cr_assert(memcmp(tc, want_tc, sizeof tc) == 0);
    cr_assert(memcmp(ct, want_ct, sizeof ct) == 0);
    uint16_t half[2];
    rig_pattern_fill(half, 'e', RIG_PATTERN_COUNTER, 2, 1, false, 2047, 1000, &state);
    cr_assert_eq(half[0], 0x67FF);      /* 2047.0 */
    cr_assert_eq(half[1], 0x0000);      /* 2048 wraps to 0 */
    float cplx[4];
    rig_pattern_fill(cplx, 'F', RIG_PATTERN_COUNTER, 2, 1, false, 7, 1000, &state);
    cr_assert(cplx[0] == 7 && cplx[1] == 0 && cplx[2] == 8 && cplx[3] == 0);
    float sine[4];
    rig_pattern_fill(sine, 'f', RIG_PATTERN_SINE, 2, 2, false, 250, 1000, &state);
    cr_assert_float_eq(sine[0], 1.0f, 1e-6);    /* sin(2 pi 1 Hz * 0.25 s) */
    cr_assert_float_eq(sine[1], 0.0f, 1e-6);    /* sin(2 pi 2 Hz * 0.25 s) */
}

/*  Receives every frame of one message into frames (up to 4); returns the frame count or -1. */
static int
s_recv(void *sub, zmq_msg_t *parts, size_t max)
{
    size_t n = 0;
    int more = 1;
    while (more) {
        if (n == max)
            return -1;
        zmq_msg_init(&parts[n]);
        if (zmq_msg_recv(&parts[n], sub, 0) < 0)
            return -1;
        more = zmq_msg_more(&parts[n]);
        n++;
    }
    return (int) n;
}

static void
s_run_rig(const char *format, int expect_frames)
{
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int timeout = 5000;
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "rig", 3), 0);
    cr_assert_eq(zmq_bind(sub, "tcp://127.0.0.1:*"), 0);
    char endpoint[256];
    size_t len = sizeof endpoint;
    cr_assert_eq(zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);

    char *argv[] = {EZSHM_BIN "/ezshm-pub", "--connect", endpoint, "--topic", "rig",
                    "--format", (char *) format, "--pattern", "counter", "--dtype", "int16",
                    "--channels", "3", "--chunk", "4", "--fs", "500", "--rate", "0",
                    "--count", "12", "--seq", "--labels", "--key", "k",
                    "--change-after", "6", "--change", "shape",
                    "--quiet", NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);

    wire_decoder_t *d = wire_decoder_new();
    for (uint64_t m = 0; m < 12; m++) {
        zmq_msg_t parts[4];
        int n = s_recv(sub, parts, 4);
        cr_assert_eq(n, expect_frames, "format %s message %llu", format, (unsigned long long) m);
        wire_frame_t frames[4];
        for (int i = 0; i < n; i++)
            frames[i] = (wire_frame_t) {zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i])};
        const axisarray_t *aa;
        cr_assert_eq(wire_decode(d, frames, (size_t) n, &aa), 0, "%s",
                     wire_decoder_last_error(d));
        size_t channels = m < 6 ? 3 : 4;
        cr_assert_eq(axisarray_seq(aa), m);
        cr_assert_eq(axisarray_dtype(aa), 'h');
        cr_assert_str_eq(axisarray_key(aa), "k");
        cr_assert_eq(axisarray_shape(aa)[0], 4);
        cr_assert_eq(axisarray_shape(aa)[1], channels);
        const axisarray_axis_t *t = axisarray_axis(aa, "time");
        cr_assert_eq(t->gain, 1.0 / 500);
        cr_assert_eq(t->offset, (double) (m * 4) / 500);
        cr_assert_eq(axisarray_axis(aa, "ch")->n_labels, channels);
        cr_assert_str_eq(axisarray_axis(aa, "ch")->labels[channels - 1],
                         channels == 3 ? "Ch2" : "Ch3");
        const int16_t *v = axisarray_data(aa);
        for (size_t f = 0; f < 4; f++)
            for (size_t c = 0; c < channels; c++)
                cr_assert_eq(v[f * channels + c], (int16_t) (m * 4 + f));
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    wire_decoder_destroy(&d);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

Test(wire_rig, pub_native)
{
    s_run_rig("native", 3);
}

Test(wire_rig, pub_ezmsg)
{
    s_run_rig("ezmsg", 2);
}

Test(wire_rig, pub_ezmsg_single)
{
    s_run_rig("ezmsg-single", 1);
}
