/*  web_route.c — see web_route.h. */
#include "web_route.h"
#include "json_tolerant.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAMS_PREFIX "/api/v1/streams/"
#define CONSOLE_PREFIX "/console"

static int
s_status(web_route_t *out, web_endpoint_t endpoint, int status, const char *allow)
{
    out->endpoint = endpoint;
    out->status = status;
    out->allow = allow;
    return status;
}

int
web_route(const char *method, const char *path, web_route_t *out)
{
    static const struct {
        const char *path;
        web_endpoint_t get;
    } fixed[] = {
        {"/metrics", WEB_METRICS},       {"/healthz", WEB_HEALTHZ},       {"/readyz", WEB_READYZ},
        {"/api/v1/streams", WEB_STREAMS}, {"/api/v1/settings", WEB_SETTINGS}, {"/api/v1/events", WEB_EVENTS},
        {"/api/v1/console", WEB_CONSOLE}, {"/api/v1/console/config", WEB_CONSOLE_CONFIG},
    };
    out->name[0] = '\0';
    out->asset = NULL;
    bool get = strcmp(method, "GET") == 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(path, fixed[i].path) != 0)
            continue;
        if (fixed[i].get == WEB_SETTINGS) {
            if (get)
                return s_status(out, WEB_SETTINGS, 200, NULL);
            bool set = strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
            return s_status(out, set ? WEB_SETTINGS_SET : WEB_NOT_FOUND, set ? 200 : 405, "GET, PUT, PATCH");
        }
        return s_status(out, fixed[i].get, get ? 200 : 405, "GET");
    }
    size_t prefix = strlen(STREAMS_PREFIX);
    if (strncmp(path, STREAMS_PREFIX, prefix) != 0) {
        /*  Anything else may be a page: /console/NAME is /NAME (the pages link each other
            relatively, so both the root and /console/ serve them); whether NAME is one is
            the asset table's to say, and no path reaches the file system. */
        size_t console = strlen(CONSOLE_PREFIX);
        if (strncmp(path, CONSOLE_PREFIX, console) == 0 && (path[console] == '/' || path[console] == '\0'))
            path += console;
        out->asset = console_asset_find(path[0] ? path : "/");
        if (!out->asset)
            return s_status(out, WEB_NOT_FOUND, 404, NULL);
        return s_status(out, WEB_ASSET, get ? 200 : 405, "GET");
    }
    /*  The rest of the path, '/' included, is the name. */
    const char *name = path + prefix;
    size_t len = strlen(name);
    if (len == 0 || len > WEB_NAME_MAX)
        return s_status(out, WEB_NOT_FOUND, len ? 400 : 404, NULL);
    memcpy(out->name, name, len + 1);
    return s_status(out, WEB_STREAM, get ? 200 : 405, "GET");
}

char *
web_settings_request(const char *body, size_t len, const char *stream, const char **code, char *msg,
                     size_t msglen)
{
    char why[256] = "";
    cJSON *parsed = json_parse_tolerant(body, len, why, sizeof why);
    bool object = cJSON_IsObject(parsed);
    cJSON_Delete(parsed);
    if (!object) {
        *code = parsed ? "not_object" : "bad_json";
        snprintf(msg, msglen, "%s", parsed ? "the body must be a JSON object of settings fields" : why);
        return NULL;
    }
    char *name = NULL;
    if (stream) {
        cJSON *s = cJSON_CreateString(stream);
        name = s ? cJSON_PrintUnformatted(s) : NULL;
        cJSON_Delete(s);
        if (!name) {
            *code = "out_of_memory";
            snprintf(msg, msglen, "out of memory");
            return NULL;
        }
    }
    /*  The body's text goes in unchanged: re-printing the parsed tree would turn NaN into
        null and hide a duplicate key, and ezshmd's own checks must judge what was sent. */
    const char *head = "{\"op\":\"update\",";
    size_t need = strlen(head) + (name ? strlen(name) + 10 : 0) + 12 + len + 2;
    char *req = malloc(need);
    if (req) {
        int n = snprintf(req, need, "%s%s%s%s\"settings\":", head, name ? "\"stream\":" : "", name ? name : "",
                         name ? "," : "");
        memcpy(req + n, body, len);
        req[n + len] = '}';
        req[n + len + 1] = '\0';
    } else {
        *code = "out_of_memory";
        snprintf(msg, msglen, "out of memory");
    }
    cJSON_free(name);
    return req;
}

int
web_reply_status(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"bad_json", 400},     {"not_object", 400},   {"bad_request", 400},  {"unknown_op", 400},
        {"unknown_field", 422}, {"wrong_type", 422},   {"out_of_range", 422}, {"not_finite", 422},
        {"immutable", 403},    {"unknown_stream", 404}, {"stream_exists", 409}, {"name_in_use", 409},
        {"apply_failed", 500},
    };
    if (!code)
        return 200;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].status;
    return 502;   /* a code this version does not know: ezshmd said no, for a reason we cannot map */
}
