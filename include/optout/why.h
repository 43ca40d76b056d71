/* why.h — `optout why`: why a run kept or removed a URL, answered from the run directory alone
 * (no Redis, no broker).
 *
 * Contract
 * - optout_why_open() reads DIR/plan (agents, mode, host-key, unreachable policy, robots-dir and the
 *   inputs, as the broker's plan() wrote them) and opens the robots snapshot the run's filter used:
 *   the robots directory named by the plan's `robots-dir` option, else the fetch archive DIR/robots/.
 *   What is missing (no DIR, no plan, a plan without agents, a robots directory or an archive that is
 *   not there) fails the open with a message saying so: the caller exits 1.
 * - Policy: the plan's granularity, keep-hosts and remove-hosts are applied with policy.h's
 *   functions, in the filter's order (override before robots.txt, granularity after the URL's
 *   verdict); domain granularity reads the run's DIR/blocked_domains.tsv (what the workers used).
 * - optout_why_explain() decides each URL exactly as the filter does (filter.h): the same host key
 *   (optout_hostkey_cached: computed on scheme and authority, doc_fields.h), the same verdict source
 *   code (verdicts_dir.c / verdicts_archive.c, which the fleet's Redis store is loaded from), the same
 *   optout_robots_check(); removed iff at least one agent is disallowed; an `unreachable` host under
 *   unreachable=disallow disallows every agent; every other outcome but `ok` keeps. For `ok` hosts it
 *   adds optout_robots_explain()'s reason per agent. The host's record (archive index line, or the
 *   robots directory's file and index.tsv line) is read for the URLs' hosts only: one pass over the
 *   archive's indexes (or index.tsv) per call that meets hosts not seen before. Answers come through
 *   the callback in input order; an answer's pointers are valid during the callback only.
 * - optout_why_find_ids() scans the plan's inputs, in plan order, for documents whose `id` (top level,
 *   else metadata.id; a JSON string compared after unescaping, any other value by its text) is one of
 *   `ids`, and calls back once per occurrence with the input, its 1-based line number, its dump
 *   and date (the plan's --dump-field / --date-field, else the defaults) and the URL as
 *   the filter reads it (`url`, else `metadata.url`, escapes decoded; NULL when absent or empty: the
 *   filter counts it `no_url` and keeps it). With first_only the scan stops once every id was found.
 *   An input that cannot be read, or is corrupt, is an error naming it; one whose size or mtime differ
 *   from the plan is still scanned, and flagged `changed`.
 * - Errors: -1 (NULL for open) with err filled. Not thread-safe; one optout_why per thread.
 */
#ifndef OPTOUT_WHY_H
#define OPTOUT_WHY_H

#include <stddef.h>
#include <stdint.h>

#include "optout/agents.h"
#include "optout/hostkey.h"
#include "optout/policy.h"
#include "optout/robots.h"
#include "optout/rundir.h"
#include "optout/stats.h"

typedef struct optout_why optout_why;

/* What the run was configured with, from its plan. Strings are "" when the plan has no value. */
typedef struct {
    const char *dir;
    const optout_agents *agents;
    optout_robots_mode mode;
    optout_hostkey_mode host_key;
    int unreachable_disallows;
    const char *robots_dir; /* the robots directory the run used; "" for a fetching run */
    const char *archive;    /* DIR/robots for a fetching run; "" with a robots directory */
    const char *top_en, *top_intl, *hosts; /* the plan's values */
    const optout_inputs *inputs;
    /* Policy (policy.h) as the plan gives it: granularity, override lists ("" when none). */
    optout_granularity granularity;
    const char *keep_hosts, *remove_hosts;
    /* Options of the plan this module does not model, with a value that may change decisions
     * (not "", "no", "0", "url", "keep", "shards"): "--granularity host, --keep-hosts F". The
     * answers may then differ from the filter's; callers say so. "" when none. */
    const char *unknown_options;
    /* Robots.txt as it was, as the plan gives it ("" when the run judged by today's robots.txt
     * alone): the history archive's directory (the plan's --history, else the run directory when
     * the run read captures itself), and the plan's --robots-time, --history-max-age,
     * --history-missing and --report-cutoff values. */
    const char *history, *robots_time, *history_max_age, *history_missing, *report_cutoff;
    /* The plan's --dump-field and --date-field ("" : the defaults): optout_why_find_ids() reads a
     * document's dump and date where the filter read them. */
    const char *dump_field, *date_field;
} optout_why_config;

