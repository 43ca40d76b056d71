/* testdir.c — temporary directories for tests (tests/support/testdir.h). */
#include "testdir.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int testdir_create(const char *name) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", name);
    return mkdtemp(tmpdir) ? 0 : -1;
}

int testdir_remove(void) {
    chmod(tmpdir, 0700);
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tpath(const char *fmt, ...) {
    static char bufs[16][512];
    static int next;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *b = bufs[next++ % 16];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

int testdir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

const char *twrite(const char *name, const char *text) {
    const char *path = tpath("%s", name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    int bad = fputs(text, f) < 0;
    if (fclose(f) != 0 || bad) return NULL;
    return path;
}

char *tread(const char *path, size_t *lenp) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger, cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[len] = 0;
    if (buf && lenp) *lenp = len;
    return buf;
}

int tfile_is(const char *path, const char *want) {
    char *got = tread(path, NULL);
    if (!got) {
        fprintf(stderr, "%s: cannot be read: %s\n", path, strerror(errno));
        return 0;
    }
    int same = strcmp(got, want) == 0;
    if (!same) fprintf(stderr, "%s holds:\n%s\nwanted:\n%s\n", path, got, want);
    free(got);
    return same;
}

int testdir_setup(void **state) {
    (void)state;
    return testdir_create(program_invocation_short_name);
}

int testdir_teardown(void **state) {
    (void)state;
    return testdir_remove();
}
