/* Unit tests of what reading a Parquet shard costs: the ranking reads the text column only where a
 * token count is missing (counted in bytes read from the file); the filter decompresses the text's
 * pages once, for its sizes, and the writer reuses them (counted in pages decompressed); a memory
 * budget too small for a row group or a page is refused with the figures. argv[1] is the bundled sample's
 * Parquet twin (data/sample/corpus.parquet, written by DuckDB: one row group, a few rows without
 * token_count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optout/docsource.h"
#include "optout/parquet.h"
#include "optout/rank.h"
#include "parquet_internal.h"

static const char *sample;
static char tmpdir[256];

static char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int leaf_index(const optout_pq_file *f, const char *path) {
    for (int i = 0; i < optout_pq_num_columns(f); i++)
        if (strcmp(optout_pq_column_path(f, i), path) == 0) return i;
    fail_msg("no column %s", path);
    return -1;
}

/* The compressed bytes of the text column's chunks. */
static uint64_t text_bytes(const char *path) {
    char err[512];
    optout_pq_file *f = optout_pq_open(path, err, sizeof err);
    if (!f) fail_msg("%s", err);
    int t = leaf_index(f, "text");
    uint64_t n = 0;
    for (uint32_t g = 0; g < f->meta.nrgs; g++) n += (uint64_t)f->meta.rgs[g].cols[t].total_compressed;
    optout_pq_close(f);
    return n;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Writes the sample's rows that have a token count to out; returns how many. */
static size_t rows_with_tokens(const char *out) {
    char err[512];
    optout_pq_file *f = optout_pq_open(sample, err, sizeof err);
    if (!f) fail_msg("%s", err);
    optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_SNAPPY};
    optout_pq_writer *w = optout_pq_writer_open(out, f, &o, err, sizeof err);
    if (!w) fail_msg("%s", err);
    size_t kept = 0;
    for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
        optout_pq_column c;
        assert_int_equal(optout_pq_read_column(f, g, "token_count", &c, err, sizeof err), 0);
        uint8_t *keep = calloc(c.n / 8 + 1, 1);
        for (size_t r = 0; r < c.n; r++)
            if (c.v[r].kind == OPTOUT_PQ_INT) keep[r / 8] |= (uint8_t)(1u << (r % 8)), kept++;
        assert_int_equal(optout_pq_writer_row_group(w, g, keep, NULL, err, sizeof err), 0);
        free(keep);
        optout_pq_column_free(&c);
    }
    if (optout_pq_writer_finish(w, err, sizeof err) != 0) fail_msg("%s", err);
    optout_pq_close(f);
    return kept;
}

static void rank_map(const char *in, int count_bytes, optout_rank_map_stats *st) {
    char err[512];
    optout_rank_map_config mc = {.partitions = 4, .count_bytes = count_bytes};
    memset(st, 0, sizeof *st);
    if (optout_rank_map(&mc, in, tpath("m.zst"), tpath("m.idx"), st, err, sizeof err) != 0) fail_msg("%s", err);
    unlink(tpath("m.zst"));
    unlink(tpath("m.idx"));
}

static void test_rank_skips_text_with_tokens(void **state) {
    (void)state;
    char sub[512];
    snprintf(sub, sizeof sub, "%s", tpath("with_tokens.parquet"));
    size_t n = rows_with_tokens(sub);
    assert_true(n > 0);
    uint64_t text = text_bytes(sub), size = file_size(sub);
    assert_true(text > size / 2); /* the text is most of the file: skipping it shows */

    optout_rank_map_stats st;
    rank_map(sub, 0, &st);
    assert_int_equal(st.docs + st.no_url + st.bad_url + st.no_host, n);
    assert_int_equal(st.bytes_unread, st.docs);
    if (st.bytes_read + text > size)
        fail_msg("ranking by tokens read %llu bytes of a %llu-byte file whose text is %llu bytes",
                 (unsigned long long)st.bytes_read, (unsigned long long)size, (unsigned long long)text);

    rank_map(sub, 1, &st); /* the metric is bytes: the text is read */
    assert_int_equal(st.bytes_unread, 0);
    assert_true(st.bytes_read >= text);
    unlink(sub);
}

static void test_rank_reads_text_for_the_estimate(void **state) {
    (void)state;
    optout_rank_map_stats st;
    rank_map(sample, 0, &st); /* some rows lack token_count: their row group's text is read */
    assert_true(st.docs > 0);
    assert_int_equal(st.bytes_unread, 0);
    assert_true(st.bytes_read >= text_bytes(sample));
}

