/* options.c — the option table and its parser (include/optout/options.h).
 *
 * The table is the one list of these programs' options: getopt_long's table, --help's option list,
 * the defaults of --check-config and the keys a configuration file may set are made from it, so
 * an option added here is parsed, documented and configurable everywhere at once. Modelled on
 * Redis's config.c (a row per setting: name, type, bounds, default).
 */
#include "optout/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "optout/config.h"
#include "optout/history.h"
#include "optout/log.h"
#include "optout/memory.h"
#include "optout/msg.h"
#include "optout/ccsource.h"
#include "optout/parse.h"
#include "optout/policy.h"
#include "optout/rank.h"
#include "optout/util.h"
#include "optout/version.h"
#include "optout/wayback.h"

#define B OPTOUT_PROG_BROKER
#define R OPTOUT_PROG_RUN
#define F OPTOUT_PROG_FILTER
#define K OPTOUT_PROG_RANK
#define FE OPTOUT_PROG_FETCH
#define W OPTOUT_PROG_WORKER
#define H OPTOUT_PROG_HISTORY

/* ---- the checks of values that are neither numbers nor choices ----------------------------- */

static int check_sample(const char *v, char *err, size_t errlen) {
    uint32_t ppm;
    if (optout_sample_parse(v, &ppm) == 0) return 0;
    optout_set_err(err, errlen, "expected a fraction P with 0 < P <= 1, got '%.200s'", v);
    return -1;
}

/* robots.txt as it was (history.h): a policy, a day */
static int check_robots_time(const char *v, char *err, size_t errlen) {
    optout_robots_time_spec spec;
    if (optout_robots_time_parse(v, &spec) == 0) return 0;
    optout_set_err(err, errlen, "expected current, crawl, cutoff:YYYY-MM-DD or strictest, got '%.200s'", v);
    return -1;
}

static int check_day(const char *v, char *err, size_t errlen) {
    int64_t t;
    if (strlen(v) == 10 && optout_history_parse_time(v, 10, &t) == 0) return 0;
    optout_set_err(err, errlen, "expected a day YYYY-MM-DD, got '%.200s'", v);
    return -1;
}

static int check_connect_to(const char *v, char *err, size_t errlen) {
    const char *colon = strrchr(v, ':');
    uint64_t port;
    char perr[8];
    if (colon && colon != v && strlen(v) < OPTOUT_MSG_NAME_MAX &&
        optout_parse_number(colon + 1, 1, 65535, &port, perr, sizeof perr) == 0)
        return 0;
    optout_set_err(err, errlen, "expected HOST:PORT, got '%.200s'", v);
    return -1;
}

/* A header value: one line, not empty. */
static int check_user_agent(const char *v, char *err, size_t errlen) {
    if (v[0] && !strpbrk(v, "\r\n")) return 0;
    optout_set_err(err, errlen, "expected a non-empty single line");
    return -1;
}

int optout_option_seconds_ms(const char *text, long *ms, char *err, size_t errlen) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || !(v <= 86400) || optout_is_space(text[0])) {
        optout_set_err(err, errlen, "expected a positive number of seconds (at most 86400), got '%.200s'", text);
        return -1;
    }
    *ms = (long)(v * 1000.0 + 0.999); /* rounded up: 0.0001 s is 1 ms, not 0 (the default) */
    return 0;
}

static int check_seconds(const char *v, char *err, size_t errlen) {
    long ms;
    return optout_option_seconds_ms(v, &ms, err, errlen);
}

static int check_root(const char *v, char *err, size_t errlen) {
    const char *eq = strchr(v, '=');
    if (eq && eq != v && eq[1] == '/' && !memchr(v, '/', (size_t)(eq - v)) && (size_t)(eq - v) < OPTOUT_MSG_NAME_MAX)
        return 0;
    optout_set_err(err, errlen, "expected NAME=/ABSOLUTE/PATH (NAME without '/'), got '%.200s'", v);
    return -1;
}

static int check_worker_root(const char *v, char *err, size_t errlen) {
    const char *eq = strchr(v, '=');
    if (eq && eq != v && eq[1] && (size_t)(eq - v) < OPTOUT_MSG_NAME_MAX && strlen(eq + 1) < OPTOUT_MSG_PATH_MAX)
        return 0;
    optout_set_err(err, errlen, "expected NAME=PATH (NAME under %d bytes, PATH under %d), got '%.200s'",
                   OPTOUT_MSG_NAME_MAX, OPTOUT_MSG_PATH_MAX, v);
    return -1;
}

static int check_name(const char *v, char *err, size_t errlen) {
    if (v[0] && strlen(v) < OPTOUT_MSG_NAME_MAX) return 0;
    optout_set_err(err, errlen, "expected 1..%d bytes", OPTOUT_MSG_NAME_MAX - 1);
    return -1;
}

/* A budget that even one worker slot cannot live in is refused here, not by every worker. */
static int check_max_memory(const char *v, char *err, size_t errlen) {
    uint64_t bytes, slot;
    size_t cached;
    if (optout_memory_parse(v, &bytes, err, errlen) != 0) return -1;
    return optout_memory_plan(bytes, 1, &slot, &cached, err, errlen);
}

/* A file or directory the option names must exist: a typo in a path is a usage error, caught
 * before a run creates anything (a file that exists but cannot be read is the program's runtime
 * failure, reported when it opens it). */
