/*  console_assets.h — the console's pages (every file of web/console/assets/), compiled
    into the binary: a table of name → bytes, content type and strong ETag, generated at
    build time by embed_assets.cmake. A request path is only ever a key into this table:
    nothing a client sends reaches the file system.

        const console_asset_t *a = console_asset_find("/");   // index.html
        if (!a) -> 404
        if (If-None-Match == a->etag) -> 304
        200, Content-Type: a->content_type, ETag: a->etag,
             Content-Security-Policy: CONSOLE_CSP, body a->data / a->size
*/
#ifndef CONSOLE_ASSETS_H
#define CONSOLE_ASSETS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The policy every console response carries: scripts, styles and connections from the
    server itself only, no inline script or style, no framing, no form posts, no plugins. */
#define CONSOLE_CSP                                                                       \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
    const char          *name;           /* "index.html", "app.js"                       */
    const char          *content_type;   /* "text/javascript; charset=utf-8"             */
    const char          *etag;           /* "\"<32 hex digits of the SHA-256>\"", quoted  */
    const unsigned char *data;
    size_t               size;
} console_asset_t;

/*  The asset a request path names: "/" and "/index.html" the page, "/NAME" the asset NAME.
    NULL for anything else — an unknown name, a path with a further '/', "..", a
    query, a NUL or any byte outside [A-Za-z0-9._-]. */
const console_asset_t *console_asset_find(const char *path);

/*  The table, for listings and tests: count, and the i-th asset (NULL beyond). */
size_t console_asset_count(void);
const console_asset_t *console_asset_at(size_t i);

#ifdef __cplusplus
}
#endif
#endif
