/*  ezshm_mirror.h — the reader: attaches to a stream by its long name, follows rebuilds,
    and copies frames out without ever handing out a pointer into live shared memory.

        ezshm_mirror_t *m;
        ezshm_mirror_new("my-stream", &m);
        for (;;) {
            uint64_t got, lost;
            int rc = ezshm_mirror_read(m, buf, max_frames, &got, &lost);
            if (rc == EZSHM_ERR_STALE)      -> ring rebuilt: ezshm_mirror_info() again
            else if (rc == EZSHM_ERR_NOENT || rc == EZSHM_ERR_NOTREADY) -> retry later
            else if (rc != EZSHM_OK)        -> header invalid: give up or retry
        }

    Frames are returned only when they were intact after the copy (see docs/shm-layout.md):
    never duplicated, never torn; every frame skipped is counted in *lost.
*/
#ifndef EZSHM_MIRROR_H
#define EZSHM_MIRROR_H

#include "ezshm_header.h"
#include "ezshm_name.h"
#include "ezshm_tree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ezshm_mirror_t ezshm_mirror_t;

typedef struct {
    ezshm_layout_t layout;
    char           dtype;
    size_t         itemsize;
    double         srate;
    uint64_t       n_frames;                    /* ring length, shape[0] */
    uint32_t       ndim;                        /* 1 + frame dims */
    uint32_t       shape[EZSHM_MAX_NDIM];
    uint64_t       frame_bytes;
    uint32_t       generation;
    char           key[EZSHM_MAX_KEYLEN + 1];   /* NUL-terminated copy */
    size_t         key_len;
    char           header_segment[EZSHM_SHORT_NAME_SIZE];
    char           ring_segment[EZSHM_SHORT_NAME_SIZE];
} ezshm_stream_info_t;

/*  Creates a mirror of the stream name; nothing is attached yet. */
int ezshm_mirror_new(const char *name, ezshm_mirror_t **out);

/*  Unmaps everything, frees, sets *self_p NULL. */
void ezshm_mirror_destroy(ezshm_mirror_t **self_p);

/*  Attaches header and ring if not attached. EZSHM_OK when a valid ring is mapped;
    EZSHM_ERR_NOENT (no header yet) and EZSHM_ERR_NOTREADY (ring being built) are retryable;
    EZSHM_ERR_HEADER / EZSHM_ERR_DTYPE mean the bytes are not a valid stream. Reading starts
    at the newest frame, also when the header was found before its first ring. */
int ezshm_mirror_attach(ezshm_mirror_t *self);

/*  Copies the attached stream's description. EZSHM_ERR_NOTREADY when not attached. */
int ezshm_mirror_info(const ezshm_mirror_t *self, ezshm_stream_info_t *info);

/*  Copies up to max_frames unread frames, oldest first, contiguous, into dst
    (max_frames * frame_bytes bytes). *n_read: frames returned; *n_lost: frames overwritten
    before they could be read since the last call. EZSHM_ERR_STALE: the writer rebuilt the
    ring (or was restarted); the mirror followed it, nothing was copied, the next read starts
    at the first frame of the new ring; call ezshm_mirror_info again. A read that makes the
    first attach (the stream appeared after ezshm_mirror_attach said NOENT/NOTREADY) also
    returns EZSHM_ERR_STALE, and reading starts at the newest frame, as for attach. */
int ezshm_mirror_read(ezshm_mirror_t *self, void *dst, uint64_t max_frames, uint64_t *n_read,
                      uint64_t *n_lost);

/*  Copies the newest n frames without consuming them; *n_out may be smaller when fewer are
    intact (at most n_frames - guard). */
int ezshm_mirror_latest(ezshm_mirror_t *self, void *dst, uint64_t n, uint64_t *n_out);

/*  Frames written to the attached ring so far (wrap_counter * n_frames + write_index). */
uint64_t ezshm_mirror_written(const ezshm_mirror_t *self);

/*  The long name. */
const char *ezshm_mirror_name(const ezshm_mirror_t *self);

/*  The stream metadata (the aux segment of a v1 stream: channel labels, units, axes, attrs)
    decoded into tree (docs/shm-layout.md; ezshm_tree.h walks it); *generation gets its
    meta_generation. Attaches the header if needed. EZSHM_ERR_NOENT: nothing published (or a
    legacy stream, which has none); EZSHM_ERR_NOTREADY: being replaced, or no header yet;
    EZSHM_ERR_PICKLE: the blob was refused (err says why). */
int ezshm_mirror_meta(ezshm_mirror_t *self, ezshm_tree_t *tree, uint32_t *generation,
                      char *err, size_t errlen);

/*  The header's meta_generation now (0: none, legacy, or no header): poll it and call
    ezshm_mirror_meta when it changed. */
uint32_t ezshm_mirror_meta_generation(ezshm_mirror_t *self);

/*  Detaches (unmaps); the next call attaches again from scratch. */
void ezshm_mirror_detach(ezshm_mirror_t *self);

#ifdef __cplusplus
}
#endif
#endif
