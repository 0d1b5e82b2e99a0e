/*  ezshm_name.h — segment names, exactly as ezmsg-tools' shorten_shmem_name().

    short(name) = "sm_" + urlsafe_base64(sha256(utf8(name)))[:20]   (23 characters)
    header segment  = short(name)
    data ring       = short(name + "/buffer" + decimal(generation))
    clock segment   = short(name + "/clock" + decimal(generation))    (ezshm only, see ezshm_clock.h)
    wake segment    = short(name + "/wake" + decimal(generation))     (ezshm only, see ezshm_clock.h)
    aux segment     = short(name + "/meta" + decimal(generation))     (v1 metadata, see ezshm_aux.h)
    The POSIX object is "/" + short, so the file is /dev/shm/sm_XXXXXXXXXXXXXXXXXXXX.
*/
#ifndef EZSHM_NAME_H
#define EZSHM_NAME_H

#include <stdbool.h>
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

/*  Short name of the clock segment (timestamps) of generation gen. */
int ezshm_clock_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE]);

/*  Short name of the wake segment (the readers' waiter count) of generation gen. */
int ezshm_wake_segment_name(const char *name, uint32_t gen, char out[EZSHM_SHORT_NAME_SIZE]);

/*  The segment names a stream generates are its name plus one of "/buffer", "/clock",
    "/wake", "/meta" and a generation in decimal (%u: no sign, no leading zero), any
    generation. When name is such a name, writes the stream that would generate it into
    owner (size bytes) and returns true; false otherwise (or when owner is too small). */
bool ezshm_name_generated_by(const char *name, char *owner, size_t size);

/*  True when streams a and b would share a segment name: equal names, or one's name is a
    segment name the other generates (for some generation). Two such streams must never both
    run: one would take the other's header, ring, clock, wake or aux segment. */
bool ezshm_names_collide(const char *a, const char *b);

/*  A fresh stream name for a writer created without one: "ezshm-<pid>-<16 hex>".
    out must hold at least 48 bytes. */
int ezshm_generate_name(char *out, size_t size);

#ifdef __cplusplus
}
#endif
#endif
