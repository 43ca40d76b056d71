#!/bin/sh
# test_robots_check.sh — the CLI contract of `optout robots check` (cli/cmd_robots.c).
#
# usage: sh tests/cli/test_robots_check.sh PATH/TO/optout
#
# Output lines are allowed|disallowed<TAB>AGENT<TAB>URL, URL-major, agents in list order and
# printed as given; --explain adds a fourth column. Exit codes: 0 ok, 1 runtime failure (an
# unreadable file), 2 usage error. Every check prints PASS/FAIL; the script exits 1 on any failure.
set -u

OPTOUT=${1:-}
if [ -z "$OPTOUT" ]; then
    echo "usage: $0 PATH/TO/optout" >&2
    exit 2
fi
if [ ! -x "$OPTOUT" ]; then
    echo "$0: $OPTOUT is not an executable" >&2
    exit 1
fi
SRC_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/optout-cli-test.XXXXXX") || {
    echo "$0: mktemp -d failed" >&2
    exit 1
}
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM

TAB=$(printf '\t')
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "PASS: $1"; }
fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "FAIL: $1" >&2
}

# run NAME ARGS...: runs optout with ARGS, stdout in $T/out, stderr in $T/err, status in $rc.
run() {
    _name=$1
    shift
    "$OPTOUT" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# expect_ok NAME EXPECTED_FILE ARGS...: exit 0 and stdout equal to EXPECTED_FILE.
expect_ok() {
    _n=$1
    _exp=$2
    shift 2
    run "$_n" "$@"
    if [ "$rc" -ne 0 ]; then
        fail "$_n: exit $rc, expected 0; stderr: $(cat "$T/err")"
    elif ! cmp -s "$T/out" "$_exp"; then
        fail "$_n: output differs from expected:
--- expected
$(cat "$_exp")
--- got
$(cat "$T/out")"
    else
        pass "$_n"
    fi
}

# expect_exit NAME CODE ARGS...: exit CODE with a message on stderr and nothing on stdout.
expect_exit() {
    _n=$1
    _code=$2
    shift 2
    run "$_n" "$@"
    if [ "$rc" -ne "$_code" ]; then
        fail "$_n: exit $rc, expected $_code; stderr: $(cat "$T/err")"
    elif [ ! -s "$T/err" ]; then
        fail "$_n: exit $rc but no message on stderr"
    elif [ -s "$T/out" ]; then
        fail "$_n: exit $rc but output on stdout: $(cat "$T/out")"
    else
        pass "$_n"
    fi
}

# expected LINE...: writes the lines (given with \t for TAB) to $T/exp.
expected() {
    : >"$T/exp"
    for _l in "$@"; do printf '%s\n' "$_l" | sed "s/\\\\t/$TAB/g" >>"$T/exp"; done
}

# ---- fixtures -----------------------------------------------------------------------------------

cat >"$T/robots.txt" <<'EOF'
User-agent: GPTBot
Disallow: /private

User-agent: CCBot
Disallow: /cc

User-agent: *
Disallow: /all
EOF

printf 'User-agent: *\nDisallow: /\n' >"$T/deny-all.txt"

# ---- output format and order ----------------------------------------------------------------------

expected \
    'disallowed\tGPTBot\thttps://example.com/private/x' \
    'allowed\tCCBot/2.0\thttps://example.com/private/x' \
    'allowed\tGPTBot\t/cc/page' \
    'disallowed\tCCBot/2.0\t/cc/page' \
    'allowed\tGPTBot\t/all' \
    'allowed\tCCBot/2.0\t/all'
# /all: both agents have a group of their own, so the * group does not apply to them
expect_ok "URL-major order, agents in list order, printed as given" "$T/exp" \
    robots check --robots "$T/robots.txt" --agent GPTBot --agent CCBot/2.0 \
    https://example.com/private/x /cc/page /all

expected \
    'allowed\tCCBot/2.0\t/private/x' \
    'disallowed\tGPTBot\t/private/x'
expect_ok "--agent order is the output order" "$T/exp" \
    robots check --robots "$T/robots.txt" --agent CCBot/2.0 --agent GPTBot /private/x

expected \
    'disallowed\tKangaroo Bot\t/all' \
    'disallowed\t*\t/all' \
    'allowed\tKangaroo Bot\t/x' \
    'allowed\t*\t/x'
expect_ok "agent names with spaces and * printed verbatim" "$T/exp" \
    robots check --robots "$T/robots.txt" --agent "Kangaroo Bot" --agent "*" /all /x

expected \
    'allowed\tGPTBot\t/robots.txt' \
    'disallowed\tGPTBot\t/' \
    'disallowed\tGPTBot\t/a?b=c'
expect_ok "paths starting with / accepted" "$T/exp" \
    robots check --robots "$T/deny-all.txt" --agent GPTBot /robots.txt / '/a?b=c'

expected 'allowed\tGPTBot\thttp://example.com/public#frag'
expect_ok "URL printed as given (fragment kept in the output)" "$T/exp" \
    robots check --robots "$T/robots.txt" --agent GPTBot 'http://example.com/public#frag'

expected 'disallowed\tGPTBot\t/private'
expect_ok "--mode rfc9309 accepted" "$T/exp" \
    robots check --mode rfc9309 --robots "$T/robots.txt" --agent GPTBot /private

# ---- the default agent list ------------------------------------------------------------------------

run "default list" robots check --robots "$T/deny-all.txt" /x
if [ "$rc" -ne 0 ]; then
    fail "default list: exit $rc; stderr: $(cat "$T/err")"
else
    cut -f2 "$T/out" >"$T/default-agents"
    printf '%s\n' AI2Bot Applebot-Extended Bytespider CCBot CCBot/2.0 CCBot/1.0 ClaudeBot \
        cohere-training-data-crawler Diffbot Meta-ExternalAgent Google-Extended GPTBot PanguBot '*' \
        >"$T/apertus"
    if cmp -s "$T/default-agents" "$T/apertus"; then
        pass "default list is the 14 Apertus agents in order"
    else
        fail "default list: agents differ from the Apertus list:
$(cat "$T/default-agents")"
    fi
    if [ "$(cut -f1 "$T/out" | sort -u)" = disallowed ] && [ "$(cut -f3 "$T/out" | sort -u)" = /x ]; then
        pass "default list: every agent decided for the URL"
    else
        fail "default list: unexpected verdicts or URLs:
$(cat "$T/out")"
    fi
    paper="$SRC_ROOT/data/agents/apertus-paper.txt"
    if [ -r "$paper" ]; then
        grep -v '^#' "$paper" | grep -v '^[[:space:]]*$' >"$T/paper"
        if cmp -s "$T/default-agents" "$T/paper"; then
            pass "default list equals data/agents/apertus-paper.txt"
        else
            fail "default list differs from $paper"
        fi
    fi
fi

run "default list, two URLs" robots check --robots "$T/deny-all.txt" /a /b
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 28 ] &&
    [ "$(head -n 14 "$T/out" | cut -f3 | sort -u)" = /a ] &&
    [ "$(tail -n 14 "$T/out" | cut -f3 | sort -u)" = /b ]; then
    pass "default list: 14 lines per URL, URL-major"
