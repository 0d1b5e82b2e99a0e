/*  mirror_cli.h — pieces of the ezshm-mirror tool shared between its modes. */
#ifndef MIRROR_CLI_H
#define MIRROR_CLI_H

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

/*  The exit code for a result of ezshm_mirror_attach/read. */
int mirror_exit_code(int rc);

/*  Live terminal view of a stream (ANSI; periodic text lines when stdout is not a tty). */
int mirror_watch(ezshm_mirror_t *mirror, double refresh_hz);

#endif
