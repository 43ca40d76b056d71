"""test_parquet_memory.py — a worker's --max-memory accounts what a Parquet shard's reading holds.

DuckDB writes one row group of 700,000 rows (as a pyarrow or DuckDB file can hold): deciding it
needs its projected columns (about 120 MiB here), more than what `--max-memory 256M` leaves a
Parquet shard in a slot (64 MiB), so `optout run` fails that shard with a message naming the file,
the row group, its rows and both figures, and publishes nothing for it; with `--max-memory 2G` the
same run completes and DuckDB reads every row back.

usage: test_parquet_memory.py BIN_DIR SOURCE_ROOT
"""
import os
import shutil
import sys
import tempfile

from pq_support import check, duck, finish, require, runner  # noqa: E402

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
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("parquet_memory")
