/*  ezshmd — ingest ezmsg AxisArray messages from ZeroMQ into an ezmsg-tools compatible
    shared-memory ring. Settings: flags > EZSHM_* environment > --config file > defaults
    (ezshmd --help). SIGINT/SIGTERM or a control "quit": finish the current message, unlink
    the segments, exit 0. Startup errors: one line on stderr, exit 1 (2 for bad usage).
*/
#include "config.h"
#include "daemon.h"
#include "ezshm.h"

#include <czmq.h>
#include <stdio.h>

typedef struct {
    int    argc;
    char **argv;
} command_line_t;

/*  SIGHUP: flags, environment and config file read again, as at startup. */
static int
s_reload(void *arg, settings_t *out, cJSON **streams, char *err, size_t errlen)
{
    const command_line_t *cl = arg;
    return config_load(cl->argc, cl->argv, NULL, out, streams, err, errlen) == CONFIG_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
    char err[512] = "";
    settings_t settings;
    cJSON *streams = NULL;
    /*  Before any thread exists, so every thread inherits the mask (see daemon.h). */
    daemon_block_signals();
    int rc = config_load(argc, argv, NULL, &settings, &streams, err, sizeof err);
    if (rc == CONFIG_EXIT)
        return 0;
    if (rc != CONFIG_OK) {
        fprintf(stderr, "ezshmd: %s\n", err);
        return 2;
    }
    /*  A segment truncated by another process must not kill the daemon with SIGBUS: the
        writer drops it and rebuilds (see ezshm_guard.h). */
    if (ezshm_guard_enable() != EZSHM_OK) {
        fprintf(stderr, "ezshmd: cannot install the SIGBUS handler\n");
        return 1;
    }
    /*  czmq would print its own log lines; its signal handlers never fire (blocked). */
    zsys_init();
    zsys_set_logstream(NULL);
    daemon_t *daemon = daemon_new(&settings, streams, err, sizeof err);
    cJSON_Delete(streams);
    if (!daemon) {
        fprintf(stderr, "ezshmd: %s\n", err);
        return 1;
    }
    command_line_t command_line = {argc, argv};
    daemon_set_reload(daemon, s_reload, &command_line);
    rc = daemon_run(daemon);
    daemon_destroy(&daemon);
    return rc == 0 ? 0 : 1;
}
