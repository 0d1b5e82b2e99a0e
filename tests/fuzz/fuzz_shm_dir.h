/*  fuzz_shm_dir.h — a private segment folder for a fuzz harness that makes real segments.

    Created under /dev/shm (or /tmp without it) as "ezshm-<tag>-XXXXXX", handed to libezshm
    through EZSHM_SHM_DIR, and emptied and removed at exit, whatever the last input left in
    it: harnesses never collide with each other or with a real stream, and leave nothing.
*/
#ifndef FUZZ_SHM_DIR_H
#define FUZZ_SHM_DIR_H

/*  The folder's path (static), or NULL after printing why it could not be made. */
const char *fuzz_shm_dir_init(const char *tag);

#endif
