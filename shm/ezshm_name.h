/*  ezshm_name.h — segment names, exactly as ezmsg-tools' shorten_shmem_name().

    short(name) = "sm_" + urlsafe_base64(sha256(utf8(name)))[:20]   (23 characters)
    header segment  = short(name)
    data ring       = short(name + "/buffer" + decimal(generation))
    clock segment   = short(name + "/clock" + decimal(generation))    (ezshm only, see ezshm_clock.h)
    The POSIX object is "/" + short, so the file is /dev/shm/sm_XXXXXXXXXXXXXXXXXXXX.
*/
#ifndef EZSHM_NAME_H
#define EZSHM_NAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EZSHM_SHORT_NAME_LEN 23            /* "sm_" + 20 base64 characters */
#define EZSHM_SHORT_NAME_SIZE (EZSHM_SHORT_NAME_LEN + 1)

/*  Writes the 23-character short name of name[0..len) and a NUL into out.
    Returns EZSHM_OK or EZSHM_ERR_INVAL (NULL argument). */
int ezshm_shorten_name(const char *name, size_t len, char out[EZSHM_SHORT_NAME_SIZE]);

/*  Short name of the header segment of a stream (name is a NUL-terminated string). */
int ezshm_header_segment_name(const char *name, char out[EZSHM_SHORT_NAME_SIZE]);

/*  Short name of the data ring of generation gen of a stream. */
int ezshm_ring_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE]);

/*  Short name of the clock segment (timestamps, wake-up word) of generation gen. */
int ezshm_clock_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE]);

/*  A fresh stream name for a writer created without one: "ezshm-<pid>-<16 hex>".
    out must hold at least 48 bytes. */
int ezshm_generate_name(char *out, size_t size);

#ifdef __cplusplus
}
#endif
#endif
