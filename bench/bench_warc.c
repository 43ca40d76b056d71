/* bench_warc.c — WARC scanning speed: every record of every file through the WARC reader
 * (include/optout/warc.h), on one thread, as `optout history` reads them (bench/warc.sh runs it).
 *
 *   bench_warc FILE...
 *
 * Prints one line: files, compressed bytes, decompressed bytes, records, HTTP responses, body bytes,
 * bad records, seconds (CLOCK_MONOTONIC, reading included) and MB/s of compressed input. The
 * record callback reads every body byte (a checksum), so that nothing the reader hands out is
 * left untouched. Exit 1 when a file cannot be read.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "optout/warc.h"

typedef struct {
    uint64_t body_bytes, sum;
} tally;

static int on_record(const optout_warc_record *rec, void *arg) {
    tally *t = arg;
    t->body_bytes += rec->body_len;
    for (size_t i = 0; i < rec->body_len; i++) t->sum += (unsigned char)rec->body[i];
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_warc FILE...\n");
        return 2;
    }
    tally t = {0};
    optout_warc_counts total = {0};
    uint64_t bad = 0;
    double start = now();
    for (int i = 1; i < argc; i++) {
        optout_warc_counts c;
        char err[512];
        if (optout_warc_read_file(argv[i], on_record, NULL, &t, &c, err, sizeof err) != 0) {
            fprintf(stderr, "bench_warc: %s\n", err);
            return 1;
        }
        total.bytes_in += c.bytes_in;
        total.bytes_out += c.bytes_out;
        total.records += c.records;
        total.responses += c.responses;
        for (int k = 0; k < OPTOUT_WARC_BAD_COUNT; k++) bad += c.bad[k];
    }
    double secs = now() - start;
    printf("files %d compressed %llu decompressed %llu records %llu responses %llu body_bytes %llu bad %llu "
           "seconds %.3f MB/s %.1f (checksum %llu)\n",
           argc - 1, (unsigned long long)total.bytes_in, (unsigned long long)total.bytes_out,
           (unsigned long long)total.records, (unsigned long long)total.responses, (unsigned long long)t.body_bytes,
           (unsigned long long)bad, secs, secs > 0 ? (double)total.bytes_in / secs / 1e6 : 0.0,
           (unsigned long long)(t.sum & 0xffff));
    return 0;
}
