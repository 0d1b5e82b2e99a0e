/*  json_tolerant.c — see json_tolerant.h. */
#include "json_tolerant.h"
#include "ezshm_utf8.h"
#include "ezshm_value.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  A rewrite of the input: text for cJSON, the value of each non-finite number in
    document order, and where each substitution ended (to map error offsets back). */
typedef struct {
    char *out;
    size_t outlen;
    double *nonfinite;
    size_t n_nonfinite, cap_nonfinite;
    size_t *edit_out, *edit_in;   /* after edit k: out offset edit_out[k] = in offset edit_in[k] */
    size_t n_edits, cap_edits;
} rewrite_t;

/*  Makes room for one more of *count items of size bytes in *items (capacity *cap,
    doubling from 8); -1 when out of memory, nothing changed. */
static int
s_reserve(void *items, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t more = *cap ? *cap * 2 : 8;
    void *p = realloc(*(void **) items, more * size);
    if (!p)
        return -1;
    *(void **) items = p;
    *cap = more;
    return 0;
}

static int
s_push_nonfinite(rewrite_t *rw, double v)
{
    if (s_reserve(&rw->nonfinite, &rw->cap_nonfinite, rw->n_nonfinite, sizeof *rw->nonfinite))
        return -1;
    rw->nonfinite[rw->n_nonfinite++] = v;
    return 0;
}

/*  The two edit arrays grow together: both have cap_edits slots. */
static int
s_push_edit(rewrite_t *rw, size_t in_pos)
{
    size_t cap = rw->cap_edits;
    if (s_reserve(&rw->edit_out, &cap, rw->n_edits, sizeof *rw->edit_out))
        return -1;
    cap = rw->cap_edits;
    if (s_reserve(&rw->edit_in, &cap, rw->n_edits, sizeof *rw->edit_in))
        return -1;
    rw->cap_edits = cap;
    rw->edit_out[rw->n_edits] = rw->outlen;
    rw->edit_in[rw->n_edits] = in_pos;
    rw->n_edits++;
    return 0;
}

static void
s_emit(rewrite_t *rw, const char *s, size_t n)
{
    memcpy(rw->out + rw->outlen, s, n);
    rw->outlen += n;
}

/*  Replaces the token text[*pos..*pos+toklen) by literal (which cJSON parses as an
    infinite number) and records value, the non-finite number it stands for. */
static int
s_substitute(rewrite_t *rw, size_t *pos, size_t toklen, const char *literal, double value)
{
    s_emit(rw, literal, strlen(literal));
    *pos += toklen;
    if (s_push_nonfinite(rw, value) || s_push_edit(rw, *pos))
        return -1;
    return 0;
}

