#!/bin/sh
# optout filter on bad input and bad usage: every case says what must happen.
# usage: test_bad_input.sh OPTOUT_BINARY
set -u
optout=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
# expect_exit CODE NAME CMD...: runs CMD, checks its exit status
expect_exit() {
  want=$1; name=$2; shift 2
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; got=$?
  if [ "$got" -eq "$want" ]; then pass "$name (exit $got)"; else fail "$name: exit $got, want $want: $(cat "$tmp/stderr")"; fi
}
stat_of() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" "$2" | head -1; }

mkdir "$tmp/robots"
printf 'User-agent: *\nDisallow: /private\n' > "$tmp/robots/a.example"

# a line longer than --max-line is kept whole and counted once
long=$(head -c 3000 /dev/zero | tr '\0' 'x')
printf '{"url":"https://a.example/private/1","text":"%s"}\n{"url":"https://a.example/private/2","text":"y"}\n' "$long" > "$tmp/long.jsonl"
expect_exit 0 "line longer than --max-line" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/long.jsonl" \
  --out "$tmp/long.out.jsonl" --max-line 1000 --stats "$tmp/long.stats"
cmp -s "$tmp/long.jsonl" "$tmp/long.out.jsonl" && fail "the removed line was kept" || true
[ "$(head -1 "$tmp/long.out.jsonl")" = "$(head -1 "$tmp/long.jsonl")" ] && pass "oversized line passed through byte-identical"   || fail "oversized line changed"
[ "$(stat_of line_too_long "$tmp/long.stats")" = 1 ] && pass "line_too_long counted" || fail "line_too_long not 1"
[ "$(stat_of docs_removed "$tmp/long.stats")" = 1 ] && pass "the next line is still decided" || fail "docs_removed not 1"

# invalid UTF-8 in text: decided and counted, line kept byte-identical
printf '{"url":"https://a.example/ok","text":"ab\377\376c"}\n' > "$tmp/utf.jsonl"
expect_exit 0 "invalid UTF-8 in text" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/utf.jsonl" \
  --out "$tmp/utf.out.jsonl" --stats "$tmp/utf.stats"
cmp -s "$tmp/utf.jsonl" "$tmp/utf.out.jsonl" && pass "invalid UTF-8 line kept byte-identical" || fail "invalid UTF-8 line changed"
[ "$(stat_of bytes_in "$tmp/utf.stats")" = 5 ] && pass "bytes of invalid UTF-8 text counted" || fail "bytes_in not 5"

# input that is not JSON Lines fails its shard (file and offset named), never "nothing to remove"
printf '{"url":"https://a.example/ok","text":"y"}\n{"url":"https://a.example/ok","text":"a\000b"}\n' > "$tmp/nul.jsonl"
expect_exit 1 "a NUL byte in a shard" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nul.jsonl" \
  --out "$tmp/nul.out.jsonl" --stats "$tmp/nul.stats"
grep -q "nul.jsonl: byte 81: a NUL byte" "$tmp/stderr" && pass "message names file, offset and the NUL byte" \
  || fail "NUL message: $(cat "$tmp/stderr")"
[ ! -e "$tmp/nul.out.jsonl" ] && pass "no output for a shard with a NUL byte" || fail "output published for a NUL shard"
printf 'PAR1 not json\n{"url":"https://a.example/ok","text":"y"}\n' > "$tmp/notjson.jsonl"
expect_exit 1 "a first record that is not JSON" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/notjson.jsonl" \
  --out "$tmp/notjson.out.jsonl"
grep -q "notjson.jsonl: byte 0: the first record is not a JSON object" "$tmp/stderr" && pass "message names file and offset" \
  || fail "first-record message: $(cat "$tmp/stderr")"
