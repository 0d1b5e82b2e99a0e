/*  The vectorised string scan of json_relaxed: a stop byte ('"', '\\', a control character)
    at every offset of 64- and 16-byte blocks is found where the byte loop found it, bytes
    >= 0x80 never stop it, and documents sit in exact-size heap blocks so the ASan build
    catches a vector load past the end. */
#include "json_relaxed.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Parses {"k":"<body>"} from an exact-size copy; jr_parse's result. */
static int
s_parse(jr_doc_t *doc, const char *body, size_t n, char **keep)
{
    size_t len = n + 8;
    char *text = malloc(len);
    cr_assert_not_null(text);
    memcpy(text, "{\"k\":\"", 6);
    memcpy(text + 6, body, n);
    memcpy(text + 6 + n, "\"}", 2);
    *keep = text;
    return jr_parse(doc, text, len);
}

Test(json_scan, stop_bytes_at_every_offset)
{
    jr_doc_t *doc = jr_doc_new();
    cr_assert_not_null(doc);
    char body[200];
    for (size_t p = 0; p + 2 < sizeof body; p++) {
        memset(body, 'Q', sizeof body);
        char *text;
        /*  An escape at p: the string runs on, flagged escaped. */
        body[p] = '\\';
        body[p + 1] = '/';
        cr_assert_eq(s_parse(doc, body, sizeof body, &text), 0, "escape at %zu", p);
        const jr_node_t *k = jr_member(doc, jr_root(doc), "k");
        cr_assert(k && k->escaped && k->end - k->start == sizeof body, "escape at %zu", p);
        free(text);
        /*  A control character at p: rejected, at its byte. */
        body[p] = '\x1f';
        body[p + 1] = 'Q';
        cr_assert_eq(s_parse(doc, body, sizeof body, &text), -1);
        char want[64];
        snprintf(want, sizeof want, "control character in string at byte %zu", p + 6);
        cr_assert_str_eq(jr_doc_error(doc), want);
        free(text);
        /*  A quote at p ends the string there (the body's rest is then bad JSON). */
        cr_assert_eq(s_parse(doc, body, p, &text), 0);
        k = jr_member(doc, jr_root(doc), "k");
        cr_assert(k && !k->escaped && k->end - k->start == p, "quote at %zu", p);
        free(text);
    }
    jr_doc_destroy(&doc);
}

Test(json_scan, high_bytes_and_space_are_plain)
{
    jr_doc_t *doc = jr_doc_new();
    char body[150];
    for (size_t p = 0; p < sizeof body; p += 1) {
        memset(body, 'Q', sizeof body);
        /*  U+00E9 as UTF-8, and 0x20 / 0x7F, the edges of the control test. */
        body[p] = p % 3 == 0 ? ' ' : p % 3 == 1 ? 0x7F : 'Q';
        if (p + 1 < sizeof body && p % 5 == 0) {
            body[p] = (char) 0xC3;
            body[p + 1] = (char) 0xA9;
        }
        char *text;
        cr_assert_eq(s_parse(doc, body, sizeof body, &text), 0, "at %zu: %s", p, jr_doc_error(doc));
        const jr_node_t *k = jr_member(doc, jr_root(doc), "k");
        cr_assert_eq(k->end - k->start, sizeof body);
        free(text);
    }
    jr_doc_destroy(&doc);
}
