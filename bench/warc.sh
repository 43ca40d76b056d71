#!/bin/sh
# WARC scanning speed on one core: the WARC reader (bench_warc) and the whole `optout history`
# build versus `gzip -dc FILES > /dev/null` on the same files, in the same run. A benchmark: prints
# figures, exits 0 unless something fails to build or run; skips (exit 0, with a message) when
# ../shared/data/robots-top10k is missing.
#   bench/warc.sh [BUILD_DIR]        (default: build-bench; configured with -DOPTOUT_BENCH=ON, Release)
# Environment: BENCH_WARC_HOSTS (0: every host of the data, all listed), BENCH_WARC_CRAWLS (4 crawls),
#   BENCH_WARC_FILES (4 files a crawl), BENCH_REPEAT (3: best of that many runs per figure),
#   OPTOUT_BENCH_DATA (../shared/data/robots-top10k beside the repository).
# Data: tools/gen-ccrobots writes Common Crawl-style robotstxt files (one gzip member per record;
# request, response and metadata records per capture; real bodies) into a temporary directory.
# Every command runs under `taskset -c 0` (one core) when taskset exists; the files are read once
# before timing so that all three read from the page cache.
# Figures: MB/s of compressed input; reader/gzip and history/gzip ratios. Target: reader >= 0.8x gzip.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build-bench}
hosts=${BENCH_WARC_HOSTS:-0}
crawls_n=${BENCH_WARC_CRAWLS:-4}
files=${BENCH_WARC_FILES:-4}
repeat=${BENCH_REPEAT:-3}
data=${OPTOUT_BENCH_DATA:-$root/../shared/data/robots-top10k}
if [ ! -d "$data" ]; then
  echo "bench/warc.sh: no $data (real robots.txt bodies); skipped"
  exit 0
fi
if [ ! -x "$build/bin/bench_warc" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOPTOUT_BENCH=ON >/dev/null
  cmake --build "$build" -j2 --target bench_warc optout >/dev/null
fi
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
tmp=$(mktemp -d /tmp/optout-bench-warc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
crawls=$(echo CC-MAIN-2017-39 CC-MAIN-2019-35 CC-MAIN-2021-04 CC-MAIN-2023-40 CC-MAIN-2024-10 CC-MAIN-2025-05 |
         tr ' ' '\n' | head -n "$crawls_n" | paste -sd, -)
extra=0
tools/gen-ccrobots --out "$tmp/cc" --seed 1 --robots-dir "$data" --hosts "$hosts" --extra-hosts "$extra" \
  --crawls "$crawls" --files "$files"
set -- $(find "$tmp/cc/crawl-data" -name '*.warc.gz' | sort)
bytes=$(cat "$@" | wc -c)
raw=$(gzip -dc "$@" | wc -c)
echo "data: $# files, $bytes bytes compressed, $raw bytes of WARC ($crawls)"

now() { date +%s.%N; }
best() { # best wall seconds of $repeat runs of "$@"
  b=""
  i=0
  while [ $i -lt "$repeat" ]; do
    s=$(now)
    "$@" >/dev/null 2>&1 || { echo "bench/warc.sh: failed: $*" >&2; exit 1; }
    e=$(now)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    i=$((i + 1))
  done
  echo "$b"
}
cat "$@" > /dev/null
t_gz=$(best $pin sh -c 'gzip -dc "$@" > /dev/null' gz "$@")
t_rd=$(best $pin "$build/bin/bench_warc" "$@")
t_hi=$(best $pin "$build/bin/optout" history --quiet --cc-robots "$@" --hosts "$tmp/cc/hosts.txt" --out "$tmp/out")
$pin "$build/bin/bench_warc" "$@"
mbs() { echo "scale=1; $bytes / $1 / 1000000" | bc -l; }
printf '%-34s %8s s %8s MB/s\n' "gzip -dc > /dev/null" "$t_gz" "$(mbs "$t_gz")"
printf '%-34s %8s s %8s MB/s  %sx gzip\n' "WARC reader (bench_warc)" "$t_rd" "$(mbs "$t_rd")" \
  "$(echo "scale=2; $t_gz / $t_rd" | bc -l)"
printf '%-34s %8s s %8s MB/s  %sx gzip\n' "optout history (all hosts listed)" "$t_hi" "$(mbs "$t_hi")" \
  "$(echo "scale=2; $t_gz / $t_hi" | bc -l)"
echo "target: WARC reader >= 0.8x gzip -dc"
