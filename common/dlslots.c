/* dlslots.c — the node-wide download slots (include/optout/dlslots.h: contract there).
 *
 * flock() and not a counter in a shared file: the kernel releases a lock when its holder dies, so
 * a worker killed mid-download cannot leak its slot, and nothing has to be repaired at start. */
#include "optout/dlslots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/util.h"

/* Slot k locked on a descriptor of the file DIR/download-slot.k still is: the descriptor, 1 when
 * another process holds it (or the name moved on while it was locked: tried again), -1 on error. */
static int try_slot(int dfd, const char *dir, unsigned k, int *out, char *err, size_t errlen) {
    char name[64];
    snprintf(name, sizeof name, OPTOUT_DLSLOTS_PREFIX "%u", k);
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        optout_set_err(err, errlen, "download slot %s/%s: %s", dir, name,
                       errno == ELOOP ? "a symbolic link, not a slot file" : strerror(errno));
        return -1;
    }
    struct stat fst, nst;
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
        optout_set_err(err, errlen, "download slot %s/%s: not a regular file", dir, name);
        close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK || e == EINTR) return 1;
        optout_set_err(err, errlen, "download slot %s/%s: flock: %s", dir, name, strerror(e));
        return -1;
    }
    /* the lock counts only on the file that the name names: one unlinked or replaced meanwhile
     * would let another process lock a second file under the same name */
    if (fstatat(dfd, name, &nst, AT_SYMLINK_NOFOLLOW) != 0 || nst.st_dev != fst.st_dev || nst.st_ino != fst.st_ino) {
        close(fd);
        return 1;
    }
    *out = fd;
    return 0;
}

int optout_dlslots_take(const char *dir, unsigned n, volatile sig_atomic_t *stop, unsigned *slot, char *err,
                        size_t errlen) {
    if (n < 1) {
        optout_set_err(err, errlen, "download slots in %s: at least 1 is needed", dir);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        optout_set_err(err, errlen, "download slots directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        optout_set_err(err, errlen, "download slots directory %s: %s", dir,
                       errno == ENOTDIR || errno == ELOOP ? "not a directory (or a symbolic link)" : strerror(errno));
        return -1;
    }
    unsigned seed = (unsigned)getpid() ^ (unsigned)optout_now_ms();
    int fd = -1;
    for (;;) {
        /* start at a different slot per process and round: waiters do not all pile on slot 0 */
        unsigned first = (unsigned)(rand_r(&seed) % n);
        for (unsigned i = 0; i < n && fd < 0; i++) {
            unsigned k = (first + i) % n;
            int r = try_slot(dfd, dir, k, &fd, err, errlen);
            if (r < 0) {
                close(dfd);
                return -1;
            }
            if (r == 0 && slot) *slot = k;
        }
        if (fd >= 0) break;
        if (stop && *stop) {
            close(dfd);
            return -2;
        }
        optout_sleep_ms(50 + (long)(rand_r(&seed) % 101));
    }
    close(dfd);
    return fd;
}

void optout_dlslots_release(int fd) {
    if (fd >= 0) close(fd);
}