else
    fail "default list, two URLs: exit $rc, output:
$(cat "$T/out")"
fi

# ---- --agents-file -----------------------------------------------------------------------------------

printf '# my agents\n\nGPTBot\n   \n# CCBot\nClaudeBot\r\nCCBot/2.0\n' >"$T/agents.txt"
expected \
    'allowed\tGPTBot\t/cc' \
    'allowed\tClaudeBot\t/cc' \
    'disallowed\tCCBot/2.0\t/cc'
expect_ok "--agents-file skips comments and blank lines, accepts CRLF" "$T/exp" \
    robots check --robots "$T/robots.txt" --agents-file "$T/agents.txt" /cc

expected \
    'allowed\tGPTBot\t/cc' \
    'allowed\tClaudeBot\t/cc' \
    'disallowed\tCCBot/2.0\t/cc' \
    'disallowed\tCCBot\t/cc'
expect_ok "--agents-file then --agent append in order" "$T/exp" \
    robots check --robots "$T/robots.txt" --agents-file "$T/agents.txt" --agent CCBot /cc

expect_exit "missing --agents-file: exit 2 (usage)" 2 \
    robots check --robots "$T/robots.txt" --agents-file "$T/no-such-agents.txt" /x

printf 'GPTBot\n/2.0\n' >"$T/bad-agents.txt"
expect_exit "bad line in --agents-file: exit 2" 2 \
    robots check --robots "$T/robots.txt" --agents-file "$T/bad-agents.txt" /x

