/*  fuzz_web.c — libFuzzer harness for ezshm-web's request handling (web/web_route.h) and
    its exposition (web/web_metrics.h), the parts that see bytes from HTTP clients and from
    ezshmd's replies.

    Input: byte 0 picks the method (GET, PUT, PATCH, POST, DELETE, HEAD, OPTIONS, "?"),
    then a path up to the first NUL, then the rest: a settings body, and the same bytes as a
    status reply of ezshmd. Oracles:
      - web_route gives 200, 400, 404 or 405 (405 with an Allow value); a stream route's
        name is the path's rest after /api/v1/streams/, 1 to 255 bytes; a console page is
        the one asset the path names ("/", "/NAME", or under /console), nothing else;
      - web_settings_request gives either a request that parses as {"op": "update",
        "settings": {...}} (with "stream" when given), or bad_json / not_object, both 400;
      - the exposition of any status reply has only comment lines and samples whose label
        values have balanced, escaped quotes and no raw newline.
*/
#include "json_tolerant.h"
#include "web_metrics.h"
#include "web_route.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_web: check failed: %s (line %d)\n", #cond, __LINE__);      \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static const char *const s_methods[] = {"GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS", "?"};

static void
s_route(const char *method, const char *path)
{
    web_route_t r;
    int status = web_route(method, path, &r);
    CHECK(status == r.status);
    CHECK(status == 200 || status == 400 || status == 404 || status == 405);
    CHECK(status != 405 || (r.allow && *r.allow));
    if (r.endpoint == WEB_STREAM) {
        size_t n = strlen(r.name);
        CHECK(n >= 1 && n <= WEB_NAME_MAX);
        CHECK(strcmp(path + strlen("/api/v1/streams/"), r.name) == 0);
    }
    if (r.endpoint == WEB_ASSET) {
        /*  A page only for "/", "/NAME" or the same under /console: one name of the table,
            never a path with a further '/' or "..". */
        const char *rest = strncmp(path, "/console", 8) == 0 && (path[8] == '/' || !path[8]) ? path + 8 : path;
        CHECK(r.asset && !strstr(path, ".."));
        CHECK(!rest[0] || (rest[0] == '/' && !strchr(rest + 1, '/')));
        CHECK(rest[0] && rest[1] ? strcmp(rest + 1, r.asset->name) == 0 : strcmp(r.asset->name, "index.html") == 0);
    }
}

static void
s_body(const char *body, size_t len, const char *stream)
{
    const char *code = NULL;
    char msg[300];
    char *req = web_settings_request(body, len, stream, &code, msg, sizeof msg);
    if (!req) {
        CHECK(code && (strcmp(code, "bad_json") == 0 || strcmp(code, "not_object") == 0));
        CHECK(web_reply_status(code) == 400);
        return;
    }
    char why[256];
    cJSON *parsed = json_parse_tolerant(req, strlen(req), why, sizeof why);
    CHECK(cJSON_IsObject(parsed));
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(parsed, "op")), "update") == 0);
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(parsed, "settings")));
    CHECK(!stream || cJSON_IsString(cJSON_GetObjectItemCaseSensitive(parsed, "stream")));
    cJSON_Delete(parsed);
    free(req);
}

/*  Every sample line: name, then {labels} whose quotes pair up (escapes skipped), a value. */
static void
s_exposition(const char *text)
{
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        CHECK(end);   /* every line ends in a newline */
        if (*line != '#') {
            CHECK(strncmp(line, "ezshm_", 6) == 0);
            bool quoted = false;
            for (const char *p = line; p < end; p++) {
                if (quoted && *p == '\\') {
                    p++;
                    CHECK(*p == '\\' || *p == '"' || *p == 'n');
                } else if (*p == '"')
                    quoted = !quoted;
            }
            CHECK(!quoted);
        }
        line = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = s_methods[data[0] % 8];
    const char *rest = (const char *) data + 1;
    size_t rest_len = size - 1;
    const char *nul = memchr(rest, '\0', rest_len);
    size_t path_len = nul ? (size_t) (nul - rest) : rest_len;
    char *path = strndup(rest, path_len);
    if (!path)
        return 0;
    s_route(method, path);
    const char *body = nul ? nul + 1 : rest + rest_len;
    size_t body_len = nul ? rest_len - path_len - 1 : 0;
    s_body(body, body_len, data[0] & 8 ? path : NULL);

    /*  The body as ezshmd's status (and streams, and health) reply. */
    char why[256];
    cJSON *reply = json_parse_tolerant(body, body_len, why, sizeof why);
    web_daemon_view_t view = {path, reply, reply, reply};
    web_self_stats_t stats = {0};
    web_self_count(&stats, 200);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out) {
        web_metrics_render(out, &view, 1, &stats);
        fclose(out);
        s_exposition(text);
    }
    free(text);
    cJSON_Delete(reply);
    free(path);
    return 0;
}
