/*  test_shm_name.c — segment names vs ezmsg-tools' shorten_shmem_name() (fixture table). */
#include "support_shm.h"
#include "ezshm.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cJSON *
s_table(void)
{
    cJSON *root = shmt_load_fixture("shorten_shmem_name.json");
    cr_assert_not_null(root, "fixture shorten_shmem_name.json missing/unparsable");
    cJSON *table = cJSON_GetObjectItem(root, "table");
    cr_assert(cJSON_IsArray(table));
    cr_assert_geq(cJSON_GetArraySize(table), 10);
    return root;
}

Test(shm_name, every_fixture_row_shortens_exactly)
{
    cJSON *root = s_table();
    cJSON *row;
    int rows = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(root, "table")) {
        const char *in = cJSON_GetObjectItem(row, "input")->valuestring;
        const char *want = cJSON_GetObjectItem(row, "output")->valuestring;
        char out[EZSHM_SHORT_NAME_SIZE];
        memset(out, 'Z', sizeof out);
        cr_assert_eq(ezshm_shorten_name(in, strlen(in), out), EZSHM_OK);
        cr_expect_str_eq(out, want, "shorten('%s')", in);
        cr_expect_eq(strlen(out), EZSHM_SHORT_NAME_LEN);
        /*  The header segment of a stream is shorten(name). */
        cr_assert_eq(ezshm_header_segment_name(in, out), EZSHM_OK);
        cr_expect_str_eq(out, want, "header segment of '%s'", in);
        /*  posix_shm_name is "/" + short name. */
        cJSON *posix = cJSON_GetObjectItem(row, "posix_shm_name");
        if (cJSON_IsString(posix)) {
            cr_expect_eq(posix->valuestring[0], '/');
            cr_expect_str_eq(posix->valuestring + 1, want);
        }
        rows++;
    }
    cr_expect_eq(rows, cJSON_GetArraySize(cJSON_GetObjectItem(root, "table")));
    cJSON_Delete(root);
}

Test(shm_name, ring_names_match_buffer_rows)
{
    cJSON *root = s_table();
    cJSON *row;
    int ring_rows = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(root, "table")) {
        const char *in = cJSON_GetObjectItem(row, "input")->valuestring;
        const char *want = cJSON_GetObjectItem(row, "output")->valuestring;
        const char *at = strstr(in, "/buffer");
        if (!at)
            continue;
        /*  "<name>/buffer<decimal gen>" with nothing after the digits. */
        const char *digits = at + strlen("/buffer");
        char *end;
        unsigned long gen = strtoul(digits, &end, 10);
        if (end == digits || *end)
            continue;
        char *name = strndup(in, (size_t) (at - in));
        char out[EZSHM_SHORT_NAME_SIZE];
        cr_assert_eq(ezshm_ring_segment_name(name, (uint32_t) gen, out), EZSHM_OK);
        cr_expect_str_eq(out, want, "ring segment of '%s' gen %lu", name, gen);
        free(name);
        ring_rows++;
    }
    /*  TESTSHMEM/buffer0, /buffer1, /buffer12, spaces, unicode, long name. */
    cr_expect_geq(ring_rows, 6, "only %d ring rows found", ring_rows);
    cJSON_Delete(root);
}

Test(shm_name, golden_stream_segments)
{
    char out[EZSHM_SHORT_NAME_SIZE];
    cr_assert_eq(ezshm_header_segment_name("pyref_golden", out), EZSHM_OK);
    cr_expect_str_eq(out, "sm_Gef8RFEn67EkLGPGvYql");
    cr_assert_eq(ezshm_ring_segment_name("pyref_golden", 0, out), EZSHM_OK);
    cr_expect_str_eq(out, "sm_bgyisu8hZrFz1qUkej4j");
    /*  The largest generation prints as its full decimal. */
    char direct[EZSHM_SHORT_NAME_SIZE];
    cr_assert_eq(ezshm_ring_segment_name("x", 4294967295u, out), EZSHM_OK);
    ezshm_shorten_name("x/buffer4294967295", strlen("x/buffer4294967295"), direct);
    cr_expect_str_eq(out, direct);
}

