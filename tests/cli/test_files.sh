#!/bin/sh
# test_files.sh — the user's files survive a typo (include/optout/files.h): `optout filter` refuses
# an output that is its input (however spelled: ./x, /abs/x, a hard link), two outputs that are one
# file, an output that is a symbolic link, a FIFO or a directory (never replaced), an output inside a
# directory it reads whole (--history, --robots-dir), a --stats, --policy-report or --policy-chart it
# could not write after --out was published, and `optout run` over a corpus file inside the run's
# shards/; each refusal is exit 2 and leaves every file as it was.
# Also the strict integer options: -1, +1, " 1" and out-of-range values are usage errors.
#
# usage: sh tests/cli/test_files.sh BIN_DIR SOURCE_ROOT
# Every check prints PASS/FAIL; the script exits 1 on any failure.
set -u

NAME=files
. "$(dirname "$0")/checks.sh"
SAMPLE=$(cd "$SRC/data/sample" && pwd)
# same NAME FILE SUM: FILE's checksum is still SUM
same() {
    if [ "$(cksum <"$2")" = "$3" ]; then pass "$1: $(basename "$2") unchanged"; else fail "$1: $2 changed"; fi
}

mkdir -p "$T/w"
cp "$SAMPLE/corpus.jsonl.zst" "$T/w/in.jsonl.zst"
SUM=$(cksum <"$T/w/in.jsonl.zst")
filter() { run "$OPTOUT" filter --robots-dir "$SAMPLE/robots" "$@"; }

# ---- an output that is the input ----------------------------------------------------------------
cd "$T/w" || exit 1
filter --in in.jsonl.zst --out ./in.jsonl.zst
expect "--out ./IN" 2
has "--out ./IN" "$T/err" "are the same file"
same "--out ./IN" "$T/w/in.jsonl.zst" "$SUM"
filter --in in.jsonl.zst --out "$T/w/in.jsonl.zst"
expect "--out /ABS/IN" 2
same "--out /ABS/IN" "$T/w/in.jsonl.zst" "$SUM"
ln in.jsonl.zst hard.jsonl.zst
filter --in in.jsonl.zst --out hard.jsonl.zst
expect "--out HARD-LINK-OF-IN" 2
same "--out HARD-LINK-OF-IN" "$T/w/in.jsonl.zst" "$SUM"
filter --in in.jsonl.zst --out kept.jsonl.zst --removed "$T/w/../w/hard.jsonl.zst"
expect "--removed HARD-LINK-OF-IN" 2
same "--removed HARD-LINK-OF-IN" "$T/w/in.jsonl.zst" "$SUM"
if [ ! -e kept.jsonl.zst ]; then pass "nothing published after a refusal"; else fail "kept.jsonl.zst written"; fi
filter --in in.jsonl.zst --out new.jsonl.zst --removed ./new.jsonl.zst
expect "--out and --removed one new file" 2
has "--out and --removed one new file" "$T/err" "--out new.jsonl.zst and --removed ./new.jsonl.zst are the same file"
filter --in in.jsonl.zst --out kept.jsonl.zst --stats "$T/w/kept.jsonl.zst"
expect "--stats is --out" 2

# ---- an output that is not a regular file: refused, never replaced --------------------------------
echo "precious" >target.txt
ln -s target.txt link.jsonl
filter --in in.jsonl.zst --out link.jsonl
expect "--out SYMLINK" 2
has "--out SYMLINK" "$T/err" "is a symbolic link"
if [ -L link.jsonl ] && [ "$(cat target.txt)" = "precious" ]; then pass "--out SYMLINK: link and target intact"; else
    fail "--out SYMLINK: the link or its target changed"; fi
ln -s in.jsonl.zst link-to-in.jsonl.zst
filter --in in.jsonl.zst --out link-to-in.jsonl.zst
expect "--out SYMLINK-TO-IN" 2
same "--out SYMLINK-TO-IN" "$T/w/in.jsonl.zst" "$SUM"
mkfifo fifo
filter --in in.jsonl.zst --out fifo
expect "--out FIFO" 2
has "--out FIFO" "$T/err" "is a FIFO"
if [ -p fifo ]; then pass "--out FIFO: still a FIFO"; else fail "--out FIFO: replaced"; fi
mkdir adir
filter --in in.jsonl.zst --out kept.jsonl.zst --removed adir
expect "--removed DIRECTORY" 2
has "--removed DIRECTORY" "$T/err" "is a directory"

# ---- --stats that cannot be written: refused before --out is published ----------------------------
filter --in in.jsonl.zst --out kept.jsonl.zst --stats /proc/optout-test-stats.json
expect "--stats UNWRITABLE" 2
has "--stats UNWRITABLE" "$T/err" "--stats /proc/optout-test-stats.json"
if [ ! -e kept.jsonl.zst ]; then pass "--stats UNWRITABLE: --out not published"; else
    fail "--stats UNWRITABLE: --out was published"; fi

