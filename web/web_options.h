/*  web_options.h — ezshm-web's startup options from flags and the environment.

    Precedence: flags > environment (EZSHM_* variables) > defaults, as ezshmd's config.
    --control repeats (one ezshmd each); EZSHM_CONTROL is a comma-separated list, the same
    variable ezshm-ctl and ezshmd read. The token comes from --token-file (or
    EZSHM_WEB_TOKEN_FILE), else from EZSHM_WEB_TOKEN; the file's first line, trailing
    whitespace cut. A listen address that is not loopback needs a token unless
    --insecure-no-token is given: web_options_load refuses it otherwise.
*/
#ifndef EZSHM_WEB_OPTIONS_H
#define EZSHM_WEB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEB_MAX_CONTROL 16                 /* ezshmd instances one ezshm-web serves      */
#define WEB_TOKEN_MAX 256                  /* bytes of an access token                   */
#define WEB_DEFAULT_LISTEN "127.0.0.1:8080"

typedef enum {
    WEB_OPTIONS_OK = 0,      /* *out is complete and checked                  */
    WEB_OPTIONS_EXIT = 1,    /* --help or --version printed to stdout: exit 0 */
    WEB_OPTIONS_ERROR = -1   /* errbuf holds one line saying what is wrong    */
} web_options_result_t;

typedef struct {
    char control[WEB_MAX_CONTROL][256];    /* ezshmd control endpoints, in order       */
    size_t n_control;
    char listen_host[256];                 /* "127.0.0.1", "::1", "0.0.0.0"             */
    int listen_port;
    bool loopback;                         /* listen_host is a loopback address         */
    bool allow_control;                    /* PUT/PATCH settings are served             */
    bool insecure_no_token;                /* non-loopback without a token, on purpose  */
    char token[WEB_TOKEN_MAX + 1];         /* "" = no token                             */
    double timeout;                        /* seconds an ezshmd reply may take          */
    int max_clients;                       /* HTTP connections at once                  */
    int max_sse;                           /* event-stream clients at once              */
    int max_console;                       /* console WebSocket clients at once         */
    const char *curve_client;              /* CURVE: this client's cert file, or NULL   */
    const char *curve_server;              /* CURVE: ezshmd's public key or cert file   */
} web_options_t;

/*  Fills *out from argv[1..argc) and envp (NULL: environ). Strings point into argv, envp
    or static storage. Returns a web_options_result_t. */
int web_options_load(int argc, char **argv, char **envp, web_options_t *out, char *errbuf, size_t errlen);

/*  Prints the --help text. */
void web_options_usage(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
