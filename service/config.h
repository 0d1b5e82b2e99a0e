/*  config.h — ezshmd's startup settings from flags, environment and a config file.

    Precedence: flags > environment (EZSHM_*) > config file (--config FILE or
    EZSHM_CONFIG; a JSON object with the settings field names) > defaults. Every value
    goes through settings_set_field(), so the rules and messages are the settings
    model's; errors are prefixed with where the value came from ("--buf-dur: ...",
    "EZSHM_BUF_DUR: ...", "/etc/ezshm.json: ..."). A list flag (--sub, --sub-bind,
    --topic) may repeat; a list variable is comma-separated. An empty variable counts
    as unset.
*/
#ifndef EZSHM_CONFIG_H
#define EZSHM_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "settings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CONFIG_OK = 0,       /* *out holds validated settings; shmem_name "" if none set */
    CONFIG_EXIT = 1,     /* --help or --version was printed to stdout: exit 0     */
    CONFIG_ERROR = -1    /* errbuf holds one line saying what is wrong            */
} config_result_t;

/*  Builds the settings from argv[1..argc) and the environment envp (NULL: environ).
    Returns a config_result_t. No name given leaves shmem_name empty: the one place that
    generates a name is settings_resolve(), called by whoever creates the stream. */
int config_load(int argc, char **argv, char **envp, settings_t *out, char *errbuf, size_t errlen);

/*  Prints the --help text. */
void config_usage(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
