"""test_parquet_fleet.py — the whole fleet pipeline (rank, fetch through a local robots-server,
Redis, filter with pipelined verdict lookups) on the sample's Parquet twin gives the report of the
JSON Lines sample: the same counts per class, year and agent, the same ranking, and Parquet outputs.

usage: test_parquet_fleet.py BIN_DIR REPO_ROOT
"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, robots_server, run, stop  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
tmp = tempfile.mkdtemp(prefix="optout-pqfleet-")
server = None
try:
    server, port = robots_server(root, os.path.join(sample, "robots"))
    reports = {}
    for corpus in ("corpus.jsonl.zst", "corpus.parquet"):
        out = os.path.join(tmp, corpus)
        r = run([os.path.join(bin_dir, "optout"), "run", "--corpus", os.path.join(sample, corpus), "--out", out,
                 "--connect-to", "127.0.0.1:" + port, "--removed", "--workers", "2"])
        if check(r.returncode == 0, "%s: optout run with fetching exits 0 (%s)" % (corpus, r.stderr[-400:])):
            reports[corpus] = (json.load(open(os.path.join(out, "report.json"))), out)
    if len(reports) == 2:
        (a, da), (b, db) = reports["corpus.jsonl.zst"], reports["corpus.parquet"]
        check(a["docs_removed"] > 0, "documents removed (%s)" % a["docs_removed"])
        for k in ("docs_in", "docs_removed", "bytes_in", "bytes_removed", "chars_in", "tokens_in", "tokens_removed",
                  "by_class", "by_year", "by_agent"):
            check(a.get(k) == b.get(k), "%s: the same for the Parquet twin" % k)
        for f in ("en.tsv", "non_en.tsv", "hosts.txt"):
            check(open(os.path.join(da, "ranking", f)).read() == open(os.path.join(db, "ranking", f)).read(),
                  "ranking/%s: the same for the Parquet twin" % f)
        for d in ("shards", "removed"):
            with open(os.path.join(db, d, "corpus.parquet"), "rb") as f:
                check(f.read(4) == b"PAR1", "%s/corpus.parquet is Parquet" % d)
finally:
    stop(server)
    shutil.rmtree(tmp, ignore_errors=True)
finish("parquet fleet")
