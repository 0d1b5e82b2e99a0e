/*  ezshm-web — ezshmd's HTTP face: Prometheus metrics, health probes, a JSON API and
    its events as Server-Sent Events (docs/http-api.md). A control client and a reader
    like any other: it never writes a segment. Exit codes: 0 stopped by a signal,
    1 cannot start, 64 usage. */
#include "web_options.h"
#include "web_server.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

int
main(int argc, char **argv)
{
    web_options_t opt;
    char err[512];
    int rc = web_options_load(argc, argv, NULL, &opt, err, sizeof err);
    if (rc == WEB_OPTIONS_EXIT)
        return 0;
    if (rc != WEB_OPTIONS_OK) {
        fprintf(stderr, "ezshm-web: %s\n", err);
        return 64;
    }
    web_server_t *server = web_server_new(&opt, err, sizeof err);
    if (!server) {
        fprintf(stderr, "ezshm-web: %s\n", err);
        return 1;
    }
    /*  After the sockets exist: czmq installs its own SIGINT/SIGTERM handlers when it
        starts, and these replace them. No SA_RESTART: the signal breaks the loop's poll(). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "ezshm-web: listening on http://%s%s%s:%d/ (%zu ezshmd, control %s)\n",
            strchr(opt.listen_host, ':') ? "[" : "", opt.listen_host, strchr(opt.listen_host, ':') ? "]" : "",
            opt.listen_port, opt.n_control, opt.allow_control ? "allowed" : "read only");
    web_server_run(server, &s_stop);
    web_server_destroy(&server);
    return 0;
}
