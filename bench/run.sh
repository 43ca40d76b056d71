#!/usr/bin/env bash
# run.sh — the robots.txt engine benchmark in one command: builds bench_robots if needed, runs it
# and the Python baselines (urllib.robotparser, Debian's python3-protego) on the same files, URLs
# and agents, and prints our figures, theirs, the ratios and whether the targets are met.
#
# Usage: bench/run.sh [BUILD_DIR]           (default BUILD_DIR: <repo>/build-bench)
# Environment:
#   OPTOUT_BENCH_DATA   directory of robots.txt files (default <repo>/../shared/data/robots-top10k)
#   BENCH_PASSES        passes of the C bench (default 21, at least 20 for the reported figures)
#   BENCH_PY_PASSES     passes of the Python baselines (default 3)
#   BENCH_PYTHON        the Python with protego 0.2.1 (default /usr/bin/python3, Debian's)
#   BENCH_SKIP_PYTHON=1 our figures only
# Raw outputs are kept in BUILD_DIR/bench-results/. Exits 0 whether or not the targets are met
# (it is a benchmark); nonzero only when something fails to build or run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build-bench}
data=${OPTOUT_BENCH_DATA:-$repo/../shared/data/robots-top10k}
passes=${BENCH_PASSES:-21}
py_passes=${BENCH_PY_PASSES:-3}
python=${BENCH_PYTHON:-/usr/bin/python3}

if [ ! -d "$data" ]; then
    echo "bench/run.sh: no robots.txt corpus at $data (the shared data folder ../shared is missing);"
    echo "nothing to benchmark. Set OPTOUT_BENCH_DATA to a directory of robots.txt files."
    exit 0
fi
data=$(cd "$data" && pwd)

# --- build (configure a Release tree the first time; the build itself is incremental) ---------
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOPTOUT_BENCH=ON >/dev/null
elif ! grep -q '^OPTOUT_BENCH:BOOL=ON' "$build/CMakeCache.txt"; then
    cmake -S "$repo" -B "$build" -DOPTOUT_BENCH=ON >/dev/null
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [ "$build_type" != "Release" ]; then
    echo "bench/run.sh: warning: $build is a '$build_type' build, not Release: figures are not comparable" >&2
fi
cmake --build "$build" --target bench_robots -j2 >/dev/null
bench=$build/bin/bench_robots
[ -x "$bench" ] || { echo "bench/run.sh: $bench was not built" >&2; exit 1; }

out=$build/bench-results
mkdir -p "$out"
urls=$out/urls.tsv

echo "== optout robots.txt engine ($bench, $passes passes) on $data"
"$bench" --passes "$passes" --urls-out "$urls" "$data" | tee "$out/c.txt"

py_ok=0
: >"$out/python.txt"
if [ "${BENCH_SKIP_PYTHON:-0}" = 1 ]; then
    echo "== Python baselines skipped (BENCH_SKIP_PYTHON=1)"
elif [ ! -x "$python" ]; then
    echo "== Python baselines skipped: $python not found (Debian's python3 with python3-protego)"
else
    echo
    echo "== Python baselines ($python, $py_passes passes; about 70 s per pass)"
    "$python" "$repo/bench/baseline_python.py" --passes "$py_passes" "$data" "$urls" | tee "$out/python.txt"
    py_ok=1
fi

