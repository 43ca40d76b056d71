/* files.c — a command's inputs and outputs checked by identity (include/optout/files.h). */
#include "optout/files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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

/* ---- directories given whole ------------------------------------------------------------------- */

static int is_dir_arg(const optout_file_arg *f) {
    return f->output == OPTOUT_FILE_INPUT_DIR || f->output == OPTOUT_FILE_OUTPUT_DIR;
}

/* The directory a file is in, or would be created in: the real path's directory when the file
 * exists (so that a link to a file inside a directory is inside it), else the nearest existing
 * directory on the way. 0, or -1 when there is none (a file in the way: nothing can be created). */
static int home_dir(const char *path, char *out, size_t cap) {
    char *real = realpath(path, NULL);
    snprintf(out, cap, "%s", real ? real : path);
    free(real);
    for (;;) {
        char *slash = strrchr(out, '/');
        if (slash == out) out[1] = '\0';
        else if (slash) *slash = '\0';
        else snprintf(out, cap, ".");
        struct stat st;
        if (stat(out, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -1;
        if (errno != ENOENT || !slash || strcmp(out, "/") == 0) return -1;
    }
}

/* For the directory `dir` and each of its parents (walked by "..", which no spelling can fool),
 * the first directory argument of kind OPTOUT_FILE_INPUT_DIR (hit[0]) and OPTOUT_FILE_OUTPUT_DIR
 * (hit[1]) it is, by identity; SIZE_MAX when none. */
static void containers(const char *dir, const optout_file_arg *files, const struct stat *ids, size_t n,
                       size_t hit[2]) {
    hit[0] = hit[1] = SIZE_MAX;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st, prev = {0};
    for (int depth = 0; fd >= 0 && depth < PATH_MAX / 2 && fstat(fd, &st) == 0; depth++) {
        if (depth > 0 && st.st_dev == prev.st_dev && st.st_ino == prev.st_ino) break; /* "/": its own parent */
        for (size_t i = 0; i < n; i++) {
            size_t k = files[i].output == OPTOUT_FILE_INPUT_DIR ? 0 : 1;
            if (is_dir_arg(&files[i]) && ids[i].st_ino && hit[k] == SIZE_MAX && ids[i].st_dev == st.st_dev &&
                ids[i].st_ino == st.st_ino)
                hit[k] = i;
        }
        prev = st;
        int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        fd = up;
    }
    if (fd >= 0) close(fd);
}

/* No output inside an input directory, no input inside an output directory (files.h). */
static int check_dirs(const optout_file_arg *files, size_t n, char *err, size_t errlen) {
    struct stat *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        optout_set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t dirs = 0;
    for (size_t i = 0; i < n; i++)
        if (is_dir_arg(&files[i]) && files[i].path && strcmp(files[i].path, "-") != 0 &&
            stat(files[i].path, &ids[i]) == 0 && S_ISDIR(ids[i].st_mode))
            dirs++;
        else
            memset(&ids[i], 0, sizeof ids[i]); /* st_ino 0: holds nothing */
    int rc = 0;
    char last[PATH_MAX] = "", dir[PATH_MAX];
    size_t hit[2] = {SIZE_MAX, SIZE_MAX};
    for (size_t i = 0; i < n && dirs && rc == 0; i++) {
        const optout_file_arg *f = &files[i];
        if (is_dir_arg(f) || !f->path || strcmp(f->path, "-") == 0 || home_dir(f->path, dir, sizeof dir) != 0)
            continue;
        if (strcmp(dir, last) != 0) { /* a corpus's files share a few directories: walk each once */
            containers(dir, files, ids, n, hit);
            snprintf(last, sizeof last, "%s", dir);
        }
        size_t d = hit[f->output == OPTOUT_FILE_OUTPUT ? 0 : 1];
        if (d == SIZE_MAX) continue;
        if (f->output == OPTOUT_FILE_OUTPUT)
            optout_set_err(err, errlen, "%s %s is inside %s %s, which is read: writing there could replace what is "
                           "read; give a path outside it", f->option, f->path, files[d].option, files[d].path);
        else
            optout_set_err(err, errlen, "%s %s is inside %s %s, where outputs are published: an output could "
                           "replace it; move it, or give another directory", f->option, f->path, files[d].option,
                           files[d].path);
        rc = -1;
    }
    free(ids);
    return rc;
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
        if (!files[i].path || strcmp(files[i].path, "-") == 0 || is_dir_arg(&files[i])) continue;
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
    return rc == 0 ? check_dirs(files, n, err, errlen) : rc;
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

/* ---- publishing ------------------------------------------------------------------------------- */

/* p->tmp: ".NAME.tmp.PID.TID" in path's directory. 0, or -1 (ENAMETOOLONG). */
static int publish_names(optout_publish *p, const char *path) {
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    const char *name = slash ? slash + 1 : path;
    if ((size_t)snprintf(p->path, sizeof p->path, "%s", path) >= sizeof p->path ||
        (size_t)snprintf(p->tmp, sizeof p->tmp, "%.*s.%s.tmp.%ld.%ld", dirlen, path, name, (long)getpid(),
                         (long)gettid()) >= sizeof p->tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

FILE *optout_publish_open(optout_publish *p, const char *path, mode_t mode, char *err, size_t errlen) {
    p->f = NULL;
    p->tmp[0] = '\0';
    if (publish_names(p, path) != 0) {
        optout_set_err(err, errlen, "%s: %s", path, strerror(errno));
        p->tmp[0] = '\0';
        return NULL;
    }
    (void)unlink(p->tmp); /* a dead writer's (same pid and tid): removed, a link there never followed */
    int fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 || !(p->f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0) close(fd), unlink(p->tmp);
        optout_set_err(err, errlen, "%s: %s", p->tmp, strerror(e));
        p->tmp[0] = '\0';
        return NULL;
    }
    return p->f;
}

int optout_publish_commit(optout_publish *p, char *err, size_t errlen) {
    if (!p->f) {
        optout_set_err(err, errlen, "%s: not open for publishing", p->path);
        return -1;
    }
    errno = 0;
    int bad = ferror(p->f) || fflush(p->f) != 0 || fsync(fileno(p->f)) != 0;
    int e = errno;
    if (fclose(p->f) != 0 && !bad) bad = 1, e = errno;
    p->f = NULL;
    if (!bad && rename(p->tmp, p->path) != 0) bad = 1, e = errno;
    if (bad) {
        unlink(p->tmp);
        p->tmp[0] = '\0';
        optout_set_err(err, errlen, "writing %s: %s", p->path, strerror(e ? e : EIO));
        return -1;
    }
    p->tmp[0] = '\0';
    if (optout_fsync_parent_dir(p->path) != 0) {
        optout_set_err(err, errlen, "syncing the directory of %s: %s", p->path, strerror(errno));
        return -1;
    }
    return 0;
}

void optout_publish_abort(optout_publish *p) {
    if (p->f) fclose(p->f);
    p->f = NULL;
    if (p->tmp[0]) unlink(p->tmp);
    p->tmp[0] = '\0';
}

int optout_publish_bytes(const char *path, const void *data, size_t len, mode_t mode, char *err, size_t errlen) {
    optout_publish p = {0};
    FILE *f = optout_publish_open(&p, path, mode, err, errlen);
    if (!f) return -1;
    if (len && fwrite(data, 1, len, f) != len) {
        optout_set_err(err, errlen, "writing %s: %s", path, strerror(errno ? errno : EIO));
        optout_publish_abort(&p);
        return -1;
    }
    return optout_publish_commit(&p, err, errlen);
}
