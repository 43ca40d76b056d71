#!/bin/sh
# test_config.sh — the configuration file from the command line (include/optout/config.h,
# cli/cmd_config.c): `optout config check` on valid and invalid files, the example file, flags
# winning over the file (lists replaced whole), and `optout run --config F` end to end on
# data/sample with the robots directory from the file.
#
# usage: sh tests/cli/test_config.sh BIN_DIR SOURCE_ROOT
# Every check prints PASS/FAIL; the script exits 1 on any failure.
set -u

NAME=config
. "$(dirname "$0")/checks.sh"

# ---- a valid file: the effective configuration, with origins -------------------------------------
C=$T/good.conf
cat >"$C" <<EOF
# a comment
[common]
mode = protego
agent = GPTBot
agent = "CCBot"

[broker]
dir = $T/run
corpus = $T/a.jsonl
corpus = '$T/b # c.jsonl'
removed = yes
redis-user = optout

[worker]
connect = tcp://broker.example:5555
slots = 4

[run]
workers = 2
EOF
run "$OPTOUT" config check "$C"
expect "valid file" 0
has "valid file" "$T/out" "[broker]"
has "valid file" "$T/out" "dir = $T/run  # $C:8"
has "valid file" "$T/out" "corpus = \"$T/b # c.jsonl\"  # $C:10"
has "valid file: [common] applies" "$T/out" "mode = protego  # $C:3"
has "valid file: bool" "$T/out" "removed = yes  # $C:11"
has "valid file: default" "$T/out" "# level = 3  (default)"
has "valid file: worker" "$T/out" "slots = 4  # $C:16"
has "valid file: run" "$T/out" "workers = 2  # $C:19"
has "valid file: [common] list in run" "$T/out" "agent = CCBot  # $C:5"
has "valid file: every section" "$T/out" "[rank]"
# the output is itself a valid configuration file
cp "$T/out" "$T/again.conf"
run "$OPTOUT" config check "$T/again.conf"
expect "effective configuration reads back" 0

# ---- invalid files: exit 2 naming FILE:LINE ---------------------------------------------------------
# bad NAME TEXT EXPECT: a file of [common] agent line + TEXT (at line 4) fails with EXPECT on stderr
bad() {
    printf '[common]\nagent = GPTBot\n%s\n' "$2" >"$T/bad.conf"
    run "$OPTOUT" config check "$T/bad.conf"
    expect "$1" 2
    has "$1" "$T/err" "$T/bad.conf:$3"
}
bad "unknown key" "[broker]
modee = protego" "4: unknown key 'modee' in [broker]"
bad "bad mode in [broker]" "[broker]
mode = bogus" "4: --mode: expected rfc9309 or protego, got 'bogus'"
bad "bad mode in [run] (the broker checks run's values)" "[run]
mode = bogus" "4: --mode: expected rfc9309 or protego, got 'bogus'"
bad "workers = 0" "[run]
workers = 0" "4: --workers: expected 1..256, got '0'"
bad "slots = 0" "[worker]
slots = 0" "4: --slots: expected"
bad "bad level in [filter]" "[filter]
level = 30" "4: --level: expected 1..19, got '30'"
bad "bad boolean" "[broker]
removed = maybe" "4: removed: expected true or false, got 'maybe'"
bad "a password in the file" "[worker]
redis-password = hunter2" "4: redis-password: secrets are never in the configuration"
bad "unknown section" "[brokr]
dir = /x" "3: unknown section [brokr]"
bad "[common] key of no program" "[common]
colour = blue" "4: unknown key 'colour' in [common] (no program has --colour)"
bad "missing '='" "[rank]
jobs 4" "4: expected 'key = value' (no '=')"
bad "empty value" "[rank]
jobs =" "4: empty value"
bad "help is no configuration" "[rank]
help = true" "4: unknown key 'help' in [rank]"
run "$OPTOUT" config check "$T/missing.conf"
expect "missing file" 2
has "missing file" "$T/err" "$T/missing.conf: No such file or directory"

