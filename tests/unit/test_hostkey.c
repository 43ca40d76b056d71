/* test_hostkey.c — URL to host key (include/optout/hostkey.h), one case per rule of docs/robots.md and the host-key contract in hostkey.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "optout/hostkey.h"

static void expect_key(const char *url, const char *want, int want_bad_idna) {
    char key[OPTOUT_HOSTKEY_MAX];
    size_t len;
    int bad;
    optout_hostkey_status st = optout_hostkey(url, strlen(url), OPTOUT_HOSTKEY_CANONICAL, key, &len, &bad);
    if (st != OPTOUT_HOSTKEY_OK) fail_msg("%s: status %d", url, st);
    if (strcmp(key, want) != 0) fail_msg("%s: key '%s', want '%s'", url, key, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(bad, want_bad_idna);
}

static void expect_status(const char *url, optout_hostkey_status want) {
    char key[OPTOUT_HOSTKEY_MAX];
    size_t len;
    int bad;
    optout_hostkey_status st = optout_hostkey(url, strlen(url), OPTOUT_HOSTKEY_CANONICAL, key, &len, &bad);
    if (st != want) fail_msg("%s: status %d, want %d", url, st, want);
}

static void lower_cases_and_drops_userinfo(void **state) {
    (void)state;
    expect_key("https://User:pw@WWW.Example.COM/x", "www.example.com", 0);
}
static void drops_trailing_dot(void **state) {
    (void)state;
    expect_key("http://example.com./a", "example.com", 0);
}
static void default_ports_dropped_others_kept(void **state) {
    (void)state;
    expect_key("http://example.com:80/", "example.com", 0);
    expect_key("https://example.com:443/", "example.com", 0);
    expect_key("http://example.com:8080/a", "example.com:8080", 0);
    expect_key("http://example.com:443/", "example.com:443", 0);
}
static void same_key_for_http_and_https(void **state) {
    (void)state;
    expect_key("http://example.com/a", "example.com", 0);
    expect_key("https://example.com/b", "example.com", 0);
}
static void idn_to_punycode(void **state) {
    (void)state;
    expect_key("https://bücher.de/x", "xn--bcher-kva.de", 0);
    expect_key("https://BÜCHER.de/x", "xn--bcher-kva.de", 0);
    expect_key("https://例え.テスト/", "xn--r8jz45g.xn--zckzah", 0);
}
static void idna2008_non_transitional(void **state) {
    (void)state;
    /* IDNA2003/transitional would map ß to "ss" (fass.de) */
    expect_key("https://faß.de/", "xn--fa-hia.de", 0);
}
static void percent_encoded_host_decoded(void **state) {
    (void)state;
    expect_key("http://%62%C3%BCcher.de/", "xn--bcher-kva.de", 0);
    expect_key("http://ex%61mple.com/", "example.com", 0);
}
static void bad_idna_falls_back_to_raw_host(void **state) {
    (void)state;
    /* symbols (U+2603 SNOWMAN, U+2318) are disallowed by IDNA2008 (IDNA2003 allowed them) */
    expect_key("http://\xe2\x98\x83-\xe2\x8c\x98.COM/", "\xe2\x98\x83-\xe2\x8c\x98.com", 1);
    /* a zero-width joiner outside its allowed context */
    expect_key("http://a\xe2\x80\x8d" "b.com/", "a\xe2\x80\x8d" "b.com", 1);
}
static void ipv6_keeps_brackets(void **state) {
    (void)state;
    expect_key("http://[2001:DB8::1]:8080/", "[2001:db8::1]:8080", 0);
    expect_key("http://[::1]/", "[::1]", 0);
}
static void urls_without_host(void **state) {
    (void)state;
    expect_status("file:///etc/passwd", OPTOUT_HOSTKEY_NO_HOST);
    expect_status("http:///x", OPTOUT_HOSTKEY_NO_HOST);
}
static void unparsable_urls(void **state) {
    (void)state;
    expect_status("no scheme here", OPTOUT_HOSTKEY_BAD_URL);
    expect_status("mailto:someone@example.com", OPTOUT_HOSTKEY_BAD_URL);
    expect_status("http://ex ample.com/", OPTOUT_HOSTKEY_BAD_URL);
    char with_nul[] = "http://a.com/\0x";
    char key[OPTOUT_HOSTKEY_MAX];
    size_t len;
    int bad;
    assert_int_equal(optout_hostkey(with_nul, sizeof with_nul - 1, OPTOUT_HOSTKEY_CANONICAL, key, &len, &bad),
                     OPTOUT_HOSTKEY_BAD_URL);
}
static void netloc_mode_is_raw(void **state) {
    (void)state;
    char key[OPTOUT_HOSTKEY_MAX];
    size_t len;
    int bad;
    const char *url = "https://User@WWW.Example.com:443/path?q";
    assert_int_equal(optout_hostkey(url, strlen(url), OPTOUT_HOSTKEY_NETLOC, key, &len, &bad), OPTOUT_HOSTKEY_OK);
    assert_string_equal(key, "User@WWW.Example.com:443");
    optout_hostkey_mode mode;
    assert_int_equal(optout_hostkey_mode_parse("netloc", &mode), 0);
    assert_int_equal(mode, OPTOUT_HOSTKEY_NETLOC);
    assert_int_equal(optout_hostkey_mode_parse("bogus", &mode), -1);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lower_cases_and_drops_userinfo), cmocka_unit_test(drops_trailing_dot),
        cmocka_unit_test(default_ports_dropped_others_kept), cmocka_unit_test(same_key_for_http_and_https),
        cmocka_unit_test(idn_to_punycode), cmocka_unit_test(idna2008_non_transitional),
        cmocka_unit_test(percent_encoded_host_decoded), cmocka_unit_test(bad_idna_falls_back_to_raw_host),
        cmocka_unit_test(ipv6_keeps_brackets), cmocka_unit_test(urls_without_host),
        cmocka_unit_test(unparsable_urls), cmocka_unit_test(netloc_mode_is_raw),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
