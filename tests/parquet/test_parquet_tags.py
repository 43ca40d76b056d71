"""test_parquet_tags.py — tag mode, `optout apply-tags` and `--sample` on Parquet, against the same
documents as JSON Lines (DuckDB writes the Parquet copy and reads the outputs).

Fixture: the bundled sample with ids that need escaping (quotes, backslashes, non-ASCII written raw
and as \\u escapes, a control character), documents without id (tagged by line / row number) and
documents with neither id nor URL, as JSON Lines and as DuckDB's Parquet copy of it. Checks:
- `optout filter --output tags` writes the same tags file for both copies (ids rendered by the one
  JSON writer), and every tag line is valid JSON;
- `--sample` decides the same documents for both copies (the same statistics), documents without
  id and URL included (some in the sample, some out);
- `optout apply-tags` on the Parquet copy writes byte for byte what `optout filter` writes (kept
  and removed/), and so does `apply-tags --run` after `optout run --output tags` (tags/c.parquet.zst)
  compared with a full run's shards/ and removed/; the same after `--output-format parquet` on
  the JSON Lines copy; `--output-format jsonl` from Parquet: the filter's lines.

usage: test_parquet_tags.py OPTOUT_BINARY SOURCE_ROOT
"""
import filecmp
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pq_support import check, duck, finish, q, require, runner, zcat as unzstd  # noqa: E402

optout, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
robots = os.path.join(sample, "robots")
require("parquet_tags")
run = runner(optout)


def same_file(a, b, what):
    ok = os.path.isfile(a) and os.path.isfile(b) and filecmp.cmp(a, b, shallow=False)
    return check(ok, "%s: byte for byte the same (%s, %s)" % (what, os.path.basename(a), os.path.basename(b)))


