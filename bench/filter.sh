#!/bin/sh
# Filter throughput against the floor of the same work done by zstd alone, on one core.
#   bench/filter.sh [BUILD_DIR] [SIZE]      (defaults: build, 1G)
# Generates (once, cached in $OPTOUT_BENCH_DIR, default /tmp/optout-bench) a seeded FineWeb-shaped
# shard of SIZE uncompressed bytes whose hosts are the real robots.txt files of ../shared, then
# times, pinned to core 0 (taskset -c 0), median of 3 runs each:
#   floor:  zstd -dc --single-thread IN | zstd -3 --single-thread -c > /dev/null
#   optout: optout filter --robots-dir ROBOTS --in IN --out OUT.jsonl.zst  (level 3)
# and prints docs/s, MB/s (uncompressed input), the ratio optout/floor (target >= 0.85) and the
# filter's peak RSS (target <= 256 MiB). A benchmark, not a test: it always exits 0 unless
# something fails to run.
set -eu
cd "$(dirname "$0")/.."
. bench/shard-setup.sh
bench_shard_setup filter.sh "${1:-build}" "${2:-1G}"
out="$dir/out.jsonl.zst"

now() { date +%s.%N; }
median3() { printf '%s\n%s\n%s\n' "$1" "$2" "$3" | sort -g | sed -n 2p; }
time_floor() {
  t0=$(now); taskset -c 0 sh -c "zstd -qdc --single-thread '$in' | zstd -q -3 --single-thread -c > /dev/null"; t1=$(now)
  echo "$t1 - $t0" | bc -l
}
time_optout() {
  t0=$(now)
  /usr/bin/time -f %M -o "$dir/rss" taskset -c 0 "$build/bin/optout" filter --robots-dir "$robots" --in "$in" --out "$out" --stats "$dir/stats.json"
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
f1=$(time_floor); f2=$(time_floor); f3=$(time_floor)
o1=$(time_optout); r1=$(cat "$dir/rss"); o2=$(time_optout); r2=$(cat "$dir/rss"); o3=$(time_optout); r3=$(cat "$dir/rss")
floor=$(median3 "$f1" "$f2" "$f3")
ours=$(median3 "$o1" "$o2" "$o3")
rss=$(printf '%s\n%s\n%s\n' "$r1" "$r2" "$r3" | sort -n | tail -1)
bytes=$(sed -n 's/.*"bytes_in": \([0-9]*\).*/\1/p' "$dir/stats.json" | head -1)
docs=$(sed -n 's/^  "docs_in": \([0-9]*\),.*/\1/p' "$dir/stats.json" | head -1)
raw=$(zstd -lv "$in" 2>/dev/null | sed -n 's/.*Decompressed Size: .*(\([0-9]*\) B).*/\1/p' | head -1)
[ -n "$raw" ] || raw=$(zstd -dc "$in" | wc -c)
removed=$(sed -n 's/.*"docs_removed": \([0-9]*\),.*/\1/p' "$dir/stats.json" | head -1)
echo
echo "input: $in ($raw bytes uncompressed, $docs documents, $removed removed; text $bytes bytes)"
printf '%-44s %8s %12s %10s\n' "" "seconds" "docs/s" "MB/s"
printf '%-44s %8.2f %12.0f %10.1f\n' "floor: zstd -dc | zstd -3 (one core)" "$floor" "$(echo "$docs / $floor" | bc -l)" "$(echo "$raw / $floor / 1000000" | bc -l)"
printf '%-44s %8.2f %12.0f %10.1f\n' "optout filter (one core)" "$ours" "$(echo "$docs / $ours" | bc -l)" "$(echo "$raw / $ours / 1000000" | bc -l)"
ratio=$(echo "$floor / $ours" | bc -l)
printf 'throughput ratio optout/floor: %.2f (target >= 0.85: %s)\n' "$ratio" "$(echo "$ratio >= 0.85" | bc -l | sed 's/1/met/;s/0/NOT met/')"
printf 'optout peak RSS: %d MiB (target <= 256 MiB: %s)\n' "$((rss / 1024))" "$([ "$rss" -le 262144 ] && echo met || echo NOT met)"
