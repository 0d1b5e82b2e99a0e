/*  cli_options.c — see cli_options.h. */
#include "cli_options.h"

#include <string.h>

const char *
cli_getenv(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return (*e)[n + 1] ? *e + n + 1 : NULL;
    return NULL;
}

const void *
cli_find_flag(const void *table, size_t n, size_t stride, const char *arg, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const char *entry = (const char *) table + i * stride;
        const char *flag;
        memcpy(&flag, entry, sizeof flag);
        if (strlen(flag) == len && strncmp(flag, arg, len) == 0)
            return entry;
    }
    return NULL;
}

void
cli_usage_line(FILE *out, int width, const char *flag, const char *metavar, const char *help, const char *env)
{
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", flag, metavar ? " " : "", metavar ? metavar : "");
    fprintf(out, "  %-*s %s%s%s%s\n", width, left, help, env ? " [" : "", env ? env : "", env ? "]" : "");
}
