/* report.h — report.md: the run's statistics for people (report.json is the same for programs).
 *
 * Contract: optout_report_write_md() writes Markdown: the headline (documents and tokens removed,
 * English and non-English), totals, loss per class, per year, per agent (documents and characters
 * removed, as the Apertus tech report's Table A.1, plus "any"), documents per robots.txt outcome,
 * bad-input counters, failed tasks and the run's configuration. Percentages are of the matching
 * "in" counts; empty sections are left out. Returns 0, or -1 when writing failed.
 */
#ifndef OPTOUT_REPORT_H
#define OPTOUT_REPORT_H

#include <stdio.h>

#include "optout/stats.h"

typedef struct {
    const char *mode;        /* "rfc9309" / "protego" */
    const char *robots_dir;  /* the robots.txt snapshot used */
    size_t tasks, failed;
    const char *const *failed_inputs; /* failed task inputs and their errors */
    const char *const *failed_errors;
} optout_report_info;

int optout_report_write_md(FILE *out, const optout_stats *stats, const optout_agents *agents,
                           const optout_report_info *info);

#endif
