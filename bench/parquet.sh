#!/bin/sh
# Parquet: optout filter against DuckDB copying the same file, peak RSS, and optout rank on Parquet
# against the same corpus as .jsonl.zst, everything on one core (taskset -c 0).
#   bench/parquet.sh [BUILD_DIR] [SIZE]      (defaults: build, 1G; e.g. 64M for a quick look)
# Environment: BENCH_RSS_SIZE (default 4G of JSON Lines, whose Parquet copy is about 2 GB as a
# FineWeb file is; 0 skips it), BENCH_REPEAT (3), BENCH_GENERATE_ONLY=1 (make the corpora, time
# nothing), OPTOUT_BENCH_DIR (/tmp/optout-bench), OPTOUT_SHARED_DIR (../shared), OPTOUT_NODE_MODULES.
#
# Generates once (cached in OPTOUT_BENCH_DIR) a seeded FineWeb-shaped corpus of SIZE bytes of JSON
# Lines (tools/gen-corpus --style fineweb --bad-rate 0, hosts drawn from the real robots.txt files,
# a token count added where gen-corpus leaves it out, as FineWeb has one in every row) and its
# Parquet copy as datatrove writes FineWeb (bench/parquet_gen.mjs: FineWeb's nine columns, snappy,
# dictionary, 1,000-row row groups). Then, median of BENCH_REPEAT runs each, interleaved:
#   DuckDB:  SET threads=1; COPY (SELECT * FROM read_parquet(IN)) TO OUT (FORMAT parquet, COMPRESSION zstd)
#            (its start, node + an in-memory DuckDB running SELECT 1, timed apart and subtracted)
#   optout:  optout filter --robots-dir ROBOTS --in IN --out OUT.parquet  (zstd level 3, DuckDB's too)
#   rank:    optout rank --jobs 1 on IN.parquet and on IN.jsonl.zst (the same rows), with the bytes
#            each reads from its shard (the hidden --mem-report option prints them)
#   to JSON: DuckDB COPY (SELECT * FROM read_parquet(IN)) TO OUT.json (FORMAT json) against
#            optout filter --output-format jsonl --out OUT.jsonl (both plain JSON Lines)
# and prints the ratios against the targets (filter >= 1.0x DuckDB, rank >= 5x faster on Parquet,
# peak RSS <= 512 MiB filtering the BENCH_RSS_SIZE corpus's Parquet file). Then once, the SIZE corpus
# with all its rows in one row group (as pyarrow writes up to a million; hyparquet-writer, 1 MiB
# pages) converted to JSON Lines by both, peak RSS and time. A benchmark, not a
# test: it exits 0 whether or not the targets are met, nonzero only when something fails to run.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
size=${2:-1G}
rss_size=${BENCH_RSS_SIZE:-4G}
repeat=${BENCH_REPEAT:-3}
shared=${OPTOUT_SHARED_DIR:-../shared}
robots=$shared/data/robots-top10k
modules=${OPTOUT_NODE_MODULES:-tests/parquet/node_modules}
[ -d "$robots" ] || { echo "bench/parquet.sh: $robots not found (set OPTOUT_SHARED_DIR): nothing to measure"; exit 0; }
[ -d "$modules/@duckdb/node-api" ] && [ -d "$modules/hyparquet-writer" ] ||
  { echo "bench/parquet.sh: DuckDB / hyparquet-writer not installed in $modules (deploy/deps.sh): nothing to measure"; exit 0; }
