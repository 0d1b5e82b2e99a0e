/*  ezshm_dtype.c — the table of numpy dtype codes. */
#include "ezshm_dtype.h"

typedef struct {
    char code;
    unsigned char itemsize;
    ezshm_kind_t kind;
} dtype_entry_t;

static const dtype_entry_t s_dtypes[] = {
    {'?', 1, EZSHM_KIND_BOOL},
    {'b', 1, EZSHM_KIND_INT},   {'B', 1, EZSHM_KIND_UINT},
    {'h', 2, EZSHM_KIND_INT},   {'H', 2, EZSHM_KIND_UINT},
    {'i', 4, EZSHM_KIND_INT},   {'I', 4, EZSHM_KIND_UINT},
    {'l', 8, EZSHM_KIND_INT},   {'L', 8, EZSHM_KIND_UINT},
    {'q', 8, EZSHM_KIND_INT},   {'Q', 8, EZSHM_KIND_UINT},
    {'e', 2, EZSHM_KIND_FLOAT}, {'f', 4, EZSHM_KIND_FLOAT},
    {'d', 8, EZSHM_KIND_FLOAT},
    {'F', 8, EZSHM_KIND_COMPLEX}, {'D', 16, EZSHM_KIND_COMPLEX},
};

static const dtype_entry_t *
s_lookup(char c)
{
    for (size_t i = 0; i < sizeof s_dtypes / sizeof s_dtypes[0]; i++)
        if (s_dtypes[i].code == c)
            return &s_dtypes[i];
    return NULL;
}

size_t
ezshm_dtype_itemsize(char c)
{
    const dtype_entry_t *e = s_lookup(c);
    return e ? e->itemsize : 0;
}

bool
ezshm_dtype_valid(char c)
{
    return c != '\0' && s_lookup(c) != NULL;
}

ezshm_kind_t
ezshm_dtype_kind(char c)
{
    const dtype_entry_t *e = s_lookup(c);
    return e ? e->kind : EZSHM_KIND_INT;
}

size_t
ezshm_dtype_component_size(char c)
{
    const dtype_entry_t *e = s_lookup(c);
    if (!e)
        return 0;
    return e->kind == EZSHM_KIND_COMPLEX ? e->itemsize / 2u : e->itemsize;
}
