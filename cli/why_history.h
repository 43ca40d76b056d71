/* why_history.h — `optout why --history DIR`: the capture of a URL's robots.txt that judges a
 * document at its time (history.h), and the document's verdict under each policy, after the
 * answer for today's robots.txt (cmd_why.c). docs/why.md describes the output.
 *
 * Contract: why_history_open() opens the archive and a judge for the run's agents, mode and
 * unreachable policy (NULL, logged, on failure: exit 1). why_history_explain() judges one answered
 * URL at time *t (the document's: its dump and date for --id, else --crawl / --time) exactly as
 * `optout filter --history` does (same judge, same combination; an override or a host outside the
 * plan is decided alike under every policy) and prints, as text lines (width: the label column)
 * or as the JSON member `, "history": {...}`, the document time, the capture (origin, crawl,
 * scheme, capture times, HTTP status, outcome, SHA-256, redirects followed) or why there is none,
 * the capture's agents, each policy's verdict, and the chosen policy's decision. -1 when the
 * archive cannot be read (err filled). */
#ifndef OPTOUT_CLI_WHY_HISTORY_H
#define OPTOUT_CLI_WHY_HISTORY_H

#include <stdio.h>

#include "optout/history.h"
#include "optout/why.h"

typedef struct why_history why_history;

why_history *why_history_open(const char *dir, const optout_robots_time_spec *spec, int64_t max_age_days,
                              optout_history_missing missing, int64_t report_cutoff, const optout_why_config *cfg);
int why_history_explain(why_history *h, const optout_why_answer *a, const optout_doc_time *t, FILE *out, int json,
                        int width, char *err, size_t errlen);
void why_history_close(why_history *h);

#endif
