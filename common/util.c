/* util.c — whole-file reading, the monotonic clock, removing a tree (see include/optout/util.h). */
#include "optout/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "optout/log.h"

_Noreturn void optout_oom(const char *what) {
    optout_log(LOG_CRIT, "out of memory (%s)", what);
    abort();
}

void *optout_malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        optout_log(LOG_CRIT, "out of memory allocating %zu bytes", size);
        abort();
    }
    return p;
}

void *optout_grow(void *v, size_t n, size_t *cap, size_t elem, size_t first, const char *what) {
    if (n < *cap) return v;
    size_t c = *cap ? *cap * 2 : first;
    if (c <= n || c > SIZE_MAX / elem) optout_oom(what);
    void *nv = realloc(v, c * elem);
    if (!nv) optout_oom(what);
    *cap = c;
    return nv;
}

int optout_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out) {
    if (len == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (d > max || v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

char *optout_read_fd(int fd, size_t max, size_t *len) {
    size_t cap = max < 65536 ? max + 1 : 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            if (n > max) { /* cap grows to max + 1, so a file of exactly max bytes fits */
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            free(buf);
            errno = saved;
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *optout_read_file(const char *path, size_t max, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = optout_read_fd(fd, max, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return buf;
}

/* The directory part of `path` into dir ("." when it has none, "/" for "/x"). -1 (ENAMETOOLONG). */
static int parent_of(const char *path, char dir[4096]) {
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= 4096) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (n == 0) strcpy(dir, ".");
    else memcpy(dir, path, n), dir[n] = '\0';
    return 0;
}

int optout_make_parent_dirs(const char *path) {
    char dir[4096];
    if (parent_of(path, dir) != 0) return -1;
    if (strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0) return 0;
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) return -1;
            *p = saved;
            if (saved == '\0') return 0;
        }
    }
}

int optout_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int optout_fsync_parent_dir(const char *path) {
    char dir[4096];
    return parent_of(path, dir) != 0 ? -1 : optout_fsync_dir(dir);
}

char *optout_read_secret_file(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & S_IROTH)) { /* a secret every user can read is none */
        errno = EPERM;
        return NULL;
    }
    size_t len;
    char *text = optout_read_file(path, 4096, &len);
    if (!text) return NULL;
    text[strcspn(text, "\r\n")] = '\0';
    if (!text[0]) {
        free(text);
        errno = EINVAL;
        return NULL;
    }
    return text;
}

void optout_set_errv(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (!err || errlen == 0) return;
    vsnprintf(err, errlen, fmt, ap);
}

void optout_set_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    optout_set_errv(err, errlen, fmt, ap);
    va_end(ap);
}

void optout_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int optout_nap_ms(int64_t ms, volatile sig_atomic_t *stop) {
    while (ms > 0) {
        if (stop && *stop) return 1;
        int64_t slice = ms < 100 ? ms : 100;
        struct timespec ts = {(time_t)(slice / 1000), (long)(slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return stop && *stop;
}

int64_t optout_mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

char *optout_strdup(const char *s) {
    size_t n = strlen(s ? s : "") + 1;
    char *p = optout_malloc(n);
    memcpy(p, s ? s : "", n);
    return p;
}

int64_t optout_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *optout_format_time_ns(int64_t ns, char *buf, size_t cap) {
    int64_t frac = ns % 1000000000;
    if (frac < 0) frac += 1000000000; /* before 1970: floor division */
    time_t secs = (time_t)((ns - frac) / 1000000000);
    struct tm tm;
    char day[32];
    if (!gmtime_r(&secs, &tm) || !strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, cap, "%lld ns", (long long)ns);
        return buf;
    }
    if (frac) snprintf(buf, cap, "%s.%09lldZ", day, (long long)frac);
    else snprintf(buf, cap, "%sZ", day);
    return buf;
}

/* Deeper trees than this are left (ELOOP): each level holds a descriptor. */
#define REMOVE_TREE_DEPTH 128

/* Removes `name` in the directory `parent`; *first_errno keeps the first failure. */
static void remove_at(int parent, const char *name, int depth, int *first_errno) {
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT && !*first_errno) *first_errno = errno;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth >= REMOVE_TREE_DEPTH) {
            if (!*first_errno) *first_errno = ELOOP;
            return;
        }
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
            if (!*first_errno) *first_errno = errno;
            if (fd >= 0) close(fd);
            return;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                remove_at(dirfd(d), e->d_name, depth + 1, first_errno);
        closedir(d);
    }
    if (unlinkat(parent, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT && !*first_errno)
        *first_errno = errno;
}

int optout_remove_tree(const char *path) {
    int first_errno = 0;
    remove_at(AT_FDCWD, path, 0, &first_errno);
    if (!first_errno) return 0;
    errno = first_errno;
    return -1;
}
