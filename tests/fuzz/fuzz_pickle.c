/*  fuzz_pickle.c — libFuzzer harness for the restricted unpickler (shm/ezshm_unpickle.h) and
    the encoder behind it (shm/ezshm_pickle.h). The input is a blob as another process could
    leave it in an aux segment.

    Besides ASan/UBSan/leak findings, the harness checks the invariants readers rely on:
    a refused blob leaves no root and an error sentence; an accepted one is a tree no deeper
    than EZSHM_TREE_MAX_DEPTH whose re-encoding (unless it holds an object array) decodes
    again to an equal tree.
*/
#include "ezshm_error.h"
#include "ezshm_pickle.h"
#include "ezshm_unpickle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

static int
s_has_object_array(const ezshm_node_t *n)
{
    if (n->type == EZSHM_NODE_NDARRAY && n->descr->kind == 'O')
        return 1;
    size_t items = n->type == EZSHM_NODE_DICT ? 2 * n->n : n->n;
    for (size_t i = 0; i < items; i++)
        if (s_has_object_array(n->items[i]))
            return 1;
    return 0;
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
    if (s_has_object_array(root)) {
        s_check(rc == EZSHM_ERR_INVAL, "object arrays are never written");
        return 0;
    }
    s_check(rc == EZSHM_OK, "an accepted tree can be written");
    rc = ezshm_unpickle(out, len, s_again, err, sizeof err);
    s_check(rc == EZSHM_OK, err);
    s_check(ezshm_node_equal(root, ezshm_tree_root(s_again)), "re-encoding keeps the value");
    return 0;
}