# --- the table -------------------------------------------------------------------------------
echo
awk -v py_ok="$py_ok" '
    FNR == 1 { file++ }
    /^#/ || NF != 2 { next }
    { v[$1] = $2 }
    function num(k) { return (k in v) && v[k] != "na" }
    function fmt_rate(x) {
        if (x >= 1e6) return sprintf("%.1fM", x / 1e6)
        if (x >= 1e3) return sprintf("%.1fk", x / 1e3)
        return sprintf("%.1f", x)
    }
    function cell(k, kind) {
        if (!num(k)) return "n/a"
        if (kind == "rate") return fmt_rate(v[k])
        if (kind == "s") return sprintf("%.4f s", v[k])
        return sprintf("%.1f", v[k])
    }
    # ratio ours/theirs for rates, theirs/ours for times (both read "how many times faster")
    function ratio(ours, theirs, is_time) {
        if (!num(ours) || !num(theirs) || v[ours] == 0 || v[theirs] == 0) return "n/a"
        return sprintf("%.0fx", is_time ? v[theirs] / v[ours] : v[ours] / v[theirs])
    }
    function row(label, ours, u, p, kind) {
        printf "%-34s %12s %12s %12s %12s %12s\n", label, cell(ours, kind), cell(u, kind), cell(p, kind),
               ratio(ours, u, kind == "s"), ratio(ours, p, kind == "s")
    }
    function verdict(ok) { return ok ? "met" : "NOT met" }
    function target_rows(pfx, label,    x, y) {
        if (!num(pfx "parse_mb_s")) { printf "  %-13s not measured (mode not available)\n", label; return }
        printf "  %-13s parse >= 400 MB/s                 %9.1f MB/s   %s\n", label, v[pfx "parse_mb_s"],
               verdict(v[pfx "parse_mb_s"] >= 400)
        printf "  %-13s matching >= 20M checks/s, typical %9.1fM/s     %s (all files aggregate: %.1fM/s, %s)\n",
               label, v[pfx "checks_s_typical"] / 1e6, verdict(v[pfx "checks_s_typical"] >= 20e6),
               v[pfx "checks_s"] / 1e6, verdict(v[pfx "checks_s"] >= 20e6)
        if (num("protego_e2e_s")) {
            x = v["protego_e2e_s"] / v[pfx "e2e_s"]
            y = num("protego_e2e_s_min") ? v["protego_e2e_s_min"] / v[pfx "e2e_s"] : x
            printf "  %-13s end to end >= 50x Protego         %9.0fx        %s (against Protego'"'"'s fastest pass: %.0fx)\n",
                   label, x, verdict(x >= 50), y
        } else {
            printf "  %-13s end to end >= 50x Protego         %9s         unknown (no Protego baseline)\n", label, "n/a"
        }
    }
    END {
        printf "%-34s %12s %12s %12s %12s %12s\n", "", "optout", "urllib", "protego", "vs urllib", "vs protego"
        row("parse (MB/s), rfc9309 mode", "parse_mb_s", "urllib_parse_mb_s", "protego_parse_mb_s", "mb")
        row("parse (MB/s), protego mode", "pmode_parse_mb_s", "urllib_parse_mb_s", "protego_parse_mb_s", "mb")
        row("checks/s all files, rfc9309", "checks_s", "urllib_checks_s", "protego_checks_s", "rate")
        row("checks/s all files, protego mode", "pmode_checks_s", "urllib_checks_s", "protego_checks_s", "rate")
        row("end to end (s/pass), rfc9309", "e2e_s", "urllib_e2e_s", "protego_e2e_s", "s")
        row("end to end (s/pass), protego mode", "pmode_e2e_s", "urllib_e2e_s", "protego_e2e_s", "s")
        printf "%-34s %12s\n", "checks/s typical file, rfc9309", cell("checks_s_typical", "rate")
        printf "%-34s %12s\n", "checks/s typical file, protego mode", cell("pmode_checks_s_typical", "rate")
        printf "%-34s %12s\n", "checks/s slowest 1% files, rfc9309", cell("checks_s_file_p1", "rate")
        printf "(vs = how many times faster optout is; checks = URLs x %d agents; end to end = parse + %d URLs per file;\n",
               v["agents"], v["urls"] / v["files"]
        printf " optout: median of %d passes; Python: median of %s passes)\n", v["passes"], num("py_passes") ? v["py_passes"] : "no"
        if (!num("pmode_available") || v["pmode_available"] == 0) print "protego mode: not available (ENOSYS)"
        print ""
        print "targets:"
        target_rows("", "rfc9309 mode")
        target_rows("pmode_", "protego mode")
        if ((num("cpu_share") && v["cpu_share"] < 0.9) || (num("py_cpu_share") && v["py_cpu_share"] < 0.9)) print ""
        if (num("cpu_share") && v["cpu_share"] < 0.9)
            printf "warning: bench_robots got only %.0f%% of a CPU (the machine is busy): its figures are too low\n", v["cpu_share"] * 100
        if (num("py_cpu_share") && v["py_cpu_share"] < 0.9)
            printf "warning: the Python baselines got only %.0f%% of a CPU (the machine is busy): their figures are too low and the ratios too high\n", v["py_cpu_share"] * 100
    }
' "$out/c.txt" "$out/python.txt"
echo
echo "raw outputs: $out/c.txt $out/python.txt (URL list: $urls)"
