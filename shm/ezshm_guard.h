/*  ezshm_guard.h — surviving SIGBUS on a shared-memory mapping (opt-in, process-wide).

    Any process that can write a segment (its owner, root, a group given write access) can
    truncate it; every later access past the new end raises SIGBUS, whose default action kills
    the process. A size check (fstat) before a copy cannot prevent it: the truncate can land
    between the check and the copy. So the library instead guards each access: writer and
    mirror run every access to mapped memory inside a guard frame, and when the guard is
    enabled a SIGBUS inside a frame jumps back to it and the call returns EZSHM_ERR_BUS.

        ezshm_guard_enable();     // once, at start: installs the SIGBUS handler

    Without ezshm_guard_enable() frames cost a thread-local store and nothing changes: SIGBUS
    keeps its previous disposition. A SIGBUS outside any frame (not ours) goes to the previous
    handler, or kills the process as before. The handler is installed with SA_NODEFER and frames
    use sigsetjmp(env, 0), so no system call is made per guarded access.
*/
#ifndef EZSHM_GUARD_H
#define EZSHM_GUARD_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Installs the process-wide SIGBUS handler (idempotent). EZSHM_OK or EZSHM_ERR_SYS. */
int ezshm_guard_enable(void);

/*  True once ezshm_guard_enable() succeeded. */
bool ezshm_guard_enabled(void);

#ifdef __cplusplus
}
#endif
#endif