static char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("%s", path);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    fclose(fp);
    return b;
}

/* Reads the text's sizes then filters every row group (every third row dropped) to out, keeping
 * `keep` bytes of decompressed pages; returns the data pages decompressed. */
static uint64_t sizes_then_filter(const char *out, size_t keep) {
    char err[512];
    optout_pq_file *f = optout_pq_open(sample, err, sizeof err);
    if (!f) fail_msg("%s", err);
    optout_pq_keep_pages(f, keep);
    optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_ZSTD, .level = 3};
    optout_pq_writer *w = optout_pq_writer_open(out, f, &o, err, sizeof err);
    if (!w) fail_msg("%s", err);
    for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
        size_t rows = (size_t)optout_pq_row_group_rows(f, g);
        optout_pq_size *sz = calloc(rows + 1, sizeof *sz);
        assert_int_equal(optout_pq_read_sizes(f, g, "text", sz, err, sizeof err), 0);
        uint8_t *bits = calloc(rows / 8 + 1, 1);
        for (size_t r = 0; r < rows; r++)
            if (r % 3) bits[r / 8] |= (uint8_t)(1u << (r % 8));
        if (optout_pq_writer_row_group(w, g, bits, NULL, err, sizeof err) != 0) fail_msg("%s", err);
        free(bits);
        free(sz);
    }
    if (optout_pq_writer_finish(w, err, sizeof err) != 0) fail_msg("%s", err);
    uint64_t n = optout_pq_pages_decompressed(f);
    optout_pq_close(f);
    return n;
}

static void test_text_decompressed_once(void **state) {
    (void)state;
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s", tpath("kept.parquet"));
    snprintf(b, sizeof b, "%s", tpath("again.parquet"));
    snprintf(c, sizeof c, "%s", tpath("tiny.parquet"));
    uint64_t kept = sizes_then_filter(a, OPTOUT_PQ_KEEP_PAGES_MAX);
    uint64_t again = sizes_then_filter(b, 0);
    uint64_t tiny = sizes_then_filter(c, 1); /* no page fits: decompressed twice */
    assert_true(kept < again);
    assert_int_equal(tiny, again);
    size_t la, lb, lc;
    char *da = slurp(a, &la), *db = slurp(b, &lb), *dc = slurp(c, &lc);
    assert_true(la == lb && memcmp(da, db, la) == 0);
    assert_true(lc == lb && memcmp(dc, db, lc) == 0);
    free(da);
    free(db);
    free(dc);
    unlink(a);
    unlink(b);
    unlink(c);
}

/* Reads the sample through docsource.h with a memory budget: 0, or -1 with err. */
static int read_with_budget(uint64_t budget, char *err, size_t errlen) {
    optout_docsource_opts o = {.max_memory = budget};
    optout_docsource *src = optout_docsource_open(sample, &o, err, errlen);
    if (!src) fail_msg("%s", err);
    optout_doc_batch b;
    int r;
    size_t docs = 0;
    while ((r = optout_docsource_next(src, &b, err, errlen)) == 1) docs += b.count;
    optout_docsource_close(src);
    if (r == 0) assert_int_equal(docs, 80);
    return r;
}

static void test_memory_budget(void **state) {
    (void)state;
    char err[1024];
    int refused_group = 0, refused_page = 0, ok = 0;
    for (uint64_t budget = 1024; budget <= ((uint64_t)64 << 20); budget *= 2) {
        if (read_with_budget(budget, err, sizeof err) == 0) {
            ok = 1;
            break;
        }
        assert_non_null(strstr(err, "corpus.parquet: row group 0"));
        if (getenv("SHOW")) print_message("%llu: %s\n", (unsigned long long)budget, err);
        if (strstr(err, "the memory budget leaves a Parquet shard")) refused_group = 1;
        else if (strstr(err, ", page ") && strstr(err, "the memory budget leaves a page")) refused_page = 1;
        else fail_msg("budget %llu: %s", (unsigned long long)budget, err);
    }
    assert_true(refused_group); /* too small for the row group's projected columns */
    assert_true(refused_page);  /* enough for them, not for the text's pages */
    assert_true(ok);
    assert_int_equal(read_with_budget(0, err, sizeof err), 0);
}

int main(int argc, char **argv) {
    sample = argc > 1 ? argv[1] : "data/sample/corpus.parquet";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_parquet_read.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_skips_text_with_tokens),
        cmocka_unit_test(test_rank_reads_text_for_the_estimate),
        cmocka_unit_test(test_text_decompressed_once),
        cmocka_unit_test(test_memory_budget),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmpdir);
    return rc;
}
