/*  ezshm-bench-console — the console's server-side cost in one process: a writer at rig load
    (default 30 kHz × 256 channels int16 in 1 ms chunks, the sender's clock on every chunk)
    and one decimator reading it as ezshm-web would, pumped every 16 chunks (≈ 60 frames/s),
    each plot encoded as the columns frame (the first full, the others delta frames, as a
    session sends them). Prints the CPU time (this thread's, so a loaded
    machine's preemption is not counted) per frame taken and per encoded frame, and what
    they come to as a share of a core at the stream's rate and at 60 frames/s.

        ezshm-bench-console [--fs HZ] [--channels N] [--seconds S] [--columns C] [--window S]
*/
#include "console_decimate.h"
#include "console_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
s_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
    double fs = 30000, seconds = 3, window = 10;
    unsigned channels = 256, columns = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--fs")) fs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--channels")) channels = (unsigned) atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--columns")) columns = (unsigned) atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--window")) window = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: ezshm-bench-console [--fs HZ] [--channels N] [--seconds S] [--columns C] [--window S]\n");
            return 64;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "ezshm-bench-console-%ld", (long) getpid());
    uint64_t chunk = (uint64_t) (fs / 1000 > 1 ? fs / 1000 : 1), shape[1] = {channels};
    ezshm_writer_t *w = NULL;
    ezshm_ring_spec_t spec = {'h', fs, (uint64_t) (fs * 10), 1, shape, "k", 1};
    console_view_t view = {.window = window, .columns = columns};
    console_decimate_t *d = NULL;
    int rc = ezshm_writer_new(name, NULL, &w);
    if (rc == EZSHM_OK)
        rc = ezshm_writer_configure(w, &spec);
    if (rc == EZSHM_OK)
        rc = console_decimate_new(name, &view, &d);
    if (rc != EZSHM_OK) {
        fprintf(stderr, "ezshm-bench-console: %s\n", ezshm_strerror(rc));
        ezshm_writer_destroy(&w);
        return 1;
    }
    console_decimate_pump(d, 1, NULL);
    int16_t *data = malloc(chunk * channels * sizeof *data);
    uint8_t *frame = malloc(CONSOLE_FRAME_MAX_BYTES);
    for (uint64_t i = 0; i < chunk * channels; i++)
        data[i] = (int16_t) (i * 7);
    ezshm_contiguous_t src = {data, channels * sizeof *data};
    double pump_s = 0, encode_s = 0, t0 = 1.7e9;
    uint64_t chunks = (uint64_t) (seconds * fs / (double) chunk), encoded = 0;
    size_t len = 0, bytes = 0;
    for (uint64_t k = 0; k < chunks; k++) {
        ezshm_chunk_time_t ct = {t0 + (double) (k * chunk) / fs, 1.0 / fs, NULL, 0, EZSHM_SEQ_NONE};
        ezshm_writer_write_timed(w, chunk, ezshm_copy_contiguous, &src, &ct);
        if (k % 16 != 15)
            continue;
        double a = s_cpu();
        console_decimate_pump(d, UINT64_MAX, NULL);
        double b = s_cpu();
        console_columns_t c;
        console_decimate_columns(d, &c);
        console_frame_ids_t ids = {1, (uint32_t) encoded, 0, encoded > 0};
        console_frame_encode(&c, &ids, frame, CONSOLE_FRAME_MAX_BYTES, &len);
        console_decimate_clean(d);
        encode_s += s_cpu() - b;
        bytes += len;
        pump_s += b - a;
        encoded++;
    }
    console_columns_t c;
    console_decimate_columns(d, &c);
    printf("%u ch int16 at %.0f Hz, %u columns over %.1f s: %llu frames taken, %llu lost\n", channels, fs, columns,
           window, (unsigned long long) c.frames, (unsigned long long) c.lost);
    printf("decimate: %.0f ns CPU a frame = %.2f %% of a core at %.0f Hz\n", pump_s / (double) c.frames * 1e9,
           pump_s / (double) c.frames * fs * 100, fs);
    printf("encode: %.3f ms CPU a frame of %.0f bytes on average = %.2f %% of a core at 60 frames/s\n",
           encode_s / (double) encoded * 1e3, (double) bytes / (double) encoded,
           encode_s / (double) encoded * 60 * 100);
    printf("a full frame: %zu bytes\n", console_frame_size(&c, false));
    console_decimate_destroy(&d);
    ezshm_writer_destroy(&w);
    free(data);
    free(frame);
    return 0;
}
