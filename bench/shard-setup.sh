# bench/shard-setup.sh — sourced by bench/filter.sh and bench/tags.sh: what both need before
# timing anything. `bench_shard_setup NAME BUILD SIZE` checks ../shared's robots.txt files (exits 0
# with a message when they are absent), needs taskset, builds BUILD when it has no optout, and makes
# (once) the generated SIZE shard both benchmarks time, cached in $OPTOUT_BENCH_DIR
# (/tmp/optout-bench). It sets build, size, robots, dir, corpus and in.
bench_shard_setup() {
  build=$2
  size=$3
  robots=../shared/data/robots-top10k
  [ -d "$robots" ] || { echo "bench/$1: $robots not found (../shared absent): nothing to measure"; exit 0; }
  command -v taskset >/dev/null || { echo "bench/$1: taskset (util-linux) is needed" >&2; exit 1; }
  [ -x "$build/bin/optout" ] || { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" -j >/dev/null; }
  dir=${OPTOUT_BENCH_DIR:-/tmp/optout-bench}
  corpus="$dir/corpus-$size"
  in="$corpus/part-00000.jsonl.zst"
  if [ ! -f "$in" ]; then
    echo "generating a $size shard in $corpus (once)..."
    ./tools/gen-corpus --seed 7 --bytes "$size" --shards 1 --format zst --hosts 3000 --out "$corpus" >/dev/null 2>&1
  fi
}
