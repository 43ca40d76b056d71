/* testdir.h — a temporary directory for a test program, and paths in it (tests only).
 * testdir_create("test_x") makes /tmp/test_x.XXXXXX (its name in `tmpdir`); testdir_remove()
 * deletes it with everything below (read-only directories included); tpath("a/%d", n) is
 * "tmpdir/a/n" in one of 16 rotating static buffers; testdir_entries(dir) counts the entries of a
 * directory ("." and ".." excluded; -1 when it cannot be opened). */
#ifndef OPTOUT_TESTS_TESTDIR_H
#define OPTOUT_TESTS_TESTDIR_H

extern char tmpdir[64];

int testdir_create(const char *name);
int testdir_remove(void);
const char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int testdir_entries(const char *dir);

#endif