# ---- an output inside a directory the filter reads whole: refused, nothing written there ----------
# (--history DIR: the archive DIR/history/; --robots-dir; --archive), however the path is spelled
printf '' | gzip >"$T/empty.warc.gz"
echo example.com >"$T/history-hosts.txt"
run "$OPTOUT" history --cc-robots "$T/empty.warc.gz" --hosts "$T/history-hosts.txt" --out "$T/hist" --quiet
expect "an empty history archive" 0
ISUM=$(cksum <"$T/hist/history/index.tsv")
filter --history "$T/hist" --in in.jsonl.zst --out "$T/hist/history/index.tsv"
expect "--out HISTORY/history/index.tsv" 2
has "--out HISTORY/history/index.tsv" "$T/err" "is inside --history"
same "--out HISTORY/history/index.tsv" "$T/hist/history/index.tsv" "$ISUM"
filter --history "$T/hist" --in in.jsonl.zst --out kept-h.jsonl.zst --policy-report "$T/hist/./history/../history/r.md"
expect "--policy-report INSIDE HISTORY" 2
if [ ! -e "$T/hist/history/r.md" ] && [ ! -e kept-h.jsonl.zst ]; then pass "--policy-report INSIDE HISTORY: nothing written"
else fail "--policy-report INSIDE HISTORY: written"; fi
cp -r "$SAMPLE/robots" "$T/robots"
ln -s "$T/robots" "$T/robots-link"
run "$OPTOUT" filter --robots-dir "$T/robots" --in in.jsonl.zst --out "$T/robots-link/new.jsonl.zst"
expect "--out INSIDE --robots-dir (through a link)" 2
has "--out INSIDE --robots-dir (through a link)" "$T/err" "is inside --robots-dir"
if [ ! -e "$T/robots/new.jsonl.zst" ]; then pass "nothing written in the robots directory"; else
    fail "new.jsonl.zst written in the robots directory"; fi

# ---- optout history --out DIR: DIR/history/ and DIR/.wayback/ that are no directories are never
# replaced nor written through (the Wayback base is a closed local port: nothing leaves the machine)
mkdir -p "$T/hl/elsewhere" "$T/hl/run" "$T/hf/run"
echo "precious" >"$T/hl/elsewhere/index.tsv"
ln -s ../elsewhere "$T/hl/run/history"
run "$OPTOUT" history --cc-robots "$T/empty.warc.gz" --hosts "$T/history-hosts.txt" --out "$T/hl/run" --quiet
expect "history --out DIR with DIR/history a symbolic link" 1
has "history --out DIR with DIR/history a symbolic link" "$T/err" "is a symbolic link"
if [ -L "$T/hl/run/history" ] && [ "$(ls "$T/hl/elsewhere")" = "index.tsv" ] &&
    [ "$(cat "$T/hl/elsewhere/index.tsv")" = "precious" ]; then pass "DIR/history link and its target intact"; else
    fail "DIR/history link or its target changed"; fi
mkfifo "$T/hf/run/history"
run "$OPTOUT" history --cc-robots "$T/empty.warc.gz" --hosts "$T/history-hosts.txt" --out "$T/hf/run" --quiet
expect "history --out DIR with DIR/history a FIFO" 1
if [ -p "$T/hf/run/history" ]; then pass "DIR/history: still a FIFO"; else fail "DIR/history FIFO replaced"; fi
mkdir -p "$T/wl/run"
ln -s ../elsewhere "$T/wl/run/.wayback"
mkdir -p "$T/wl/elsewhere"
run "$OPTOUT" history --wayback --wayback-base http://127.0.0.1:9 --hosts "$T/history-hosts.txt" --out "$T/wl/run" \
    --quiet
expect "history --wayback with DIR/.wayback a symbolic link" 1
has "history --wayback with DIR/.wayback a symbolic link" "$T/err" "a link is refused"
if [ -L "$T/wl/run/.wayback" ] && [ -z "$(ls "$T/wl/elsewhere")" ] && [ ! -e "$T/wl/run/history" ]; then
    pass "DIR/.wayback link intact, nothing written through it, nothing published"; else
    fail "DIR/.wayback: written through or published"; fi

