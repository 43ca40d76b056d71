/* testdir.c — temporary directories for tests (tests/support/testdir.h). */
#include "testdir.h"

#include <dirent.h>
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
