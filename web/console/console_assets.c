/*  console_assets.c — lookups in the compiled asset table (console_assets_data.c, generated). */
#include "console_assets.h"

#include <string.h>

/*  Defined by the generated console_assets_data.c. */
extern const console_asset_t *console_assets_table;
extern const size_t console_assets_count;

/*  A name is what embed_assets.cmake accepts: [A-Za-z0-9._-]+, not starting with a dot (so
    neither "." nor ".." nor a hidden file), at most 255 bytes. */
static int
s_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

const console_asset_t *
console_asset_find(const char *path)
{
    if (!path || path[0] != '/')
        return NULL;
    const char *name = path[1] ? path + 1 : "index.html";
    if (!s_valid_name(name))
        return NULL;
    for (size_t i = 0; i < console_assets_count; i++)
        if (strcmp(console_assets_table[i].name, name) == 0)
            return &console_assets_table[i];
    return NULL;
}

size_t
console_asset_count(void)
{
    return console_assets_count;
}

const console_asset_t *
console_asset_at(size_t i)
{
    return i < console_assets_count ? &console_assets_table[i] : NULL;
}