Test(shm_name, alphabet_is_urlsafe_and_embedded_nul_hashes_bytes)
{
    /*  Many names: every character of the 20 is in [A-Za-z0-9_-]. */
    for (int i = 0; i < 500; i++) {
        char name[32], out[EZSHM_SHORT_NAME_SIZE];
        snprintf(name, sizeof name, "stream-%d", i);
        ezshm_header_segment_name(name, out);
        cr_assert_eq(strncmp(out, "sm_", 3), 0);
        for (int k = 3; k < EZSHM_SHORT_NAME_LEN; k++)
            cr_assert(isalnum((unsigned char) out[k]) || out[k] == '-' || out[k] == '_',
                      "bad char '%c' in %s", out[k], out);
    }
    /*  shorten hashes exactly len bytes. */
    char a[EZSHM_SHORT_NAME_SIZE], b[EZSHM_SHORT_NAME_SIZE];
    ezshm_shorten_name("TESTSHMEMxyz", 9, a);
    cr_expect_str_eq(a, "sm_haP7fHG24nz2mRNNAfq1");
    ezshm_shorten_name("a\0b", 3, a);
    ezshm_shorten_name("a", 1, b);
    cr_expect_str_neq(a, b);
}

Test(shm_name, invalid_arguments)
{
    char out[EZSHM_SHORT_NAME_SIZE];
    cr_expect_eq(ezshm_shorten_name(NULL, 0, out), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_shorten_name("a", 1, NULL), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_header_segment_name(NULL, out), EZSHM_ERR_INVAL);
    cr_expect_eq(ezshm_ring_segment_name(NULL, 0, out), EZSHM_ERR_INVAL);
    char small[16];
    cr_expect_eq(ezshm_generate_name(small, sizeof small), EZSHM_ERR_INVAL);
}

Test(shm_name, generated_names_are_unique_and_formatted)
{
    char a[64], b[64], prefix[32];
    cr_assert_eq(ezshm_generate_name(a, sizeof a), EZSHM_OK);
    cr_assert_eq(ezshm_generate_name(b, sizeof b), EZSHM_OK);
    cr_expect_str_neq(a, b);
    int n = snprintf(prefix, sizeof prefix, "ezshm-%ld-", (long) getpid());
    cr_expect_eq(strncmp(a, prefix, (size_t) n), 0, "%s", a);
    cr_expect_eq(strlen(a), (size_t) n + 16);
    for (size_t k = (size_t) n; a[k]; k++)
        cr_expect(isxdigit((unsigned char) a[k]) && !isupper((unsigned char) a[k]));
}

Test(shm_name, generated_segment_names_by_pattern)
{
    char owner[64];
    cr_expect(ezshm_name_generated_by("rig/eeg/buffer0", owner, sizeof owner));
    cr_expect_str_eq(owner, "rig/eeg");
    cr_expect(ezshm_name_generated_by("x/meta4294967295", owner, sizeof owner));
    cr_expect_str_eq(owner, "x");
    cr_expect(ezshm_name_generated_by("x/clock7", owner, sizeof owner) && strcmp(owner, "x") == 0);
    cr_expect(ezshm_name_generated_by("x/wake12", owner, sizeof owner) && strcmp(owner, "x") == 0);
    /*  Only what "%u" prints: no leading zero, no sign, at most 2^32 - 1; the exact suffixes. */
    cr_expect_not(ezshm_name_generated_by("x/buffer01", owner, sizeof owner));
    cr_expect_not(ezshm_name_generated_by("x/buffer4294967296", owner, sizeof owner));
    cr_expect_not(ezshm_name_generated_by("x/buffer", owner, sizeof owner));
    cr_expect_not(ezshm_name_generated_by("x/buffers1", owner, sizeof owner));
    cr_expect_not(ezshm_name_generated_by("xbuffer1", owner, sizeof owner));
    cr_expect_not(ezshm_name_generated_by("rig/eeg/buffer0", owner, 7), "owner does not fit");

    cr_expect(ezshm_names_collide("rig/eeg", "rig/eeg/buffer0"));
    cr_expect(ezshm_names_collide("rig/emg/buffer1", "rig/emg"));
    cr_expect(ezshm_names_collide("a", "a"));
    cr_expect_not(ezshm_names_collide("rig/eeg", "rig/eeg/buffer"));
    cr_expect_not(ezshm_names_collide("rig/eeg", "rig/eeg/x/buffer0"));
    cr_expect_not(ezshm_names_collide("rig/eeg", "rig/emg"));
    /*  The hashes agree: the one segment name both would use. */
    char ring[EZSHM_SHORT_NAME_SIZE], header[EZSHM_SHORT_NAME_SIZE];
    ezshm_ring_segment_name("rig/eeg", 0, ring);
    ezshm_header_segment_name("rig/eeg/buffer0", header);
    cr_expect_str_eq(ring, header);
}
