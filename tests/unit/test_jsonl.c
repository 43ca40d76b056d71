/* test_jsonl.c — field extraction from JSON Lines documents (include/optout/jsonl.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include "optout/json.h"
#include "optout/jsonl.h"

static const char *const PATHS[] = {"url", "metadata.url", "language", "token_count", "text"};
enum { URL, META_URL, LANGUAGE, TOKENS, TEXT, NPATHS };

static int extract(const char *line, optout_json_value *out) {
    optout_json_fields *f = optout_json_fields_new(PATHS, NPATHS);
    assert_non_null(f);
    int rc = optout_json_extract(f, line, strlen(line), out);
    optout_json_fields_free(f);
    return rc;
}

static void assert_value(const optout_json_value *v, const char *want) {
    assert_true(v->present);
    if (v->len != strlen(want) || memcmp(v->s, want, v->len) != 0)
        fail_msg("value '%.*s', want '%s'", (int)v->len, v->s, want);
}

static void finds_top_level_fields(void **state) {
    (void)state;
    optout_json_value v[NPATHS];
    assert_int_equal(extract("{\"text\": \"hi\", \"url\": \"https://a.com/x\", \"language\": \"en\", "
                             "\"token_count\": 42}",
                             v),
                     0);
    assert_value(&v[URL], "https://a.com/x");
    assert_value(&v[LANGUAGE], "en");
    assert_value(&v[TOKENS], "42");
    assert_false(v[TOKENS].is_string);
    assert_value(&v[TEXT], "hi");
    assert_false(v[META_URL].present);
}

static void finds_nested_metadata(void **state) {
    (void)state;
    optout_json_value v[NPATHS];
    assert_int_equal(extract("{\"id\":\"1\",\"metadata\":{\"a\":[1,{\"url\":\"no\"}],\"url\":\"http://b.org/\"},"
                             "\"text\":\"t\"}",
                             v),
                     0);
    assert_value(&v[META_URL], "http://b.org/");
    assert_false(v[URL].present);
}

static void skips_strings_with_braces_and_escaped_quotes(void **state) {
    (void)state;
    optout_json_value v[NPATHS];
    assert_int_equal(extract("{\"text\":\"a \\\"quoted\\\" } { [ text\\\\\",\"url\":\"u\"}", v), 0);
    assert_value(&v[URL], "u");
    assert_true(v[TEXT].has_escapes);
}

static void last_duplicate_key_wins(void **state) {
    (void)state;
    optout_json_value v[NPATHS];
    assert_int_equal(extract("{\"url\":\"first\",\"url\":\"second\"}", v), 0);
    assert_value(&v[URL], "second");
}

static void rejects_what_is_not_one_object(void **state) {
    (void)state;
    optout_json_value v[NPATHS];
    const char *bad[] = {"", "   ", "[1,2]", "\"str\"", "{\"url\":\"x\"", "{\"url\" \"x\"}", "{\"url\":\"x\",}",
                         "{\"url\":\"x\"} trailing", "{url:\"x\"}", "{\"a\":[1,2}", "not json at all",
                         "{\"a\":\"unterminated}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (extract(bad[i], v) != -1) fail_msg("accepted: %s", bad[i]);
    assert_false(v[URL].present);
}

static void accepts_whitespace_and_crlf(void **state) {
    (void)state;
    optout_json_value v[NPATHS];
    assert_int_equal(extract("  {\"url\" :\t\"x\" }\r", v), 0);
    assert_value(&v[URL], "x");
    assert_int_equal(extract("{}", v), 0);
    assert_false(v[URL].present);
}

static void limits_nesting_depth(void **state) {
    (void)state;
    char deep[4 * OPTOUT_JSON_MAX_DEPTH + 64];
    size_t n = 0;
    n += (size_t)sprintf(deep + n, "{\"a\":");
    for (int i = 0; i < OPTOUT_JSON_MAX_DEPTH + 5; i++) deep[n++] = '[';
    for (int i = 0; i < OPTOUT_JSON_MAX_DEPTH + 5; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    optout_json_value v[NPATHS];
    assert_int_equal(extract(deep, v), -1);
}

static void unescapes_strings(void **state) {
    (void)state;
    const char *raw = "a\\/b\\n\\u00e9\\ud83d\\ude00\\\"";
    char out[64];
    size_t n = optout_json_unescape(raw, strlen(raw), out);
    const char *want = "a/b\n\xc3\xa9\xf0\x9f\x98\x80\"";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    const char *lone = "\\ud800x";
    n = optout_json_unescape(lone, strlen(lone), out);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\xef\xbf\xbdx", 4);
}

static void counts_bytes_and_code_points(void **state) {
    (void)state;
    uint64_t bytes, chars;
    const char *raw = "h\xc3\xa9llo \\u00e9\\ud83d\\ude00\\n";
    optout_json_text_size(raw, strlen(raw), &bytes, &chars);
    /* h é l l o ' ' é 😀 \n : 1+2+1+1+1+1+2+4+1 bytes, 9 code points */
    assert_int_equal(bytes, 14);
    assert_int_equal(chars, 9);
    const char *invalid = "a\xff\xfe" "b";
    optout_json_text_size(invalid, strlen(invalid), &bytes, &chars);
    assert_int_equal(bytes, 4);
    assert_int_equal(chars, 4);
}

