#!/bin/sh
# bench/rank.sh [BUILD_DIR] [WORK_DIR] — memory and time of `optout rank` on a corpus with
# 10 million distinct hosts (memory must stay bounded with tens of millions of hosts).
#
# The corpus is generated here (tools/gen-corpus draws from a few thousand hosts): SHARDS zstd
# shards of FineWeb-style lines with tiny texts; host h<N>.example for N in [0, HOSTS) appears in
# exactly one shard, plus a popular set of 1/40 of the hosts repeated in every shard (so reducers
# really sum across maps). Classes: 60% en, 30% non-English (de, fra_Latn), 10% unknown.
#
# Then three runs:
#   1. the whole run, --jobs 2 (one per core here), default N (1,000,000 per class), P=16,
#      under /usr/bin/time -v: peak RSS of the process (maps and reducers two at a time);
#   2. the same with --jobs 1 and the hidden --mem-report: the peak RSS of each phase, i.e. of a
#      single map (the largest shard), a single reduce (the largest partition) and the merge;
#   3. as 2 with P=64, to show that a reducer's memory falls with P.
# Env: HOSTS (10000000), SHARDS (8), PARTITIONS (16), KEEP=1 keeps the corpus.
set -eu
BUILD=${1:-build}
WORK=${2:-/tmp/optout-bench-rank}
HOSTS=${HOSTS:-10000000}
SHARDS=${SHARDS:-8}
PARTS=${PARTITIONS:-16}
OPTOUT=$BUILD/bin/optout
[ -x "$OPTOUT" ] || { echo "no $OPTOUT (build first)" >&2; exit 2; }
mkdir -p "$WORK/corpus"

if [ ! -f "$WORK/corpus/.done-$HOSTS-$SHARDS" ]; then
    rm -f "$WORK"/corpus/*
    echo "generating $HOSTS hosts in $SHARDS shards..." >&2
    start=$(date +%s)
    s=0
    while [ $s -lt "$SHARDS" ]; do
        /usr/bin/python3 - "$HOSTS" "$SHARDS" "$s" <<'EOF' | zstd -q -3 -T1 -o "$WORK/corpus/part-$s.jsonl.zst" &
import sys
hosts, shards, s = map(int, sys.argv[1:])
per = hosts // shards
lo, hi = s * per, hosts if s == shards - 1 else (s + 1) * per
langs = ['"en"'] * 6 + ['"de"', '"de"', '"fra_Latn"', 'null']
out = sys.stdout
buf = []
def line(h, i):
    return ('{"text":"tiny text %d","url":"https://h%d.example/p/%d","language":%s,"token_count":%d}\n'
            % (i, h, i, langs[h % 10], 1 + (h * 7 + i) % 50))
for h in range(lo, hi):
    buf.append(line(h, h))
    if len(buf) >= 100000:
        out.write("".join(buf)); buf = []
for h in range(0, hosts, 40):  # the popular set, in every shard
    buf.append(line(h, s))
    if len(buf) >= 100000:
        out.write("".join(buf)); buf = []
out.write("".join(buf))
EOF
        s=$((s + 1))
        # two generators at a time (2 cores)
        if [ $((s % 2)) -eq 0 ]; then wait; fi
    done
    wait
    touch "$WORK/corpus/.done-$HOSTS-$SHARDS"
    echo "generated in $(( $(date +%s) - start )) s: $(du -sh "$WORK/corpus" | cut -f1)" >&2
fi

peak() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
elapsed() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1"; }

echo "== 1. whole run: --jobs 2 --partitions $PARTS (default N = 1,000,000 per class)"
rm -rf "$WORK/out1"
/usr/bin/time -v "$OPTOUT" rank --corpus "$WORK/corpus/*.jsonl.zst" --out "$WORK/out1" --partitions "$PARTS" \
    --jobs 2 2>"$WORK/time1.txt"
echo "peak RSS $(peak "$WORK/time1.txt") KiB, wall $(elapsed "$WORK/time1.txt")"

echo "== 2. one step at a time: --jobs 1 --partitions $PARTS"
rm -rf "$WORK/out2"
/usr/bin/time -v "$OPTOUT" rank --corpus "$WORK/corpus/*.jsonl.zst" --out "$WORK/out2" --partitions "$PARTS" \
    --jobs 1 --mem-report >/dev/null 2>"$WORK/time2.txt"
grep '^peak RSS' "$WORK/time2.txt"
echo "wall $(elapsed "$WORK/time2.txt") (the process peak is reset between phases by --mem-report: see run 1)"
cmp "$WORK/out1/ranking/en.tsv" "$WORK/out2/ranking/en.tsv" && cmp "$WORK/out1/ranking/hosts.txt" "$WORK/out2/ranking/hosts.txt" &&
    echo "same ranking with --jobs 1 and --jobs 2"

echo "== 3. --jobs 1 --partitions 64"
rm -rf "$WORK/out3"
/usr/bin/time -v "$OPTOUT" rank --corpus "$WORK/corpus/*.jsonl.zst" --out "$WORK/out3" --partitions 64 \
    --jobs 1 --mem-report >/dev/null 2>"$WORK/time3.txt"
grep '^peak RSS' "$WORK/time3.txt"
echo "wall $(elapsed "$WORK/time3.txt")"
cmp "$WORK/out1/ranking/en.tsv" "$WORK/out3/ranking/en.tsv" && echo "same ranking with 16 and 64 partitions"

rm -rf "$WORK/out1" "$WORK/out2" "$WORK/out3"
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/corpus"
