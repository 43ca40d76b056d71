/* fuzz_records.c — libFuzzer target for the broker's journal records (broker/records.c).
 *
 * Input: one journal record's payload, as the broker's replay gives it to record_decode after a
 * restart (the journal's framing and checksum are fuzz_journal's; a payload that passed them can
 * still be anything: a bug, an older build, a file edited by hand).
 *
 * Invariants (abort on violation):
 * - record_decode answers 0 or -1, and on 0 a known kind, at most OPTOUT_MSG_MAX_FILES files, every
 *   string NUL-terminated inside its array, and stats_len readable bytes at stats
 * - what decodes re-encodes (record_encode), and that encoding decodes to the same record: the
 *   fields its kind carries are equal (strings as C strings: the record's own encoder stops at the
 *   first NUL)
 * - encoding is a fixed point: the re-decoded record encodes to the same bytes
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "records.h"

static int terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

/* Are a and b the same record, for the fields a record of a's kind carries? */
static int same_record(const struct record *a, const struct record *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case RECORD_EPOCH:
        return a->epoch == b->epoch;
    case RECORD_PUBLISHED:
        return a->task == b->task;
    case RECORD_FAILED:
        return a->task == b->task && strcmp(a->error, b->error) == 0;
    case RECORD_ACCEPTED:
        if (a->task != b->task || a->epoch != b->epoch || a->attempt != b->attempt ||
            a->file_count != b->file_count || a->stats_len != b->stats_len ||
            (a->stats_len && memcmp(a->stats, b->stats, a->stats_len) != 0))
            return 0;
        for (size_t i = 0; i < a->file_count; i++)
            if (strcmp(a->files[i].name, b->files[i].name) != 0 || a->files[i].size != b->files[i].size ||
                strcmp(a->files[i].sha256, b->files[i].sha256) != 0)
                return 0;
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes: ASan then sees a read past the payload's end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);

    static struct record r, again; /* large (8 paths): not on the stack */
    msgpack_unpacked keep, keep2;
    msgpack_unpacked_init(&keep);
    msgpack_unpacked_init(&keep2);
    int rc = record_decode(copy, size, &r, &keep);
    CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        CHECK(r.kind == RECORD_EPOCH || r.kind == RECORD_ACCEPTED || r.kind == RECORD_PUBLISHED ||
              r.kind == RECORD_FAILED);
        CHECK(r.file_count <= OPTOUT_MSG_MAX_FILES);
        CHECK(terminated(r.error, sizeof r.error));
        for (size_t i = 0; i < r.file_count; i++)
            CHECK(terminated(r.files[i].name, sizeof r.files[i].name) &&
                  terminated(r.files[i].sha256, sizeof r.files[i].sha256));
        CHECK(r.stats_len == 0 || r.stats != NULL);
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < r.stats_len; i++) sum ^= ((const uint8_t *)r.stats)[i];
        (void)sum;

        msgpack_sbuffer once, twice;
        CHECK(record_encode(&r, &once) == 0);
        CHECK(record_decode(once.data, once.size, &again, &keep2) == 0);
        CHECK(same_record(&r, &again));
        CHECK(record_encode(&again, &twice) == 0);
        CHECK(once.size == twice.size && memcmp(once.data, twice.data, once.size) == 0);
        msgpack_sbuffer_destroy(&once);
        msgpack_sbuffer_destroy(&twice);
    }
    msgpack_unpacked_destroy(&keep);
    msgpack_unpacked_destroy(&keep2);
    free(copy);
    return 0;
}
