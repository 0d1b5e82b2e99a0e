/*  declaration.c — see declaration.h. */
#include "declaration.h"
#include "ezshm_error.h"
#include "ezshm_name.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The declaration's fields over defaults, its name left "" when it declares none. */
static settings_code_t
s_fields(const cJSON *decl, const settings_t *defaults, settings_t *out, settings_error_t *err)
{
    *out = *defaults;
    *out->shmem_name = '\0';
    const cJSON *item;
    cJSON_ArrayForEach(item, decl) {
        if (strcmp(item->string, "topic") == 0)
            continue;
        if (!settings_is_stream_field(item->string))
            return settings_fail(err, SETTINGS_ERR_UNKNOWN_FIELD, "%.64s is not a per-stream field (shmem_name, "
                                 "buf_dur, axis, header, max_stream_bytes)", item->string);
        settings_code_t rc = settings_set_field(out, item->string, item, err);
        if (rc != SETTINGS_OK)
            return rc;
    }
    return SETTINGS_OK;
}

/*  One declaration checked into out. */
static settings_code_t
s_check(const cJSON *decl, const settings_t *defaults, declaration_t *out, settings_error_t *err)
{
    const cJSON *topic = cJSON_IsObject(decl) ? cJSON_GetObjectItemCaseSensitive(decl, "topic") : NULL;
    if (!cJSON_IsString(topic) || strlen(topic->valuestring) > SETTINGS_NAME_MAX || strchr(topic->valuestring, '{'))
        return settings_fail(err, SETTINGS_ERR_WRONG_TYPE, "needs \"topic\": a string of at most 255 bytes "
                             "without '{' (the exact topic)");
    /*  A settings_t is tens of kilobytes: one at a time, not one per declaration. */
    settings_t s;
    settings_code_t rc = s_fields(decl, defaults, &s, err);
    if (rc != SETTINGS_OK)
        return rc;
    strcpy(out->topic, topic->valuestring);
    strcpy(out->name, s.shmem_name);
    out->fields = decl;
    return SETTINGS_OK;
}

/*  Two declarations of one name or one topic, or of names of which one is a segment name the
    other generates, would make two streams write the same segments or fight over a topic:
    the whole list is refused rather than the second one dropped. */
static settings_code_t
s_unique(const declaration_t *list, size_t i, settings_error_t *err)
{
    for (size_t j = 0; j < i; j++) {
        if (*list[i].name && strcmp(list[i].name, list[j].name) == 0)
            return settings_fail(err, SETTINGS_ERR_STREAM_EXISTS, "shmem_name '%.200s' is declared twice (also "
                                 "streams[%zu])", list[i].name, j);
        if (*list[i].name && *list[j].name && ezshm_names_collide(list[i].name, list[j].name))
            return settings_fail(err, SETTINGS_ERR_NAME_CONFLICT, "shmem_name '%.200s' and streams[%zu]'s "
                                 "'%.200s' would share segments (a stream's name plus /buffer<n>, /meta<n>, "
                                 "/clock<n> or /wake<n> names its segments)", list[i].name, j, list[j].name);
        if (strcmp(list[i].topic, list[j].topic) == 0)
            return settings_fail(err, SETTINGS_ERR_STREAM_EXISTS, "topic '%.200s' is declared twice (also "
                                 "streams[%zu])", list[i].topic, j);
    }
    return SETTINGS_OK;
}

int
declaration_parse(const settings_t *defaults, const cJSON *decls, size_t max, declaration_t **out, size_t *n,
                  char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t count = (size_t) cJSON_GetArraySize(decls);
    if (count == 0)
        return 0;
    if (count > max)
        return ezshm_fail(err, errlen, -1, "streams: %zu declared, more than max_streams (%zu)", count, max);
    declaration_t *list = calloc(count, sizeof *list);
    if (!list)
        return ezshm_fail(err, errlen, -1, "streams: out of memory");
    settings_error_t e;
    size_t i = 0;
    const cJSON *decl;
    cJSON_ArrayForEach(decl, decls) {
        if (s_check(decl, defaults, &list[i], &e) != SETTINGS_OK || s_unique(list, i, &e) != SETTINGS_OK) {
            free(list);
            return ezshm_fail(err, errlen, -1, "streams[%zu]: %s", i, e.message);
        }
        i++;
    }
    *out = list;
    *n = count;
    return 0;
}

