#!/bin/sh
# Workers in two network namespaces of their own, connected over tcp:// to a broker in the host
# namespace (veth pairs 10.77.1.0/24 and 10.77.2.0/24, nothing else reachable): the run completes
# with the same shards and report as a one-machine run.
# usage: test_netns.sh BIN_DIR REPO_ROOT       (exit 77 when not root or without `ip netns`)
set -u
bin=$1 root=$2
[ "$(id -u)" -eq 0 ] || { echo "netns: needs root (network namespaces): skipped"; exit 77; }
command -v ip >/dev/null 2>&1 || { echo "netns: iproute2 missing: skipped"; exit 77; }
tag="optout$$"
tmp=$(mktemp -d)
cleanup() {
  [ -n "${bpid:-}" ] && kill "$bpid" 2>/dev/null
  for n in 1 2; do
    ip netns pids "$tag-w$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$tag-w$n" 2>/dev/null
    ip link del "$tag-h$n" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
for n in 1 2; do
  ip netns add "$tag-w$n" || { echo "netns: cannot create namespaces here: skipped"; exit 77; }
  ip link add "$tag-h$n" type veth peer name "$tag-n$n"
  ip link set "$tag-n$n" netns "$tag-w$n"
  ip addr add "10.77.$n.1/24" dev "$tag-h$n"
  ip link set "$tag-h$n" up
  ip netns exec "$tag-w$n" ip addr add "10.77.$n.2/24" dev "$tag-n$n"
  ip netns exec "$tag-w$n" ip link set "$tag-n$n" up
  ip netns exec "$tag-w$n" ip link set lo up
done
# the corpus and the reference (one machine)
"$root/tools/gen-corpus" --robots-dir "$root/data/sample/robots" --seed 21 --docs 6000 --shards 30 --format zst \
  --out "$tmp/corpus" >/dev/null 2>&1 && rm -rf "$tmp/corpus/_meta"
"$bin/optout" run --corpus "$tmp/corpus/*.zst" --robots-dir "$root/data/sample/robots" --out "$tmp/ref" \
  --removed --workers 2 2>/dev/null || { echo "FAIL: reference run"; exit 1; }
# workers first (ZeroMQ connects before the broker binds and retries), so both are there when
# the broker starts; the broker binds only the two veth addresses (and its run directory socket)
for n in 1 2; do
  OPTOUT_LOG_LEVEL=warning ip netns exec "$tag-w$n" "$bin/optout-worker" --connect "tcp://10.77.$n.1:45555" \
    --root fs=/ --name "ns$n" 2>"$tmp/worker$n.log" &
done
"$bin/optout-broker" --dir "$tmp/run" --corpus "$tmp/corpus/*.zst" --robots-dir "$root/data/sample/robots" \
  --removed --bind tcp://10.77.1.1:45555 --bind tcp://10.77.2.1:45555 2>"$tmp/broker.log" &
bpid=$!
wait "$bpid"; rc=$?; bpid=
fails=0
[ "$rc" -eq 0 ] && echo "PASS: broker completed with workers in two namespaces" \
  || { echo "FAIL: broker exit $rc: $(tail -3 "$tmp/broker.log")"; fails=1; }
for n in 1 2; do
  grep -q "worker=ns$n: joined" "$tmp/broker.log" && echo "PASS: worker in namespace $n joined over tcp" \
    || { echo "FAIL: worker $n never joined"; fails=1; }
done
for f in "$tmp"/ref/shards/*.zst "$tmp"/ref/removed/*.zst; do
  rel=${f#"$tmp/ref/"}
  if [ "$(zstd -qdc "$f" | sha256sum)" != "$(zstd -qdc "$tmp/run/$rel" 2>/dev/null | sha256sum)" ]; then
    echo "FAIL: $rel differs from the one-machine run"; fails=1
  fi
done
for k in docs_in docs_removed tokens_removed; do
  a=$(sed -n "s/.*\"$k\": \([0-9]*\).*/\1/p" "$tmp/ref/report.json" | head -1)
  b=$(sed -n "s/.*\"$k\": \([0-9]*\).*/\1/p" "$tmp/run/report.json" | head -1)
  [ "$a" = "$b" ] || { echo "FAIL: report $k: $b, one-machine run $a"; fails=1; }
done
[ "$fails" -eq 0 ] && echo "netns: same shards and report as the one-machine run"
exit "$fails"
