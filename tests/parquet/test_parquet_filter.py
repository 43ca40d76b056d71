"""test_parquet_filter.py — `optout filter`, `optout run` and `optout rank` on Parquet shards against
the same documents as JSON Lines, with DuckDB (an independent implementation) writing the fixtures
and reading every output back (never our own reader).

The fixture is the bundled sample (data/sample/corpus.jsonl.zst), 240 times over, copied to Parquet
by DuckDB (2 row groups, a TIMESTAMP date, key-value metadata). Checks: the same statistics; the same kept and
removed documents (by id, in order), the kept rows identical to the input's; the same column types
and key-value metadata; removed/ ends with disallowed_user_agents (a list of strings) equal to the
JSON Lines copy's; --parquet-compression and --level; a Parquet file without the URL column fails
naming the field unless --missing-url keep; `optout run` over a mixed glob publishes
shards/x.parquet and removed/x.parquet; the ranking of both copies is identical.

usage: test_parquet_filter.py OPTOUT_BINARY SOURCE_ROOT
"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pq_support import check, duck, finish, jsonl, q, require, runner  # noqa: E402

optout, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
robots = os.path.join(sample, "robots")
require("parquet_filter")
run = runner(optout)


def types(path):
    return [(r["column_name"], r["column_type"]) for r in duck("DESCRIBE SELECT * FROM read_parquet(%s)" % q(path))]


def kv(path):
    return sorted((r["key"], r["value"]) for r in duck("SELECT * FROM parquet_kv_metadata(%s)" % q(path)))


COPIES = 240

with tempfile.TemporaryDirectory() as work:
    # the sample 240 times over (19,200 rows) in two row groups (DuckDB rounds their size to 2,048
    # rows): 18,432 and 768, the first larger than the filter's chunk of 16,384 rows
    sample_corpus = os.path.join(sample, "corpus.jsonl.zst")
    corpus = os.path.join(work, "corpus.jsonl.zst")
    with open(sample_corpus, "rb") as f:
        frame = f.read()
    with open(corpus, "wb") as f:
        f.write(frame * COPIES)
    one, pq = os.path.join(work, "one.parquet"), os.path.join(work, "corpus.parquet")
    duck("COPY (SELECT * FROM read_json(%s, format='newline_delimited')) TO %s (FORMAT parquet)"
         % (q(sample_corpus), q(one)),
         "COPY (SELECT p.* EXCLUDE (file_row_number) FROM range(%d) r, read_parquet(%s, file_row_number=true) p "
         "ORDER BY r.range, p.file_row_number) TO %s (FORMAT parquet, ROW_GROUP_SIZE 18432, "
         "KV_METADATA {origin: 'optout-test'})" % (COPIES, q(one), q(pq)))
    groups = int(duck("SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata(%s)" % q(pq))[0]["n"])
    check(groups == 2, "the fixture has 2 row groups (%s)" % groups)
    check(dict(types(pq)).get("date") == "TIMESTAMP", "the fixture's date is a TIMESTAMP")

    # optout filter on both copies
    j_out, j_rm, j_st = (os.path.join(work, n) for n in ("j.jsonl.zst", "j.rm.jsonl.zst", "j.stats"))
    p_out, p_rm, p_st = (os.path.join(work, n) for n in ("p.parquet", "p.rm.parquet", "p.stats"))
    rj = run("filter", "--robots-dir", robots, "--in", corpus, "--out", j_out, "--removed", j_rm, "--stats", j_st)
    rp = run("filter", "--robots-dir", robots, "--in", pq, "--out", p_out, "--removed", p_rm, "--stats", p_st)
    check(rj.returncode == 0, "filter on JSON Lines exits 0 (%s)" % rj.stderr.strip())
    if check(rp.returncode == 0, "filter on Parquet exits 0 (%s)" % rp.stderr.strip()):
        sj, sp = json.load(open(j_st)), json.load(open(p_st))
        check(sj == sp, "the same statistics for both copies")
        check(sp["docs_removed"] > 0 and sp["docs_removed"] < sp["docs_in"],
              "some documents removed, some kept (%s of %s)" % (sp["docs_removed"], sp["docs_in"]))
        kept_ids = [d["id"] for d in jsonl(j_out)]
        removed = jsonl(j_rm)
        out_rows = duck("SELECT * FROM read_parquet(%s)" % q(p_out))
        check([r["id"] for r in out_rows] == kept_ids, "the same kept documents, in order (%d)" % len(kept_ids))
        ids = ", ".join(q(i) for i in set(kept_ids))
        in_rows = duck("SELECT * FROM read_parquet(%s) WHERE id IN (%s)" % (q(pq), ids))
        check(out_rows == in_rows, "kept rows identical to the input's")
        rm_rows = duck("SELECT * FROM read_parquet(%s)" % q(p_rm))
        check([r["id"] for r in rm_rows] == [d["id"] for d in removed], "the same removed documents, in order")
        check([r["disallowed_user_agents"] for r in rm_rows] == [d["disallowed_user_agents"] for d in removed],
              "disallowed_user_agents equal to the JSON Lines copy's")
        check(types(p_out) == types(pq), "kept output: the input's column names and types")
        check(types(p_rm) == types(pq) + [("disallowed_user_agents", "VARCHAR[]")],
              "removed output: the input's columns, then disallowed_user_agents VARCHAR[]")
        check(("origin", "optout-test") in kv(p_out) and kv(p_out) == kv(pq), "kept output: the input's key-value metadata")
        codecs = {r["compression"] for r in duck("SELECT compression FROM parquet_metadata(%s)" % q(p_out))}
        check(codecs == {"ZSTD"}, "zstd by default (%s)" % codecs)

    # other types for the same fields give the same statistics: a floating token count, a
    # nanosecond TIMESTAMP, a DATE; fields inside a struct (datatrove's `metadata`), reached by the
    # default paths and by --url-field etc.
    variants = {
        "double_tokens": "SELECT * REPLACE (token_count::DOUBLE AS token_count, date::TIMESTAMP_NS AS date)",
        "date_only": "SELECT * REPLACE (date::DATE AS date)",
        "struct": "SELECT text, {'url': url, 'id': id, 'dump': dump, 'date': date, 'language': language, "
                  "'token_count': token_count} AS metadata",
    }
    for name, select in variants.items():
        vp, vs = os.path.join(work, name + ".parquet"), os.path.join(work, name + ".stats")
        duck("COPY (%s FROM read_parquet(%s)) TO %s (FORMAT parquet)" % (select, q(pq), q(vp)))
        r = run("filter", "--robots-dir", robots, "--in", vp, "--out", os.path.join(work, name + ".out.parquet"),
                "--stats", vs)
        if check(r.returncode == 0, "%s: filter exits 0 (%s)" % (name, r.stderr.strip())):
            check(json.load(open(vs)) == sj, "%s: the same statistics as the JSON Lines copy" % name)
    r = run("filter", "--robots-dir", robots, "--in", os.path.join(work, "struct.parquet"), "--out",
            os.path.join(work, "struct2.parquet"), "--stats", os.path.join(work, "struct2.stats"),
            "--url-field", "metadata.url", "--tokens-field", "metadata.token_count", "--dump-field", "metadata.dump",
            "--date-field", "metadata.date", "--language-field", "metadata.language")
    check(r.returncode == 0 and json.load(open(os.path.join(work, "struct2.stats"))) == sj,
          "dotted field options into a struct: the same statistics (%s)" % r.stderr.strip())

    # --output-format jsonl: the Parquet rows as JSON Lines, one object per row, columns in order
    c_out, c_rm = os.path.join(work, "c.jsonl.zst"), os.path.join(work, "c.rm.jsonl.zst")
    r = run("filter", "--robots-dir", robots, "--in", pq, "--out", c_out, "--removed", c_rm, "--output-format", "jsonl")
    if check(r.returncode == 0, "--output-format jsonl from Parquet exits 0 (%s)" % r.stderr.strip()):
        conv, conv_rm = jsonl(c_out), jsonl(c_rm)
        check([d["id"] for d in conv] == kept_ids, "converted: the kept documents, in order")
        check([list(d) for d in conv[:1]] == [[c for c, _ in types(pq)]], "converted: the columns in order")
        check([d["text"] for d in conv] == [d["text"] for d in jsonl(j_out)], "converted: the same texts")
        check([d["disallowed_user_agents"] for d in conv_rm] == [d["disallowed_user_agents"] for d in removed],
              "converted removed documents carry their agents")
    # JSON Lines to Parquet (--output-format parquet): test_parquet_jsonl_out.py

    # codec and level
    g_out = os.path.join(work, "g.parquet")
    r = run("filter", "--robots-dir", robots, "--in", pq, "--out", g_out, "--parquet-compression", "gzip", "--level", "9")
    if check(r.returncode == 0, "--parquet-compression gzip --level 9 (%s)" % r.stderr.strip()):
        codecs = {r["compression"] for r in duck("SELECT compression FROM parquet_metadata(%s)" % q(g_out))}
        check(codecs == {"GZIP"}, "gzip output (%s)" % codecs)
        check(int(duck("SELECT count(*) AS n FROM read_parquet(%s)" % q(g_out))[0]["n"]) == len(kept_ids),
              "gzip output holds the kept rows")
    r = run("filter", "--robots-dir", robots, "--in", pq, "--out", g_out, "--parquet-compression", "snappy", "--level", "5")
    check(r.returncode == 2 and "level" in r.stderr, "--level with snappy is a usage error (%s)" % r.stderr.strip())
    r = run("filter", "--robots-dir", robots, "--in", pq, "--out", g_out, "--parquet-compression", "gzip", "--level", "12")
    check(r.returncode == 2, "gzip --level 12 is a usage error (%s)" % r.stderr.strip())

    # a Parquet file without the URL column
    nourl = os.path.join(work, "nourl.parquet")
    duck("COPY (SELECT * EXCLUDE (url) FROM read_parquet(%s)) TO %s (FORMAT parquet)" % (q(pq), q(nourl)))
    n_out = os.path.join(work, "n.parquet")
    r = run("filter", "--robots-dir", robots, "--in", nourl, "--out", n_out)
    check(r.returncode == 1 and "no document has a URL" in r.stderr and "--url-field" in r.stderr,
          "no URL column: the shard fails naming the field (%s)" % r.stderr.strip())
    check(not os.path.exists(n_out), "no output for it")
    r = run("filter", "--robots-dir", robots, "--in", nourl, "--out", n_out, "--missing-url", "keep")
    check(r.returncode == 0 and int(duck("SELECT count(*) AS n FROM read_parquet(%s)" % q(n_out))[0]["n"]) == 80 * COPIES,
          "--missing-url keep keeps every row (%s)" % r.stderr.strip())

    # optout run over a mixed glob
    mix = os.path.join(work, "mix")
    os.mkdir(mix)
    shutil.copy(pq, os.path.join(mix, "a.parquet"))
    shutil.copy(corpus, os.path.join(mix, "b.jsonl.zst"))
    rundir = os.path.join(work, "run")
    r = run("run", "--corpus", os.path.join(mix, "*"), "--out", rundir, "--robots-dir", robots, "--workers", "1",
            "--removed")
    if check(r.returncode == 0, "optout run on a mixed glob exits 0 (%s)" % r.stderr.strip()[-500:]):
        for name in ("shards/a.parquet", "removed/a.parquet", "shards/b.jsonl.zst", "removed/b.jsonl.zst"):
            check(os.path.isfile(os.path.join(rundir, name)), "the run publishes %s" % name)
        rep = json.load(open(os.path.join(rundir, "report.json")))
        check(rep["docs_in"] == 2 * 80 * COPIES and rep["docs_removed"] == 2 * sj["docs_removed"],
              "report: both shards counted alike (%s of %s removed)" % (rep["docs_removed"], rep["docs_in"]))
        ids = [r["id"] for r in duck("SELECT id FROM read_parquet(%s)" % q(os.path.join(rundir, "shards/a.parquet")))]
        check(ids == kept_ids, "the run's Parquet shard holds the kept documents")
        check(types(os.path.join(rundir, "removed/a.parquet"))[-1] == ("disallowed_user_agents", "VARCHAR[]"),
              "the run's removed Parquet shard ends with disallowed_user_agents")
        first = removed[0]
        w = run("why", "--run", rundir, "--first", "--json", "--id", first["id"])
        ans = json.loads(w.stdout.splitlines()[0]) if w.returncode == 0 and w.stdout.strip() else {}
        check(ans.get("url") == first["url"] and str(ans.get("shard", "")).endswith("a.parquet"),
              "optout why --id finds a removed document of the Parquet shard (%s)" % (w.stdout + w.stderr)[:300])
        v = run("verify", rundir)
        check(v.returncode == 0, "optout verify on the run (%s)" % (v.stdout + v.stderr).strip()[-300:])

    conv_dir = os.path.join(work, "run-jsonl")
    r = run("run", "--corpus", os.path.join(mix, "a.parquet"), "--out", conv_dir, "--robots-dir", robots,
            "--workers", "1", "--output-format", "jsonl")
    if check(r.returncode == 0, "optout run --output-format jsonl exits 0 (%s)" % r.stderr.strip()[-300:]):
        got = jsonl(os.path.join(conv_dir, "shards", "a.jsonl.zst"))
        check([d["id"] for d in got] == kept_ids, "the run converts shards/a.parquet to shards/a.jsonl.zst")

    # ranking reads both copies alike
    pqdir, jdir = os.path.join(work, "pq"), os.path.join(work, "jl")
    os.mkdir(pqdir)
    os.mkdir(jdir)
    shutil.copy(pq, pqdir)
    shutil.copy(corpus, jdir)
    rk = [run("rank", "--corpus", os.path.join(d, "*"), "--out", os.path.join(work, "rank-" + n))
          for d, n in ((pqdir, "pq"), (jdir, "jl"))]
    if check(all(x.returncode == 0 for x in rk), "optout rank on both copies exits 0"):
        for f in ("en.tsv", "non_en.tsv", "hosts.txt"):
            a = open(os.path.join(work, "rank-pq", "ranking", f)).read()
            b = open(os.path.join(work, "rank-jl", "ranking", f)).read()
            check(a == b and a.strip(), "ranking/%s: identical for Parquet and JSON Lines" % f)

finish("parquet_filter")
