/*  ezshm_error.c — text for result codes; the failure helper. */
#include "ezshm_error.h"

#include <stdarg.h>
#include <stdio.h>

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
    case EZSHM_ERR_TOOBIG:   return "ring or metadata blob larger than its maximum";
    case EZSHM_ERR_NOSPACE:  return "not enough space in /dev/shm";
    case EZSHM_ERR_STALE:    return "ring rebuilt by the writer";
    case EZSHM_ERR_PERM:     return "permission denied";
    case EZSHM_ERR_INUSE:    return "stream name in use by another live writer";
    case EZSHM_ERR_FIFO:     return "a FIFO sits at the segment's name (not a shared-memory segment)";
    case EZSHM_ERR_SYMLINK:  return "a symbolic link sits at the segment's name (not followed)";
    case EZSHM_ERR_ISDIR:    return "a directory sits at the segment's name";
    case EZSHM_ERR_NOTREG:   return "a socket or device sits at the segment's name (not a regular file)";
    case EZSHM_ERR_OWNER:    return "the segment belongs to an unexpected user";
    case EZSHM_ERR_BUS:      return "a segment was truncated under its mapping (SIGBUS caught)";
    case EZSHM_ERR_TIMEOUT:  return "timed out with nothing new";
    case EZSHM_ERR_PICKLE:   return "metadata blob refused (not a pickle of plain values)";
    default:                 return "unknown error";
    }
}

int
ezshm_fail(char *buf, size_t size, int code, const char *fmt, ...)
{
    if (buf && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
    }
    return code;
}
