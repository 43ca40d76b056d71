/* fuzz_journal.c — libFuzzer target for the run journal (include/optout/journal.h).
 *
 * Input: the journal file itself, as open finds it after a crash. It is given to the journal as
 * /proc/self/fd/N of a memfd (no disk I/O; ftruncate and fdatasync work on it).
 *
 * Invariants (abort on violation):
 * - open succeeds (the only content defects are a bad tail, which is cut, never an error)
 * - replayed records are complete and exactly as in the input: offsets contiguous from 0, each
 *   record's header holds its length (1..OPTOUT_JOURNAL_MAX_RECORD) and the CRC-32 of its payload,
 *   the payload is the input's bytes
 * - the replay stops only at a bad record: the bytes after the last replayed one are empty, or a
 *   torn header, a zero or oversized length, a record running past the end, or a checksum mismatch
 * - the file size after open, optout_journal_size() and the sum of replayed record sizes agree;
 *   the cut is reported at that offset with the input's remaining bytes (0 and 0 when none)
 * - appending and syncing one record, then reopening, replays the same records plus that one, and
 *   cuts nothing
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_target.h"
#include "optout/journal.h"

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct {
    const uint8_t *data; /* the input */
    size_t size;
    uint64_t next;  /* where the next record must start */
    size_t count;   /* records replayed */
    /* the record appended by the harness, expected last on the second open */
    const uint8_t *extra;
    size_t extra_len;
    size_t expect_count; /* on the second open: records expected in all */
} state;

static int on_record(const void *payload, size_t len, uint64_t offset, void *arg) {
    state *s = arg;
    CHECK(offset == s->next);
    CHECK(len >= 1 && len <= OPTOUT_JOURNAL_MAX_RECORD);
    if (s->extra && s->count + 1 == s->expect_count) {
        CHECK(len == s->extra_len && memcmp(payload, s->extra, len) == 0);
    } else {
        CHECK(offset + 8 + len <= s->size);
        const uint8_t *h = s->data + offset;
        CHECK(le32(h) == len);
        CHECK(le32(h + 4) == (uint32_t)crc32(0L, payload, (uInt)len));
        CHECK(memcmp(payload, h + 8, len) == 0);
    }
    s->next = offset + 8 + len;
    s->count++;
    return 0;
}

/* Is there a good record at `off` in the input? */
static int good_record_at(const uint8_t *data, size_t size, uint64_t off) {
    if (size - off < 8) return 0;
    uint32_t len = le32(data + off), crc = le32(data + off + 4);
    if (len == 0 || len > OPTOUT_JOURNAL_MAX_RECORD || len > size - off - 8) return 0;
    return (uint32_t)crc32(0L, data + off + 8, (uInt)len) == crc;
}

static uint64_t fd_size(int fd) {
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    return (uint64_t)st.st_size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz_journal", MFD_CLOEXEC);
    if (fd < 0) return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        CHECK(w > 0);
        done += (size_t)w;
    }
    char path[64], err[OPTOUT_JOURNAL_ERR_LEN];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    state s = {.data = data, .size = size};
    optout_journal_cut cut = {.offset = 1, .bytes = 1};
    optout_journal *j = optout_journal_open(path, on_record, &s, &cut, err, sizeof err);
    if (!j) fprintf(stderr, "fuzz_journal: %s\n", err);
    CHECK(j != NULL);
    uint64_t good = s.next;
    CHECK(good <= size);
    CHECK(!good_record_at(data, size, good)); /* stopped at the first bad record, not before */
    CHECK(optout_journal_size(j) == good);
    CHECK(optout_journal_pending(j) == 0);
    CHECK(fd_size(fd) == good);
    if (good == size) CHECK(cut.damage == OPTOUT_JOURNAL_WHOLE && cut.offset == 0 && cut.bytes == 0);
    else CHECK(cut.damage != OPTOUT_JOURNAL_WHOLE && cut.offset == good && cut.bytes == size - good);

    /* One more record (a piece of the input, or one byte), synced: the reopen replays it last. */
    uint8_t one = 0x5a;
    const uint8_t *extra = size ? data : &one;
    size_t extra_len = size ? (size < 300 ? size : 300) : 1;
    CHECK(optout_journal_append(j, extra, extra_len, err, sizeof err) == 0);
    CHECK(optout_journal_pending(j) == 1);
    CHECK(optout_journal_sync(j, err, sizeof err) == 0);
    CHECK(optout_journal_pending(j) == 0);
    CHECK(optout_journal_size(j) == good + 8 + extra_len);
    optout_journal_close(j);
    CHECK(fd_size(fd) == good + 8 + extra_len);

    size_t first = s.count;
    state s2 = {.data = data, .size = size, .extra = extra, .extra_len = extra_len,
                .expect_count = first + 1};
    j = optout_journal_open(path, on_record, &s2, &cut, err, sizeof err);
    CHECK(j != NULL);
    CHECK(s2.count == first + 1);
    CHECK(s2.next == good + 8 + extra_len);
    CHECK(cut.damage == OPTOUT_JOURNAL_WHOLE && cut.offset == 0 && cut.bytes == 0);
    CHECK(optout_journal_size(j) == s2.next);
    optout_journal_close(j);
    close(fd);
    return 0;
}
