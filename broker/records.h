/* records.h — the broker's journal records (records.c): what the broker appends to DIR/journal
 * and replays after a restart (docs/fleet.md "Publication").
 * Contract: record_encode() fills a fresh sbuffer (the caller destroys it); record_decode() is as
 * strict as the wire protocol: anything but exactly one well-formed record is -1. */
#ifndef OPTOUT_BROKER_RECORDS_H
#define OPTOUT_BROKER_RECORDS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "optout/msg.h"

enum record_kind { RECORD_EPOCH, RECORD_ACCEPTED, RECORD_PUBLISHED, RECORD_FAILED };

/* What a record's task id means: DIR/stages.json, written by the broker at each start (its stage
 * layout is deterministic, so every start writes the same), read by `optout status --dir`:
 *   {"tasks": N, "stages": [{"name": "rank", "first": 0, "tasks": 3}, ...]}
 * one object per stage in run order; task ids first .. first + tasks - 1 belong to that stage. */
#define RECORD_STAGES_FILE "stages.json"

struct record {
    enum record_kind kind;
    uint64_t epoch, task, attempt;
    optout_msg_file files[OPTOUT_MSG_MAX_FILES];
    size_t file_count;
    const void *stats; /* into the decoded buffer */
    size_t stats_len;
    char error[OPTOUT_MSG_ERROR_MAX];
};

/* Encodes into a fresh sbuffer (the caller destroys it). */
int record_encode(const struct record *r, msgpack_sbuffer *buf);
/* Decodes one record; `keep` (initialised by the caller) holds what r points into. -1 when the
 * payload is not exactly one well-formed record. */
int record_decode(const void *data, size_t len, struct record *r, msgpack_unpacked *keep);

#endif
