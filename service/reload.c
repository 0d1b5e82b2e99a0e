/*  reload.c — see reload.h. */
#include "reload.h"
#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ADDED, REMOVED, UPDATED, REPLACED, REFUSED, N_OUTCOMES };
static const char *const s_outcome_names[N_OUTCOMES] = { "added", "removed", "updated", "replaced", "refused" };

typedef struct {
    control_server_t *control;
    const settings_t *fresh;
    reload_own_fn *own;
    void *arg;
    bool *gone;                       /* per running stream: its REMOVE step succeeded */
    unsigned count[N_OUTCOMES];
    char names[N_OUTCOMES][256];      /* 'a', 'b', ... (cut when long) */
} tally_t;

static void
s_count(tally_t *t, int outcome, const char *name)
{
    size_t used = strlen(t->names[outcome]);
    t->count[outcome]++;
    snprintf(t->names[outcome] + used, sizeof t->names[outcome] - used, "%s'%s'", used ? ", " : "", name);
}

/*  True when the control op's reply (taken) is ok; else the reason is logged. */
static bool
s_ok(cJSON *reply, const char *what, const char *name)
{
    bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));
    if (!ok)
        log_msg(SETTINGS_LOG_ERROR, "reload: stream '%s' not %s: %s", name, what, message ? message : "out of memory");
    cJSON_Delete(reply);
    return ok;
}

/*  The per-stream fields of the stream decl declares (keep: its name when it declares none;
    NULL: a new one) with that name into name; NULL with the reason logged. */
static cJSON *
s_fields(const tally_t *t, const declaration_t *decl, const char *keep, char *name, size_t size)
{
    settings_t s;
    settings_error_t err;
    settings_code_t rc = declaration_settings(decl, t->fresh, keep, &s, &err);
    cJSON *fields = rc == SETTINGS_OK ? settings_part_to_json(&s, true) : NULL;
    if (!fields) {
        log_msg(SETTINGS_LOG_ERROR, "reload: the stream of topic '%s' refused: %s", decl->topic,
                rc == SETTINGS_OK ? "out of memory" : err.message);
        return NULL;
    }
    snprintf(name, size, "%s", s.shmem_name);
    return fields;
}

static void
s_remove(tally_t *t, const declaration_running_t *running, size_t r, bool replace)
{
    t->gone[r] = s_ok(control_server_remove_stream(t->control, running[r].name), "removed", running[r].name);
    if (!t->gone[r])
        s_count(t, REFUSED, running[r].name);
    else if (!replace)
        s_count(t, REMOVED, running[r].name);
}

/*  A declared stream that stays: an update addressed to it, exactly as over control. */
static void
s_update(tally_t *t, const declaration_t *decl, const declaration_running_t *running)
{
    char name[SETTINGS_NAME_MAX + 1];
    cJSON *fields = s_fields(t, decl, running->name, name, sizeof name);
    cJSON *before = settings_part_to_json(running->settings, true);
    bool changed = !before || !fields || !cJSON_Compare(before, fields, true);
    cJSON_Delete(before);
    bool ok = fields && s_ok(control_server_update(t->control, running->name, fields), "updated", running->name);
    cJSON_Delete(fields);
    /*  Refused or not, the stream is the declaration's from now on (adopted if it was not). */
    t->own(t->arg, ok ? name : running->name);
    if (!ok)
        s_count(t, REFUSED, running->name);
    else if (changed)
        s_count(t, UPDATED, name);
}

static void
s_add(tally_t *t, const declaration_t *decl, const char *replaced)
{
    char name[SETTINGS_NAME_MAX + 1];
    cJSON *fields = s_fields(t, decl, replaced, name, sizeof name);
    bool named = fields != NULL;
    bool ok = named && s_ok(control_server_add_stream(t->control, name, decl->topic, fields),
                            replaced ? "added again (it was removed to be replaced)" : "added", name);
    cJSON_Delete(fields);
    if (ok)
        t->own(t->arg, name);
    s_count(t, !ok ? REFUSED : replaced ? REPLACED : ADDED, named ? name : decl->topic);
}

void
reload_streams(control_server_t *control, const settings_t *fresh, const declaration_t *decls,
               const declaration_running_t *running, size_t n_running, const declaration_step_t *steps,
               size_t n_steps, reload_own_fn *own, void *arg, char *summary, size_t len)
{
    tally_t t = { .control = control, .fresh = fresh, .own = own, .arg = arg };
    t.gone = calloc(n_running + 1, sizeof *t.gone);
    if (!t.gone) {
        snprintf(summary, len, "reload: out of memory, streams unchanged");
        return;
    }
    for (size_t k = 0; k < n_steps; k++) {
        const declaration_step_t *step = &steps[k];
        if (step->op == DECLARATION_REMOVE)
            s_remove(&t, running, step->running, step->replace);
        else if (step->op == DECLARATION_UPDATE)
            s_update(&t, &decls[step->decl], &running[step->running]);
        /*  The second half of a replacement whose stream could not be removed: already refused. */
        else if (!step->replace || t.gone[step->running])
            s_add(&t, &decls[step->decl], step->replace ? running[step->running].name : NULL);
    }
    free(t.gone);
    size_t used = (size_t) snprintf(summary, len, "reloaded on SIGHUP: streams");
    for (int i = 0; i < N_OUTCOMES && used < len; i++)
        used += (size_t) snprintf(summary + used, len - used, "%s %s %u%s%s%s", i ? "," : "", s_outcome_names[i],
                                  t.count[i], t.count[i] ? " (" : "", t.names[i], t.count[i] ? ")" : "");
}