static void rejects_bad_paths(void **state) {
    (void)state;
    const char *const bad1[] = {""};
    const char *const bad2[] = {"a..b"};
    const char *const bad3[] = {".a"};
    assert_null(optout_json_fields_new(bad1, 1));
    assert_null(optout_json_fields_new(bad2, 1));
    assert_null(optout_json_fields_new(bad3, 1));
}

/* The one JSON string writer: always valid JSON, whatever the bytes; and what it writes decodes
 * back to the text (optout_json_unescape) when the text is valid UTF-8. */
static void writes_json_strings(void **state) {
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"a\"b\\c/", 6, "\"a\\\"b\\\\c/\""},
        {"l1\nl2\r\t", 7, "\"l1\\nl2\\r\\t\""},
        {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""},
        {"nul\0x", 5, "\"nul\\u0000x\""},
        {"caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
        {"bad\xff\xc3(", 6, "\"bad\\ufffd\\ufffd(\""},       /* stray byte, truncated sequence */
        {"\xc0\xaf\xed\xa0\x80", 5, "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong, surrogate */
        {"\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  /* past U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        assert_non_null(f);
        optout_json_put_stringn(f, cases[i].in, cases[i].len);
        assert_int_equal(fclose(f), 0);
        if (strcmp(out, cases[i].want) != 0) fail_msg("case %zu: got %s, want %s", i, out, cases[i].want);
        /* the buffer writer gives the same bytes, within its stated bound */
        char buf[OPTOUT_JSON_STRING_MAX(16)];
        size_t n = optout_json_string(buf, cases[i].in, cases[i].len);
        assert_true(n <= OPTOUT_JSON_STRING_MAX(cases[i].len));
        assert_int_equal(n, len);
        assert_memory_equal(buf, out, n);
        free(out);
    }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    optout_json_put_string(f, NULL);
    fputc(' ', f);
    optout_json_put_string(f, "x\ty");
    assert_int_equal(fclose(f), 0);
    assert_string_equal(out, "null \"x\\ty\"");
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_top_level_fields),
        cmocka_unit_test(finds_nested_metadata),
        cmocka_unit_test(skips_strings_with_braces_and_escaped_quotes),
        cmocka_unit_test(last_duplicate_key_wins),
        cmocka_unit_test(rejects_what_is_not_one_object),
        cmocka_unit_test(accepts_whitespace_and_crlf),
        cmocka_unit_test(limits_nesting_depth),
        cmocka_unit_test(unescapes_strings),
        cmocka_unit_test(counts_bytes_and_code_points),
        cmocka_unit_test(rejects_bad_paths),
        cmocka_unit_test(writes_json_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
