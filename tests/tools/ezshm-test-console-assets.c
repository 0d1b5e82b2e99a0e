/*  ezshm-test-console-assets DIR — writes every compiled console asset (console_assets.h) to
    DIR/<name> and their table to DIR/manifest.tsv (name, content type, ETag, one line each),
    so the browser test (test_console_pages.py) serves exactly the bytes and headers the
    binary holds. Exit 0, or 1 with a line on stderr. */
#include "console_assets.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ezshm-test-console-assets DIR\n");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", argv[1]);
    FILE *manifest = fopen(path, "w");
    if (!manifest) {
        perror(path);
        return 1;
    }
    for (size_t i = 0; i < console_asset_count(); i++) {
        const console_asset_t *a = console_asset_at(i);
        snprintf(path, sizeof path, "%s/%s", argv[1], a->name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(a->data, 1, a->size, f) != a->size || fclose(f) != 0) {
            perror(path);
            return 1;
        }
        fprintf(manifest, "%s\t%s\t%s\n", a->name, a->content_type, a->etag);
    }
    return fclose(manifest) == 0 ? 0 : 1;
}
