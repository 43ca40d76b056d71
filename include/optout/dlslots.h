/* dlslots.h — a node-wide bound on concurrent downloads of capture files: a process takes one of
 * N download slots before it downloads and gives it back after. A slot is an flock() on one of the
 * files DIR/download-slot.0 .. DIR/download-slot.(N-1) of a directory every process of the node
 * shares (the workers' systemd RuntimeDirectory; `optout run`: one under the run directory). The
 * kernel drops the lock when its descriptor is closed, so a process that exits or crashes never
 * keeps a slot.
 *
 * Contract
 * - optout_dlslots_take(): creates DIR when missing (mode 0700; its parent must exist), opens it
 *   with O_DIRECTORY | O_NOFOLLOW, then tries the slot files in turn: each opened relative to DIR
 *   with O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC (mode 0600) and refused unless a regular file,
 *   then flock(LOCK_EX | LOCK_NB). A locked file must still be the one its name names (st_dev,
 *   st_ino of the descriptor and of the name, not followed): a slot file removed or replaced while
 *   it was being locked is not a slot, and is tried again. When all N are held, it waits (polling
 *   every 50 to 150 ms) until one is free, or until *stop (optional) is set: returns -2 then.
 *   Returns the held slot's descriptor (>= 0; *slot receives its number when slot is not NULL), or
 *   -1 with err naming the path (DIR missing or not a directory, a slot that is a symbolic link or
 *   not a regular file, n < 1).
 * - optout_dlslots_release(fd): closes the descriptor, which frees the slot (fd < 0: nothing).
 * - Every process using one directory must use the same N: the bound is the largest N in use.
 */
#ifndef OPTOUT_DLSLOTS_H
#define OPTOUT_DLSLOTS_H

#include <signal.h>
#include <stddef.h>

/* The slot files' name without the number: DIR/download-slot.K */
#define OPTOUT_DLSLOTS_PREFIX "download-slot."

int optout_dlslots_take(const char *dir, unsigned n, volatile sig_atomic_t *stop, unsigned *slot, char *err,
                        size_t errlen);
void optout_dlslots_release(int fd);

#endif
