# checks.sh — the helpers of the shell CLI tests (sourced, not run): a temporary directory $T,
# PASS/FAIL lines, a failure count, and the last command's output and status.
#   run ARGS...             stdout in $T/out, stderr in $T/err, status in $rc
#   expect NAME STATUS      the last run exited with STATUS
#   has NAME FILE TEXT      FILE ($T/out or $T/err) holds the fragment TEXT; hasnt: it does not
#   finish                  prints the summary and exits 1 on any failure, else 0
# The caller sets NAME (the test's name, for the temporary directory) before sourcing; its own
# arguments BIN_DIR SOURCE_ROOT become $BIN (absolute), $SRC and $OPTOUT (exit 2 without them).
BIN=${1:-}
SRC=${2:-}
if [ -z "$BIN" ] || [ -z "$SRC" ]; then
    echo "usage: $0 BIN_DIR SOURCE_ROOT" >&2
    exit 2
fi
BIN=$(cd "$BIN" && pwd)
OPTOUT=$BIN/optout
T=$(mktemp -d "${TMPDIR:-/tmp}/optout-${NAME:-cli}-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
export OPTOUT_CONFIG= # no /etc/optout/optout.conf unless a test names a file

failures=0
pass() { echo "PASS: $1"; }
fail() {
    failures=$((failures + 1))
    echo "FAIL: $1" >&2
    echo "--- stdout:" >&2
    cat "$T/out" >&2
    echo "--- stderr:" >&2
    cat "$T/err" >&2
}
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
expect() {
    if [ "$rc" -eq "$2" ]; then pass "$1: exit $2"; else fail "$1: exit $rc, expected $2"; fi
}
has() {
    if grep -qF -- "$3" "$2"; then pass "$1: '$3'"; else fail "$1: no '$3' in $(basename "$2")"; fi
}
hasnt() {
    if grep -qF -- "$3" "$2"; then fail "$1: '$3' in $(basename "$2")"; else pass "$1: no '$3'"; fi
}
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed" >&2
        exit 1
    fi
    echo "all ${NAME:-cli} checks passed"
    exit 0
}
