"""test_parquet_memory.py — a worker's --max-memory accounts what a Parquet shard's reading holds.

DuckDB writes one row group of 700,000 rows (as a pyarrow or DuckDB file can hold): deciding it
needs its projected columns (about 120 MiB here), more than what `--max-memory 256M` leaves a
Parquet shard in a slot (64 MiB), so `optout run` fails that shard with a message naming the file,
the row group, its rows and both figures, and publishes nothing for it; with `--max-memory 2G` the
same run completes and DuckDB reads every row back.

`--output-format jsonl` streams a row group page by page: hyparquet-writer writes one row group of
700,000 rows (1 MiB pages; about 80 MiB of values), whose projected columns fit the 64 MiB; the run
converts it under `--max-memory 256M` (the pages of its columns and one row counted against what the
slot leaves), DuckDB reads the JSON Lines outputs and finds exactly the input's rows, kept and
removed, and the worker's peak RSS stays far below the row group's size (rendering the whole row
group, as the converter once did, peaked at about 200 MiB here; streaming, about 85 MiB).

usage: test_parquet_memory.py BIN_DIR SOURCE_ROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from pq_support import ENV, HERE, check, duck, finish, q, require, runner, zcat  # noqa: E402

bindir, root = sys.argv[1], sys.argv[2]
robots = os.path.join(root, "data", "sample", "robots")
ROWS = 700000
require("parquet_memory")
run = runner(os.path.join(bindir, "optout"))


work = tempfile.mkdtemp(prefix="optout-pqmem-")
try:
    corpus = os.path.join(work, "in")
    os.mkdir(corpus)
    big = os.path.join(corpus, "big.parquet")
    duck("COPY (SELECT 'text ' || i AS text, 'id-' || i AS id, 'CC-MAIN-2024-10' AS dump, "
         "'https://shop.example/item/' || i || '?session=' || (i * 7919) AS url, 'en' AS language, "
         "100::BIGINT AS token_count FROM range(%d) t(i)) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"
         % (ROWS, big))
    groups = duck("SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('%s')" % big)
    check(len(groups) == 1 and int(groups[0]["row_group_num_rows"]) == ROWS, "the fixture is one row group: %s" % groups)

    small = os.path.join(work, "small")
    p = run("run", "--corpus", os.path.join(corpus, "*.parquet"), "--robots-dir", robots, "--out", small,
            "--workers", "1", "--max-memory", "256M")
    check(p.returncode == 1, "--max-memory 256M: the run fails (exit %d)" % p.returncode)
    want = "big.parquet: row group 0 (%d rows) needs about " % ROWS
    line = next((ln for ln in p.stderr.splitlines() if want in ln), "")
    if not check(line != "", "the failure names the file, the row group and its rows"):
        print(p.stderr[-1500:])
    check("MiB to be decided" in line and "more than the 64 MiB the memory budget leaves a Parquet shard" in line,
          "the failure gives both figures: " + line)
    check(not os.path.exists(os.path.join(small, "shards", "big.parquet")), "nothing is published for the shard")

    large = os.path.join(work, "large")
    p = run("run", "--corpus", os.path.join(corpus, "*.parquet"), "--robots-dir", robots, "--out", large,
            "--workers", "1", "--max-memory", "2G")
    if not check(p.returncode == 0, "--max-memory 2G: the run completes"):
        print(p.stderr[-1500:])
    out = os.path.join(large, "shards", "big.parquet")
    if check(os.path.exists(out), "shards/big.parquet published"):
        n = duck("SELECT count(*) AS n FROM read_parquet('%s')" % out)[0]["n"]
        check(int(n) == ROWS, "DuckDB reads %s rows back of %d" % (n, ROWS))

    # --output-format jsonl: a large row group converted page by page within the budget
    conv_in = os.path.join(work, "conv")
    os.mkdir(conv_in)
    src = os.path.join(conv_in, "rows.parquet")
    subprocess.run(["node", os.path.join(HERE, "big_group.mjs"), src, str(ROWS)], check=True, env=ENV)
    pages = duck("SELECT DISTINCT row_group_id FROM parquet_metadata(%s)" % q(src))
    check(len(pages) == 1, "the conversion fixture is one row group")
    conv = os.path.join(work, "conv-out")
    # the peak RSS of the run's processes (the worker's is the largest), measured in a process of
    # its own so that DuckDB's node processes do not count
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")
    optout = os.path.join(bindir, "optout")
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    p = subprocess.run([sys.executable, "-c", probe, optout, "run", "--corpus", os.path.join(conv_in, "*.parquet"),
                        "--robots-dir", robots, "--out", conv, "--workers", "1", "--max-memory", "256M",
                        "--output-format", "jsonl", "--removed"], capture_output=True, text=True, env=env)
    if not check(p.returncode == 0, "--output-format jsonl --max-memory 256M: the run converts the row group"):
        print(p.stderr[-1500:])
    kept, gone = os.path.join(conv, "shards", "rows.jsonl.zst"), os.path.join(conv, "removed", "rows.jsonl.zst")
    if check(os.path.exists(kept) and os.path.exists(gone), "shards/ and removed/ rows.jsonl.zst published"):
        # DuckDB reads our JSON Lines and compares them with its own reading of the input
        rj = "read_json(%s, format='newline_delimited', compression='zstd')"
        sel = "SELECT n::BIGINT AS n, url, text FROM "
        cart = "url LIKE 'http://shop.example/cart/%'"
        for what, out, where, count in (("kept", kept, "NOT " + cart, ROWS - ROWS // 10),
                                        ("removed", gone, cart, ROWS // 10)):
            a = "%s%s" % (sel, rj % q(out))
            b = "%sread_parquet(%s) WHERE %s" % (sel, q(src), where)
            r = duck("SELECT (SELECT count(*) FROM (%s)) AS got, (SELECT count(*) FROM (%s EXCEPT ALL %s)) AS extra, "
                     "(SELECT count(*) FROM (%s EXCEPT ALL %s)) AS missing" % (a, a, b, b, a))[0]
            check((int(r["got"]), int(r["extra"]), int(r["missing"])) == (count, 0, 0),
                  "%s: DuckDB finds the input's %d rows and no other (%s)" % (what, count, r))
        agents = duck("SELECT count(*) AS n FROM %s WHERE len(disallowed_user_agents) > 0" % (rj % q(gone)))[0]["n"]
        check(int(agents) == ROWS // 10, "removed: every row carries its agents (%s)" % agents)
        data = zcat(kept)
        ns = [json.loads(line)["n"] for line in data.split(b"\n") if line]
        check(ns == sorted(ns) and len(ns) == ROWS - ROWS // 10, "kept: the rows in input order")
    peak_kib = int(p.stdout.split()[-1]) if p.stdout.split() else 0
    sanitized = b"__asan_init" in open(os.path.join(bindir, "optout-worker"), "rb").read()
    print("conversion peak RSS: %d MiB%s" % (peak_kib >> 10, " (sanitizer build: not bounded)" if sanitized else ""))
    if not sanitized:
        check(0 < peak_kib < 150 * 1024, "the conversion's peak RSS (%d MiB) is far below the row group's size"
              % (peak_kib >> 10))
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("parquet_memory")
