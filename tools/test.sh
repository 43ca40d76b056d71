#!/bin/sh
# Builds optout and runs its whole test suite (the README's test command).
#   tools/test.sh              Release build in build/, then ctest
#   tools/test.sh --sanitize   the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
# Both build with -DOPTOUT_WERROR=ON: a warning fails the suite (a user build only warns); the
# Release build also compiles the benchmark programs (-DOPTOUT_BENCH=ON) so that they keep building.
# Tests that need ../shared (conformance suites, real robots.txt files) skip with a message without it.
set -eu
cd "$(dirname "$0")/.."
dir=build
flags="-DCMAKE_BUILD_TYPE=Release -DOPTOUT_WERROR=ON -DOPTOUT_BENCH=ON"
case "${1:-}" in
  "") ;;
  --sanitize) dir=build-asan; flags="-DCMAKE_BUILD_TYPE=Debug -DOPTOUT_SANITIZE=ON -DOPTOUT_WERROR=ON" ;;
  *) echo "usage: tools/test.sh [--sanitize]" >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
# shellcheck disable=SC2086
cmake -S . -B "$dir" $flags >/dev/null
cmake --build "$dir" -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j "$jobs"
