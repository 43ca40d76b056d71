/* replay.c — runs a fuzz harness over files without libFuzzer: the ctest regression test.
 *
 *   NAME_replay PATH...     each PATH a file (one input) or a directory (every regular file in
 *                           it, in name order)
 *
 * Linked with one harness (fuzz_target.h). Every saved crash input (tests/fuzz/crashes/NAME/) and
 * every seed (tests/fuzz/corpus/NAME/) must run through the harness's invariants without an abort
 * under gcc as under clang; under the sanitizer build (OPTOUT_SANITIZE) memory errors fail too.
 * Exits 0 when all inputs ran, 1 when an input cannot be read or there was none (an empty replay
 * would be a test that cannot fail), 2 on usage; an invariant violation aborts. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"
#include "../support/testdir.h"

/* Harnesses without set-up do not define it. */
#pragma weak LLVMFuzzerInitialize

static int run_file(const char *path, size_t *count) {
    size_t size;
    uint8_t *data = (uint8_t *)tread(path, &size);
    if (!data) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    (*count)++;
    return 0;
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = realloc(names, cap * sizeof *names);
            if (!more) { rc = -1; break; }
            names = more;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc != 0) fprintf(stderr, "replay: %s: out of memory\n", dir);
    qsort(names, n, sizeof *names, entry_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (rc == 0 && (size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path &&
            lstat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path, count) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if ((S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i], &count)) != 0) {
            rc = 1;
        }
    }
    if (count == 0) {
        fprintf(stderr, "replay: no input in the paths given\n");
        rc = 1;
    }
    fprintf(stderr, "replay: %zu inputs\n", count);
    return rc;
}
