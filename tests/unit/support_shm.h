/*  support_shm.h — helpers shared by the shm unit tests (test_shm_*.c).

    Every test that touches segments calls shmt_setup() first (as a Criterion .init or at
    the top of the test): it creates a private directory under /dev/shm, points
    EZSHM_SHM_DIR at it, and registers its removal at exit, so tests never collide with
    each other, with other engineers' tests, or with a real /dev/shm stream.
*/
#ifndef EZSHM_SUPPORT_SHM_H
#define EZSHM_SUPPORT_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include <time.h>

#include <cjson/cJSON.h>

#include "ezshm.h"
#include "support_file.h"

/*  Private segment directory (EZSHM_SHM_DIR) for this test process; idempotent. */
const char *shmt_setup(void);
/*  Removes every file in the private directory and the directory itself. */
void shmt_teardown(void);

/*  A fresh stream name "ezshm-test-<pid>-<counter>" (16 rotating static buffers). */
const char *shmt_unique_name(void);

/*  Full path of segment segname in the private directory (static rotating buffer). */
const char *shmt_seg_path(const char *segname);
bool shmt_seg_exists(const char *segname);
/*  Size of the segment file, -1 when absent. */
long long shmt_seg_size(const char *segname);
/*  Permission bits of the segment file, -1 when absent. */
int shmt_seg_mode(const char *segname);

/*  A shared, writable mapping of the whole segment file, as its writer (or a hostile
    neighbour) has it, so a test can put fields into states a writer passes through;
    NULL when absent. Unmap with munmap(addr, *size). */
void *shmt_map_rw(const char *segname, size_t *size);

/*  Writes bytes to a file (creating/truncating it, mode 0600). */
bool shmt_write_file(const char *path, const void *data, size_t size);

/*  Parses a fixture JSON file relative to EZSHM_FIXTURES (caller cJSON_Delete's). */
cJSON *shmt_load_fixture(const char *relpath);
/*  Decodes a hex string into malloc'd bytes. */
uint8_t *shmt_hex_decode(const char *hex, size_t *size);

/*  Header segment / ring segment names of a stream (static rotating buffers). */
const char *shmt_header_seg(const char *name);
const char *shmt_ring_seg(const char *name, uint32_t gen);
const char *shmt_clock_seg(const char *name, uint32_t gen);
const char *shmt_wake_seg(const char *name, uint32_t gen);

/*  Number of files in the private directory (a live renamed header's record left out). */
int shmt_count_files(void);

/*  A writer of name (Criterion-asserted): layout, with a clock segment unless no_clock. */
ezshm_writer_t *shmt_writer(const char *name, ezshm_layout_t layout, bool no_clock);

/*  Builds w's ring (asserted): L frames of 2 float64 channels at srate (0: coordinate axis). */
void shmt_configure(ezshm_writer_t *w, double srate, uint64_t L);

/*  A mirror of name, attached (asserted). */
ezshm_mirror_t *shmt_mirror(const char *name);

/*  Milliseconds of CLOCK_MONOTONIC since t0. */
long long shmt_ms_since(const struct timespec *t0);

#endif