optout_why *optout_why_open(const char *dir, char *err, size_t errlen);
void optout_why_close(optout_why *w);
const optout_why_config *optout_why_config_of(const optout_why *w);

/* Why one agent got its verdict. */
typedef enum {
    OPTOUT_WHY_AGENT_RULES = 0,   /* robots.txt `ok`: `explanation` says which group and rule */
    OPTOUT_WHY_AGENT_OUTCOME,     /* the host's outcome decided (not ranked, no robots.txt, ...) */
    OPTOUT_WHY_AGENT_UNDECIDED,   /* no host key: bad URL or no host; the filter keeps the document */
} optout_why_agent_kind;

/* The host's record in the robots snapshot. Unknown numbers are -1, unknown strings "". */
typedef struct {
    int found;              /* an archive line, or a robots-directory file or index.tsv line */
    const char *where;      /* "robots/000003.tsv:12", "ROBOTS_DIR/news.example", "ROBOTS_DIR/index.tsv:4" */
    const char *file;       /* robots directory: the body's file ("" when none) */
    long status;            /* HTTP status; 0 no response */
    const char *fetched_at; /* UTC "YYYY-MM-DDTHH:MM:SSZ" */
    const char *sha256;     /* of the body */
    long long size;         /* body bytes */
    int truncated;          /* the fetch kept only the first 500 KiB (0/1, -1 unknown) */
    long attempts, time_ms;
    const char *final_url, *error;
} optout_why_record;

typedef struct {
    const char *url;
    size_t url_len;
    optout_hostkey_status key_status; /* not OK: bad_url / no_host, kept, no record looked up */
    const char *host;                 /* the host key ("" unless key_status is OK) */
    int bad_idna;
    optout_outcome outcome;           /* the verdict source's outcome for host (key_status OK) */
    const optout_why_record *record;  /* never NULL; record->found 0 when the snapshot has none */
    int parsed_truncated;             /* ok: only the first 500 KiB of the body were parsed */
    optout_why_agent_kind kind;
    const optout_robots_explanation *explanation; /* kind RULES: one per agent, list order */
    /* Policy (policy.h), decided with the filter's functions: an override (the host is in
     * --keep-hosts / --remove-hosts: robots.txt not consulted, `disallowed` empty) and its entry;
     * the agents the granularity added beyond the URL's own verdict, and the registrable domain
     * (domain granularity; "" otherwise). */
    optout_override override;
    const char *override_entry;
    optout_agentset coarse;
    const char *domain;
    optout_agentset disallowed;       /* the filter's decision */
    size_t disallowed_count;
    int removed;                      /* disallowed_count > 0 */
} optout_why_answer;

typedef int (*optout_why_answer_fn)(const optout_why_answer *a, size_t index, void *arg);

/* Explains urls[0..count) in order; the callback's nonzero return stops (-1, err "stopped"). */
int optout_why_explain(optout_why *w, const char *const *urls, const size_t *lens, size_t count,
                       optout_why_answer_fn fn, void *arg, char *err, size_t errlen);

typedef struct {
    size_t id_index;              /* which of ids */
    const optout_input *input;    /* the plan's input */
    int changed;                  /* its size or mtime differ from the plan */
    uint64_t line;                /* 1-based line number in the (decompressed) shard */
    uint64_t offset;              /* byte offset of the line in the decompressed shard */
    const char *url;              /* NULL: no URL (absent, not a string, empty) */
    size_t url_len;
    /* the dump and date fields (the plan's --dump-field / --date-field, else `dump` / `date` at top
     * level, else under metadata.), raw JSON string text; NULL when absent or not
     * strings: the document's time for robots.txt as it was (history.h) */
    const char *dump, *date;
    size_t dump_len, date_len;
} optout_why_doc;

typedef int (*optout_why_doc_fn)(const optout_why_doc *d, void *arg);

/* found[i] (may be NULL) receives the number of occurrences of ids[i]. 0, or -1 with err. */
int optout_why_find_ids(optout_why *w, const char *const *ids, size_t count, int first_only, optout_why_doc_fn fn,
                        void *arg, size_t *found, char *err, size_t errlen);

#endif