[ ! -e "$tmp/notjson.out.jsonl" ] && pass "no output for a shard that is not JSON Lines" || fail "output published"
printf '\n{"url":"https://a.example/private/1","text":"y"}\nnot json\n' > "$tmp/later.jsonl"
expect_exit 0 "a later line that is not JSON is kept and counted" "$optout" filter --robots-dir "$tmp/robots" \
  --in "$tmp/later.jsonl" --out "$tmp/later.out.jsonl" --stats "$tmp/later.stats"
[ "$(stat_of bad_json "$tmp/later.stats")" = 1 ] && pass "bad_json 1" || fail "bad_json not 1"

# a shard in which no document has a URL: a wrong --url-field fails, naming the field
printf '{"link":"https://a.example/private/1","text":"y"}\n{"link":"https://a.example/x","text":"z"}\n' > "$tmp/nourl.jsonl"
expect_exit 1 "no document has a URL" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nourl.jsonl" \
  --out "$tmp/nourl.out.jsonl"
grep -q "nourl.jsonl: no document has a URL at url or metadata.url (--url-field)" "$tmp/stderr" \
  && pass "message names the shard and the field" || fail "no-URL message: $(cat "$tmp/stderr")"
[ ! -e "$tmp/nourl.out.jsonl" ] && pass "no output for a shard without URLs" || fail "output published"
expect_exit 1 "no document has a URL at --url-field" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nourl.jsonl" \
  --out "$tmp/nourl.out.jsonl" --url-field meta.link
grep -q "no document has a URL at meta.link (--url-field)" "$tmp/stderr" && pass "message names the configured field" \
  || fail "no-URL message: $(cat "$tmp/stderr")"
expect_exit 0 "--missing-url keep" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nourl.jsonl" \
  --out "$tmp/nourl.out.jsonl" --missing-url keep --stats "$tmp/nourl.stats"
cmp -s "$tmp/nourl.jsonl" "$tmp/nourl.out.jsonl" && pass "kept whole with --missing-url keep" || fail "not kept whole"
[ "$(stat_of no_url "$tmp/nourl.stats")" = 2 ] && pass "no_url 2" || fail "no_url not 2"
expect_exit 0 "--url-field link" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nourl.jsonl" \
  --out "$tmp/nourl.out.jsonl" --url-field link --stats "$tmp/link.stats"
[ "$(stat_of docs_removed "$tmp/link.stats")" = 1 ] && pass "the right field decides" || fail "docs_removed not 1"
expect_exit 2 "bad --missing-url" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nourl.jsonl" \
  --out "$tmp/nourl.out.jsonl" --missing-url drop

# robots.txt outcomes from index.tsv: unreachable keeps by default, disallows when strict
mkdir "$tmp/robots2"
printf 'down.example\tunreachable\t503\t2025-01-01T00:00:00Z\t-\n' > "$tmp/robots2/index.tsv"
printf '{"url":"https://down.example/x","text":"t"}\n' > "$tmp/down.jsonl"
expect_exit 0 "unreachable host, opt-out policy" "$optout" filter --robots-dir "$tmp/robots2" --in "$tmp/down.jsonl" \
  --out "$tmp/down.out.jsonl" --stats "$tmp/down.stats"
[ "$(stat_of docs_removed "$tmp/down.stats")" = 0 ] && pass "unreachable kept" || fail "unreachable removed"
expect_exit 0 "unreachable host, --unreachable disallow" "$optout" filter --robots-dir "$tmp/robots2" \
  --in "$tmp/down.jsonl" --out "$tmp/down2.out.jsonl" --stats "$tmp/down2.stats" --unreachable disallow
[ "$(stat_of docs_removed "$tmp/down2.stats")" = 1 ] && pass "unreachable removed when strict" || fail "strict kept it"
printf 'x.example\tok\t200\t-\t-\n' > "$tmp/robots2/index.tsv"
expect_exit 1 "index.tsv says ok but no file" "$optout" filter --robots-dir "$tmp/robots2" --in "$tmp/down.jsonl" \
  --out "$tmp/down3.out.jsonl"

