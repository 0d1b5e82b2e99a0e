/*  test_declaration.c — the declared streams: a list checked as a whole (one line naming the
    declaration at fault), the settings a declaration gives, and the reload's plan (matching by
    name, then by topic among declared streams; replace, remove, update, add, in that order). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "declaration.h"

static settings_t
defaults(void)
{
    settings_t s;
    settings_defaults(&s);
    s.buf_dur = 10;
    return s;
}

/*  Parses text (a JSON array); returns the list, *root to delete after. */
static declaration_t *
parse_ok(const char *text, cJSON **root, size_t *n)
{
    settings_t d = defaults();
    *root = cJSON_Parse(text);
    cr_assert_not_null(*root, "test JSON: %s", text);
    declaration_t *list;
    char err[512] = "";
    cr_assert_eq(declaration_parse(&d, *root, 8, &list, n, err, sizeof err), 0, "%s", err);
    return list;
}

static void
expect_refused(const char *text, size_t max, const char *want)
{
    settings_t d = defaults();
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "test JSON: %s", text);
    declaration_t *list = (declaration_t *) 1;
    size_t n = 99;
    char err[512] = "";
    cr_assert_eq(declaration_parse(&d, root, max, &list, &n, err, sizeof err), -1, "%s accepted", text);
    cr_assert_str_eq(err, want);
    cr_assert_null(list);
    cr_assert_eq(n, 0);
    cJSON_Delete(root);
}

Test(declaration, none)
{
    settings_t d = defaults();
    declaration_t *list = (declaration_t *) 1;
    size_t n = 99;
    char err[64] = "";
    cr_assert_eq(declaration_parse(&d, NULL, 8, &list, &n, err, sizeof err), 0);
    cr_assert(list == NULL && n == 0);
    cJSON *empty = cJSON_CreateArray();
    cr_assert_eq(declaration_parse(&d, empty, 8, &list, &n, err, sizeof err), 0);
    cr_assert(list == NULL && n == 0);
    cJSON_Delete(empty);
}

Test(declaration, parsed_and_settings)
{
    cJSON *root;
    size_t n;
    declaration_t *list = parse_ok("[{\"topic\": \"eeg\", \"shmem_name\": \"rig/eeg\", \"buf_dur\": 2},"
                                   " {\"topic\": \"\", \"header\": \"v1\", \"max_stream_bytes\": 4096}]", &root, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[0].topic, "eeg");
    cr_assert_str_eq(list[0].name, "rig/eeg");
    cr_assert_str_eq(list[1].topic, "");
    cr_assert_str_eq(list[1].name, "", "no name declared");
    settings_t d = defaults(), s;
    settings_error_t e;
    cr_assert_eq(declaration_settings(&list[0], &d, "ignored", &s, &e), SETTINGS_OK);
    cr_assert_str_eq(s.shmem_name, "rig/eeg", "a declared name beats keep");
    cr_assert(s.buf_dur == 2 && s.header == SETTINGS_HEADER_LEGACY);
    cr_assert_eq(declaration_settings(&list[1], &d, "running", &s, &e), SETTINGS_OK);
    cr_assert_str_eq(s.shmem_name, "running");
    cr_assert(s.buf_dur == 10 && s.header == SETTINGS_HEADER_V1 && s.max_stream_bytes == 4096);
    cr_assert_eq(declaration_settings(&list[1], &d, NULL, &s, &e), SETTINGS_OK);
    cr_assert(strncmp(s.shmem_name, "ezshm-", 6) == 0, "generated: %s", s.shmem_name);
    free(list);
    cJSON_Delete(root);
}

Test(declaration, refused_whole)
{
    expect_refused("[{\"topic\": \"a\"}, 5]", 8, "streams[1]: needs \"topic\": a string of at most 255 bytes without "
                   "'{' (the exact topic)");
    expect_refused("[{\"shmem_name\": \"a\"}]", 8, "streams[0]: needs \"topic\": a string of at most 255 bytes "
                   "without '{' (the exact topic)");
    expect_refused("[{\"topic\": \"a{b\"}]", 8, "streams[0]: needs \"topic\": a string of at most 255 bytes "
                   "without '{' (the exact topic)");
    expect_refused("[{\"topic\": \"a\", \"sub\": \"tcp://127.0.0.1:1\"}]", 8, "streams[0]: sub is not a per-stream "
                   "field (shmem_name, buf_dur, axis, header, max_stream_bytes)");
    expect_refused("[{\"topic\": \"a\"}, {\"topic\": \"b\", \"buf_dur\": 0}]", 8,
                   "streams[1]: buf_dur must be a finite number > 0 and <= 86400, got 0");
    expect_refused("[{\"topic\": \"a\", \"shmem_name\": \"n\"}, {\"topic\": \"b\", \"shmem_name\": \"n\"}]", 8,
                   "streams[1]: shmem_name 'n' is declared twice (also streams[0])");
    expect_refused("[{\"topic\": \"a\"}, {\"topic\": \"b\"}, {\"topic\": \"a\", \"shmem_name\": \"x\"}]", 8,
                   "streams[2]: topic 'a' is declared twice (also streams[0])");
    expect_refused("[{\"topic\": \"a\"}, {\"topic\": \"b\"}, {\"topic\": \"c\"}]", 2,
                   "streams: 3 declared, more than max_streams (2)");
    char text[600];
    snprintf(text, sizeof text, "[{\"topic\": \"%0256d\"}]", 0);
    expect_refused(text, 8, "streams[0]: needs \"topic\": a string of at most 255 bytes without '{' (the exact topic)");
}