static int check_existing(const char *v, int want_dir, char *err, size_t errlen) {
    struct stat st;
    if (stat(v, &st) != 0) {
        optout_set_err(err, errlen, "%.200s: %s", v, strerror(errno));
        return -1;
    }
    if (want_dir != !!S_ISDIR(st.st_mode)) {
        optout_set_err(err, errlen, "%.200s: %s", v, want_dir ? "not a directory" : "a directory, expected a file");
        return -1;
    }
    return 0;
}
static int check_file(const char *v, char *err, size_t errlen) { return check_existing(v, 0, err, errlen); }
static int check_dir(const char *v, char *err, size_t errlen) { return check_existing(v, 1, err, errlen); }

/* --cc-crawls: crawl ids, comma-separated (ccsource.h reads them), or "auto": the crawls a run's
 * survey finds (optout run and optout-broker check that they survey; optout history refuses it). */
static int check_cc_crawls(const char *v, char *err, size_t errlen) {
    return strcmp(v, "auto") == 0 ? 0 : optout_cc_crawls_parse(v, NULL, err, errlen);
}

/* --cc-base: an http(s) URL with a host, or a directory that exists. */
static int check_cc_base(const char *v, char *err, size_t errlen) {
    if (!optout_cc_is_url(v)) return check_existing(v, 1, err, errlen);
    const char *host = strstr(v, "://") + 3;
    if (*host && *host != '/') return 0;
    optout_set_err(err, errlen, "expected http(s)://HOST[/PATH] or a directory, got '%.200s'", v);
    return -1;
}
/* --wayback-base: an http(s) URL with a host; --wayback-rate: requests per second (wayback.h). */
static int check_wayback_base(const char *v, char *err, size_t errlen) {
    if (optout_cc_is_url(v) && strstr(v, "://")[3] && strstr(v, "://")[3] != '/') return 0;
    optout_set_err(err, errlen, "expected http(s)://HOST[:PORT][/PATH], got '%.200s'", v);
    return -1;
}
static int check_wayback_rate(const char *v, char *err, size_t errlen) {
    double r;
    if (optout_wayback_rate_parse(v, &r) == 0) return 0;
    optout_set_err(err, errlen, "expected requests per second, 0 < R <= 1000, got '%.200s'", v);
    return -1;
}
/* an input file, or "-" (standard input) */
static int check_input(const char *v, char *err, size_t errlen) {
    return strcmp(v, "-") == 0 ? 0 : check_existing(v, 0, err, errlen);
}

/* The password file is read once here, so that --check-config and FILE:LINE catch an unreadable
 * or world-readable one; the program reads it again when it starts. (The CURVE key needs libzmq to
 * decode: the broker checks it when it starts.) */
static int check_password_file(const char *v, char *err, size_t errlen) {
    char *pw = optout_read_secret_file(v);
    if (pw) {
        explicit_bzero(pw, strlen(pw));
        free(pw);
        return 0;
    }
    optout_set_err(err, errlen, "%s",
                   errno == EINVAL  ? "empty"
                   : errno == EPERM ? "readable by every user (chmod o-rwx)"
                                    : strerror(errno));
    return -2;
}

/* ---- the table ----------------------------------------------------------------------------- */

static const char *const MODES[] = {"rfc9309", "protego", NULL};
static const char *const HOST_KEYS[] = {"canonical", "netloc", NULL};
static const char *const UNREACHABLE[] = {"keep", "disallow", NULL};
static const char *const OUTPUTS[] = {"shards", "tags", NULL};
static const char *const GRANULARITIES[] = {"url", "host", "domain", NULL};
static const char *const METRICS[] = {"tokens", "bytes", "docs", NULL};
static const char *const SCHEMES[] = {"auto", "https", "http", NULL};
static const char *const STAGES[] = {"rank", "fetch", "history", "survey", "wayback", NULL};
static const char *const MISSING_URL[] = {"fail", "keep", NULL};
static const char *const OUTPUT_FORMATS[] = {"same", "jsonl", "parquet", NULL};
static const char *const PARQUET_CODECS[] = {"zstd", "snappy", "gzip", "lz4", "none", NULL};
static const char *const HISTORY_MISSING[] = {"current", "keep", "remove", NULL}; /* optout_history_missing */