# two files for one host key
mkdir "$tmp/robots3"
: > "$tmp/robots3/b.example"; : > "$tmp/robots3/b.example_443"
expect_exit 1 "two robots files for one host" "$optout" filter --robots-dir "$tmp/robots3" --in "$tmp/down.jsonl" \
  --out "$tmp/x.jsonl"
grep -q "b.example" "$tmp/stderr" && pass "message names the host" || fail "message does not name the host"

# runtime failures: nothing published
expect_exit 2 "missing input (a usage error)" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/nope.jsonl" --out "$tmp/nope.out.zst"
[ ! -e "$tmp/nope.out.zst" ] && pass "no output for a missing input" || fail "output exists"
expect_exit 2 "missing robots directory (a usage error)" "$optout" filter --robots-dir "$tmp/none" --in "$tmp/down.jsonl" --out "$tmp/y.jsonl"
# --archive naming a directory that is no fetch archive (empty, or robots.txt files): refused, not
# "every host not ranked"
mkdir "$tmp/empty-archive"
for a in "$tmp/empty-archive" "$tmp/robots"; do
  expect_exit 1 "--archive $(basename "$a"): not a fetch archive" "$optout" filter --archive "$a" --in "$tmp/down.jsonl" \
    --out "$tmp/arch.out.jsonl"
  grep -q "not a fetch archive" "$tmp/stderr" && grep -q "$a" "$tmp/stderr" && pass "message says so, naming it" \
    || fail "message: $(cat "$tmp/stderr")"
  [ ! -e "$tmp/arch.out.jsonl" ] && pass "no output without an archive" || fail "output written"
done
printf '{"url":"https://a.example/1","text":"t"}\n' | zstd -q -c > "$tmp/trunc.jsonl.zst"
head -c 20 "$tmp/trunc.jsonl.zst" > "$tmp/cut.jsonl.zst"
expect_exit 1 "truncated zstd input" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/cut.jsonl.zst" --out "$tmp/cut.out.zst"
grep -q "cut.jsonl.zst" "$tmp/stderr" && grep -qi "offset\|byte" "$tmp/stderr" && pass "message names file and offset" \
  || fail "message lacks file/offset: $(cat "$tmp/stderr")"
[ ! -e "$tmp/cut.out.zst" ] && pass "no output for a truncated input" || fail "partial output published"

# usage errors
expect_exit 2 "unknown option" "$optout" filter --bogus
expect_exit 2 "missing --in" "$optout" filter --robots-dir "$tmp/robots" --out "$tmp/z.jsonl"
expect_exit 2 "--in equals --out" "$optout" filter --robots-dir "$tmp/robots" --in "$tmp/down.jsonl" --out "$tmp/down.jsonl"
expect_exit 2 "bad --mode" "$optout" filter --mode nope --robots-dir "$tmp/robots" --in "$tmp/down.jsonl" --out "$tmp/z.jsonl"
expect_exit 2 "bad --max-line" "$optout" filter --max-line 0 --robots-dir "$tmp/robots" --in "$tmp/down.jsonl" --out "$tmp/z.jsonl"
expect_exit 2 "option without value" "$optout" filter --robots-dir
# an agents file over the limit names the limit (not "Argument list too long")
i=0; while [ $i -lt 300 ]; do echo "Bot$i"; i=$((i + 1)); done > "$tmp/many-agents.txt"
expect_exit 2 "agents file over the limit" "$optout" filter --agents-file "$tmp/many-agents.txt" --robots-dir "$tmp/robots" \
  --in "$tmp/down.jsonl" --out "$tmp/z.jsonl"
grep -q "many-agents.txt:257" "$tmp/stderr" && grep -q "at most 256 agents" "$tmp/stderr" \
  && pass "message names the line and the limit" || fail "message: $(cat "$tmp/stderr")"

[ "$fails" -eq 0 ] && echo "bad input: all cases pass" || echo "bad input: $fails failures"
exit $((fails > 0))
