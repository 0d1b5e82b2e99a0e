/*  test_web_console_assets.c — the console's pages as compiled into the binary: every file of
    web/console/assets/ is in the table, byte for byte, with its content type and a strong
    ETag (its SHA-256); "/" is the page; unknown names and every path-traversal shape find
    nothing; no page holds inline script or style (the CSP forbids them). */
#include "support_file.h"
#include "console_assets.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSETS EZSHM_SOURCE_DIR "/web/console/assets"

static const char *
s_type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".json", "application/json"},
        {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"}};
    for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dot, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

Test(web_console_assets, every_file_is_in_the_table_with_its_type_and_etag)
{
    DIR *d = opendir(ASSETS);
    cr_assert_not_null(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        char path[4096], url[300];
        snprintf(path, sizeof path, "%s/%s", ASSETS, e->d_name);
        snprintf(url, sizeof url, "/%s", e->d_name);
        const console_asset_t *a = console_asset_find(url);
        cr_assert_not_null(a, "%s is not in the table", e->d_name);
        cr_expect_str_eq(a->name, e->d_name);
        const char *want = s_type_of(e->d_name);
        cr_assert_not_null(want, "%s: an extension the test does not know", e->d_name);
        cr_expect_str_eq(a->content_type, want, "%s", e->d_name);
        size_t n;
        uint8_t *bytes = support_read_file(path, &n);
        cr_assert_not_null(bytes);
        cr_expect_eq(a->size, n, "%s: %zu bytes compiled, %zu in the file", e->d_name, a->size, n);
        cr_expect_eq(memcmp(a->data, bytes, n), 0, "%s: compiled bytes differ from the file", e->d_name);
        unsigned char sha[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(sha, bytes, n);
        char etag[40] = "\"";
        for (int i = 0; i < 16; i++)
            snprintf(etag + 1 + 2 * i, 3, "%02x", sha[i]);
        strcat(etag, "\"");
        cr_expect_str_eq(a->etag, etag, "%s", e->d_name);
        free(bytes);
    }
    closedir(d);
    cr_expect_eq(console_asset_count(), files, "the table holds %zu assets, the folder %zu files",
                 console_asset_count(), files);
    cr_expect_null(console_asset_at(files));
    cr_expect_geq(files, 8);
}

Test(web_console_assets, root_is_the_page)
{
    const console_asset_t *a = console_asset_find("/");
    cr_assert_not_null(a);
    cr_expect_str_eq(a->name, "index.html");
    cr_expect_eq(console_asset_find("/index.html"), a);
}

Test(web_console_assets, unknown_and_traversal_paths_find_nothing)
{
    static const char *const bad[] = {
        "/nope.js", "/index.htm", "/INDEX.HTML", "index.html", "", "//index.html", "/../index.html",
        "/./index.html", "/..", "/.", "/assets/index.html", "/web/console/assets/app.js", "/app.js/",
        "/index.html?x=1", "/index.html#top", "/%2e%2e/app.js", "/..%2fapp.js", "/app.js%00",
        "/\\app.js", "/app.js ", "/.hidden", "/etc/passwd", "/../../../../etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_null(console_asset_find(bad[i]), "\"%s\" found an asset", bad[i]);
    cr_expect_null(console_asset_find(NULL));
    char nul[] = "/app.js\0../x";
    cr_expect_not_null(console_asset_find(nul), "the name ends at the NUL: app.js");
}

/*  The count of matches of pattern (POSIX extended, case-insensitive) in text. */
static int
s_matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NEWLINE), 0, "%s", pattern);
    int n = 0;
    regmatch_t m;
    for (const char *p = text; regexec(&re, p, 1, &m, 0) == 0 && m.rm_eo > 0; p += m.rm_eo)
        n++;
    regfree(&re);
    return n;
}

Test(web_console_assets, no_inline_script_or_style)
{
    cr_expect(strstr(CONSOLE_CSP, "script-src 'self'"));
    cr_expect(strstr(CONSOLE_CSP, "style-src 'self'"));
    cr_expect_null(strstr(CONSOLE_CSP, "unsafe"));
    for (size_t i = 0; i < console_asset_count(); i++) {
        const console_asset_t *a = console_asset_at(i);
        char *text = strndup((const char *) a->data, a->size);
        if (strstr(a->content_type, "text/html")) {
            cr_expect_eq(s_matches(text, "<script"), s_matches(text, "<script src=\"[a-z]+\\.js\" defer></script>"),
                         "%s: a script without src", a->name);
            cr_expect_eq(s_matches(text, "<style"), 0, "%s: a <style> element", a->name);
            cr_expect_eq(s_matches(text, "[[:space:]]style="), 0, "%s: a style attribute", a->name);
            cr_expect_eq(s_matches(text, "[[:space:]]on[a-z]+="), 0, "%s: an inline event handler", a->name);
            cr_expect_eq(s_matches(text, "javascript:"), 0, "%s: a javascript: URL", a->name);
        }
        if (strstr(a->content_type, "javascript")) {
            cr_expect_eq(s_matches(text, "eval\\(|new Function\\(|innerHTML|\\.style\\."), 0,
                         "%s: eval, Function, innerHTML or an inline style", a->name);
        }
        free(text);
    }
}
