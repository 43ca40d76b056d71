#!/bin/sh
# Builds optout and runs its whole test suite (the README's test command).
#   tools/test.sh              Release build in build/, then ctest
#   tools/test.sh --sanitize   the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
# Both build with -DOPTOUT_WERROR=ON: a warning fails the suite (a user build only warns); the
# Release build also compiles the benchmark programs (-DOPTOUT_BENCH=ON) so that they keep building.
# The sanitized build is optimised a little (-O1, as AddressSanitizer's authors advise: about twice
# as fast as -O0, every check kept); at -O1 GCC's -Wformat-truncation guesses value ranges it cannot
# see and warns about snprintf calls that cannot truncate, so that one warning is left to the
# Release build, which checks it with full range information.
# Tests that need ../shared (conformance suites, real robots.txt files) skip with a message without it.
# ctest runs as many tests at a time as there are cores, the longest first (tests/CMakeLists.txt).
set -eu
cd "$(dirname "$0")/.."
dir=build
case "${1:-}" in
  "") set -- -DCMAKE_BUILD_TYPE=Release -DOPTOUT_WERROR=ON -DOPTOUT_BENCH=ON ;;
  --sanitize)
    dir=build-asan
    set -- -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS=-O1 -Wno-format-truncation" -DOPTOUT_SANITIZE=ON -DOPTOUT_WERROR=ON ;;
  *) echo "usage: tools/test.sh [--sanitize]" >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j "$jobs"
