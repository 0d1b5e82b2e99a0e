/*  web_options.c — see web_options.h. */
#include "web_options.h"
#include "cli_options.h"
#include "ezshm.h"
#include "settings.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

typedef enum { O_FLAG, O_TEXT, O_NUMBER, O_LIST, O_NONE } kind_t;

typedef struct {
    const char *flag;
    const char *env;      /* NULL: flag only */
    kind_t kind;          /* O_FLAG: a switch (variable: 1/true/yes) */
    const char *metavar;
    const char *help;
} option_t;

/*  THE list of flags and variables (the man page and the tests follow it). */
static const option_t s_options[] = {
    { "--control", "EZSHM_CONTROL", O_LIST, "E", "an ezshmd control endpoint (repeatable; default " SETTINGS_DEFAULT_CONTROL ")" },
    { "--listen", "EZSHM_WEB_LISTEN", O_TEXT, "HOST:PORT", "HTTP listen address (default " WEB_DEFAULT_LISTEN ")" },
    { "--allow-control", "EZSHM_WEB_ALLOW_CONTROL", O_FLAG, NULL, "serve PUT/PATCH /api/v1/settings (default: read only)" },
    { "--token-file", "EZSHM_WEB_TOKEN_FILE", O_TEXT, "F", "access token: the first line of F [or EZSHM_WEB_TOKEN]" },
    { "--insecure-no-token", "EZSHM_WEB_INSECURE_NO_TOKEN", O_FLAG, NULL, "listen beyond loopback without a token" },
    { "--timeout", "EZSHM_WEB_TIMEOUT", O_NUMBER, "S", "seconds an ezshmd reply may take (default 1)" },
    { "--max-clients", "EZSHM_WEB_MAX_CLIENTS", O_NUMBER, "N", "HTTP connections at once (default 64)" },
    { "--max-sse", "EZSHM_WEB_MAX_SSE", O_NUMBER, "N", "/api/v1/events clients at once (default 16)" },
    { "--max-console", "EZSHM_WEB_MAX_CONSOLE", O_NUMBER, "N", "console WebSocket clients at once (default 8)" },
    { "--curve-client", "EZSHM_CURVE_CLIENT", O_TEXT, "CERT", "CURVE: this client's certificate (CERT, CERT_secret)" },
    { "--curve-server", "EZSHM_CURVE_SERVER", O_TEXT, "KEY", "CURVE: ezshmd's public key (Z85) or certificate" },
    { "--help", NULL, O_NONE, NULL, "print this help and exit" },
    { "--version", NULL, O_NONE, NULL, "print the version and exit" },
};
#define N_OPTIONS (sizeof s_options / sizeof s_options[0])

void
web_options_usage(FILE *out)
{
    fprintf(out, "usage: ezshm-web [OPTION]...\n"
                 "Serve ezshmd's state over HTTP: /metrics (Prometheus), /healthz, /readyz, /api/v1/.\n"
                 "Precedence: flags > environment > defaults.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        cli_usage_line(out, 24, s_options[i].flag, s_options[i].metavar, s_options[i].help, s_options[i].env);
}

/*  "HOST:PORT" or "[V6]:PORT" into out; loopback set for 127/8, ::1 and localhost. */
static int
s_parse_listen(const char *text, web_options_t *out, char *errbuf, size_t errlen)
{
    const char *colon = strrchr(text, ':');
    const char *host = text;
    size_t host_len = colon ? (size_t) (colon - text) : 0;
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || host_len == 0 || host_len >= sizeof out->listen_host || !colon[1] || *end || port < 1
        || port > 65535)
        return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "--listen: expected HOST:PORT, got \"%s\"", text);
    memcpy(out->listen_host, host, host_len);
    out->listen_host[host_len] = '\0';
    out->listen_port = (int) port;
    unsigned char addr[16];
    static const unsigned char v6_loopback[16] = {[15] = 1};
    if (strcmp(out->listen_host, "localhost") == 0)
        out->loopback = true;
    else if (inet_pton(AF_INET, out->listen_host, addr) == 1)
        out->loopback = addr[0] == 127;
    else if (inet_pton(AF_INET6, out->listen_host, addr) == 1)
        out->loopback = memcmp(addr, v6_loopback, 16) == 0;
    else
        return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR,
                          "--listen: HOST must be an IP address or localhost, got \"%s\"", out->listen_host);
    return WEB_OPTIONS_OK;
}

/*  The first line of path, trailing whitespace cut, into out->token. */
static int
s_read_token(const char *path, web_options_t *out, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "token file %s: %s", path, strerror(errno));
    char line[WEB_TOKEN_MAX + 2] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = strlen(line);
    while (n > 0 && isspace((unsigned char) line[n - 1]))
        line[--n] = '\0';
    if (!got || n == 0 || n > WEB_TOKEN_MAX)
        return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "token file %s: the first line must hold a token "
                          "of 1 to %d bytes", path, WEB_TOKEN_MAX);
    memcpy(out->token, line, n + 1);
    return WEB_OPTIONS_OK;
}

static bool
s_truthy(const char *text)
{
    return strcmp(text, "1") == 0 || strcmp(text, "true") == 0 || strcmp(text, "yes") == 0;
}

