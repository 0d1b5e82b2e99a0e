/*  ezshm_claim.h — ownership of a stream name: the writer's lock on its header segment.

    A live writer holds flock(LOCK_EX) on its header segment's open file; the lock dies with
    the process (crash, SIGKILL) and with the segment's file descriptor. A writer publishes a
    new header atomically: it creates and fills the segment under a hidden temporary name,
    locks it, then rename()s it into place — so the lock is on the published object and no
    reader ever sees a half-written header. At the name it may find:

      nothing                  the header is linked there (renameat2 RENAME_NOREPLACE);
      a locked header          another live writer: EZSHM_ERR_INUSE, nothing touched;
      an unlocked header       a leftover of a writer that died: the caller's reclaim
                               callback removes what it names (its ring), then the new
                               header replaces it in one rename(); *replaced is set;
      an unlocked file whose   (the name is also a segment name another stream generates:
        generator is live      "x/buffer0" is the ring of stream "x", whose header is
                               locked) possibly that stream's live ring, clock, wake or
                               aux segment: EZSHM_ERR_INUSE, nothing touched;
      a FIFO, link, directory… reported (EZSHM_ERR_FIFO, _SYMLINK, _ISDIR, _NOTREG), left alone;
      another user's file      EZSHM_ERR_OWNER, left alone.

    Python's ShMemCircBuff takes no lock: a live Python writer looks like a leftover and is
    replaced, and a Python writer started on a name we hold replaces our header (ours keeps
    writing into an unlinked file). Never point both kinds of writer at one name.

    A header claimed where a kill would orphan it (a rename: the new header exists before the
    old stream is dropped, and a restart under the old name never claims the new one) is
    recorded while that lasts: the hidden file ".<header segment>.stream" holds the stream's
    name (readers never open a name with a leading dot). A record left by a kill is how a
    later process knows the unlocked header is an ezshm writer's, dead, and which ring,
    clock, wake and aux segments it names (ezshm_claim_reclaim_dead).

    Who holds a lock is read from /proc/locks (flock locks carry the pid of the process that
    took them; 0 when it lives in another pid namespace).
*/
#ifndef EZSHM_CLAIM_H
#define EZSHM_CLAIM_H

#include "ezshm_segment.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Called with the stream's name and its stale header's segment name, still in place and
    locked by us, before it is replaced or removed. */
typedef void (ezshm_reclaim_fn)(void *arg, const char *stream, const char *segment);

/*  Publishes seg (from ezshm_segment_create_unpublished, filled), the header of stream, under
    its name, locked, as above. On failure the temporary file is removed and seg closed. Returns EZSHM_OK,
    EZSHM_ERR_INUSE, EZSHM_ERR_OWNER, EZSHM_ERR_FIFO/_SYMLINK/_ISDIR/_NOTREG, EZSHM_ERR_SYS. */
int ezshm_claim(ezshm_segment_t *seg, const char *stream, ezshm_reclaim_fn *reclaim, void *arg,
                bool *replaced);

/*  Records (on) or forgets (!on) that stream's header is being claimed in a step a kill may
    interrupt (best effort: without a record only that reclaim is lost). */
void ezshm_claim_record(const char *stream, bool on);

/*  Removes what writers that died left in the segment folder, whether or not a writer claims
    those names again: each recorded header nobody holds (provably dead: we take its lock, and
    no live writer generates its name), after reclaim(arg, stream, segment) removed what it
    names, then its record; and each hidden temporary header (".sm_…-<pid>-<n>") nobody holds
    whose creator pid is gone or is this process. *removed (if not NULL) gets the headers and
    temporary files removed. EZSHM_OK, or the error of reading the folder. */
int ezshm_claim_reclaim_dead(ezshm_reclaim_fn *reclaim, void *arg, unsigned *removed);

/*  The writer holding the stream name's lock: EZSHM_OK and *pid (0: holder not visible from
    this pid namespace), EZSHM_ERR_NOENT when no lock is held on the header (or no header). */
int ezshm_claim_holder(const char *stream_name, long *pid);

#ifdef __cplusplus
}
#endif
#endif
