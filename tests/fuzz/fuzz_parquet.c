/* fuzz_parquet.c — libFuzzer target for the Parquet footer and page decoders.
 *
 * Input layout: byte 0 selects what the rest is:
 *   0  a whole file, opened through /proc/self/fd/N of a memfd: every row group rendered as JSON
 *      (every page of every column decoded), then filtered through the writer (every other row
 *      kept) into a temporary file, which must open and render again with the kept rows only
 *   1  a FileMetaData footer given to the Thrift decoder directly
 *   2  a page header
 *   3  value decoders: byte 1 picks the encoding and width, the rest is the page body
 *   4  an Arrow IPC Schema message (as bytes; base64-encoded here) given to the ARROW:schema
 *      rewrite, whose output, when it succeeds, must be base64 of a message holding the input's
 *      FlatBuffer unchanged
 *
 * Invariants (abort on violation): no crash, leak or out-of-bounds access (the sanitizers); a
 * failure always comes with a message naming the file; the writer's output of a readable file is
 * readable and holds exactly the kept rows' JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_target.h"
#include "optout/parquet.h"
#include "parquet_internal.h"

static int collect(void *ctx, const char *json, size_t len) {
    pq_buf *b = ctx;
    pq_buf_put(b, json, len);
    pq_buf_byte(b, '\n');
    return 0;
}

/* All rows as JSON lines, or -1. */
static int render(const char *path, pq_buf *out, int every_other) {
    char err[1024];
    optout_pq_file *f = optout_pq_open(path, err, sizeof err);
    if (!f) {
        CHECK(strstr(err, path) != NULL);
        return -1;
    }
    int rc = 0;
    int64_t total = 0;
    for (int g = 0; g < optout_pq_num_row_groups(f) && rc == 0; g++) {
        pq_buf one = {0};
        rc = optout_pq_row_group_json(f, g, collect, &one, err, sizeof err);
        if (rc) CHECK(strstr(err, path) != NULL);
        /* every other row of the file, counted across row groups */
        for (size_t i = 0; rc == 0 && i < one.len;) {
            uint8_t *nl = memchr(one.data + i, '\n', one.len - i);
            size_t n = (size_t)(nl - one.data) + 1 - i;
            if (!every_other || total % 2 == 1) pq_buf_put(out, one.data + i, n);
            total++;
            i += n;
        }
        pq_buf_free(&one);
    }
    optout_pq_close(f);
    return rc ? -1 : 0;
}

/* The writer's output: a file of this process's own (the writer refuses to write through a link,
 * which /proc/self/fd/N is), on a tmpfs when there is one; removed at exit. */
static char opath[64];
static void remove_output(void) { unlink(opath); }

static void fuzz_file(const uint8_t *data, size_t size) {
    int fd = memfd_create("in.parquet", 0);
    CHECK(fd >= 0);
    CHECK(write(fd, data, size) == (ssize_t)size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (!opath[0]) {
        snprintf(opath, sizeof opath, "%s",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm/fuzz_parquet.XXXXXX" : "/tmp/fuzz_parquet.XXXXXX");
        int ofd = mkstemp(opath);
        CHECK(ofd >= 0);
        close(ofd);
        atexit(remove_output);
    }
    pq_buf all = {0};
    if (render(path, &all, 1) == 0) {
        char err[1024];
        optout_pq_file *f = optout_pq_open(path, err, sizeof err);
        CHECK(f != NULL);
        optout_pq_write_opts o = {.codec = OPTOUT_PQ_CODEC_SNAPPY};
        optout_pq_writer *w = optout_pq_writer_open(opath, f, &o, err, sizeof err);
        CHECK(w != NULL);
        int64_t base = 0;
        int ok = 1;
        for (int g = 0; g < optout_pq_num_row_groups(f) && ok; g++) {
            int64_t rows = optout_pq_row_group_rows(f, g);
            uint8_t *keep = calloc((size_t)rows / 8 + 1, 1);
            CHECK(keep != NULL);
            for (int64_t r = 0; r < rows; r++)
                if ((base + r) % 2 == 1) keep[r / 8] |= (uint8_t)(1u << (r % 8));
            ok = optout_pq_writer_row_group(w, g, keep, NULL, err, sizeof err) == 0;
            free(keep);
            base += rows;
        }
        if (ok) {
            CHECK(optout_pq_writer_finish(w, err, sizeof err) == 0);
            pq_buf back = {0};
            CHECK(render(opath, &back, 0) == 0);
            CHECK(back.len == all.len && (all.len == 0 || memcmp(back.data, all.data, all.len) == 0));
            pq_buf_free(&back);
        } else {
            optout_pq_writer_abort(w);
        }
        optout_pq_close(f);
    }
    pq_buf_free(&all);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char err[1024];
    int mode = data[0] % 5;
    data++;
    size--;
    if (mode == 0) {
        fuzz_file(data, size);
    } else if (mode == 1) {
        uint8_t *copy = malloc(size + 1);
        CHECK(copy != NULL);
        if (size) memcpy(copy, data, size);
        pq_file_meta m;
        pq_meta_decode(&m, copy, size, err, sizeof err);
        pq_meta_free(&m); /* the decoder owns the buffer, success or not */
    } else if (mode == 2) {
        pq_page_header h;
        size_t hl;
        int r = pq_page_header_decode(&h, data, size, &hl, err, sizeof err);
        if (r == 0) CHECK(hl <= size);
    } else if (mode == 4) {
        pq_buf b64 = {0}, out = {0}, back = {0};
        pq_base64_encode(&b64, data, size);
        if (pq_arrow_schema_add_list(b64.data, b64.len, "disallowed_user_agents", &out) == 0) {
            CHECK(pq_base64_decode(&back, out.data, out.len) == 0);
            CHECK(back.len >= 8 && memcmp(back.data, "\xff\xff\xff\xff", 4) == 0);
        }
        pq_buf_free(&b64);
        pq_buf_free(&out);
        pq_buf_free(&back);
    } else if (size >= 1) {
        int enc = data[0] & 7, width = (data[0] >> 3) & 31;
        data++;
        size--;
        uint32_t n = size < 4096 ? (uint32_t)size * 2 + 3 : 8192;
        uint32_t *u = malloc(((size_t)n + 1) * sizeof *u);
        uint8_t *fx = malloc((size_t)n * 12 + 1);
        pq_bytes *ba = malloc(((size_t)n + 1) * sizeof *ba);
        uint8_t *arena = NULL;
        size_t used;
        CHECK(u && fx && ba);
        switch (enc) {
        case 0: pq_rle_decode(data, size, width, n, u, width ? (1 << (width - 1)) : -1, err, sizeof err); break;
        case 1:
            pq_decode_delta_binary(data, size, width & 1 ? PQ_INT64 : PQ_INT32, n, fx, &used, err, sizeof err);
            break;
        case 2: pq_decode_delta_length(data, size, n / 4, ba, err, sizeof err); break;
        case 3:
            if (pq_decode_delta_byte_array(data, size, n / 4, ba, &arena, err, sizeof err) == 0) free(arena);
            break;
        case 4: pq_decode_byte_stream_split(data, size, width % 12 + 1, n / 8, fx, err, sizeof err); break;
        case 5: pq_decode_plain_ba(data, size, n / 4, ba, err, sizeof err); break;
        case 6: pq_bitpacked_msb_decode(data, size, width, n / 3, u, &used, err, sizeof err); break;
        default: pq_decode_plain_fixed(data, size, PQ_BOOLEAN, 1, n, fx, err, sizeof err);
        }
        free(u);
        free(fx);
        free(ba);
    }
    return 0;
}
