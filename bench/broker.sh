#!/bin/sh
# Broker throughput: no-op tasks dispatched, journaled (group commit, fsync), published and
# acknowledged per second, with 1, 16 and 128 simulated workers (bench/fake_workers.c: one process
# holding that many DEALER sockets, each answering at once), and the broker's memory per planned
# task. A benchmark: prints figures, exits 0 unless something fails to run.
#   bench/broker.sh [BUILD_DIR] [TASKS]      (defaults: build, 50000)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tasks=${2:-50000}
# fake_workers is built only with -DOPTOUT_BENCH=ON: switch it on in this build tree
[ -x "$build/bin/fake_workers" ] || { cmake -S . -B "$build" -DOPTOUT_BENCH=ON >/dev/null &&
                                     cmake --build "$build" -j >/dev/null; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-10s %10s %10s %14s %16s\n' workers tasks seconds "tasks/s" "broker RSS"
for k in 1 16 128; do
  dir="$tmp/run$k"
  start=$(date +%s.%N)
  OPTOUT_LOG_LEVEL=warning /usr/bin/time -f %M -o "$tmp/rss" "$build/bin/optout-broker" --dir "$dir" \
    --synthetic-tasks "$tasks" &
  bpid=$!
  while [ ! -S "$dir/broker.sock" ]; do sleep 0.01; done
  acks=$("$build/bin/fake_workers" "ipc://$dir/broker.sock" "$k" "$tasks" | sed 's/acks //')
  wait "$bpid" || true
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc -l)
  printf '%-10s %10s %10.2f %14.0f %13s KiB\n' "$k" "$acks" "$secs" "$(echo "$acks / $secs" | bc -l)" "$(tail -1 "$tmp/rss")"
done
# memory per planned task: the broker's peak RSS with 10x the tasks, over the difference
OPTOUT_LOG_LEVEL=warning /usr/bin/time -f %M -o "$tmp/rss_small" "$build/bin/optout-broker" --dir "$tmp/m1" \
  --synthetic-tasks 100000 & p=$!
while [ ! -S "$tmp/m1/broker.sock" ]; do sleep 0.01; done; pkill -TERM -P "$p"; wait "$p" || true
OPTOUT_LOG_LEVEL=warning /usr/bin/time -f %M -o "$tmp/rss_big" "$build/bin/optout-broker" --dir "$tmp/m2" \
  --synthetic-tasks 1000000 & p=$!
while [ ! -S "$tmp/m2/broker.sock" ]; do sleep 0.01; done; pkill -TERM -P "$p"; wait "$p" || true
small=$(tail -1 "$tmp/rss_small"); big=$(tail -1 "$tmp/rss_big")
echo "broker memory per planned task: $(( (big - small) * 1024 / 900000 )) bytes (peak RSS $small KiB at 100k tasks, $big KiB at 1M)"
echo "target: >= 20000 tasks/s"