for t in taskset node zstd bc; do command -v $t >/dev/null || { echo "bench/parquet.sh: $t is needed" >&2; exit 1; }; done
[ -x "$build/bin/optout" ] || { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" -j >/dev/null; }
optout=$build/bin/optout
dir=${OPTOUT_BENCH_DIR:-/tmp/optout-bench}
mkdir -p "$dir"
export OPTOUT_NODE_MODULES="$(cd "$modules" && pwd)"

# make SIZE: the corpus as .jsonl.zst and as .parquet, once. Sets jl and pq.
make_corpus() {
  corpus="$dir/pq-corpus-$1"
  jl="$corpus/part-00000.jsonl.zst"
  pq="$corpus/part-00000.parquet"
  if [ ! -f "$jl" ]; then
    echo "generating a $1 FineWeb-shaped corpus in $corpus (once)..."
    ./tools/gen-corpus --robots-dir "$robots" --seed 7 --bytes "$1" --shards 1 --format zst --hosts 3000 \
      --bad-rate 0 --out "$corpus/raw" >/dev/null 2>&1
    # FineWeb has a token count in every row; gen-corpus leaves some out (for the estimate's tests)
    zstd -qdc "$corpus/raw/part-00000.jsonl.zst" | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    if d.get("token_count") is None:
        d["token_count"] = (len(d["text"].encode()) + 3) // 4
    sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")' | zstd -q -3 -o "$jl.tmp"
    mv "$jl.tmp" "$jl"
    rm -rf "$corpus/raw"
  fi
  if [ ! -f "$pq" ]; then
    echo "writing its Parquet copy (hyparquet-writer, snappy, 1,000-row row groups; once)..."
    zstd -qdc "$jl" | node bench/parquet_gen.mjs "$pq.tmp" 1000
    mv "$pq.tmp" "$pq"
  fi
}

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
duck="taskset -c 0 node tests/parquet/duckdb_sql.mjs"
# "WALL CPU" seconds of one run of "$@" (CPU: user + system); its peak RSS (KiB) into $dir/rss, its
# output into $dir/cmd.out
timed() {
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$dir/time" "$@" >"$dir/cmd.out" 2>&1 || { cat "$dir/cmd.out" >&2; exit 1; }
  t1=$(now)
  read -r kb user sys <"$dir/time"
  echo "$kb" >"$dir/rss"
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$user + $sys" | bc -l)"
}
# the median of column $1 of a file of "WALL CPU" lines
med() { cut -d' ' -f"$1" "$2" | median; }

make_corpus "$size"
if [ "${BENCH_GENERATE_ONLY:-0}" = 1 ]; then
  [ "$rss_size" = 0 ] || make_corpus "$rss_size"
  exit 0
fi
out="$dir/pq-out.parquet"
duck_out="$dir/pq-duck.parquet"
rows=$(node tests/parquet/duckdb_sql.mjs "SELECT count(*) AS n, sum(strlen(text)) AS t FROM read_parquet('$pq')")
nrows=$(echo "$rows" | sed 's/.*"n":"\{0,1\}\([0-9]*\).*/\1/')
text=$(echo "$rows" | sed 's/.*"t":"\{0,1\}\([0-9]*\).*/\1/')
pq_bytes=$(stat -c %s "$pq")
jl_bytes=$(stat -c %s "$jl")
raw=$(zstd -lv "$jl" 2>/dev/null | sed -n 's/.*Decompressed Size: .*(\([0-9]*\) B).*/\1/p' | head -1)
[ -n "$raw" ] || raw=$(zstd -dc "$jl" | wc -c)

load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$dir/t-start"; : >"$dir/t-duck"; : >"$dir/t-opt"; : >"$dir/t-rpq"; : >"$dir/t-rjl"; : >"$dir/t-djs"; : >"$dir/t-ojs"
i=0
while [ $i -lt "$repeat" ]; do
  i=$((i + 1))
  timed $duck "SET threads=1" "SELECT 1" >>"$dir/t-start"
  rm -f "$duck_out"
  timed $duck "SET threads=1" "COPY (SELECT * FROM read_parquet('$pq')) TO '$duck_out' (FORMAT parquet, COMPRESSION zstd)" >>"$dir/t-duck"
  duck_rss=$(cat "$dir/rss")
  timed taskset -c 0 "$optout" filter --robots-dir "$robots" --in "$pq" --out "$out" --stats "$dir/pq-stats.json" \
    >>"$dir/t-opt"
  opt_rss=$(cat "$dir/rss")
  rm -rf "$dir/rank-pq" "$dir/rank-jl"
  timed taskset -c 0 "$optout" rank --jobs 1 --mem-report --corpus "$pq" --out "$dir/rank-pq" >>"$dir/t-rpq"
  cp "$dir/cmd.out" "$dir/rank-pq.out"
  timed taskset -c 0 "$optout" rank --jobs 1 --mem-report --corpus "$jl" --out "$dir/rank-jl" >>"$dir/t-rjl"
  cp "$dir/cmd.out" "$dir/rank-jl.out"
  rm -f "$dir/pq-duck.json"
  timed $duck "SET threads=1" "COPY (SELECT * FROM read_parquet('$pq')) TO '$dir/pq-duck.json' (FORMAT json)" \
    >>"$dir/t-djs"
  djs_rss=$(cat "$dir/rss")
  rm -f "$dir/pq-duck.json"
  timed taskset -c 0 "$optout" filter --robots-dir "$robots" --in "$pq" --out "$dir/pq-out.jsonl" \
    --output-format jsonl >>"$dir/t-ojs"
  ojs_rss=$(cat "$dir/rss")
  rm -f "$dir/pq-out.jsonl"
done
start=$(med 1 "$dir/t-start"); start_cpu=$(med 2 "$dir/t-start")
duck_net=$(echo "$(med 1 "$dir/t-duck") - $start" | bc -l)
duck_cpu=$(echo "$(med 2 "$dir/t-duck") - $start_cpu" | bc -l)
opt_t=$(med 1 "$dir/t-opt"); opt_cpu=$(med 2 "$dir/t-opt")
rpq=$(med 1 "$dir/t-rpq"); rpq_cpu=$(med 2 "$dir/t-rpq")
rjl=$(med 1 "$dir/t-rjl"); rjl_cpu=$(med 2 "$dir/t-rjl")
djs=$(echo "$(med 1 "$dir/t-djs") - $start" | bc -l); djs_cpu=$(echo "$(med 2 "$dir/t-djs") - $start_cpu" | bc -l)
ojs=$(med 1 "$dir/t-ojs"); ojs_cpu=$(med 2 "$dir/t-ojs")
read_pq=$(sed -n 's/^read from the shards: \([0-9]*\) bytes.*/\1/p' "$dir/rank-pq.out")
read_jl=$(sed -n 's/^read from the shards: \([0-9]*\) bytes.*/\1/p' "$dir/rank-jl.out")
removed=$(sed -n 's/.*"docs_removed": \([0-9]*\),.*/\1/p' "$dir/pq-stats.json" | head -1)
# the same hosts, documents, tokens and ranks (the Parquet ranking counts no bytes: its text is not read)
same=identical
for f in en.tsv non_en.tsv; do
  cut -f1,2,4,5 "$dir/rank-pq/ranking/$f" >"$dir/rank-pq.cut"
  cut -f1,2,4,5 "$dir/rank-jl/ranking/$f" >"$dir/rank-jl.cut"
  cmp -s "$dir/rank-pq.cut" "$dir/rank-jl.cut" || same="DIFFERENT ($f)"
done
cmp -s "$dir/rank-pq/ranking/hosts.txt" "$dir/rank-jl/ranking/hosts.txt" || same="DIFFERENT (hosts.txt)"

mb() { echo "$1 / $2 / 1000000" | bc -l; }
verdict() { [ "$(echo "$1" | bc -l)" = 1 ] && echo met || echo "NOT met"; }
echo
echo "input: $pq ($pq_bytes bytes, $nrows rows, text $text bytes; as .jsonl.zst $jl_bytes bytes, $raw uncompressed)"
echo "one core (taskset -c 0), median of $repeat; MB/s over the JSON Lines size ($raw bytes); CPU = user + system"
echo "load average before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores shared: wall times vary, CPU times less)"
printf '%-58s %8s %8s %8s %10s\n' "" "wall s" "CPU s" "MB/s" "peak RSS"
printf '%-58s %8.2f %8.2f %8.1f %7d MiB\n' "DuckDB COPY to zstd Parquet (threads=1, start excluded)" "$duck_net" "$duck_cpu" \
  "$(mb "$raw" "$duck_net")" $((duck_rss / 1024))
printf '%-58s %8.2f %8.2f\n' "  (DuckDB start: node + instance + SELECT 1)" "$start" "$start_cpu"
printf '%-58s %8.2f %8.2f %8.1f %7d MiB\n' "optout filter to zstd Parquet ($removed rows removed)" "$opt_t" "$opt_cpu" \
  "$(mb "$raw" "$opt_t")" $((opt_rss / 1024))
ratio=$(echo "$duck_net / $opt_t" | bc -l)
ratio_cpu=$(echo "$duck_cpu / $opt_cpu" | bc -l)
printf 'filter throughput optout/DuckDB: %.2fx wall, %.2fx CPU (target >= 1.0x: %s)\n' "$ratio" "$ratio_cpu" \
  "$(verdict "$ratio >= 1.0")"
printf '%-58s %8.2f %8.2f   read %s bytes\n' "optout rank, .parquet" "$rpq" "$rpq_cpu" "$read_pq"
printf '%-58s %8.2f %8.2f   read %s bytes\n' "optout rank, .jsonl.zst" "$rjl" "$rjl_cpu" "$read_jl"
rr=$(echo "$rjl / $rpq" | bc -l)
printf 'rank on Parquet %.1fx faster (%.1fx CPU), reading %.1fx fewer bytes (target >= 5x: %s); rankings (hosts, docs, tokens, ranks) %s\n' "$rr" \
  "$(echo "$rjl_cpu / $rpq_cpu" | bc -l)" "$(echo "$read_jl / $read_pq" | bc -l)" "$(verdict "$rr >= 5")" "$same"
printf '%-58s %8.2f %8.2f %8.1f %7d MiB\n' "DuckDB COPY to JSON (threads=1, start excluded)" "$djs" "$djs_cpu" \
  "$(mb "$raw" "$djs")" $((djs_rss / 1024))
printf '%-58s %8.2f %8.2f %8.1f %7d MiB\n' "optout filter --output-format jsonl (plain)" "$ojs" "$ojs_cpu" \
  "$(mb "$raw" "$ojs")" $((ojs_rss / 1024))

# the same rows in one row group: what converting a pyarrow-sized row group costs
big="$dir/pq-corpus-$size/one-group.parquet"
if [ ! -f "$big" ]; then
  echo "writing the $size corpus as one row group (hyparquet-writer, 1 MiB pages; once)..."
  zstd -qdc "$jl" | node --max-old-space-size=8192 bench/parquet_gen.mjs "$big.tmp" 100000000
  mv "$big.tmp" "$big"
fi
timed $duck "SET threads=1" "COPY (SELECT * FROM read_parquet('$big')) TO '$dir/pq-duck.json' (FORMAT json)" \
  >"$dir/t-djs1"
djs_rss=$(cat "$dir/rss")
rm -f "$dir/pq-duck.json"
timed taskset -c 0 "$optout" filter --robots-dir "$robots" --in "$big" --out "$dir/pq-out.jsonl" \
  --output-format jsonl >"$dir/t-ojs1"
ojs_rss=$(cat "$dir/rss")
rm -f "$dir/pq-out.jsonl"
printf 'one row group of %s rows (%s bytes), to JSON, once:\n' "$nrows" "$(stat -c %s "$big")"
printf '%-58s %8.2f %8.2f %8s %7d MiB\n' "  DuckDB COPY to JSON (threads=1, start included)" \
  "$(cut -d' ' -f1 "$dir/t-djs1")" "$(cut -d' ' -f2 "$dir/t-djs1")" "" $((djs_rss / 1024))
printf '%-58s %8.2f %8.2f %8s %7d MiB\n' "  optout filter --output-format jsonl" \
  "$(cut -d' ' -f1 "$dir/t-ojs1")" "$(cut -d' ' -f2 "$dir/t-ojs1")" "" $((ojs_rss / 1024))

if [ "$rss_size" != 0 ]; then
  make_corpus "$rss_size"
  timed taskset -c 0 "$optout" filter --robots-dir "$robots" --in "$pq" --out "$out" >"$dir/t-rss"
  rss=$(cat "$dir/rss")
  printf 'optout filter on %s (%s bytes): %.2f s wall, %.2f s CPU, peak RSS %d MiB (target <= 512 MiB: %s)\n' "$pq" \
    "$(stat -c %s "$pq")" "$(cut -d' ' -f1 "$dir/t-rss")" "$(cut -d' ' -f2 "$dir/t-rss")" $((rss / 1024)) \
    "$([ "$rss" -le 524288 ] && echo met || echo "NOT met")"
fi
rm -f "$out" "$duck_out"
