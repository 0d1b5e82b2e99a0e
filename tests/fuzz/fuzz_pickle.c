/*  fuzz_pickle.c — libFuzzer harness for the restricted unpickler (shm/ezshm_unpickle.h) and
    the encoder behind it (shm/ezshm_pickle.h). The input is a blob as another process could
    leave it in an aux segment.

    Besides ASan/UBSan/leak findings, the harness checks the invariants readers rely on:
    a refused blob leaves no root and an error sentence; an accepted one is a tree no deeper
    than EZSHM_TREE_MAX_DEPTH whose re-encoding (unless it holds an object array or more
    dims than numpy 1.x loads) decodes again to a tree that encodes to the same bytes. Every
    check is linear in the tree's nodes, so shared references cannot make it exponential.
*/
#include "ezshm_error.h"
#include "ezshm_pickle.h"
#include "ezshm_unpickle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ezshm_tree_t *s_tree, *s_again;
static ezshm_pickler_t *s_pickler;

static void
s_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_pickle: check failed: %s\n", what);
        abort();
    }
}

/*  The containers already walked: a tree of shared references ("billion laughs") is a
    small graph whose expansion is huge, so every walk visits each node once. */
static const ezshm_node_t **s_seen;
static size_t s_seen_cap;

static int
s_first_visit(const ezshm_node_t *n)
{
    size_t i = ((uintptr_t) n >> 4) & (s_seen_cap - 1);
    while (s_seen[i] && s_seen[i] != n)
        i = (i + 1) & (s_seen_cap - 1);
    if (s_seen[i])
        return 0;
    s_seen[i] = n;
    return 1;
}

/*  What the encoder refuses to write: an object array, more dims than numpy 1.x loads. */
static int
s_unwritable(const ezshm_node_t *n)
{
    if (n->type == EZSHM_NODE_NDARRAY && (n->descr->kind == 'O' || n->ndim > EZSHM_NUMPY_MAX_NDIM))
        return 1;
    size_t items = n->type == EZSHM_NODE_DICT ? 2 * n->n : n->n;
    for (size_t i = 0; i < items; i++)
        if (s_first_visit(n->items[i]) && s_unwritable(n->items[i]))
            return 1;
    return 0;
}

static int
s_has_unwritable(const ezshm_node_t *root, size_t nodes)
{
    s_seen_cap = 64;
    while (s_seen_cap < 2 * nodes)
        s_seen_cap *= 2;
    s_seen = calloc(s_seen_cap, sizeof *s_seen);
    s_check(s_seen != NULL, "memory for the walk");
    int found = s_unwritable(root);
    free(s_seen);
    return found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_tree) {
        s_tree = ezshm_tree_new();
        s_again = ezshm_tree_new();
        s_pickler = ezshm_pickler_new();
    }
    char err[256];
    int rc = ezshm_unpickle(data, size, s_tree, err, sizeof err);
    const ezshm_node_t *root = ezshm_tree_root(s_tree);
    if (rc != EZSHM_OK) {
        s_check(rc == EZSHM_ERR_PICKLE || rc == EZSHM_ERR_NOMEM, "error code");
        s_check(root == NULL && err[0] != '\0', "a refusal leaves no root and says why");
        return 0;
    }
    s_check(root != NULL && root->height <= EZSHM_TREE_MAX_DEPTH, "bounded depth");
    const unsigned char *out;
    size_t len;
    rc = ezshm_pickler_dump(s_pickler, root, &out, &len);
    if (s_has_unwritable(root, ezshm_tree_nodes(s_tree))) {
        s_check(rc == EZSHM_ERR_INVAL, "object arrays and arrays of over 32 dims are never written");
        return 0;
    }
    s_check(rc == EZSHM_OK, "an accepted tree can be written");
    /*  The encoding is deterministic and keeps sharing: decoding it and encoding again must
        give the same bytes (an equality test in linear time, shared references included). */
    unsigned char *first = malloc(len ? len : 1);
    s_check(first != NULL, "memory for the copy");
    memcpy(first, out, len);
    size_t first_len = len;
    rc = ezshm_unpickle(first, first_len, s_again, err, sizeof err);
    s_check(rc == EZSHM_OK, err);
    s_check(ezshm_pickler_dump(s_pickler, ezshm_tree_root(s_again), &out, &len) == EZSHM_OK
            && len == first_len && memcmp(out, first, len) == 0, "re-encoding keeps the value");
    free(first);
    return 0;
}