/*  Sets the option o from text; where names the flag or variable for errors. */
static int
s_apply(web_options_t *out, const option_t *o, const char *where, const char *text, const char **token_file,
        char *errbuf, size_t errlen)
{
    const char *f = o->flag;
    if (strcmp(f, "--control") == 0) {
        /*  A list variable is comma-separated; a repeated flag appends. */
        for (const char *p = text; *p;) {
            size_t n = strcspn(p, ",");
            if (out->n_control == WEB_MAX_CONTROL)
                return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "%s: at most %d endpoints", where,
                                  WEB_MAX_CONTROL);
            char *slot = out->control[out->n_control];
            if (n < sizeof out->control[0]) {
                memcpy(slot, p, n);
                slot[n] = '\0';
            }
            if (n == 0 || n >= sizeof out->control[0] || !strstr(slot, "://"))
                return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR,
                                  "%s: expected transport://address of at most 255 bytes, got \"%.*s\"", where,
                                  (int) n, p);
            out->n_control++;
            p += n + (p[n] == ',');
        }
        return WEB_OPTIONS_OK;
    }
    if (strcmp(f, "--listen") == 0)
        return s_parse_listen(text, out, errbuf, errlen);
    if (strcmp(f, "--allow-control") == 0)
        out->allow_control = where == o->flag ? true : s_truthy(text);
    else if (strcmp(f, "--insecure-no-token") == 0)
        out->insecure_no_token = where == o->flag ? true : s_truthy(text);
    else if (strcmp(f, "--token-file") == 0)
        *token_file = text;
    else if (strcmp(f, "--curve-client") == 0)
        out->curve_client = text;
    else if (strcmp(f, "--curve-server") == 0)
        out->curve_server = text;
    else {
        char *end;
        double v = strtod(text, &end);
        bool is_timeout = strcmp(f, "--timeout") == 0;
        if (!*text || *end || !(v > 0) || v > (is_timeout ? 60 : 100000) || (!is_timeout && v != (int) v))
            return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "%s: %s, got \"%s\"", where,
                              is_timeout ? "a number of seconds > 0 and <= 60" : "an integer from 1 to 100000", text);
        if (is_timeout)
            out->timeout = v;
        else if (strcmp(f, "--max-clients") == 0)
            out->max_clients = (int) v;
        else if (strcmp(f, "--max-sse") == 0)
            out->max_sse = (int) v;
        else
            out->max_console = (int) v;
    }
    return WEB_OPTIONS_OK;
}

/*  The final checks: a default endpoint, CURVE options in pairs, a token where needed. */
static int
s_check(web_options_t *out, const char *token_file, char **envp, char *errbuf, size_t errlen)
{
    if (out->n_control == 0)
        strcpy(out->control[out->n_control++], SETTINGS_DEFAULT_CONTROL);
    if (!out->curve_client != !out->curve_server)
        return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "--curve-client and --curve-server go together");
    const char *env_token = cli_getenv(envp, "EZSHM_WEB_TOKEN");
    if (token_file) {
        if (s_read_token(token_file, out, errbuf, errlen) != WEB_OPTIONS_OK)
            return WEB_OPTIONS_ERROR;
    } else if (env_token) {
        if (strlen(env_token) > WEB_TOKEN_MAX)
            return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "EZSHM_WEB_TOKEN: longer than %d bytes",
                              WEB_TOKEN_MAX);
        strcpy(out->token, env_token);
    }
    if (!out->loopback && !out->token[0] && !out->insecure_no_token)
        return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR,
                          "--listen %s is not loopback: give an access token (--token-file, EZSHM_WEB_TOKEN) "
                          "or --insecure-no-token", out->listen_host);
    return WEB_OPTIONS_OK;
}

int
web_options_load(int argc, char **argv, char **envp, web_options_t *out, char *errbuf, size_t errlen)
{
    envp = envp ? envp : environ;
    memset(out, 0, sizeof *out);
    out->timeout = 1.0;
    out->max_clients = 64;
    out->max_sse = 16;
    out->max_console = 8;
    const char *token_file = NULL;
    int rc = s_parse_listen(WEB_DEFAULT_LISTEN, out, errbuf, errlen);
    bool control_flag = false;
    /*  Environment first, then the flags over it (a --control flag replaces the list). */
    for (size_t i = 0; rc == WEB_OPTIONS_OK && i < N_OPTIONS; i++) {
        const char *text = s_options[i].env ? cli_getenv(envp, s_options[i].env) : NULL;
        if (text)
            rc = s_apply(out, &s_options[i], s_options[i].env, text, &token_file, errbuf, errlen);
    }
    for (int i = 1; rc == WEB_OPTIONS_OK && i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        const option_t *o = strncmp(arg, "--", 2) == 0 ? cli_find_flag(s_options, N_OPTIONS, sizeof s_options[0], arg,
                                                                       eq ? (size_t) (eq - arg) : strlen(arg))
                                                       : NULL;
        if (!o)
            return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "%s: unknown option (see --help)", arg);
        if (o->kind == O_NONE || o->kind == O_FLAG) {
            if (eq)
                return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "%s: takes no value", o->flag);
            if (o->kind == O_FLAG) {
                rc = s_apply(out, o, o->flag, "", &token_file, errbuf, errlen);
                continue;
            }
            if (strcmp(o->flag, "--help") == 0)
                web_options_usage(stdout);
            else
                printf("ezshm-web %s\n", EZSHM_VERSION);
            return WEB_OPTIONS_EXIT;
        }
        if (!eq && i + 1 >= argc)
            return ezshm_fail(errbuf, errlen, WEB_OPTIONS_ERROR, "%s: needs a value", o->flag);
        const char *text = eq ? eq + 1 : argv[++i];
        if (o->kind == O_LIST && !control_flag) {
            control_flag = true;
            out->n_control = 0;
        }
        rc = s_apply(out, o, o->flag, text, &token_file, errbuf, errlen);
    }
    return rc == WEB_OPTIONS_OK ? s_check(out, token_file, envp, errbuf, errlen) : rc;
}
