/* fuzz_doctime.c — libFuzzer target for a document's time (common/history.c): crawl ids found in
 * any text, ISO 8601 dates, the crawl week's Monday, --robots-time values.
 * Invariants: a crawl found is 15 bytes of the input itself, its Monday is a Monday (00:00 UTC)
 * within its year's ISO weeks; a parsed day (10 bytes) prints back as the same day; a document's
 * time is its date when that parses, else its crawl's Monday, else none; a --robots-time value
 * that parses names a policy whose name it starts with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_target.h"
#include "optout/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    char crawl[OPTOUT_HISTORY_CRAWL_MAX];
    if (optout_history_find_crawl(s, size, crawl)) {
        CHECK(strlen(crawl) == 15 && memmem(s, size, crawl, 15) != NULL);
        int64_t monday;
        CHECK(optout_history_crawl_monday(crawl, &monday) == 0);
        CHECK(monday % 86400 == 0);
        time_t tt = (time_t)monday;
        struct tm tm;
        CHECK(gmtime_r(&tt, &tm) && tm.tm_wday == 1);
        int year = atoi(crawl + 8);
        CHECK(tm.tm_year + 1900 == year || tm.tm_year + 1900 == year - 1); /* week 1 may start in December */
    } else {
        CHECK(crawl[0] == '\0');
    }
    int64_t t;
    int dated = optout_history_parse_time(s, size, &t) == 0;
    if (dated && size == 10) {
        time_t tt = (time_t)t;
        struct tm tm;
        char back[32];
        CHECK(t % 86400 == 0 && gmtime_r(&tt, &tm));
        CHECK(snprintf(back, sizeof back, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) == 10);
        CHECK(memcmp(back, s, 10) == 0);
    }
    optout_doc_time dt;
    optout_history_doc_time(s, size, s, size, &dt);
    CHECK(dt.has_time == (dated || dt.crawl[0]));
    CHECK(!dated || (dt.time == t && !dt.time_from_crawl));
    char *z = malloc(size + 1);
    if (!z) return 0;
    memcpy(z, data, size);
    z[size] = '\0';
    optout_robots_time_spec spec;
    if (optout_robots_time_parse(z, &spec) == 0) {
        const char *name = optout_robots_time_name(spec.policy);
        CHECK(strncmp(z, name, strlen(name)) == 0);
    }
    free(z);
    return 0;
}
