#!/bin/sh
# Fuzz smoke test: builds the libFuzzer targets with clang (cmake target `fuzz`) and runs every
# fuzz_* program for a bounded time on its seed corpus. Exits nonzero when a target crashes (or the
# build fails).
#
#   tests/fuzz/smoke.sh [SECONDS]      default 30 s per target
#
# Environment: BUILD_DIR (default build-fuzz), CC (default clang), FUZZ_JOBS (build jobs; also how
# many targets fuzz at a time, each on its own core for SECONDS: the wall time is divided, not the
# fuzzing each target gets).
# Per target NAME:
#   tests/fuzz/crashes/NAME/   saved crash inputs: replayed first, each must now pass (regressions)
#   tests/fuzz/corpus/NAME/    committed seeds
# (ctest replays both directories too, without libFuzzer: the NAME_replay tests, tests/fuzz/replay.c;
# the targets are listed in tests/fuzz/targets.cmake.)
#   tests/fuzz/NAME.dict       a libFuzzer dictionary, if present (fuzz_robots has one built in)
# fuzz_robots is also seeded, when ../shared is beside the repository, with a few real robots.txt
# bodies from ../shared/data/robots-top10k, copied into a temporary corpus at run time (nothing is
# written into the source tree). New crash inputs are kept in BUILD_DIR/fuzz-artifacts/: move one
# to tests/fuzz/crashes/NAME/ to keep it; reproduce with  BUILD_DIR/bin/NAME FILE
set -eu

secs=${1:-30}
case "$secs" in
  ''|*[!0-9]*) echo "usage: tests/fuzz/smoke.sh [SECONDS]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
case "$build" in /*) ;; *) build=$(pwd)/$build ;; esac
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

CC=${CC:-clang} cmake -S "$root" -B "$build" -DOPTOUT_FUZZ=ON -DOPTOUT_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz -j "$jobs"

work=$(mktemp -d "${TMPDIR:-/tmp}/optout-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

# robots.txt tokens for the mutator
cat >"$work/fuzz_robots.dict" <<'EOF'
"User-agent:"
"user-agent"
"useragent"
"user agent"
"Allow:"
"Disallow:"
"disallow"
"dissallow"
"Sitemap:"
"Crawl-delay:"
"*"
"$"
"/"
"#"
"%"
"%2A"
"%24"
"%7E"
"%C3%A9"
"\xc3\xa9"
"\xef\xbb\xbf"
"\x0d\x0a"
"\x0d"
"\x0a"
"\x00"
"/robots.txt"
"http://"
"https://h/"
"//"
"?"
";"
"GPTBot"
"CCBot/2.0"
"FooBot"
"Google-Extended"
EOF

run_target() {
  name=$1
  corpus=$work/corpus-$name
  mkdir -p "$corpus"
  if [ -d "$root/tests/fuzz/corpus/$name" ]; then
    cp "$root/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
  fi
  dict=
  if [ -f "$root/tests/fuzz/$name.dict" ]; then dict=$root/tests/fuzz/$name.dict
  elif [ -f "$work/$name.dict" ]; then dict=$work/$name.dict
  fi
  shared=$root/../shared/data/robots-top10k
  if [ "$name" != fuzz_robots ]; then
    :
  elif [ -d "$shared" ]; then
    # every 150th body by name that is small enough to mutate quickly, behind a control byte
    # (0x0b: two built-in URLs, per-agent comparison) and an agent-pool byte (0xff: all)
    n=0
    find "$shared" -maxdepth 1 -type f | LC_ALL=C sort | awk 'NR % 150 == 1' >"$work/real.list"
    while IFS= read -r f; do
      size=$(wc -c <"$f")
      if [ "$size" -gt 0 ] && [ "$size" -le 12000 ]; then
        { printf '\013\377'; cat "$f"; } >"$corpus/real-$(basename "$f")"
        n=$((n + 1))
      fi
    done <"$work/real.list"
    echo "fuzz $name: seeded with $n real robots.txt bodies from $shared"
  else
    echo "fuzz $name: $shared absent: committed seeds only"
  fi
  # Regression first: every saved crash input must now pass.
  crashes=$root/tests/fuzz/crashes/$name
  if ls "$crashes/"* >/dev/null 2>&1; then
    echo "fuzz $name: replaying tests/fuzz/crashes/$name/"
    if ! ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
         UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
         "$build/bin/$name" "$crashes/"* >"$work/$name.replay.log" 2>&1; then
      grep -E 'Running:|ERROR|invariant|SUMMARY' "$work/$name.replay.log" | tail -n 20
      echo "fuzz $name: FAILED: a saved crash input still fails (tests/fuzz/crashes/$name/)" >&2
      return 1
    fi
  fi
  echo "fuzz $name: $secs s"
  rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$build/bin/$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=16384 \
      ${dict:+-dict="$dict"} -artifact_prefix="$artifacts/$name-" -print_final_stats=1 \
      "$corpus" >"$work/$name.log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$name.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$work/$name.log"
    echo "fuzz $name: FAILED (exit $rc); inputs in $artifacts:" >&2
    ls -l "$artifacts" >&2
    return 1
  fi
  echo "fuzz $name: OK"
}

# $jobs targets at a time, each in the background with its output kept apart, then shown in order
status=0
found=0
batch=
flush() {
  wait
  for name in $batch; do
    cat "$work/$name.out"
    [ "$(cat "$work/$name.rc")" = 0 ] || status=1
  done
  batch=
}
for bin in "$build"/bin/fuzz_*; do
  [ -x "$bin" ] || continue
  found=$((found + 1))
  name=$(basename "$bin")
  ( rc=0; run_target "$name" >"$work/$name.out" 2>&1 || rc=$?; echo "$rc" >"$work/$name.rc" ) &
  batch="$batch $name"
  if [ $((found % jobs)) = 0 ]; then flush; fi
done
flush
if [ "$found" = 0 ]; then
  echo "fuzz: no fuzz_* program in $build/bin" >&2
  exit 1
fi
exit $status