expect_exit "empty --agent: exit 2" 2 robots check --robots "$T/robots.txt" --agent "" /x

# ---- URL lists ------------------------------------------------------------------------------------------

printf '/private/1\r\n\nhttps://example.com/cc\n/all' >"$T/urls.txt"
expected \
    'disallowed\tGPTBot\t/private/1' \
    'allowed\tCCBot\t/private/1' \
    'allowed\tGPTBot\thttps://example.com/cc' \
    'disallowed\tCCBot\thttps://example.com/cc' \
    'allowed\tGPTBot\t/all' \
    'allowed\tCCBot\t/all'
expect_ok "--urls FILE (CRLF, blank line, no final newline)" "$T/exp" \
    robots check --robots "$T/robots.txt" --agent GPTBot --agent CCBot --urls "$T/urls.txt"

"$OPTOUT" robots check --robots "$T/robots.txt" --agent GPTBot --agent CCBot --urls - \
    <"$T/urls.txt" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ] && cmp -s "$T/out" "$T/exp"; then
    pass "--urls - reads standard input"
else
    fail "--urls -: exit $rc; output:
$(cat "$T/out")
stderr: $(cat "$T/err")"
fi

: >"$T/empty-urls.txt"
: >"$T/exp"
expect_ok "--urls of an empty file prints nothing" "$T/exp" \
    robots check --robots "$T/robots.txt" --agent GPTBot --urls "$T/empty-urls.txt"

expect_exit "missing --urls file: exit 2 (usage)" 2 \
    robots check --robots "$T/robots.txt" --agent GPTBot --urls "$T/no-such-urls.txt"

expect_exit "--urls pointing at a directory: exit 1" 1 \
    robots check --robots "$T/robots.txt" --agent GPTBot --urls "$T"

# ---- --explain ----------------------------------------------------------------------------------------

run "--explain" robots check --explain --robots "$T/robots.txt" --agent GPTBot --agent ClaudeBot \
    --agent Other /private/x /public /robots.txt
if [ "$rc" -ne 0 ]; then
    fail "--explain: exit $rc; stderr: $(cat "$T/err")"
else
    if awk -F "$TAB" 'NF != 4 || $4 == "" { bad = 1 } END { exit bad }' "$T/out"; then
        pass "--explain adds a non-empty fourth column to every line"
    else
        fail "--explain: lines without a fourth column:
$(cat "$T/out")"
    fi
    "$OPTOUT" robots check --robots "$T/robots.txt" --agent GPTBot --agent ClaudeBot --agent Other \
        /private/x /public /robots.txt >"$T/plain" 2>/dev/null
    if cut -f1-3 "$T/out" | cmp -s - "$T/plain"; then
        pass "--explain: first three columns unchanged"
    else
        fail "--explain: first three columns differ from the plain output"
    fi
    line=$(sed -n 1p "$T/out" | cut -f4)
    case $line in
    *2*Disallow*/private*) pass "--explain names the deciding rule line and pattern" ;;
    *) fail "--explain: rule not named for GPTBot /private/x: '$line'" ;;
    esac
    # lines: 1 GPTBot /private/x (a rule), 4 GPTBot /public (no rule of its own group matches),
    # 5 ClaudeBot /public (no rule of the * group matches), 7 GPTBot /robots.txt
    r1=$(sed -n 1p "$T/out" | cut -f4)
    r4=$(sed -n 4p "$T/out" | cut -f4)
    r5=$(sed -n 5p "$T/out" | cut -f4)
    r7=$(sed -n 7p "$T/out" | cut -f4)
    if [ "$r1" != "$r4" ] && [ "$r4" != "$r5" ] && [ "$r4" != "$r7" ] && [ "$r5" != "$r7" ]; then
        pass "--explain: different reasons give different texts"
    else
        fail "--explain: the fourth column does not tell reasons apart:
$(cat "$T/out")"
    fi
fi

# ---- --mode protego: accepted as an option (its verdicts are not tested here) ----------------------

run "--mode protego" robots check --mode protego --robots "$T/robots.txt" --agent GPTBot /private
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
    pass "--mode protego accepted as an option name (exit $rc)"
else
    fail "--mode protego: exit $rc (a usage error?); stderr: $(cat "$T/err")"