with tempfile.TemporaryDirectory() as work:
    docs = [json.loads(line) for line in unzstd(os.path.join(sample, "corpus.jsonl.zst")).decode().split("\n") if line]
    odd = ['q"uote', "back\\slash", "caf\u00e9", "tab\there", "\u2028line", "\U0001F600 emoji", "\u00e9t\u00e9"]
    lines = []
    for i in range(6):  # 480 documents
        for j, d in enumerate(docs):
            d = dict(d)
            n = i * len(docs) + j
            if n % 9 == 0:
                d.pop("id")  # tagged by line
            elif n % 9 == 1:
                d["id"] = None
            elif n % 4 == 0:
                d["id"] = "%s-%d" % (odd[n % len(odd)], n)
            else:
                d["id"] = "%s-%d" % (d["id"], n)
            if n % 13 == 0:  # neither id nor URL: sampled by the shard's name and line
                d.pop("id", None)
                d.pop("url")
            lines.append(json.dumps({k: d.get(k) for k in ("text", "id", "dump", "url", "date", "language",
                                                           "language_score", "token_count")},
                                    ensure_ascii=bool(n % 2)))
    jl = os.path.join(work, "c.jsonl")
    with open(jl, "w") as f:
        f.write("\n".join(lines) + "\n")
    pq = os.path.join(work, "c.parquet")
    duck("COPY (SELECT * FROM read_json(%s, format='newline_delimited', columns={text: 'VARCHAR', id: 'VARCHAR', "
         "dump: 'VARCHAR', url: 'VARCHAR', date: 'VARCHAR', language: 'VARCHAR', language_score: 'DOUBLE', "
         "token_count: 'BIGINT'})) TO %s (FORMAT parquet, ROW_GROUP_SIZE 2048)" % (q(jl), q(pq)))
    check(int(duck("SELECT count(*) AS n FROM read_parquet(%s)" % q(pq))[0]["n"]) == len(lines),
          "the Parquet copy holds every document")

    # tags: the same file from both copies
    tj, tp = os.path.join(work, "tj.jsonl"), os.path.join(work, "tp.jsonl")
    rj = run("filter", "--robots-dir", robots, "--in", jl, "--out", tj, "--output", "tags")
    rp = run("filter", "--robots-dir", robots, "--in", pq, "--out", tp, "--output", "tags")
    check(rj.returncode == 0, "tag mode on JSON Lines (%s)" % rj.stderr.strip())
    if check(rp.returncode == 0, "tag mode on Parquet exits 0 (%s)" % rp.stderr.strip()):
        a, b = open(tj, "rb").read(), open(tp, "rb").read()
        tags = [json.loads(x) for x in a.decode().split("\n") if x]
        check(a == b, "the same tags from both copies (%d tags)" % len(tags))
        check(any("line" in t for t in tags) and any('"' in str(t.get("id")) for t in tags)
              and any("\t" in str(t.get("id")) for t in tags),
              "tags by line and by ids with quotes and control characters among them")

    # --sample: the same decisions, documents without id and URL included
    sj, sp = os.path.join(work, "sj.stats"), os.path.join(work, "sp.stats")
    r1 = run("filter", "--robots-dir", robots, "--in", jl, "--out", os.path.join(work, "sj.jsonl"), "--sample", "0.5",
             "--stats", sj)
    r2 = run("filter", "--robots-dir", robots, "--in", pq, "--out", os.path.join(work, "sp.parquet"), "--sample",
             "0.5", "--stats", sp)
    if check(r1.returncode == 0 and r2.returncode == 0, "--sample on both copies (%s%s)" % (r1.stderr, r2.stderr)):
        a, b = json.load(open(sj)), json.load(open(sp))
        check(a == b, "the same sample statistics for both copies")
        check(0 < a["sample"]["docs_not_sampled"] < len(lines), "a sample, not all or none (%d)" % a["sample"]["docs_not_sampled"])
        kept_j = [json.loads(x).get("id") for x in open(os.path.join(work, "sj.jsonl")).read().split("\n") if x]
        kept_p = [r["id"] for r in duck("SELECT id FROM read_parquet(%s)" % q(os.path.join(work, "sp.parquet")))]
        check(kept_j == kept_p, "the same sampled documents kept (%d)" % len(kept_j))
        nourl = duck("SELECT count(*) AS n FROM read_parquet(%s) WHERE url IS NULL" % q(os.path.join(work, "sp.parquet")))
        check(0 < int(nourl[0]["n"]) < len([x for x in lines if '"url": null' in x]),
              "documents without id and URL: some in the sample, some out (%s)" % nourl)

    # apply-tags on Parquet writes what the filter writes
    fo, fr = os.path.join(work, "f.parquet"), os.path.join(work, "fr.parquet")
    ao, ar = os.path.join(work, "a.parquet"), os.path.join(work, "ar.parquet")
    r = run("filter", "--robots-dir", robots, "--in", pq, "--out", fo, "--removed", fr)
    check(r.returncode == 0, "filter on Parquet (%s)" % r.stderr.strip())
    r = run("apply-tags", "--tags", tp, "--in", pq, "--out", ao, "--removed", ar, "--stats", "-")
    if check(r.returncode == 0, "apply-tags on Parquet exits 0 (%s)" % r.stderr.strip()):
        same_file(fo, ao, "apply-tags' kept Parquet and the filter's")
        same_file(fr, ar, "apply-tags' removed Parquet and the filter's")
        st = json.loads(r.stdout)
        check(st["docs_in"] == len(lines) and st["docs_removed"] == st["tags"] > 0, "apply-tags counts (%s)" % st)
        rows = duck("SELECT count(*) AS n FROM read_parquet(%s)" % q(ao))
        check(int(rows[0]["n"]) == len(lines) - st["docs_removed"], "DuckDB reads the kept rows")
    # ... and converted to JSON Lines, what the filter converts
    fo, fr = os.path.join(work, "f.jsonl.zst"), os.path.join(work, "fr.jsonl.zst")
    ao, ar = os.path.join(work, "a.jsonl.zst"), os.path.join(work, "ar.jsonl.zst")
    r1 = run("filter", "--robots-dir", robots, "--in", pq, "--out", fo, "--removed", fr, "--output-format", "jsonl")
    r2 = run("apply-tags", "--tags", tp, "--in", pq, "--out", ao, "--removed", ar, "--output-format", "jsonl")
    if check(r1.returncode == 0 and r2.returncode == 0, "--output-format jsonl: filter and apply-tags (%s%s)"
             % (r1.stderr.strip(), r2.stderr.strip())):
        check(unzstd(fo) == unzstd(ao) and unzstd(fr) == unzstd(ar) and unzstd(ar),
              "--output-format jsonl: apply-tags writes the filter's lines, removed ones with their agents")
    bad = os.path.join(work, "bad.tags")
    with open(bad, "w") as f:
        f.write('{"id": "nowhere", "disallowed_user_agents": []}\n')
    r = run("apply-tags", "--tags", bad, "--in", pq, "--out", os.path.join(work, "x.parquet"))
    check(r.returncode == 1 and "match" in r.stderr and not os.path.exists(os.path.join(work, "x.parquet")),
          "a tag matching no row fails the Parquet shard, nothing written (%s)" % r.stderr.strip())

    # runs: tag run + apply-tags --run against a full run, Parquet in, and JSON Lines to Parquet
    for name, src, extra in (("parquet", pq, []), ("jsonl-to-parquet", jl, ["--output-format", "parquet"])):
        corpus = os.path.join(work, "corpus-" + name)
        os.mkdir(corpus)
        shutil.copy(src, corpus)
        full, tagged, applied = (os.path.join(work, "%s-%s" % (k, name)) for k in ("full", "tags", "applied"))
        common = ["--corpus", os.path.join(corpus, "*"), "--robots-dir", robots, "--workers", "1"] + extra
        r1 = run("run", "--out", full, "--removed", *common)
        r2 = run("run", "--out", tagged, "--output", "tags", *common)
        if not check(r1.returncode == 0 and r2.returncode == 0, "%s: full and tag runs (%s%s)" %
                     (name, r1.stderr[-300:], r2.stderr[-300:])):
            continue
        check(os.listdir(os.path.join(tagged, "tags")) == [os.path.basename(src) + ".zst"] if name == "parquet"
              else os.listdir(os.path.join(tagged, "tags")) == ["c.jsonl.zst"],
              "%s: the tags file's name (%s)" % (name, os.listdir(os.path.join(tagged, "tags"))))
        r = run("apply-tags", "--run", tagged, "--out", os.path.join(applied, "shards"), "--removed",
                os.path.join(applied, "removed"))
        if check(r.returncode == 0, "%s: apply-tags --run exits 0 (%s)" % (name, r.stderr.strip()[-300:])):
            for d in ("shards", "removed"):
                same_file(os.path.join(full, d, "c.parquet"), os.path.join(applied, d, "c.parquet"),
                          "%s: apply-tags --run's %s/c.parquet and the full run's" % (name, d))

finish("parquet_tags")
