#!/bin/sh
# Fleet overhead: `optout run --workers 2` (broker, 2 workers, private Redis, journal, publication)
# against two concurrent single-process `optout filter` runs over the same shards, on this
# 2-core machine. Target: the fleet keeps >= 90% of the plain filters' throughput.
#   bench/fleet.sh [BUILD_DIR] [SIZE] [SHARDS]      (defaults: build, 1G, 8)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
size=${2:-1G}
shards=${3:-8}
robots=../shared/data/robots-top10k
[ -d "$robots" ] || { echo "bench/fleet.sh: $robots not found (../shared absent): nothing to measure"; exit 0; }
[ -x "$build/bin/optout" ] || { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" -j >/dev/null; }
dir=${OPTOUT_BENCH_DIR:-/tmp/optout-bench}
corpus="$dir/fleet-$size-$shards"
if [ ! -d "$corpus" ]; then
  echo "generating $size in $shards shards in $corpus (once)..."
  ./tools/gen-corpus --seed 9 --bytes "$size" --shards "$shards" --format zst --hosts 3000 --jobs 2 --out "$corpus" >/dev/null 2>&1
  rm -rf "$corpus/_meta"
fi
out="$dir/fleet-out"
now() { date +%s.%N; }
rm -rf "$out"; mkdir -p "$out/plain"
t0=$(now)
ls "$corpus"/*.zst | xargs -P 2 -I{} sh -c "'$build/bin/optout' filter --robots-dir '$robots' --in {} --out '$out/plain/'\$(basename {})"
t1=$(now)
OPTOUT_LOG_LEVEL=warning "$build/bin/optout" run --corpus "$corpus/*.zst" --robots-dir "$robots" --workers 2 \
  --out "$out/run" 2>/dev/null
t2=$(now)
plain=$(echo "$t1 - $t0" | bc -l); fleet=$(echo "$t2 - $t1" | bc -l)
raw=$(du -sb "$corpus" | cut -f1)
printf 'two concurrent optout filter processes: %6.2f s\n' "$plain"
printf 'optout run --workers 2 (the fleet):       %6.2f s\n' "$fleet"
ratio=$(echo "$plain / $fleet" | bc -l)
printf 'fleet throughput / plain filters: %.3f (target >= 0.90: %s)\n' "$ratio" \
  "$(echo "$ratio >= 0.90" | bc -l | sed 's/1/met/;s/0/NOT met/')"
for f in "$out"/plain/*.zst; do
  cmp -s "$f" "$out/run/shards/$(basename "$f")" || { echo "bench/fleet.sh: outputs differ: $(basename "$f")" >&2; exit 1; }
done
echo "outputs identical ($(ls "$out"/plain | wc -l) shards, $raw compressed input bytes)"
