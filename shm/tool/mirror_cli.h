/*  mirror_cli.h — pieces of the ezshm-mirror tool shared between its modes. */
#ifndef EZSHM_MIRROR_CLI_H
#define EZSHM_MIRROR_CLI_H

#include "ezshm.h"

#include <signal.h>
#include <stdbool.h>

/*  Exit codes of ezshm-mirror. */
enum {
    MIRROR_EXIT_OK = 0,
    MIRROR_EXIT_ERROR = 1,
    MIRROR_EXIT_NOSTREAM = 2,
    MIRROR_EXIT_BADHEADER = 3,
    MIRROR_EXIT_USAGE = 64
};

/*  Set by SIGINT/SIGTERM. */
extern volatile sig_atomic_t mirror_interrupted;

/*  Sleeps the given seconds unless interrupted. */
void mirror_sleep(double seconds);

/*  One line on stderr: "ezshm-mirror: NAME: <what rc means>". */
void mirror_report(const ezshm_mirror_t *m, int rc);

/*  ezshm_mirror_wait_any on n mirrors for a mode's loop (one mirror and block > 1:
    ezshm_mirror_wait_frames for block frames): EZSHM_OK whatever woke it (data, a change the
    next read follows, the timeout), or the error that must end the mode (a segment
    truncated under the reader: EZSHM_ERR_BUS), then *which (may be NULL) names the mirror. */
int mirror_wait(ezshm_mirror_t *const *m, size_t n, uint64_t block, int timeout_ms, size_t *which);

/*  The exit code for a result of ezshm_mirror_attach/read. */
int mirror_exit_code(int rc);

/*  Live terminal view of n attached streams together (ANSI; periodic text lines, one per
    stream, when stdout is not a tty). */
int mirror_watch(ezshm_mirror_t **mirrors, size_t n, double refresh_hz);

/*  The stream names of the daemon whose control endpoint is endpoint, asked through
    `ezshm-ctl --endpoint E names` (the ezshm-ctl beside this program, else on PATH): this
    tool stays free of ZeroMQ and JSON. *names (caller frees each and the array) and *n;
    0, or -1 with one line on stderr. */
int mirror_daemon_streams(const char *endpoint, char ***names, size_t *n);

/*  Most values `--meta` prints of one metadata document (nodes, nested lists, array
    elements and bytes of text each count one; shared references count each time): as
    many as the largest blob has bytes, so a small blob of shared references cannot print
    gigabytes. */
#define MIRROR_META_MAX_VALUES ((uint64_t) EZSHM_UNPICKLE_MAX_BYTES)

/*  `--meta`: prints the stream metadata as one JSON line (follow: again at every change,
    count documents at most when count >= 0); a document over MIRROR_META_MAX_VALUES is an
    error (EZSHM_ERR_PICKLE, exit 1), never printed. */
int mirror_meta(ezshm_mirror_t *mirror, double wait, bool follow, long long count);

#endif
