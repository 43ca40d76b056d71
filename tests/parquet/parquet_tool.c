/* parquet_tool — drives the project's Parquet reader and filter writer from tests (the oracle
 * tests compare its output with DuckDB's and hyparquet's). See usage() for the CLI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optout/parquet.h"

static void usage(FILE *o) {
    fputs("usage: parquet_tool dump FILE\n"
          "       parquet_tool schema FILE\n"
          "       parquet_tool filter IN OUT [--drop ROWS] [--drop-every K] [--codec zstd|snappy|gzip|lz4|none]\n"
          "                   [--level N] [--removed-col AGENTS]\n"
          "\n"
          "dump: JSON Lines, one object per row, top-level columns in schema order. Strings (STRING, ENUM,\n"
          "  JSON) as JSON strings; a byte that is not part of valid UTF-8 is written as \\ufffd (as in every\n"
          "  JSON optout writes). BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY without a string type: base64 (standard\n"
          "  alphabet, padded). Integers as numbers (unsigned types unsigned); TIMESTAMP and TIME as the\n"
          "  integer in their unit; DATE as integer days; INT96 as integer nanoseconds since 1970 (UTC);\n"
          "  DECIMAL as its unscaled integer (base64 above 16 bytes); FLOAT, DOUBLE and FLOAT16 with %.17g\n"
          "  (NaN and infinities as the strings \"NaN\", \"Infinity\", \"-Infinity\"); booleans; null;\n"
          "  structs as objects; lists and repeated fields as arrays; maps with string keys as objects,\n"
          "  other maps as arrays of {\"key\":K,\"value\":V}.\n"
          "schema: one line per leaf column: path TAB physical TAB logical TAB repetition; then one line\n"
          "  per key-value metadata entry: kv TAB key.\n"
          "filter: copies IN to OUT with the project's writer, dropping the listed global rows (0-based,\n"
          "  comma-separated) and/or every row whose number is a multiple of K; --removed-col appends the\n"
          "  disallowed_user_agents column holding the comma-separated AGENTS on every row.\n"
          "Exit status: 0 ok, 1 error (message on stderr), 2 usage.\n",
          o);
}

static int emit_line(void *ctx, const char *json, size_t len) {
    (void)ctx;
    fwrite(json, 1, len, stdout);
    putchar('\n');
    return ferror(stdout) ? 1 : 0;
}

static int cmd_dump(const char *path) {
    char err[1024];
    optout_pq_file *f = optout_pq_open(path, err, sizeof err);
    if (!f) {
        fprintf(stderr, "parquet_tool: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int g = 0; g < optout_pq_num_row_groups(f) && rc == 0; g++) {
        int r = optout_pq_row_group_json(f, g, emit_line, NULL, err, sizeof err);
        if (r < 0) fprintf(stderr, "parquet_tool: %s\n", err);
        else if (r > 0) fprintf(stderr, "parquet_tool: writing stdout: %s\n", strerror(errno));
        if (r) rc = 1;
    }
    optout_pq_close(f);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}

static int cmd_schema(const char *path) {
    char err[1024];
    optout_pq_file *f = optout_pq_open(path, err, sizeof err);
    if (!f) {
        fprintf(stderr, "parquet_tool: %s\n", err);
        return 1;
    }
    char line[2048];
    for (int i = 0; i < optout_pq_num_columns(f); i++) {
        optout_pq_column_describe(f, i, line, sizeof line);
        puts(line);
    }
    for (int i = 0; i < optout_pq_num_kv(f); i++) {
        const char *k;
        const uint8_t *v;
        size_t vl;
        optout_pq_kv(f, i, &k, &v, &vl);
        printf("kv\t%s\n", k);
    }
    optout_pq_close(f);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int parse_u64(const char *s, unsigned long long *v) {
    char *end;
    errno = 0;
    if (!*s || *s == '-') return -1;
    *v = strtoull(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static int cmp_u64(const void *a, const void *b) {
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return x < y ? -1 : x > y;
}

static int cmd_filter(int argc, char **argv) {
    const char *in = argv[0], *out = argv[1];
    unsigned long long *drop = NULL, every = 0;
    size_t ndrop = 0;
    const char *codec_name = "zstd", *agents = NULL;
    int have_level = 0, level_req = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--drop") == 0) {
            char *copy = strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                unsigned long long x;
                if (parse_u64(t, &x) < 0) {
                    fprintf(stderr, "parquet_tool: --drop: bad row number '%s'\n", t);
                    free(copy);
                    free(drop);
                    return 2;
                }
                drop = realloc(drop, (ndrop + 1) * sizeof *drop);
                drop[ndrop++] = x;
            }
            free(copy);
        } else if (strcmp(a, "--drop-every") == 0) {
            if (parse_u64(v, &every) < 0 || every == 0) {
                fprintf(stderr, "parquet_tool: --drop-every: a positive integer, not '%s'\n", v);
                free(drop);
                return 2;
            }
        } else if (strcmp(a, "--codec") == 0) {
            codec_name = v;
        } else if (strcmp(a, "--level") == 0) {
            char *end;
            level_req = (int)strtol(v, &end, 10);
            if (*end || !*v) {
                fprintf(stderr, "parquet_tool: --level: not an integer: '%s'\n", v);
                free(drop);
                return 2;
            }
            have_level = 1;
        } else if (strcmp(a, "--removed-col") == 0) {
            agents = v;
        } else {
            usage(stderr);
            free(drop);
            return 2;
        }
    }
    char err[1024];
    optout_pq_write_opts opts = {0};
    if (optout_pq_codec_parse(codec_name, &opts.codec) < 0) {
        fprintf(stderr, "parquet_tool: --codec: unknown codec '%s'\n", codec_name);
        free(drop);
        return 2;
    }
    if (optout_pq_codec_level(opts.codec, have_level ? &level_req : NULL, &opts.level, err, sizeof err) < 0) {
        fprintf(stderr, "parquet_tool: --level: %s\n", err);
        free(drop);
        return 2;
    }
    opts.agents_column = agents != NULL;
    /* the agents list, the same on every kept row */
    char *acopy = agents ? strdup(agents) : NULL;
    const char **names = NULL;
    size_t nnames = 0;
    if (acopy) {
        char *save = NULL;
        for (char *t = strtok_r(acopy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            names = realloc(names, (nnames + 1) * sizeof *names);
            names[nnames++] = t;
        }
    }
    if (ndrop) qsort(drop, ndrop, sizeof *drop, cmp_u64);
    int rc = 1;
    optout_pq_writer *w = NULL;
    uint8_t *keep = NULL;
    optout_pq_agents *ag = NULL;
    optout_pq_file *f = optout_pq_open(in, err, sizeof err);
    if (!f) goto fail;
    w = optout_pq_writer_open(out, f, &opts, err, sizeof err);
    if (!w) goto fail;
    unsigned long long base = 0;
    size_t di = 0;
    for (int g = 0; g < optout_pq_num_row_groups(f); g++) {
        int64_t rows = optout_pq_row_group_rows(f, g);
        free(keep);
        free(ag);
        keep = calloc((size_t)rows / 8 + 1, 1);
        ag = calloc((size_t)rows + 1, sizeof *ag);
        if (!keep || !ag) {
            snprintf(err, sizeof err, "out of memory");
            goto fail;
        }
        size_t nkept = 0;
        for (int64_t r = 0; r < rows; r++) {
            unsigned long long gr = base + (unsigned long long)r;
            int dropped = every && gr % every == 0;
            while (di < ndrop && drop[di] < gr) di++;
            if (di < ndrop && drop[di] == gr) dropped = 1;
            if (!dropped) {
                keep[r / 8] |= (uint8_t)(1u << (r % 8));
                ag[nkept].names = names;
                ag[nkept].n = nnames;
                nkept++;
            }
        }
        if (optout_pq_writer_row_group(w, g, keep, ag, err, sizeof err) < 0) goto fail;
        base += (unsigned long long)rows;
    }
    rc = optout_pq_writer_finish(w, err, sizeof err) < 0 ? 1 : 0;
    w = NULL;
    if (rc) goto fail;
    goto done;
fail:
    fprintf(stderr, "parquet_tool: %s\n", err);
    if (w) {
        optout_pq_writer_abort(w);
        unlink(out);
    }
done:
    optout_pq_close(f);
    free(keep);
    free(ag);
    free(names);
    free(acopy);
    free(drop);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "dump") == 0) return cmd_dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "schema") == 0) return cmd_schema(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "filter") == 0) return cmd_filter(argc - 2, argv + 2);
    usage(stderr);
    return 2;
}