fi

# ---- usage errors: exit 2 -----------------------------------------------------------------------------

expect_exit "unknown option: exit 2" 2 robots check --robots "$T/robots.txt" --frobnicate /x
expect_exit "missing --robots: exit 2" 2 robots check --agent GPTBot /x
expect_exit "bad --mode: exit 2" 2 robots check --mode google --robots "$T/robots.txt" /x
expect_exit "no URLs: exit 2" 2 robots check --robots "$T/robots.txt" --agent GPTBot
expect_exit "unknown robots subcommand: exit 2" 2 robots frobnicate
expect_exit "--robots without its argument: exit 2" 2 robots check --robots

# a malformed absolute URL is a usage error (before any output); one without a scheme is read as
# HOST/PATH, as Google's reference does (the conformance suites check it), and the user is warned
expect_exit "unparsable absolute URL: exit 2" 2 robots check --robots "$T/robots.txt" --agent GPTBot /ok 'http://[::1'
grep -q "http://\[::1" "$T/err" && pass "the message names the URL" || fail "message: $(cat "$T/err")"
expect_exit "absolute URL without a host: exit 2" 2 robots check --robots "$T/robots.txt" --agent GPTBot 'http:///x'
run "URL without a scheme" robots check --robots "$T/robots.txt" --agent GPTBot relative
if [ "$rc" -eq 0 ] && grep -q "'relative' has no scheme: read as host 'relative' and path '/'" "$T/err"; then
    pass "URL without a scheme: read as host and path, with a warning"
else
    fail "URL without a scheme: exit $rc; stderr: $(cat "$T/err")"
fi

# a UTF-16 robots.txt (a byte order mark, or ASCII interleaved with NUL bytes) allows everything:
# the user is warned; a UTF-8 one with a UTF-8 byte order mark is not
printf 'User-agent: *\nDisallow: /\n' >"$T/ascii.txt"
{ printf '\377\376'; iconv -f UTF-8 -t UTF-16LE "$T/ascii.txt"; } >"$T/utf16le-bom.txt"
{ printf '\376\377'; iconv -f UTF-8 -t UTF-16BE "$T/ascii.txt"; } >"$T/utf16be-bom.txt"
iconv -f UTF-8 -t UTF-16LE "$T/ascii.txt" >"$T/utf16le.txt"
iconv -f UTF-8 -t UTF-16BE "$T/ascii.txt" >"$T/utf16be.txt"
for f in utf16le-bom utf16be-bom utf16le utf16be; do
    run "$f robots.txt" robots check --robots "$T/$f.txt" --agent GPTBot /x
    if [ "$rc" -eq 0 ] && grep -q "UTF-16" "$T/err" && grep -q "$f.txt" "$T/err"; then
        pass "$f robots.txt: a warning naming the file"
    else
        fail "$f robots.txt: exit $rc; stderr: $(cat "$T/err")"
    fi
done
{ printf '\357\273\277'; cat "$T/ascii.txt"; } >"$T/utf8-bom.txt"
run "UTF-8 robots.txt with a byte order mark" robots check --robots "$T/utf8-bom.txt" --agent GPTBot /x
if [ "$rc" -eq 0 ] && ! grep -q "UTF-16" "$T/err" && grep -q "^disallowed" "$T/out"; then
    pass "UTF-8 with a byte order mark: read, no warning"
else
    fail "UTF-8 with a byte order mark: exit $rc; stderr: $(cat "$T/err"); out: $(cat "$T/out")"
fi

# ---- runtime failures: exit 1 ---------------------------------------------------------------------------

expect_exit "missing robots file: exit 2 (usage)" 2 robots check --robots "$T/no-such-robots.txt" /x
expect_exit "robots file is a directory: exit 1" 1 robots check --robots "$T" /x

# ---- help -------------------------------------------------------------------------------------------------

run "--help" robots check --help
if [ "$rc" -eq 0 ] && grep -q 'usage' "$T/out"; then
    pass "robots check --help: usage on stdout, exit 0"
else
    fail "robots check --help: exit $rc"
fi

# ---- summary ----------------------------------------------------------------------------------------------

if [ "$failures" -ne 0 ]; then
    echo "$failures of $checks CLI checks failed" >&2
    exit 1
fi
echo "all $checks CLI checks passed"
exit 0