settings_code_t
declaration_settings(const declaration_t *decl, const settings_t *defaults, const char *keep, settings_t *out,
                     settings_error_t *err)
{
    settings_code_t rc = s_fields(decl->fields, defaults, out, err);
    if (rc != SETTINGS_OK)
        return rc;
    if (!*out->shmem_name && keep)
        snprintf(out->shmem_name, sizeof out->shmem_name, "%s", keep);
    if (settings_resolve(out) != 0)
        return settings_fail(err, SETTINGS_ERR_APPLY_FAILED, "could not generate a shmem_name");
    return SETTINGS_OK;
}

/*  Whether a matched stream must be replaced rather than updated: its topic changes (no
    update moves a stream to another topic), or a per-stream field an update may not change
    does (settings_merge's startup-only rule, asked rather than repeated here). */
static bool
s_replaces(const declaration_t *decl, const settings_t *defaults, const declaration_running_t *running)
{
    if (!running->topic || strcmp(running->topic, decl->topic) != 0)
        return true;
    settings_t wanted, merged;
    settings_error_t err;
    if (declaration_settings(decl, defaults, running->name, &wanted, &err) != SETTINGS_OK)
        return false;
    cJSON *fields = settings_part_to_json(&wanted, true);
    bool fixed = fields && settings_merge(running->settings, fields, &merged, &err) == SETTINGS_ERR_IMMUTABLE;
    cJSON_Delete(fields);
    return fixed;
}

#define NO_MATCH SIZE_MAX

/*  The running stream declaration d matches (NO_MATCH: none), taken marking those matched. */
static void
s_match(const declaration_t *decls, size_t n_decls, const declaration_running_t *running, size_t n_running,
        size_t *match, bool *taken)
{
    for (size_t d = 0; d < n_decls; d++) {
        match[d] = NO_MATCH;
        for (size_t r = 0; *decls[d].name && r < n_running && match[d] == NO_MATCH; r++)
            if (strcmp(running[r].name, decls[d].name) == 0) {
                match[d] = r;
                taken[r] = true;
            }
    }
    for (size_t d = 0; d < n_decls; d++)
        for (size_t r = 0; r < n_running && match[d] == NO_MATCH; r++)
            if (running[r].declared && !taken[r] && running[r].topic && strcmp(running[r].topic, decls[d].topic) == 0) {
                match[d] = r;
                taken[r] = true;
            }
}

int
declaration_plan(const declaration_t *decls, size_t n_decls, const settings_t *defaults,
                 const declaration_running_t *running, size_t n_running, declaration_step_t *steps, size_t *n_steps)
{
    size_t *match = calloc(n_decls + 1, sizeof *match);
    bool *taken = calloc(n_running + 1, sizeof *taken), *replace = calloc(n_decls + 1, sizeof *replace);
    *n_steps = 0;
    if (!match || !taken || !replace) {
        free(match);
        free(taken);
        free(replace);
        return -1;
    }
    s_match(decls, n_decls, running, n_running, match, taken);
    for (size_t d = 0; d < n_decls; d++)
        replace[d] = match[d] != NO_MATCH && s_replaces(&decls[d], defaults, &running[match[d]]);
    size_t k = 0;
    for (size_t r = 0; r < n_running; r++)
        if (running[r].declared && !taken[r])
            steps[k++] = (declaration_step_t) {DECLARATION_REMOVE, r, 0, false};
    for (size_t d = 0; d < n_decls; d++)
        if (replace[d])
            steps[k++] = (declaration_step_t) {DECLARATION_REMOVE, match[d], d, true};
    for (size_t d = 0; d < n_decls; d++)
        if (match[d] != NO_MATCH && !replace[d])
            steps[k++] = (declaration_step_t) {DECLARATION_UPDATE, match[d], d, false};
    for (size_t d = 0; d < n_decls; d++)
        if (match[d] == NO_MATCH || replace[d])
            steps[k++] = (declaration_step_t) {DECLARATION_ADD, match[d], d, replace[d]};
    free(match);
    free(taken);
    free(replace);
    *n_steps = k;
    return 0;
}
