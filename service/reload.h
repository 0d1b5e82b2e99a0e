/*  reload.h — the stream part of a reload (SIGHUP): the steps of declaration_plan carried out
    through the control server, so each is exactly a control op (remove_stream, update,
    add_stream: the same checks, ring budget, name-in-use refusal, lifecycle and events).

        declaration_plan(decls, n, &fresh, running, n_running, steps, &n_steps);
        reload_streams(control, &fresh, decls, running, n_running, steps, n_steps, own, daemon, line,
                       sizeof line);
        log_msg(SETTINGS_LOG_INFO, "%s", line);  // "reloaded on SIGHUP: streams added 1 ('c'), ..."

    A step that fails is logged with its stream's name and does not stop the others.
*/
#ifndef EZSHM_RELOAD_H
#define EZSHM_RELOAD_H

#include "control_server.h"
#include "declaration.h"
#include "settings.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The stream named name now belongs to the declaration (added, updated or adopted): a later
    reload that no longer declares it removes it. */
typedef void (reload_own_fn)(void *arg, const char *name);

/*  Carries out steps (declaration_plan's, over decls and running, whose names must stay valid
    while streams are removed: copies, not the streams' own). fresh: the reloaded settings,
    which the declared streams start from. One summary line goes into summary: how many
    streams were added, removed, updated (settings changed), replaced and refused, with
    their names (the lists may be cut, the counts are exact). */
void reload_streams(control_server_t *control, const settings_t *fresh, const declaration_t *decls,
                    const declaration_running_t *running, size_t n_running, const declaration_step_t *steps,
                    size_t n_steps, reload_own_fn *own, void *arg, char *summary, size_t len);

#ifdef __cplusplus
}
#endif
#endif
