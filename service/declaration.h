/*  declaration.h — the declared streams: the config file's `streams` list or the --stream
    TOPIC=NAME flags, checked as a whole, and matched against the running streams on SIGHUP.

        declaration_t *decls; size_t n;
        if (declaration_parse(&settings, streams_json, settings.max_streams, &decls, &n, err, len) != 0)
            ...;                                         // "streams[2]: ..." — nothing declared
        declaration_settings(&decls[i], &settings, NULL, &s, &e);   // the stream's settings
        declaration_plan(decls, n, &settings, running, n_running, steps, &n_steps);
        free(decls);

    A declaration is a JSON object {"topic": exact topic, per-stream fields...}; its stream
    starts from the daemon's settings (flags like --buf-dur set the per-stream defaults).
    Parsing checks every declaration before any is used, so a broken list changes nothing.
    The plan says how to go from the running streams to the declared ones; the daemon carries
    it out through the control server (the same code as add_stream, remove_stream, update).
*/
#ifndef EZSHM_DECLARATION_H
#define EZSHM_DECLARATION_H

#include "settings.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char topic[SETTINGS_NAME_MAX + 1];   /* the exact topic                                  */
    char name[SETTINGS_NAME_MAX + 1];    /* its shmem_name; "" = none declared               */
    const cJSON *fields;                 /* the declaration object (borrowed from the array) */
} declaration_t;

/*  Checks the declarations of decls (an array; NULL or empty: none): each an object with a
    string "topic" of at most 255 bytes without '{' and otherwise per-stream fields only, each
    of the right type and range over defaults; at most max of them; no shmem_name and no
    topic declared twice. 0 with *out a malloc'd array of *n (NULL when none; the caller
    frees it, and keeps decls alive while using it), or -1 with "streams[i]: why" in err. */
int declaration_parse(const settings_t *defaults, const cJSON *decls, size_t max, declaration_t **out,
                      size_t *n, char *err, size_t errlen);

/*  The settings of the stream decl declares: defaults with its fields; its name, or keep
    when it declares none (keep NULL or "": a freshly generated one). */
settings_code_t declaration_settings(const declaration_t *decl, const settings_t *defaults, const char *keep,
                                     settings_t *out, settings_error_t *err);

/*  A running stream, as the plan sees it. */
typedef struct {
    const char *name;
    const char *topic;            /* NULL: it takes every topic */
    const settings_t *settings;   /* in force */
    bool declared;                /* it came from a declaration, not from control or auto mode */
} declaration_running_t;

typedef enum {
    DECLARATION_REMOVE,   /* running[step.running] is no longer declared                 */
    DECLARATION_UPDATE,   /* running[step.running] becomes what decls[step.decl] declares */
    DECLARATION_ADD       /* decls[step.decl] gets a new stream                           */
} declaration_op_t;

typedef struct {
    declaration_op_t op;
    size_t running;   /* REMOVE, UPDATE, a replacing ADD (the stream it replaces) */
    size_t decl;      /* UPDATE, ADD */
    bool replace;     /* a REMOVE and an ADD that replace one stream (see declaration_plan) */
} declaration_step_t;

/*  The steps that make the running streams those decls declares. A declaration matches the
    running stream of its shmem_name, declared or not (a stream made over control or by auto
    mode is then adopted); else, among the declared streams not matched yet, the one of its
    topic (a new name there is a rename; no name keeps the running one). A match is an UPDATE
    — or, when the topic or a startup-only per-stream field (max_stream_bytes) differs, which
    no update may change, a REMOVE and an ADD marked replace. A declaration matching nothing
    is an ADD; a declared stream no declaration matches is a REMOVE; undeclared streams are
    left alone. Order: every REMOVE, then every UPDATE, then every ADD, so a stream freed
    name, topic and ring budget before another takes them. steps has room for n_running +
    n_decls; 0 with *n_steps the number it holds, or -1 when out of memory (no step). */
int declaration_plan(const declaration_t *decls, size_t n_decls, const settings_t *defaults,
                     const declaration_running_t *running, size_t n_running, declaration_step_t *steps,
                     size_t *n_steps);

#ifdef __cplusplus
}
#endif
#endif
