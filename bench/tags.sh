#!/bin/sh
# Tag mode against a full filter run, on one core.
#   bench/tags.sh [BUILD_DIR] [SIZE]      (defaults: build, 1G)
# Uses the seeded FineWeb-shaped shard of bench/filter.sh (generated once, cached in
# $OPTOUT_BENCH_DIR, default /tmp/optout-bench; hosts are the real robots.txt files of ../shared)
# and times, pinned to core 0 (taskset -c 0), median of 3 runs each:
#   full:         optout filter --in IN --out OUT.jsonl.zst                       (level 3)
#   full+removed: optout filter --in IN --out OUT.jsonl.zst --removed R.jsonl.zst
#   tags:         optout filter --in IN --out TAGS.jsonl.zst --output tags
#   apply-tags:   optout apply-tags --tags TAGS.jsonl.zst --in IN --out A.jsonl.zst --removed AR.jsonl.zst
# checks that the three filter runs give the same statistics and that apply-tags reproduces the
# full run's outputs (decompressed), and prints seconds, MB/s (uncompressed input), output sizes
# and the speed ratio full / tags. A benchmark, not a test: it exits 0 unless something fails.
set -eu
cd "$(dirname "$0")/.."
. bench/shard-setup.sh
bench_shard_setup tags.sh "${1:-build}" "${2:-1G}"
optout=$build/bin/optout
t="$dir/tags-bench"
mkdir -p "$t"

now() { date +%s.%N; }
median3() { printf '%s\n%s\n%s\n' "$1" "$2" "$3" | sort -g | sed -n 2p; }
timed() { # timed COMMAND...: seconds of one run on core 0
  t0=$(now); taskset -c 0 "$@"; t1=$(now)
  echo "$t1 - $t0" | bc -l
}
full() { timed "$optout" filter --robots-dir "$robots" --in "$in" --out "$t/full.jsonl.zst" --stats "$t/full.json"; }
full_removed() {
  timed "$optout" filter --robots-dir "$robots" --in "$in" --out "$t/fr.jsonl.zst" \
    --removed "$t/fr-removed.jsonl.zst" --stats "$t/fr.json"
}
tags() { timed "$optout" filter --robots-dir "$robots" --in "$in" --out "$t/tags.jsonl.zst" --output tags --stats "$t/tags.json"; }
apply() {
  timed "$optout" apply-tags --tags "$t/tags.jsonl.zst" --in "$in" --out "$t/applied.jsonl.zst" \
    --removed "$t/applied-removed.jsonl.zst" --stats "$t/apply.json"
}
# interleaved, so that a slower or faster period of the machine touches every variant alike
f1=$(full); r1=$(full_removed); g1=$(tags); a1=$(apply)
f2=$(full); r2=$(full_removed); g2=$(tags); a2=$(apply)
f3=$(full); r3=$(full_removed); g3=$(tags); a3=$(apply)
f=$(median3 "$f1" "$f2" "$f3"); r=$(median3 "$r1" "$r2" "$r3"); g=$(median3 "$g1" "$g2" "$g3"); a=$(median3 "$a1" "$a2" "$a3")

same_stats=no
cmp -s "$t/full.json" "$t/tags.json" && cmp -s "$t/full.json" "$t/fr.json" && same_stats=yes
same_out=no
zstd -qdc "$t/fr.jsonl.zst" > "$t/a" && zstd -qdc "$t/applied.jsonl.zst" > "$t/b" && cmp -s "$t/a" "$t/b" &&
  zstd -qdc "$t/fr-removed.jsonl.zst" > "$t/a" && zstd -qdc "$t/applied-removed.jsonl.zst" > "$t/b" && cmp -s "$t/a" "$t/b" &&
  same_out=yes
rm -f "$t/a" "$t/b"
raw=$(zstd -lv "$in" 2>/dev/null | sed -n 's/.*Decompressed Size: .*(\([0-9]*\) B).*/\1/p' | head -1)
[ -n "$raw" ] || raw=$(zstd -dc "$in" | wc -c)
docs=$(sed -n 's/^  "docs_in": \([0-9]*\),.*/\1/p' "$t/full.json" | head -1)
removed=$(grep -o '"docs_removed": [0-9]*' "$t/full.json" | head -1 | sed 's/.* //')
size_of() { stat -c %s "$1"; }
echo
echo "input: $in ($raw bytes uncompressed, $(size_of "$in") compressed, $docs documents, $removed removed)"
printf '%-52s %8s %8s %14s\n' "" "seconds" "MB/s" "output bytes"
printf '%-52s %8.2f %8.1f %14s\n' "optout filter, full (kept shard)" "$f" "$(echo "$raw / $f / 1000000" | bc -l)" "$(size_of "$t/full.jsonl.zst")"
printf '%-52s %8.2f %8.1f %14s\n' "optout filter, full + --removed" "$r" "$(echo "$raw / $r / 1000000" | bc -l)" \
  "$(( $(size_of "$t/fr.jsonl.zst") + $(size_of "$t/fr-removed.jsonl.zst") ))"
printf '%-52s %8.2f %8.1f %14s\n' "optout filter --output tags" "$g" "$(echo "$raw / $g / 1000000" | bc -l)" "$(size_of "$t/tags.jsonl.zst")"
printf '%-52s %8.2f %8.1f %14s\n' "optout apply-tags (kept + removed)" "$a" "$(echo "$raw / $a / 1000000" | bc -l)" \
  "$(( $(size_of "$t/applied.jsonl.zst") + $(size_of "$t/applied-removed.jsonl.zst") ))"
printf 'speed ratio full / tags: %.2f (full + --removed / tags: %.2f)\n' "$(echo "$f / $g" | bc -l)" "$(echo "$r / $g" | bc -l)"
echo "same statistics (full, full + removed, tags): $same_stats; apply-tags output = full + removed output: $same_out"
