/* testdir.h — a temporary directory for a test program, and paths in it (tests only).
 * testdir_create("test_x") makes /tmp/test_x.XXXXXX (its name in `tmpdir`); testdir_remove()
 * deletes it with everything below (read-only directories included); tpath("a/%d", n) is
 * "tmpdir/a/n" in one of 16 rotating static buffers; testdir_entries(dir) counts the entries of a
 * directory ("." and ".." excluded; -1 when it cannot be opened).
 * Files: twrite("a.txt", text) writes text to tpath("a.txt") and returns that path (NULL on error);
 * tread(path, &len) returns a file's content (NUL-terminated; its length in *len when len is not
 * NULL) to free(), NULL when it cannot be read;
 * tfile_is(path, want) is 1 when the file holds exactly the string want, else 0 (saying on stderr
 * what it holds instead).
 * cmocka group set-up and tear-down: testdir_setup creates /tmp/<program name>.XXXXXX,
 * testdir_teardown removes it. */
#ifndef OPTOUT_TESTS_TESTDIR_H
#define OPTOUT_TESTS_TESTDIR_H

#include <stddef.h>

extern char tmpdir[64];

int testdir_create(const char *name);
int testdir_remove(void);
const char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int testdir_entries(const char *dir);

const char *twrite(const char *name, const char *text);
char *tread(const char *path, size_t *len);
int tfile_is(const char *path, const char *want);

int testdir_setup(void **state);
int testdir_teardown(void **state);

#endif
