/*  ezshmd — ingest ezmsg AxisArray messages from ZeroMQ into an ezmsg-tools compatible
    shared-memory ring. Settings: flags > EZSHM_* environment > --config file > defaults
    (ezshmd --help). SIGINT/SIGTERM or a control "quit": finish the current message, unlink
    the segments, exit 0. Startup errors: one line on stderr, exit 1 (2 for bad usage).
*/
#include "config.h"
#include "daemon.h"

#include <czmq.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
    char err[512] = "";
    settings_t settings;
    int rc = config_load(argc, argv, NULL, &settings, err, sizeof err);
    if (rc == CONFIG_EXIT)
        return 0;
    if (rc != CONFIG_OK) {
        fprintf(stderr, "ezshmd: %s\n", err);
        return 2;
    }
    /*  czmq would print its own log lines and install its handler only lazily. */
    zsys_init();
    zsys_set_logstream(NULL);
    daemon_t *daemon = daemon_new(&settings, err, sizeof err);
    if (!daemon) {
        fprintf(stderr, "ezshmd: %s\n", err);
        return 1;
    }
    rc = daemon_run(daemon);
    daemon_destroy(&daemon);
    return rc == 0 ? 0 : 1;
}