# ---- --policy-report and --policy-chart, written after --out: checked before it is published ------
filter --history "$T/hist" --in in.jsonl.zst --out kept-h.jsonl.zst --policy-chart /proc/optout-test-chart.svg
expect "--policy-chart UNWRITABLE" 2
has "--policy-chart UNWRITABLE" "$T/err" "--policy-chart /proc/optout-test-chart.svg"
filter --history "$T/hist" --in in.jsonl.zst --out kept-h.jsonl.zst --policy-report /proc/optout-test-report.md
expect "--policy-report UNWRITABLE" 2
if [ ! -e kept-h.jsonl.zst ]; then pass "--policy-report UNWRITABLE: --out not published"; else
    fail "--policy-report UNWRITABLE: --out was published"; fi
filter --history "$T/hist" --in in.jsonl.zst --out kept-h.jsonl.zst --policy-report "$T/new-dir/r.md" \
    --policy-chart "$T/new-dir2/c.svg"
expect "--policy-report and --policy-chart in directories still to be made" 0
if [ -s "$T/new-dir/r.md" ] && [ -s "$T/new-dir2/c.svg" ]; then pass "the report and the chart are written"; else
    fail "the report or the chart is missing"; fi

# ---- optout run: a corpus file where the run publishes its outputs is refused, left as it was --------
mkdir -p "$T/selfrun/shards"
cp in.jsonl.zst "$T/selfrun/shards/in.jsonl.zst"
run "$OPTOUT" run --corpus "$T/selfrun/shards/in.jsonl.zst" --out "$T/selfrun" --robots-dir "$SAMPLE/robots" --workers 1
expect "run --corpus RUN/shards/X --out RUN" 2
has "run --corpus RUN/shards/X --out RUN" "$T/err" "is inside the run's outputs"
same "run --corpus RUN/shards/X --out RUN" "$T/selfrun/shards/in.jsonl.zst" "$SUM"

# ---- the good case still works, and a rerun over its own outputs too ------------------------------
filter --in in.jsonl.zst --out kept.jsonl.zst --removed removed.jsonl.zst --stats stats.json
expect "a valid filter" 0
filter --in in.jsonl.zst --out kept.jsonl.zst --removed removed.jsonl.zst --stats stats.json
expect "the same filter again (outputs replaced)" 0
same "a valid filter" "$T/w/in.jsonl.zst" "$SUM"

# ---- optout apply-tags: a run's outputs over its own inputs -------------------------------------
mkdir -p "$T/c"
cp "$SAMPLE/corpus.jsonl.zst" "$T/c/corpus.jsonl.zst"
run "$OPTOUT" run --corpus "$T/c/corpus.jsonl.zst" --out "$T/tagrun" --robots-dir "$SAMPLE/robots" --output tags \
    --workers 1
expect "a tag run" 0
run "$OPTOUT" apply-tags --run "$T/tagrun" --out "$T/c" --keep-format
expect "apply-tags --out CORPUS-DIR --keep-format" 2
has "apply-tags --out CORPUS-DIR --keep-format" "$T/err" "are the same file"
same "apply-tags --out CORPUS-DIR --keep-format" "$T/c/corpus.jsonl.zst" "$SUM"
run "$OPTOUT" apply-tags --run "$T/tagrun" --out "$T/applied" --keep-format
expect "apply-tags into a new directory" 0

# ---- strict integers ---------------------------------------------------------------------------
for v in -1 +1 " 1" 20 0 1x 99999999999999999999; do
    filter --in in.jsonl.zst --out k2.jsonl.zst --level "$v"
    expect "--level '$v'" 2
done
filter --in in.jsonl.zst --out k2.jsonl.zst --max-line -1
expect "--max-line -1 (was 2^64-1)" 2
has "--max-line -1" "$T/err" "--max-line: expected a positive number, got '-1'"
run "$BIN/optout-broker" --dir "$T/b" --corpus x --retries 3x
expect "broker --retries 3x (was atoi)" 2
run "$BIN/optout-broker" --dir "$T/b" --corpus x --level 5abc
expect "broker --level 5abc (was atoi)" 2
has "broker --level 5abc" "$T/err" "--level: expected 1..19, got '5abc'"
run "$OPTOUT" run --corpus x --out "$T/r" --workers -1
expect "run --workers -1" 2

# ---- the host list: one reader (include/optout/hostlist.h), checked by the broker at start ----------
printf 'ok.example\n# a comment\nhttp://bad.example/\n' >"$T/hosts.txt"
run timeout 30 "$BIN/optout-broker" --dir "$T/h" --corpus "$SAMPLE/corpus.jsonl.zst" --hosts "$T/hosts.txt"
expect "broker --hosts with a URL line" 2
has "broker --hosts with a URL line" "$T/err" "hosts.txt:3: 'http://bad.example/' is not a host key"
run "$OPTOUT" fetch --hosts "$T/hosts.txt" --out "$T/f"
expect "fetch --hosts with a URL line" 2
has "fetch --hosts with a URL line" "$T/err" "hosts.txt:3: 'http://bad.example/' is not a host key"

finish
