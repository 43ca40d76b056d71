/* docsource_internal.h — what the sink (docsource_sink.c) asks of the source (docsource.c) besides
 * docsource.h: the open Parquet file it writes from, and how it will be written, which decides what
 * the source keeps while reading (the text's pages for the Parquet writer, or the room left for
 * rendering rows as JSON Lines). Not a public interface.
 */
#ifndef OPTOUT_DOCSOURCE_INTERNAL_H
#define OPTOUT_DOCSOURCE_INTERNAL_H

#include <stdint.h>

#include "optout/docsource.h"
#include "optout/parquet.h"

/* A Parquet source's open file (NULL for JSON Lines). */
optout_pq_file *optout_docsource_pq(const optout_docsource *s);
/* A sink writes the source as Parquet: keep the text's decompressed pages for the writer. */
void optout_docsource_keep_pages(optout_docsource *s);
/* A sink writes the source's rows as JSON Lines (optout_pq_rows): the room left besides the row
 * group's projected columns goes to that, read by optout_docsource_json_limit (0: no limit). */
void optout_docsource_json_rows(optout_docsource *s);
uint64_t optout_docsource_json_limit(const optout_docsource *s);

#endif