# ---- the example file (secret paths moved into the test directory) ---------------------------------
mkdir -p "$T/etc/workers.d"
sed "s|/etc/optout/|$T/etc/|g" "$SRC/deploy/optout.conf.example" >"$T/example.conf"
echo "redis secret" >"$T/etc/redis.password"
chmod 600 "$T/etc/redis.password"
(cd "$T/etc" && "$OPTOUT" keygen --out broker >/dev/null && "$OPTOUT" keygen --out worker >/dev/null)
run "$OPTOUT" config check "$T/example.conf"
expect "deploy/optout.conf.example" 0
has "example" "$T/out" "bind = tcp://*:5555  # $T/example.conf:"
has "example" "$T/out" "connect = tcp://broker.example.net:5555  # $T/example.conf:"
has "example: [common] redis-user reaches the worker" "$T/out" "redis-user = optout  # $T/example.conf:"

# ---- flags win; a flag replaces a list whole -----------------------------------------------------
run "$BIN/optout-broker" --config "$C" --check-config --mode rfc9309 --corpus "$T/x.jsonl"
expect "broker --check-config with flags" 0
has "flag wins" "$T/out" "mode = rfc9309  # command line"
has "flag replaces the list" "$T/out" "corpus = $T/x.jsonl  # command line"
hasnt "flag replaces the list" "$T/out" "corpus = $T/a.jsonl"
has "file value kept" "$T/out" "dir = $T/run  # $C:8"
run env OPTOUT_CONFIG="$C" "$BIN/optout-worker" --check-config -s 8
expect "OPTOUT_CONFIG names the file; a short flag wins" 0
has "short flag wins" "$T/out" "slots = 8  # command line"
has "OPTOUT_CONFIG" "$T/out" "connect = tcp://broker.example:5555  # $C:15"
printf '[filter]\nlevel = 30\n' >"$T/f.conf"
run "$OPTOUT" filter --config "$T/f.conf" --in x --out y --robots-dir z
expect "a bad value at start" 2
has "a bad value at start" "$T/err" "$T/f.conf:2: --level: expected 1..19, got '30'"
run "$OPTOUT" filter --config "$T/f.conf" --level 5 --check-config
expect "the flag replaces the bad value" 0

# ---- the Redis password: from a file only the service can read ------------------------------------
echo "s3cret" >"$T/pw"
chmod 644 "$T/pw"
printf '[broker]\nredis-password-file = %s\n' "$T/pw" >"$T/pw.conf"
run "$BIN/optout-broker" --config "$T/pw.conf" --check-config
expect "a password file readable by all" 1
has "a password file readable by all" "$T/err" "$T/pw.conf:2: --redis-password-file $T/pw: readable by every user"
hasnt "the password is in no message" "$T/err" "s3cret"
chmod 600 "$T/pw"
run "$BIN/optout-broker" --config "$T/pw.conf" --check-config
expect "a private password file" 0
hasnt "the password is in no output" "$T/out" "s3cret"

# ---- optout run --config F on data/sample -------------------------------------------------------
cat >"$T/run.conf" <<EOF
[run]
corpus = $SRC/data/sample/corpus.jsonl.zst
out = $T/from-file
robots-dir = $SRC/data/sample/robots
workers = 2
removed = true
mode = bogus
EOF
run "$OPTOUT" run --config "$T/run.conf"
expect "run: the file's bad mode" 2
has "run: the file's bad mode" "$T/err" "--mode: expected rfc9309 or protego, got 'bogus'"
run "$OPTOUT" run --config "$T/run.conf" --mode rfc9309 --out "$T/from-flag" --workers 1
expect "run --config F with flags" 0
if [ -f "$T/from-flag/report.json" ] && [ ! -e "$T/from-file/report.json" ]; then
    pass "run: --out on the command line wins"
else
    fail "run: no report in $T/from-flag (or one in $T/from-file)"
fi
if [ -n "$(ls "$T/from-flag/removed" 2>/dev/null)" ]; then pass "run: removed = true from the file"; else
    fail "run: no removed/ output"; fi
if grep -q '"docs_removed": 40' "$T/from-flag/report.json" && grep -q '"docs_in": 80' "$T/from-flag/report.json"; then
    pass "run: the sample's numbers (robots-dir from the file)"
else
    fail "run: report.json: $(head -c 300 "$T/from-flag/report.json")"
fi

finish
