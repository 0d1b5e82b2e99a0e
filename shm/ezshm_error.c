/*  ezshm_error.c — text for result codes. */
#include "ezshm_error.h"

const char *
ezshm_strerror(int code)
{
    switch (code) {
    case EZSHM_OK:           return "ok";
    case EZSHM_ERR_INVAL:    return "invalid argument";
    case EZSHM_ERR_NOMEM:    return "out of memory";
    case EZSHM_ERR_SYS:      return "system call failed";
    case EZSHM_ERR_NOENT:    return "no such stream";
    case EZSHM_ERR_NOTREADY: return "stream not ready (ring being rebuilt)";
    case EZSHM_ERR_HEADER:   return "invalid header";
    case EZSHM_ERR_DTYPE:    return "unknown dtype";
    case EZSHM_ERR_OVERFLOW: return "size overflow";
    case EZSHM_ERR_TOOBIG:   return "ring larger than the configured maximum";
    case EZSHM_ERR_NOSPACE:  return "not enough space in /dev/shm";
    case EZSHM_ERR_STALE:    return "ring rebuilt by the writer";
    case EZSHM_ERR_PERM:     return "permission denied";
    case EZSHM_ERR_PICKLE:   return "metadata blob refused (not a pickle of plain values)";
    default:                 return "unknown error";
    }
}
