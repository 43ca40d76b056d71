/* fuzz_target.h — the entry points every fuzz harness here defines (libFuzzer's names).
 *
 * The same harness runs two ways: linked with libFuzzer (clang, tests/fuzz/smoke.sh), and linked
 * with replay.c under any compiler, which feeds it the saved crash inputs and the seed corpus as a
 * ctest regression test. Declared here so that both builds see one prototype. */
#ifndef OPTOUT_FUZZ_TARGET_H
#define OPTOUT_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* One input; aborts (a CHECK) when an invariant of the code under test is violated. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, called once before the first input (the harnesses that need set-up define it). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: a violation names the harness and line, then aborts (what
 * libFuzzer reports as a crash, and the replay as a failed test). */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
