/*  ezshm_error.h — result codes shared by every libezshm call.

    Every fallible function returns an int: EZSHM_OK (0) or one negative code below.
    Codes are stable (part of the ABI) so a caller can branch on them; ezshm_strerror()
    gives the sentence to log. When a code stems from a failed system call, errno is
    left as that call set it.
*/
#ifndef EZSHM_ERROR_H
#define EZSHM_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EZSHM_OK = 0,
    EZSHM_ERR_INVAL = -1,      /* an argument is out of its documented range      */
    EZSHM_ERR_NOMEM = -2,      /* malloc failed                                   */
    EZSHM_ERR_SYS = -3,        /* a system call failed; errno says which          */
    EZSHM_ERR_NOENT = -4,      /* the named stream has no header segment (yet)    */
    EZSHM_ERR_NOTREADY = -5,   /* header exists but bvalid is 0 (ring rebuilding) */
    EZSHM_ERR_HEADER = -6,     /* header bytes fail validation                    */
    EZSHM_ERR_DTYPE = -7,      /* dtype character is not a known numpy code       */
    EZSHM_ERR_OVERFLOW = -8,   /* a size computation overflows 64 bits            */
    EZSHM_ERR_TOOBIG = -9,     /* ring over the configured maximum, or a metadata
                                  blob over EZSHM_UNPICKLE_MAX_BYTES              */
    EZSHM_ERR_NOSPACE = -10,   /* /dev/shm cannot hold the segment                */
    EZSHM_ERR_STALE = -11,     /* the ring was rebuilt under the reader: re-attach */
    EZSHM_ERR_PERM = -12,      /* permission denied on a segment                  */
    EZSHM_ERR_INUSE = -13,     /* another live writer holds the stream's lock     */
    EZSHM_ERR_FIFO = -14,      /* a FIFO sits at a segment's name                 */
    EZSHM_ERR_SYMLINK = -15,   /* a symbolic link sits at a segment's name        */
    EZSHM_ERR_ISDIR = -16,     /* a directory sits at a segment's name            */
    EZSHM_ERR_NOTREG = -17,    /* a socket or device sits at a segment's name     */
    EZSHM_ERR_OWNER = -18,     /* the segment belongs to an unexpected user       */
    EZSHM_ERR_BUS = -19,       /* a segment shrank under its mapping (SIGBUS caught) */
    EZSHM_ERR_TIMEOUT = -20,   /* a wait ended with nothing new                   */
    EZSHM_ERR_PICKLE = -21     /* a metadata blob is not one this format can hold */
} ezshm_result_t;

/*  Human-readable description of a result code; never NULL. */
const char *ezshm_strerror(int code);

/*  The one failure helper of every layer above: writes a printf-style one-line reason into
    buf (when buf and size) and returns code, so a failure path is one statement:
        return ezshm_fail(err, errlen, WIRE_ERR_SHAPE, "dims has %zu names", n); */
int ezshm_fail(char *buf, size_t size, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif
