/* fuzz_parquet_jsonl.c — libFuzzer target for JSON Lines to Parquet (common/parquet_jsonl.c and the
 * generated-file half of parquet_write.c). The input's lines are the schema's lines and the rows
 * (every second row also to a removed/ writer with agents). Invariants: nothing crashes or leaks
 * whatever the JSON; a file that was finished opens again with the project's reader, holds as many
 * rows as were accepted, and renders every row group as JSON. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_target.h"
#include "optout/parquet.h"

static int count_row(void *ctx, const char *json, size_t len) {
    (void)json;
    CHECK(len > 0);
    ++*(int64_t *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], rpath[64], err[512];
    snprintf(path, sizeof path, "/tmp/fuzz_pqjsonl.%ld.parquet", (long)getpid());
    snprintf(rpath, sizeof rpath, "/tmp/fuzz_pqjsonl.%ld.rm.parquet", (long)getpid());
    optout_pq_jschema *s = optout_pq_jschema_new();
    CHECK(s != NULL);
    const char *p = (const char *)data, *end = p + size;
    uint64_t line_no = 0;
    int ok = 1;
    for (const char *q = p; q < end && ok;) { /* every line into the schema */
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t len = nl ? (size_t)(nl - q) : (size_t)(end - q);
        ok = len == 0 || optout_pq_jschema_add(s, q, len, ++line_no, err, sizeof err) == 0;
        q += len + 1;
    }
    optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_NONE};
    optout_pq_jwriter *w = ok ? optout_pq_jwriter_open(path, s, &o, err, sizeof err) : NULL;
    o.agents_column = 1;
    optout_pq_jwriter *wr = w ? optout_pq_jwriter_open(rpath, s, &o, err, sizeof err) : NULL;
    int64_t rows = 0, rrows = 0;
    static const char *const names[] = {"A", "B\"c"};
    optout_pq_agents ag = {.names = names, .n = 2};
    for (const char *q = p; q < end && wr;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t len = nl ? (size_t)(nl - q) : (size_t)(end - q);
        if (len && (rows + rrows) % 2 == 0) {
            if (optout_pq_jwriter_row(w, q, len, 1, NULL, err, sizeof err) != 0) break;
            rows++;
        } else if (len) {
            if (optout_pq_jwriter_row(wr, q, len, 1, &ag, err, sizeof err) != 0) break;
            rrows++;
        }
        q += len + 1;
    }
    int done = 0;
    if (w && wr) { /* both freed either way */
        done = optout_pq_jwriter_finish(wr, err, sizeof err) == 0;
        done = optout_pq_jwriter_finish(w, err, sizeof err) == 0 && done;
        w = wr = NULL;
    }
    optout_pq_jwriter_abort(w);
    optout_pq_jwriter_abort(wr);
    if (done) {
        const char *files[] = {path, rpath};
        int64_t want[] = {rows, rrows};
        for (int i = 0; i < 2; i++) {
            optout_pq_file *f = optout_pq_open(files[i], err, sizeof err);
            if (!f) fprintf(stderr, "%s\n", err);
            CHECK(f != NULL);
            CHECK(optout_pq_num_rows(f) == want[i]);
            int64_t seen = 0;
            for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
                int rc = optout_pq_row_group_json(f, g, count_row, &seen, err, sizeof err);
                if (rc != 0) fprintf(stderr, "%s\n", err);
                CHECK(rc == 0);
            }
            CHECK(seen == want[i]);
            optout_pq_close(f);
        }
    }
    unlink(path);
    unlink(rpath);
    optout_pq_jschema_free(s);
    return 0;
}