static bool
s_is_number_char(char c)
{
    return isdigit((unsigned char) c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*  Python's non-finite tokens and the cJSON literal that stands in for each. */
typedef struct {
    const char *token, *literal;
    double value;
} token_t;

static const token_t s_tokens[] = {
    { "NaN", "1e999", NAN },
    { "Infinity", "1e999", INFINITY },
    { "-Infinity", "-1e999", -INFINITY },
};

static const token_t *
s_match_token(const char *p, size_t rest)
{
    for (size_t i = 0; i < sizeof s_tokens / sizeof s_tokens[0]; i++) {
        size_t n = strlen(s_tokens[i].token);
        if (rest >= n && memcmp(p, s_tokens[i].token, n) == 0)
            return &s_tokens[i];
    }
    return NULL;
}

/*  One pass over the text outside and inside strings. Returns 0, -1 on out of memory,
    or -2 on a NUL byte. */
static int
s_rewrite(rewrite_t *rw, const char *text, size_t len)
{
    bool in_string = false;
    size_t pos = 0;
    while (pos < len) {
        char c = text[pos];
        if (c == '\0')
            return -2;
        if (in_string) {
            if (c == '"')
                in_string = false;
            else if (c == '\\' && pos + 1 < len) {
                if (len - pos >= 6 && memcmp(text + pos, "\\u0000", 6) == 0) {
                    rw->out[rw->outlen++] = (char) 0xFF;
                    pos += 6;
                    if (s_push_edit(rw, pos))
                        return -1;
                    continue;
                }
                s_emit(rw, text + pos, 2);
                pos += 2;
                continue;
            }
            rw->out[rw->outlen++] = c;
            pos++;
            continue;
        }
        size_t rest = len - pos;
        const token_t *t = s_match_token(text + pos, rest);
        if (t) {
            if (s_substitute(rw, &pos, strlen(t->token), t->literal, t->value))
                return -1;
            continue;
        }
        if (c == '-' || isdigit((unsigned char) c)) {
            /*  A literal that overflows (1e999) is infinite too; record it so the
                document-order walk below stays aligned with the recorded values. */
            size_t n = 0;
            while (n < rest && n < 63 && s_is_number_char(text[pos + n]))
                n++;
            char num[64];
            memcpy(num, text + pos, n);
            num[n] = '\0';
            double v = strtod(num, NULL);
            if (isinf(v) && s_push_nonfinite(rw, v))
                return -1;
            s_emit(rw, text + pos, n);
            pos += n;
            continue;
        }
        in_string = c == '"';
        rw->out[rw->outlen++] = c;
        pos++;
    }
    return 0;
}

/*  Gives the infinite numbers of the tree, in document order, their true values. */
static void
s_restore(cJSON *item, const rewrite_t *rw, size_t *next)
{
    for (; item; item = item->next) {
        if (cJSON_IsNumber(item) && isinf(item->valuedouble) && *next < rw->n_nonfinite)
            cJSON_SetNumberValue(item, rw->nonfinite[(*next)++]);
        s_restore(item->child, rw, next);
    }
}

static size_t
s_original_offset(const rewrite_t *rw, size_t out_pos)
{
    size_t in_pos = out_pos;
    for (size_t k = 0; k < rw->n_edits && rw->edit_out[k] <= out_pos; k++)
        in_pos = rw->edit_in[k] + (out_pos - rw->edit_out[k]);
    return in_pos;
}

cJSON *
json_parse_tolerant(const char *text, size_t len, char *err, size_t errlen)
{
    rewrite_t rw = { 0 };
    cJSON *root = NULL;
    /*  Substitutions grow a token by at most 2 bytes per 3 ("NaN" -> "1e999"). */
    rw.out = len < SIZE_MAX / 2 ? malloc(len * 2 + 1) : NULL;
    int rc = rw.out ? s_rewrite(&rw, text, len) : -1;
    if (rc == -1)
        snprintf(err, errlen, "out of memory parsing %zu bytes of JSON", len);
    else if (rc == -2)
        snprintf(err, errlen, "JSON text contains a NUL byte");
    else {
        rw.out[rw.outlen] = '\0';
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(rw.out, rw.outlen + 1, &end, true);
        if (root) {
            size_t next = 0;
            s_restore(root, &rw, &next);
        } else {
            /*  cJSON reports some errors inside objects at the end of the text. */
            size_t at = end ? s_original_offset(&rw, (size_t) (end - rw.out)) : 0;
            if (at >= len)
                snprintf(err, errlen, "invalid JSON: syntax error or unexpected end of text");
            else
                snprintf(err, errlen, "invalid JSON at byte %zu", at);
        }
    }
    free(rw.out);
    free(rw.nonfinite);
    free(rw.edit_out);
    free(rw.edit_in);
    return root;
}

void
json_excerpt(const char *s, char *buf, size_t buflen)
{
    size_t n = strlen(s);
    if (!ezshm_utf8_valid(s, n))
        snprintf(buf, buflen, "<not UTF-8>");
    else if (n < buflen)
        memcpy(buf, s, n + 1);
    else {
        size_t cut = buflen - 4;
        while (cut > 0 && ((unsigned char) s[cut] & 0xC0) == 0x80)
            cut--;
        memcpy(buf, s, cut);
        memcpy(buf + cut, "...", 4);
    }
}

void
json_format_number(double v, char *buf, size_t buflen)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(buf, buflen, "%.0f", v);   /* integers as integers: counters, shapes, bytes */
    else
        ezshm_value_format_double(v, buf, buflen);
}
