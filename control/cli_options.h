/*  cli_options.h — what the command lines of ezshmd and ezshm-web share: finding a flag
    in an option table, a --help line, and reading an EZSHM_* variable (empty = unset). */
#ifndef EZSHM_CLI_OPTIONS_H
#define EZSHM_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The value of variable name in envp, NULL when it is unset or empty. */
const char *cli_getenv(char **envp, const char *name);

/*  The entry of table (n entries of stride bytes, each starting with its "--flag" as a
    const char *) whose flag is the len bytes at arg, NULL when none is. */
const void *cli_find_flag(const void *table, size_t n, size_t stride, const char *arg, size_t len);

/*  One --help line: "  --flag METAVAR   help [ENV]", the flag column width wide. */
void cli_usage_line(FILE *out, int width, const char *flag, const char *metavar, const char *help,
                    const char *env);

#ifdef __cplusplus
}
#endif
#endif
