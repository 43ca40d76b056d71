/* progress.h — `optout run`'s progress display, fed with the broker's status answers.
 *
 * Contract
 * - progress_update() takes one status answer (the JSON of `optout status`). A stage whose tasks
 *   have all settled gets its final line once, even when it started and ended between two
 *   answers: "STAGE [####] N/N tasks, TIME, (documents, docs/s, MB/s | hosts, hosts/s)"; one
 *   already settled in the first answer (a resumed run's earlier stage) says so, without rates. A
 *   stage with no task gets "STAGE skipped". On a terminal the running stage is redrawn in place (no
 *   ETA until a task has settled: "ETA -"); off a terminal only the final lines are written.
 * - progress_finish() closes the display when the broker has exited: with `complete` the stages
 *   not seen to end are ended now (their tasks all settled), with `docs` and `removed` the run's
 *   final document counts (report.json) for the filter's line; then "optout: total time T".
 *   A dry run (--stop-after) names last_stage, the progress name of the last stage it ran: the
 *   stages after it say "not run" instead of being ended (NULL: every stage ran).
 * - Times are measured on CLOCK_MONOTONIC by this process; MB/s is the input shards' bytes (their
 *   compressed size on disk) per second of the stages that read them (rank, filter).
 */
#ifndef OPTOUT_CLI_PROGRESS_H
#define OPTOUT_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct progress progress;

/* out: where lines go; tty: redraw in place; input_bytes: the inputs' total size. NULL when out of
 * memory. */
progress *progress_new(FILE *out, int tty, uint64_t input_bytes);
void progress_update(progress *p, const char *status_json);
void progress_finish(progress *p, int complete, const char *last_stage, uint64_t docs, uint64_t removed);
void progress_free(progress *p);

#endif
