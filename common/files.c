/* files.c — a command's inputs and outputs checked by identity (include/optout/files.h). */
#include "optout/files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/util.h"

/* What a path names: an existing file's identity, or a directory's identity plus a last name, or
 * (nothing exists yet) the normalised spelling. */
typedef struct {
    int kind; /* 0 none, 1 file, 2 dir + name, 3 spelling */
    dev_t dev;
    ino_t ino;
    char name[PATH_MAX];
} identity;

static const char *kind_of(mode_t m) {
    return S_ISLNK(m) ? "a symbolic link" : S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m)
        ? "a character device" : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* "a//b/./c" -> "a/b/c" (for paths under directories that do not exist yet). */
static void normalise(const char *p, char *out, size_t cap) {
    size_t n = 0;
    while (*p && n + 1 < cap) {
        if (p[0] == '.' && p[1] == '/' && (n == 0 || out[n - 1] == '/')) {
            p += 2;
            continue;
        }
        if (*p == '/' && n > 0 && out[n - 1] == '/') {
            p++;
            continue;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
}

static int identify(const optout_file_arg *f, identity *id, char *err, size_t errlen) {
    struct stat st;
    memset(id, 0, sizeof *id);
    if (f->output && lstat(f->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        optout_set_err(err, errlen,
                       "%s %s is %s: outputs are written to a new file renamed over the name, which would replace "
                       "it; give a regular file's name%s",
                       f->option, f->path, kind_of(st.st_mode),
                       S_ISLNK(st.st_mode) ? " (the link's target, if that is meant)" : "");
        return -1;
    }
    if (stat(f->path, &st) == 0) {
        id->kind = 1, id->dev = st.st_dev, id->ino = st.st_ino;
        return 0;
    }
    if (errno != ENOENT) {
        optout_set_err(err, errlen, "%s %s: %s", f->option, f->path, strerror(errno));
        return -1;
    }
    /* not there yet: its directory and its last name */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", f->path);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? f->path + (slash - dir) + 1 : f->path;
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (*name && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        id->kind = 2, id->dev = st.st_dev, id->ino = st.st_ino;
        snprintf(id->name, sizeof id->name, "%s", name);
        return 0;
    }
    id->kind = 3;
    normalise(f->path, id->name, sizeof id->name);
    return 0;
}

/* Orders identities so that equal ones are neighbours (qsort_r: no global sort context). */
static int compare(const void *pa, const void *pb, void *arg) {
    const identity *ids = arg, *a = &ids[*(const size_t *)pa], *b = &ids[*(const size_t *)pb];
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->kind != 3 && a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    if (a->kind != 3 && a->ino != b->ino) return a->ino < b->ino ? -1 : 1;
    if (a->kind == 1) return 0;
    int c = strcmp(a->name, b->name);
    return c ? c : (*(const size_t *)pa < *(const size_t *)pb ? -1 : 1);
}

static int same(const identity *a, const identity *b) {
    if (a->kind != b->kind) return 0;
    if (a->kind == 3) return strcmp(a->name, b->name) == 0;
    return a->dev == b->dev && a->ino == b->ino && (a->kind == 1 || strcmp(a->name, b->name) == 0);
}

int optout_files_check(const optout_file_arg *files, size_t n, char *err, size_t errlen) {
    identity *ids = calloc(n ? n : 1, sizeof *ids);
    size_t *order = calloc(n ? n : 1, sizeof *order), m = 0;
    if (!ids || !order) {
        free(ids);
        free(order);
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!files[i].path || strcmp(files[i].path, "-") == 0) continue;
        if (identify(&files[i], &ids[i], err, errlen) != 0) rc = -1;
        else order[m++] = i;
    }
    /* sorted, a file named twice is a run of equal neighbours: n log n for a corpus of shards */
    if (rc == 0) qsort_r(order, m, sizeof *order, compare, ids);
    for (size_t k = 0; k < m && rc == 0;) {
        size_t end = k + 1, out = m;
        while (end < m && same(&ids[order[k]], &ids[order[end]])) end++;
        for (size_t q = k; q < end && out == m; q++)
            if (files[order[q]].output) out = q;
        if (end - k > 1 && out < m) {
            size_t a = order[out], b = order[out == k ? k + 1 : k];
            if (b < a) { /* name them in the caller's order */
                size_t t = a;
                a = b, b = t;
            }
            optout_set_err(err, errlen, "%s %s and %s %s are the same file: %s would be overwritten", files[a].option,
                           files[a].path, files[b].option, files[b].path, files[a].output && files[b].output
                                                                              ? "an output"
                                                                              : "the input");
            rc = -1;
        }
        k = end;
    }
    free(order);
    free(ids);
    return rc;
}

int optout_files_writable(const char *option, const char *path, char *err, size_t errlen) {
    /* the file's own directory: a probe file created and removed (access(2) says yes to root
     * where no file can be made, e.g. /proc); a directory still to be created: its nearest
     * existing ancestor must take one */
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s.probe.%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        close(fd);
        unlink(probe);
        return 0;
    }
    int saved = errno;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *last = strrchr(dir, '/');
    if (last == dir) dir[1] = '\0';
    else if (last) *last = '\0';
    else snprintf(dir, sizeof dir, ".");
    struct stat dst;
    if (saved != ENOENT || (stat(dir, &dst) == 0 && S_ISDIR(dst.st_mode))) {
        optout_set_err(err, errlen, "%s %s: cannot create a file there: %s", option, path, strerror(saved));
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (slash == dir) dir[1] = '\0';
        else if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        struct stat st;
        if (stat(dir, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                optout_set_err(err, errlen, "%s %s: %s is not a directory", option, path, dir);
                return -1;
            }
            if (access(dir, W_OK | X_OK) != 0) {
                optout_set_err(err, errlen, "%s %s: cannot create a directory in %s: %s", option, path, dir,
                               strerror(errno));
                return -1;
            }
            return 0;
        }
        if (errno != ENOENT || !slash || strcmp(dir, "/") == 0) {
            optout_set_err(err, errlen, "%s %s: %s: %s", option, path, dir, strerror(errno));
            return -1;
        }
    }
}
