# The fuzz targets: one list, read by two builds (each defines optout_fuzz_target first):
#   tests/fuzz/CMakeLists.txt   libFuzzer programs NAME (clang, -DOPTOUT_FUZZ=ON; tests/fuzz/smoke.sh)
#   tests/CMakeLists.txt        NAME_replay programs (any compiler) that ctest runs over
#                               tests/fuzz/crashes/NAME/ and tests/fuzz/corpus/NAME/
#
# optout_fuzz_target(NAME SOURCES file.c ... [INCLUDES dir ...] [LIBS lib ...]): the harness is
# tests/fuzz/NAME.c; SOURCES (relative to the repository root) are the library sources it exercises,
# compiled into it; INCLUDES (relative to the root) are private header directories it needs.

# The robots.txt engine (both modes) and the agent list.
optout_fuzz_target(fuzz_robots
  SOURCES common/agents.c common/log.c common/robots.c common/robots_protego.c common/util.c
          tests/support/refmatch.c)

# JSON Lines field extraction.
optout_fuzz_target(fuzz_jsonl SOURCES common/jsonl.c)

# URL -> host key (libcurl's URL parser and libidn2 are linked uninstrumented).
optout_fuzz_target(fuzz_hostkey SOURCES common/hostkey.c common/log.c common/util.c LIBS PkgConfig::DEPS)

# Shard reader and writer (zlib and zstd linked uninstrumented).
optout_fuzz_target(fuzz_shard SOURCES common/shard.c common/log.c common/util.c LIBS PkgConfig::DEPS)

# The run journal's framing: replay, torn-tail truncation, append after reopen (zlib uninstrumented).
optout_fuzz_target(fuzz_journal SOURCES common/journal.c common/log.c common/util.c LIBS PkgConfig::DEPS)

# The broker's journal records inside that framing (their msgpack is unpacked by msg.c's bounded
# reader; msgpack-c linked uninstrumented).
optout_fuzz_target(fuzz_records
  SOURCES broker/records.c common/msg.c common/stats_msgpack.c common/stats.c common/stats_policy.c common/history.c common/strmap.c common/rundir.c common/json.c common/agents.c common/log.c
          common/util.c
  INCLUDES broker LIBS PkgConfig::DEPS m)

# Broker <-> worker messages, the run configuration and statistics on the wire.
optout_fuzz_target(fuzz_msg
  SOURCES common/msg.c common/stats_msgpack.c common/stats.c common/stats_policy.c common/history.c common/strmap.c common/rundir.c common/json.c common/agents.c common/log.c common/util.c
  LIBS PkgConfig::DEPS m)

# The broker's result checking (broker/result.c) against a real staging directory of regular
# files, links, a FIFO and a directory in a file's place.
optout_fuzz_target(fuzz_result
  SOURCES broker/result.c common/msg.c common/stats_msgpack.c common/stats.c common/stats_policy.c common/history.c common/strmap.c common/rundir.c
          common/json.c common/agents.c
          common/files.c common/log.c common/util.c
  INCLUDES broker LIBS PkgConfig::DEPS m)

# Parquet: footer, page headers, value decoders, the ARROW:schema rewrite, whole files read and
# filtered (the codec libraries linked uninstrumented).
optout_fuzz_target(fuzz_parquet
  SOURCES common/parquet_thrift.c common/parquet_meta.c common/parquet_codec.c common/parquet_encoding.c
          common/parquet_read.c common/parquet_json.c common/parquet_write.c common/parquet_arrow.c common/json.c common/log.c
          common/strmap.c common/util.c
  INCLUDES common LIBS PkgConfig::DEPS PkgConfig::PQCODECS ${SNAPPY_LIBRARY})

# JSON Lines to Parquet: schema inference, shredding, the generated file read back by the reader.
optout_fuzz_target(fuzz_parquet_jsonl
  SOURCES common/parquet_jsonl.c common/parquet_thrift.c common/parquet_meta.c common/parquet_codec.c
          common/parquet_encoding.c common/parquet_read.c common/parquet_json.c common/parquet_write.c
          common/parquet_arrow.c common/jsonl.c common/json.c common/log.c common/strmap.c common/util.c
  INCLUDES common LIBS PkgConfig::DEPS PkgConfig::PQCODECS ${SNAPPY_LIBRARY})

# Common Crawl robotstxt WARC files: gzip members, records, HTTP responses, damage (zlib linked
# uninstrumented; fetch.c for its body cut, history.c for dates and crawl ids).
optout_fuzz_target(fuzz_warc
  SOURCES common/warc.c common/history.c common/history_select.c common/fetch.c common/robots.c
          common/robots_protego.c common/agents.c common/strmap.c common/rundir.c common/log.c
          common/util.c
  LIBS PkgConfig::DEPS)

# A document's time: crawl ids in any text, ISO 8601 dates, the crawl week's Monday, --robots-time.
optout_fuzz_target(fuzz_doctime SOURCES common/history.c common/strmap.c common/rundir.c common/log.c common/util.c
  LIBS PkgConfig::DEPS)

# The history store's record decoder: a host's versions as Redis hands them to a worker (archive.c
# for its SHA-256 hex, history.c for crawl ids, stats.c for outcome names).
optout_fuzz_target(fuzz_history_redis
  SOURCES common/history_record.c common/archive.c common/history.c common/stats.c common/json.c common/agents.c
          common/strmap.c common/rundir.c common/log.c common/util.c
  LIBS PkgConfig::DEPS m)