#define ROW(n, i, t, p, a, d, lo, hi, ch, ck, h) {n, OPTOUT_OPT_##i, OPTOUT_OT_##t, p, a, d, lo, hi, ch, ck, h, 0, 0, 0}
#define SHORT(c, n, i, t, p, a, d, lo, hi, ck, h) \
    {n, OPTOUT_OPT_##i, OPTOUT_OT_##t, p, a, d, lo, hi, NULL, ck, h, 0, c, 0}
#define HIDDEN(n, i, t, p, a, h) {n, OPTOUT_OPT_##i, OPTOUT_OT_##t, p, a, NULL, 0, UINT64_MAX, NULL, NULL, h, 1, 0, 0}

/* In --help order. */
const optout_option optout_option_table[] = {
    /* what to run on */
    ROW("dir", DIR, STRING, B, "DIR", NULL, 0, 0, NULL, NULL, "the run directory (created when missing)"),
    ROW("out", RUN_OUT, STRING, R | K | FE | H, "DIR", NULL, 0, 0, NULL, NULL, "the run directory (created when missing)"),
    {"corpus", OPTOUT_OPT_CORPUS, OPTOUT_OT_LIST, B | R | K, "PATH|GLOB...", NULL, 0, 0, NULL, NULL,
     "input shards: paths or quoted globs ('**' included); several after one --corpus", 0, 0, 1},
    ROW("in", IN, STRING, F, "SHARD", NULL, 0, 0, NULL, check_input, "the input shard"),
    ROW("out", OUT, STRING, F, "SHARD", NULL, 0, 0, NULL, NULL, "the kept documents (.zst, .gz or plain by name)"),
    ROW("removed", REMOVED_SHARD, STRING, F, "SHARD", NULL, 0, 0, NULL, NULL, "the removed documents"),
    ROW("stats", STATS, STRING, F, "FILE|-", NULL, 0, 0, NULL, NULL, "the statistics as JSON (report.json's schema)"),
    ROW("robots-dir", ROBOTS_DIR, STRING, B | R | F, "DIR", NULL, 0, 0, NULL, check_dir,
        "a robots.txt snapshot, a file per host (nothing is fetched)"),
    ROW("archive", ARCHIVE, STRING, F, "DIR", NULL, 0, 0, NULL, check_dir,
        "a fetch archive (a run's robots/, optout fetch's)"),
    ROW("bind", BIND, LIST, B, "ENDPOINT", NULL, 0, 0, NULL, NULL, "also listen on tcp://ADDRESS:PORT (repeat)"),
    ROW("workers", WORKERS, NUMBER, R, "N", "(one per core)", 1, 256, NULL, NULL, "worker processes"),
    ROW("max-memory", MAX_MEMORY, BYTES, R | W, "BYTES", "(no limit)", 1, UINT64_MAX, NULL, check_max_memory,
        "each worker's memory budget (docs/policy.md)"),
    /* the decision */
    ROW("mode", MODE, CHOICE, B | R | F, NULL, "rfc9309", 0, 0, MODES, NULL, "how robots.txt is read"),
    ROW("agents-file", AGENTS_FILE, STRING, B | R | F, "FILE", "(the built-in Apertus list)", 0, 0, NULL, check_file,
        "the AI-training agents, one a line"),
    ROW("agent", AGENT, LIST, B | R | F, "NAME", NULL, 0, 0, NULL, NULL, "an agent (repeat; after the file's)"),
    ROW("host-key", HOST_KEY, CHOICE, B | R | F | K, NULL, "canonical", 0, 0, HOST_KEYS, NULL,
        "how a URL's host is keyed"),
    ROW("unreachable", UNREACHABLE, CHOICE, B | R | F, NULL, "keep", 0, 0, UNREACHABLE, NULL,
        "a host whose robots.txt could not be fetched"),
    ROW("granularity", GRANULARITY, CHOICE, B | R | F, NULL, "url", 0, 0, GRANULARITIES, NULL,
        "what a disallow removes (docs/policy.md)"),
    ROW("keep-hosts", KEEP_HOSTS, STRING, B | R | F, "FILE", "(none)", 0, 0, NULL, check_file,
        "hosts always kept (host keys or *.domain)"),
    ROW("remove-hosts", REMOVE_HOSTS, STRING, B | R | F, "FILE", "(none)", 0, 0, NULL, check_file,
        "hosts always removed (host keys or *.domain)"),
    ROW("sample", SAMPLE, STRING, B | R | F, "P", "(every document)", 0, 0, NULL, check_sample,
        "a deterministic sample, 0 < P <= 1: estimates only, no shard"),
    ROW("sample-shards", SAMPLE_SHARDS, FLAG, B | R, NULL, "false", 0, 0, NULL, NULL,
        "with --sample: also write the sampled documents, into DIR/sample/"),
    /* robots.txt as it was (docs/history.md) */
    ROW("robots-time", ROBOTS_TIME, STRING, B | R | F, "POLICY", "current", 0, 0, NULL, check_robots_time,
        "current, crawl, cutoff:YYYY-MM-DD or strictest (docs/history.md)"),
    ROW("history", HISTORY, STRING, B | R | F, "DIR", "(none)", 0, 0, NULL, check_dir,
        "a history archive (optout history --out DIR): robots.txt as it was"),
    ROW("history-max-age", HISTORY_MAX_AGE, NUMBER, B | R | F, "DAYS", "365", 0, 36500, NULL, NULL,
        "how old an earlier capture may be"),
    ROW("history-missing", HISTORY_MISSING, CHOICE, B | R | F, NULL, "current", 0, 0, HISTORY_MISSING, NULL,
        "a document without a capture or a time: today's robots.txt, keep or remove"),
    ROW("report-cutoff", REPORT_CUTOFF, STRING, B | R | F, "YYYY-MM-DD", OPTOUT_HISTORY_REPORT_CUTOFF_DEFAULT, 0, 0,
        NULL, check_day, "the report's cutoff column (unless --robots-time is cutoff:)"),
    ROW("policy-report", POLICY_REPORT, STRING, F, "FILE", "(none)", 0, 0, NULL, NULL,
        "with --history: the policies side by side (Markdown)"),
    ROW("policy-chart", POLICY_CHART, STRING, F, "FILE", "(none)", 0, 0, NULL, NULL,
        "with --history: per crawl, the share of tokens whose robots.txt then disallowed each agent (SVG)"),
    /* the outputs */
    ROW("removed", REMOVED, FLAG, B | R, NULL, "false", 0, 0, NULL, NULL, "also write the removed documents"),
    ROW("output", OUTPUT, CHOICE, B | R | F, NULL, "shards", 0, 0, OUTPUTS, NULL,
        "rewrite shards, or only list the removed documents (tags)"),
    ROW("level", LEVEL, NUMBER, B | R | F, "N", "3", 1, 19, NULL, NULL, "zstd level of the outputs"),
    ROW("output-format", OUTPUT_FORMAT, CHOICE, B | R | F, NULL, "same", 0, 0, OUTPUT_FORMATS, NULL,
        "the outputs' format: the input's, JSON Lines (Parquet converted), or Parquet"),
    ROW("parquet-compression", PARQUET_COMPRESSION, CHOICE, B | R | F, NULL, "zstd", 0, 0, PARQUET_CODECS, NULL,
        "the codec of Parquet outputs (--level is checked against it)"),
    ROW("keep-format", KEEP_FORMAT, FLAG, B | R, NULL, "false", 0, 0, NULL, NULL,
        "each output in its input's format (else .jsonl.zst)"),
    ROW("retries", RETRIES, NUMBER, B | R, "N", "3", 1, 100, NULL, NULL, "attempts per task"),
    /* the documents' fields */
    ROW("url-field", URL_FIELD, STRING, F | K, "PATH", "(url, else metadata.url)", 0, 0, NULL, NULL, "the URL's field"),
    ROW("language-field", LANGUAGE_FIELD, STRING, F | K, "PATH", "(language, else metadata.language)", 0, 0, NULL, NULL,
        "the language's field"),
    ROW("tokens-field", TOKENS_FIELD, STRING, F | K, "PATH", "(token_count, else metadata.token_count)", 0, 0, NULL,
        NULL,
        "the token count's field"),
    ROW("dump-field", DUMP_FIELD, STRING, B | R | F, "PATH", "(dump, else metadata.dump)", 0, 0, NULL, NULL,
        "the crawl dump's field"),
    ROW("date-field", DATE_FIELD, STRING, B | R | F, "PATH", "(date, else metadata.date)", 0, 0, NULL, NULL,
        "the crawl date's field"),
    ROW("text-field", TEXT_FIELD, STRING, F | K, "PATH", "(text)", 0, 0, NULL, NULL, "the text's field"),
    ROW("missing-url", MISSING_URL, CHOICE, B | R | F, NULL, "fail", 0, 0, MISSING_URL, NULL,
        "a shard in which no document has a URL: fail it, or keep it whole"),
    ROW("max-line", MAX_LINE, NUMBER, F | K, "BYTES", "67108864", 1, SIZE_MAX, NULL, NULL, "the longest line"),
    /* ranking and fetching */
    ROW("top-en", TOP_EN, NUMBER, B | R | K, "N", "1000000 (when ranking)", 1, UINT64_MAX / 2, NULL, NULL,
        "fetch the N largest English hosts"),
    ROW("top-intl", TOP_INTL, NUMBER, B | R | K, "N", "1000000 (when ranking)", 1, UINT64_MAX / 2, NULL, NULL,
        "fetch the N largest other hosts"),
    ROW("metric", METRIC, CHOICE, B | R | K, NULL, "tokens", 0, 0, METRICS, NULL, "what ranks a host"),
    ROW("partitions", PARTITIONS, NUMBER, B | R, "P", "64", 1, OPTOUT_RANK_PARTITIONS_MAX, NULL, NULL,
        "ranking reduce tasks"),
    ROW("hosts", HOSTS, STRING, B | R | FE | H, "FILE", NULL, 0, 0, NULL, check_file,
        "the hosts to fetch: one host key a line, # comments"),
    ROW("fetch-tasks", FETCH_TASKS, NUMBER, B | R, "N", "64", 1, 100000, NULL, NULL, "fetch tasks"),
    ROW("scheme", SCHEME, CHOICE, B | R | FE, NULL, "auto", 0, 0, SCHEMES, NULL, "robots.txt over https, http or both"),
    ROW("user-agent", USER_AGENT, STRING, B | R | FE, "S", "(optout/VERSION with the project URL)", 0, 0, NULL,
        check_user_agent,
        "the fetcher's User-Agent"),
    ROW("concurrency", CONCURRENCY, NUMBER, B | R, "N", "256", 1, 100000, NULL, NULL,
        "transfers in flight per fetch task"),
    ROW("timeout", TIMEOUT, NUMBER, B | R, "S", "30", 1, 3600, NULL, NULL, "a fetch's time limit, seconds"),
    ROW("connect-timeout", CONNECT_TIMEOUT, NUMBER, B | R, "S", "10", 1, 3600, NULL, NULL,
        "a connection's time limit, seconds"),
    ROW("fetch-retries", FETCH_RETRIES, NUMBER, B | R, "N", "2", 0, 20, NULL, NULL, "retries of a failed fetch"),
    ROW("connect-to", CONNECT_TO, STRING, B | R | FE, "HOST:PORT", NULL, 0, 0, NULL, check_connect_to,
        "send every fetch to this address, Host kept (tests; loopback allowed)"),
    ROW("allow-private", ALLOW_PRIVATE, FLAG, B | R | FE, NULL, "false", 0, 0, NULL, NULL,
        "allow fetches to private addresses"),
    ROW("stop-after", STOP_AFTER, CHOICE, B | R, NULL, "(none: every stage)", 0, 0, STAGES, NULL,
        "a dry run: stop after this stage"),
    /* optout rank and optout fetch alone (their own ranges and defaults) */
    ROW("partitions", RANK_PARTITIONS, NUMBER, K, "P", "16", 1, OPTOUT_RANK_PARTITIONS_MAX, NULL, NULL,
        "reduce partitions"),
    ROW("all-hosts", ALL_HOSTS, FLAG, K, NULL, "false", 0, 0, NULL, NULL,
        "list every host (not with --top-en/--top-intl)"),
    ROW("jobs", JOBS, NUMBER, K, "N", "(one per core)", 1, 1024, NULL, NULL, "threads"),
    ROW("concurrency", FETCH_CONCURRENCY, NUMBER, FE, "N", "256", 1, 1000000, NULL, NULL, "transfers in flight"),
    ROW("timeout", FETCH_TIMEOUT, STRING, FE, "S", "30", 0, 0, NULL, check_seconds,
        "a whole transfer's time limit, seconds (a fraction allowed)"),
    ROW("connect-timeout", FETCH_CONNECT_TIMEOUT, STRING, FE, "S", "10", 0, 0, NULL, check_seconds,
        "a connection's time limit, seconds (a fraction allowed)"),
    ROW("retries", FETCH_RETRIES_CLI, NUMBER, FE | H, "N", "2", 0, 100, NULL, NULL,
        "extra attempts for 5xx, 429, timeouts, resets"),
    ROW("quiet", QUIET, FLAG, FE | H, NULL, "false", 0, 0, NULL, NULL, "no progress on stderr"),
    /* optout history: Common Crawl's robots.txt captures */
    {"cc-robots", OPTOUT_OPT_CC_ROBOTS, OPTOUT_OT_LIST, H | B | R, "PATH|GLOB|URL...", NULL, 0, 0, NULL, NULL,
     "robotstxt WARC files: paths, quoted globs, http(s) URLs; several after one --cc-robots", 0, 0, 1},
    ROW("cc-crawls", CC_CRAWLS, STRING, H | B | R, "CC-MAIN-YYYY-WW,...", NULL, 0, 0, NULL, check_cc_crawls,
        "crawls whose crawl-data/CRAWL/robotstxt.paths.gz (under --cc-base) lists the files"),
    ROW("cc-base", CC_BASE, STRING, H | B | R, "URL|DIR", OPTOUT_HISTORY_CC_BASE_DEFAULT, 0, 0, NULL, check_cc_base,
        "where crawl-data/ is: an http(s) URL or a local directory"),
    ROW("jobs", HISTORY_JOBS, NUMBER, H, "N", "1", 1, 256, NULL, NULL,
        "files read at a time (threads, each file into a part; the parts merged as the fleet's are)"),
    /* optout history, run, broker: the Wayback Machine's robots.txt captures (wayback.h) */
    ROW("wayback", WAYBACK, FLAG, H | B | R, NULL, "false", 0, 0, NULL, NULL,
        "add the Wayback Machine's captures of the hosts (one CDX query per host, then bodies)"),
    ROW("wayback-hosts-file", WAYBACK_HOSTS_FILE, STRING, H | B | R, "FILE", "(the host list)", 0, 0, NULL, check_file,
        "the hosts asked of the Wayback Machine"),
    ROW("wayback-hosts", WAYBACK_HOSTS, NUMBER, H | B | R, "N", "10000", 1, 100000000, NULL, NULL,
        "ask for the first N hosts of that file only"),
    ROW("wayback-from", WAYBACK_FROM, NUMBER, H | B | R, "YEAR", "1996", 1996, 2100, NULL, NULL, "first year of captures"),
    ROW("wayback-to", WAYBACK_TO, NUMBER, H | B | R, "YEAR", "2016", 1996, 2100, NULL, NULL,
        "last year of captures (Common Crawl's start from CC-MAIN-2016-36)"),
    ROW("wayback-base", WAYBACK_BASE, STRING, H | B | R, "URL", OPTOUT_WAYBACK_BASE_DEFAULT, 0, 0, NULL, check_wayback_base,
        "the Wayback Machine's address"),
    ROW("wayback-rate", WAYBACK_RATE, STRING, H | B | R, "R", "1", 0, 0, NULL, check_wayback_rate,
        "requests per second, at most (retries and pages included)"),
    ROW("wayback-block-hosts", WAYBACK_BLOCK_HOSTS, NUMBER, H | B | R, "N", "100", 1, 100000, NULL, NULL,
        "host groups (a host and its www. form) per block: what a killed run may ask again"),
    /* optout-worker */
    SHORT('c', "connect", CONNECT, STRING, W, "ENDPOINT", NULL, 0, 0, NULL,
          "the broker: tcp://HOST:PORT or ipc:///PATH"),
    SHORT('s', "slots", SLOTS, NUMBER, W, "N", "1", 1, OPTOUT_MSG_MAX_CREDIT, NULL, "tasks run at a time"),
    /* Common Crawl files over HTTP(S): a bound per node, whatever the number of workers (dlslots.h) */
    ROW("download-slots", DOWNLOAD_SLOTS, NUMBER, W | R, "N", "4", 1, 1024, NULL, NULL,
        "capture files downloaded at a time on this node, by all its workers together"),
    ROW("download-dir", DOWNLOAD_DIR, STRING, W, "DIR", "($RUNTIME_DIRECTORY; none: no bound across workers)", 0, 0,
        NULL, NULL, "the node's download slot files (every worker of the node: the same DIR and N)"),
    SHORT('r', "root", WORKER_ROOT, LIST, W, "NAME=PATH", NULL, 0, 0, check_worker_root,
          "task paths under root NAME are under PATH here (repeat)"),
    SHORT('n', "name", NAME, STRING, W, "ID", "(HOST.PID)", 0, 0, check_name, "the id the broker reports"),
    SHORT('v', "verbose", VERBOSE, FLAG, W, NULL, "false", 0, 0, NULL, "log every task"),
    ROW("exit-when-done", EXIT_WHEN_DONE, FLAG, W, NULL, "false", 0, 0, NULL, NULL,
        "exit 0 when the broker's run is complete (else wait for the next run)"),
    ROW("curve-server-key", CURVE_SERVER_KEY, STRING, W, "FILE|KEY", "(none: no CURVE)", 0, 0, NULL, NULL,
        "the broker's CURVE public key"),
    ROW("check-memory", CHECK_MEMORY, FLAG, W, NULL, NULL, 0, 0, NULL, NULL,
        "print the --max-memory plan and exit"),
    /* the fleet */
    ROW("redis", REDIS, STRING, B, "ENDPOINT", "(none: workers read the robots directory)", 0, 0, NULL, NULL,
        "verdicts through Redis (unix:/path, host:port)"),
    ROW("redis-user", REDIS_USER, STRING, B | W, "NAME", NULL, 0, 0, NULL, NULL, "the Redis ACL user"),
    ROW("redis-password-file", REDIS_PASSWORD_FILE, STRING, B | W, "FILE", NULL, 0, 0, NULL, check_password_file,
        "the Redis password, alone in a file"),
    ROW("keep-redis-keys", KEEP_REDIS_KEYS, FLAG, B, NULL, "false", 0, 0, NULL, NULL,
        "keep the run's Redis keys after it completes (else deleted)"),
    ROW("root", ROOT, LIST, B, "NAME=PATH", NULL, 0, 0, NULL, check_root,
        "paths under PATH go to workers as NAME (repeat)"),
    ROW("curve-secret-file", CURVE_SECRET_FILE, STRING, B | W, "FILE", "(none: no CURVE)", 0, 0, NULL, NULL,
        "this program's CURVE secret key (optout keygen)"),
    ROW("curve-allow", CURVE_ALLOW, STRING, B, "DIR", "(none)", 0, 0, NULL, check_dir, "the admitted public keys"),
    ROW("metrics-listen", METRICS_LISTEN, STRING, B | R, "HOST:PORT", "(none: no metrics)", 0, 0, NULL, NULL,
        "serve Prometheus metrics at http://HOST:PORT/metrics"),
    ROW("metrics-linger", METRICS_LINGER, NUMBER, B | R, "S", "0", 0, 86400, NULL, NULL,
        "keep serving the metrics S seconds after the run"),
    ROW("version", VERSION, FLAG, B | W, NULL, NULL, 0, 0, NULL, NULL, "print the version and exit"),
    /* fault injection for the tests: die between journaling `accepted` and publishing */
    HIDDEN("crash-after-accept", CRASH_AFTER_ACCEPT, FLAG, B, NULL, "tests: exit after journaling accepted"),
    /* bench/rank.sh: the peak RSS of each phase on stderr */
    HIDDEN("mem-report", MEM_REPORT, FLAG, K, NULL, "benchmarks: peak memory of each phase"),
    /* benchmarks: N tasks over no files, for simulated workers (bench/broker.sh) */
    HIDDEN("synthetic-tasks", SYNTHETIC_TASKS, NUMBER, B, "N", "benchmarks: N tasks over no files"),
    /* optout run: the broker's checks of its options together, before the run directory exists */
    HIDDEN("check-only", CHECK_ONLY, FLAG, B, NULL, "check the options and exit"),
    {NULL, OPTOUT_OPT_COUNT, OPTOUT_OT_FLAG, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0, 0, 0},
};

const optout_option *optout_option_row(optout_option_id id) {
    for (const optout_option *o = optout_option_table; o->name; o++)
        if (o->id == id) return o;
    return NULL;
}

const optout_option *optout_option_find(const char *name, unsigned programs) {
    for (const optout_option *o = optout_option_table; o->name; o++)
        if ((o->programs & programs) && strcmp(o->name, name) == 0) return o;
    return NULL;
}

static unsigned program_of_section(const char *section) {
    static const struct {
        const char *section;
        unsigned program;
    } map[] = {{"broker", B}, {"run", R}, {"filter", F}, {"rank", K}, {"fetch", FE}, {"worker", W}, {"history", H}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(section, map[i].section) == 0) return map[i].program;
    return 0;
}

const char *optout_option_default(const char *section, const char *name) {
    unsigned p = program_of_section(section);
    const optout_option *o = p ? optout_option_find(name, p) : NULL;
    return o ? o->def : NULL;
}

/* ---- --help -------------------------------------------------------------------------------- */

/* A row several programs share whose meaning differs in one of them: that program's --help line
 * (the row's own text serves the others). */
static const struct {
    optout_option_id id;
    unsigned programs;
    const char *help;
} HELP_FOR[] = {
    {OPTOUT_OPT_RUN_OUT, H, "the archive goes to DIR/history/, replaced whole (DIR created when missing)"},
    {OPTOUT_OPT_HOSTS, H,
     "the hosts whose captures are kept (and those they redirect to): one host key a line, # comments"},
    {OPTOUT_OPT_FETCH_RETRIES_CLI, H,
     "extra attempts for 5xx, 429, timeouts, resets (Wayback requests: 4 unless given)"},
    {OPTOUT_OPT_RUN_OUT, K, "the run directory: the ranking goes to DIR/ranking/ (created when missing)"},
    {OPTOUT_OPT_RUN_OUT, FE, "the run directory: the robots archive goes to DIR/robots/ (created when missing)"},
};

static const char *help_of(const optout_option *o, unsigned program) {
    for (size_t i = 0; i < sizeof HELP_FOR / sizeof HELP_FOR[0]; i++)
        if (HELP_FOR[i].id == o->id && (HELP_FOR[i].programs & program)) return HELP_FOR[i].help;
    return o->help;
}

void optout_options_usage(const optout_program_spec *spec, FILE *f) {
    fputs(spec->usage, f);
    fputs("\noptions:\n", f);
    for (const optout_option *o = optout_option_table; o->name; o++) {
        if (!(o->programs & spec->program) || o->hidden) continue;
        char arg[128] = "";
        if (o->type == OPTOUT_OT_CHOICE) {
            size_t n = 0;
            for (size_t i = 0; o->choices[i] && n < sizeof arg; i++)
                n += (size_t)snprintf(arg + n, sizeof arg - n, "%s%s", i ? "|" : "", o->choices[i]);
        } else if (o->arg) snprintf(arg, sizeof arg, "%s", o->arg);
        char head[160], alias[8] = "";
        if (o->short_name) snprintf(alias, sizeof alias, "-%c, ", o->short_name);
        snprintf(head, sizeof head, "%s--%s%s%s", alias, o->name, arg[0] ? " " : "", arg);
        fprintf(f, "  %-34s %s", head, help_of(o, spec->program));
        if (o->type == OPTOUT_OT_FLAG) {
            fputs(" (default: off)", f);
        } else if (o->def) { /* "(none)" prints as "(default: none)" */
            size_t n = strlen(o->def);
            int paren = o->def[0] == '(' && o->def[n - 1] == ')';
            fprintf(f, " (default: %.*s)", (int)(paren ? n - 2 : n), o->def + paren);
        } else {
            fputs(" (default: none)", f);
        }
        fputc('\n', f);
    }
    fprintf(f, "  %-34s %s\n", "--config FILE", "the configuration file (default: " OPTOUT_CONFIG_DEFAULT ")");
    fprintf(f, "  %-34s %s\n", "--check-config", "print the effective configuration and exit");
    fprintf(f, "  %-34s %s\n", "-h, --help", "this text");
    if (spec->about) {
        fputc('\n', f);
        fputs(spec->about, f);
    }
}

/* ---- parsing ------------------------------------------------------------------------------- */

void optout_options_free(optout_option_values *v) {
    for (size_t i = 0; i < OPTOUT_OPT_COUNT; i++) free(v->list[i]);
    free(v->order);
    memset(v, 0, sizeof *v);
}

/* Checks and stores one value of row o. 0, or an exit status after a message: a bad value is a
 * usage error, a file the value names that cannot be used (a check's -2) a runtime failure. */
static int take(const optout_option *o, const char *text, optout_option_values *v, size_t list_cap) {
    char err[600] = "";
    uint64_t n = 1;
    switch (o->type) {
    case OPTOUT_OT_FLAG: text = NULL; break;
    case OPTOUT_OT_NUMBER:
        if (optout_parse_number(text, o->min, o->max, &n, err, sizeof err) != 0) goto bad;
        break;
    case OPTOUT_OT_BYTES:
        if (optout_parse_bytes(text, o->min, o->max, &n, err, sizeof err) != 0) goto bad;
        break;
    case OPTOUT_OT_CHOICE: {
        size_t i = 0;
        while (o->choices[i] && strcmp(o->choices[i], text) != 0) i++;
        if (!o->choices[i]) {
            size_t len = (size_t)snprintf(err, sizeof err, "expected ");
            for (size_t k = 0; o->choices[k] && len < sizeof err; k++)
                len += (size_t)snprintf(err + len, sizeof err - len, "%s%s", o->choices[k],
                                        !o->choices[k + 1] ? "" : !o->choices[k + 2] ? " or " : ", ");
            if (len < sizeof err) snprintf(err + len, sizeof err - len, ", got '%.200s'", text);
            goto bad;
        }
        n = i;
        break;
    }
    case OPTOUT_OT_STRING:
    case OPTOUT_OT_LIST: break;
    }
    int checked = o->check && text ? o->check(text, err, sizeof err) : 0;
    if (checked == -2) {
        if (strncmp(err, text, strlen(text)) == 0) optout_log(LOG_ERR, "--%s %s", o->name, err);
        else optout_log(LOG_ERR, "--%s %s: %s", o->name, text, err);
        return OPTOUT_EXIT_FAILURE;
    }
    if (checked != 0) goto bad;
    v->given[o->id] = 1;
    v->text[o->id] = text;
    v->num[o->id] = n;
    if (o->type == OPTOUT_OT_LIST) {
        if (!v->list[o->id] && !(v->list[o->id] = calloc(list_cap, sizeof *v->list[o->id]))) goto oom;
        v->list[o->id][v->count[o->id]++] = text;
    }
    v->order[v->order_count++] = (struct optout_option_given){o->id, text};
    return 0;
bad:
    optout_log(LOG_ERR, "--%s: %s", o->name, err);
    return OPTOUT_EXIT_USAGE;
oom:
    optout_log(LOG_ERR, "out of memory");
    return OPTOUT_EXIT_FAILURE;
}

/* The defaults: numbers and choices hold theirs in num. */
static void set_defaults(optout_option_values *v, unsigned program) {
    for (const optout_option *o = optout_option_table; o->name; o++) {
        if (!(o->programs & program) || !o->def) continue;
        if (o->type == OPTOUT_OT_NUMBER || o->type == OPTOUT_OT_BYTES) {
            char err[8];
            size_t digits = strspn(o->def, "0123456789");
            char num[24];
            if (digits && digits < sizeof num) {
                memcpy(num, o->def, digits);
                num[digits] = '\0';
                (void)optout_parse_number(num, 0, UINT64_MAX, &v->num[o->id], err, sizeof err);
            }
        } else if (o->type == OPTOUT_OT_CHOICE) {
            for (size_t i = 0; o->choices[i]; i++)
                if (strcmp(o->choices[i], o->def) == 0) v->num[o->id] = i;
        }
    }
}

int optout_options_parse(const optout_program_spec *spec, int argc, char **argv, optout_option_values *v) {
    memset(v, 0, sizeof *v);
    set_defaults(v, spec->program);
    /* getopt_long's table: the program's rows, then --help */
    size_t nrows = 0;
    while (optout_option_table[nrows].name) nrows++;
    struct option *longopts = calloc(nrows + 2, sizeof *longopts);
    if (!longopts) {
        optout_log(LOG_ERR, "out of memory");
        return OPTOUT_EXIT_FAILURE;
    }
    size_t n = 0;
    for (size_t i = 0; i < nrows; i++) {
        const optout_option *o = &optout_option_table[i];
        if (!(o->programs & spec->program)) continue;
        /* val: the short alias when there is one (config.h's first pass matches it so), else the
         * row's index + 256 */
        longopts[n++] = (struct option){o->name, o->type == OPTOUT_OT_FLAG ? no_argument : required_argument, NULL,
                                        o->short_name ? o->short_name : (int)i + 256};
    }
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    /* "-" (every word that is not an option comes back in place, as opt 1: a value of a `several`
     * row, else an unexpected argument), ":h", then "c:" for each row that has a short alias */
    char shortopts[2 * 64 + 4] = "-:h";
    size_t ns = 3;
    for (size_t i = 0; i < nrows && ns + 3 < sizeof shortopts; i++) {
        const optout_option *o = &optout_option_table[i];
        if (!(o->programs & spec->program) || !o->short_name) continue;
        shortopts[ns++] = o->short_name;
        if (o->type != OPTOUT_OT_FLAG) shortopts[ns++] = ':';
    }
    shortopts[ns] = '\0';
    int rc = -1;
    if (optout_config_args(spec->section, longopts, shortopts, &argc, &argv) != 0) {
        rc = OPTOUT_EXIT_USAGE;
        goto out;
    }
    if (!(v->order = calloc((size_t)argc + 1, sizeof *v->order))) {
        optout_log(LOG_ERR, "out of memory");
        rc = OPTOUT_EXIT_FAILURE;
        goto out;
    }
    int opt;
    optind = 1;
    opterr = 0;
    const optout_option *several = NULL; /* the last option taken, when it takes several words */
    while (rc < 0 && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (opt == 1) {
            if (several) {
                int taken = take(several, optarg, v, (size_t)argc);
                if (taken != 0) rc = taken;
            } else {
                optout_log(LOG_ERR, "unexpected argument '%s' (an option's value follows it; to give several, "
                                    "repeat the option)", optarg);
                rc = OPTOUT_EXIT_USAGE;
            }
            continue;
        }
        several = NULL;
        for (size_t i = 0; opt > 0 && opt < 256 && opt != 'h' && opt != ':' && opt != '?' && i < nrows; i++)
            if ((optout_option_table[i].programs & spec->program) && optout_option_table[i].short_name == opt)
                opt = (int)i + 256; /* -c: its row */
        if (opt == 'h') {
            optout_options_usage(spec, stdout);
            rc = OPTOUT_EXIT_OK;
        } else if (opt == ':') {
            optout_log(LOG_ERR, "option '%s' needs a value", argv[optind - 1]);
            rc = OPTOUT_EXIT_USAGE;
        } else if (opt < 256 || (size_t)(opt - 256) >= nrows) {
            optout_log(LOG_ERR, "unknown option '%s' (see --help)", argv[optind - 1]);
            rc = OPTOUT_EXIT_USAGE;
        } else if (optout_option_table[opt - 256].id == OPTOUT_OPT_VERSION && spec->version) {
            printf("%s %s\n", spec->version, OPTOUT_VERSION);
            rc = OPTOUT_EXIT_OK;
        } else {
            const optout_option *o = &optout_option_table[opt - 256];
            int taken = take(o, optarg, v, (size_t)argc);
            if (taken != 0) rc = taken;
            if (o->several) several = o;
        }
    }
    if (rc >= 0) goto out;
    optout_config_done();
    if (optind < argc) { /* after "--" */
        optout_log(LOG_ERR, "unexpected argument '%s'", argv[optind]);
        rc = OPTOUT_EXIT_USAGE;
    }
out:
    free(longopts);
    return rc;
}