/*  ---- the plan -------------------------------------------------------------------- */

#define MAX_RUNNING 8

typedef struct {
    settings_t settings[MAX_RUNNING];
    declaration_running_t running[MAX_RUNNING];
    size_t n;
} table_t;

static void
run(table_t *t, const char *name, const char *topic, bool declared, double buf_dur)
{
    settings_t *s = &t->settings[t->n];
    *s = defaults();
    strcpy(s->shmem_name, name);
    s->buf_dur = buf_dur;
    t->running[t->n] = (declaration_running_t) {s->shmem_name, topic, s, declared};
    t->n++;
}

/*  The plan as text, one step a word: "-name" remove, "~name" update, "+topic" add, with "!"
    before a step of a replacement. */
static void
plan_text(const table_t *t, const char *decls_json, char *out, size_t size)
{
    cJSON *root;
    size_t n, n_steps;
    declaration_t *list = parse_ok(decls_json, &root, &n);
    declaration_step_t steps[MAX_RUNNING + 8];
    settings_t d = defaults();
    cr_assert_eq(declaration_plan(list, n, &d, t->running, t->n, steps, &n_steps), 0);
    *out = '\0';
    for (size_t k = 0; k < n_steps; k++) {
        const declaration_step_t *st = &steps[k];
        size_t used = strlen(out);
        const char *what = st->op == DECLARATION_ADD ? list[st->decl].topic : t->running[st->running].name;
        snprintf(out + used, size - used, "%s%s%c%s", k ? " " : "", st->replace ? "!" : "",
                 st->op == DECLARATION_REMOVE ? '-' : st->op == DECLARATION_UPDATE ? '~' : '+', what);
        if (st->op == DECLARATION_UPDATE)
            cr_assert(strcmp(t->running[st->running].topic, list[st->decl].topic) == 0);
        if (st->replace)
            cr_assert_lt(st->running, t->n, "a replacing step names the stream it replaces");
    }
    free(list);
    cJSON_Delete(root);
}

#define EXPECT_PLAN(t, decls, want)                          \
    do {                                                     \
        char got_[512];                                      \
        plan_text(t, decls, got_, sizeof got_);              \
        cr_assert_str_eq(got_, want, "decls %s", decls);     \
    } while (0)

Test(declaration, plan_edit)
{
    table_t t = {.n = 0};
    run(&t, "eeg", "eeg", true, 10);
    run(&t, "emg", "emg", true, 10);
    run(&t, "acc", "acc", true, 10);
    run(&t, "ctl", "ctl", false, 3);
    /*  acc removed first, eeg and emg updated (the update itself finds eeg unchanged), mrk added;
        the stream added over control is not touched. */
    EXPECT_PLAN(&t, "[{\"topic\": \"eeg\", \"shmem_name\": \"eeg\"}, {\"topic\": \"emg\", \"shmem_name\": \"emg\", "
                "\"buf_dur\": 2}, {\"topic\": \"mrk\", \"shmem_name\": \"mrk\"}]", "-acc ~eeg ~emg +mrk");
    EXPECT_PLAN(&t, "[]", "-eeg -emg -acc");
}

Test(declaration, plan_matching)
{
    table_t t = {.n = 0};
    run(&t, "a", "ta", true, 10);
    run(&t, "gen-1", "tg", true, 10);
    run(&t, "auto/x", "x", false, 10);
    run(&t, "ctl", "tc", false, 10);
    /*  A new name for a declared topic renames; no name keeps the stream of its topic; a name
        of an undeclared stream adopts it; an undeclared stream's topic without its name is an
        add (refused later: the topic is taken), never a silent takeover. */
    EXPECT_PLAN(&t, "[{\"topic\": \"ta\", \"shmem_name\": \"a2\"}, {\"topic\": \"tg\"}, "
                "{\"topic\": \"tc\", \"shmem_name\": \"ctl\"}, {\"topic\": \"x\"}]", "~a ~gen-1 ~ctl +x");
    /*  A name beats a topic: "a" declared on another topic replaces the stream "a"; the decl
        of topic ta without a name then finds no declared stream of its own left: an add. */
    EXPECT_PLAN(&t, "[{\"topic\": \"tb\", \"shmem_name\": \"a\"}, {\"topic\": \"ta\"}]", "-gen-1 !-a !+tb +ta");
}

Test(declaration, plan_replace_for_a_startup_only_field)
{
    table_t t = {.n = 0};
    run(&t, "s", "ts", true, 10);
    EXPECT_PLAN(&t, "[{\"topic\": \"ts\", \"shmem_name\": \"s\", \"buf_dur\": 4}]", "~s");
    EXPECT_PLAN(&t, "[{\"topic\": \"ts\", \"shmem_name\": \"s\", \"max_stream_bytes\": 1000}]", "!-s !+ts");
    EXPECT_PLAN(&t, "[{\"topic\": \"other\", \"shmem_name\": \"s\"}]", "!-s !+other");
}
