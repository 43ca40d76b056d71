"""test_parquet_jsonl_out.py — `--output-format parquet` on JSON Lines input: `optout filter` and
`optout run` write Parquet, and two independent readers (DuckDB and hyparquet, through dump.mjs's
canonical rendering) read every output back; the rows are compared one by one with the JSON Lines
input minus the removed documents (which the JSON Lines run of the same input names).

The schema the outputs must have is inferred here independently of optout, as docs/parquet.md says
(and as pyarrow / DuckDB infer one): columns in order of first appearance, strings, BIGINT, DOUBLE
(integers and fractions mixed: DOUBLE), BOOLEAN, structs, lists of primitives, a field only ever null:
a string. Also checked: removed/ ends with disallowed_user_agents equal to the JSON Lines run's;
row groups of 100,000 rows or 128 MiB; refusals name the line, the field and both kinds (a conflict within the
first 100,000 lines and one after them, a field the first lines did not have, an array of objects,
a line that is not JSON), and leave no output; string columns dictionary-encoded where it pays,
with the PLAIN fallback past 1 MiB of dictionary; `optout run --output-format parquet` names
shards/x.parquet for x.jsonl.zst and the plan records the option.

usage: test_parquet_jsonl_out.py OPTOUT_BINARY SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pq_support import check, duck, finish, jsonl, q, read, require, runner  # noqa: E402

optout, root = sys.argv[1], sys.argv[2]
sample = os.path.join(root, "data", "sample")
robots = os.path.join(sample, "robots")
require("parquet_jsonl_out", (os.path.join("@duckdb", "node-api"), "hyparquet"))
run = runner(optout)


# ---- the schema, inferred here as the documentation says ------------------------------------------
def kind(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int" if -2**63 <= v < 2**63 else "double"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "struct"
    return "list"


def merge(f, v):
    """f: {"kind", "fields" (ordered dict), "elem"}; v: a JSON value."""
    k = kind(v)
    if k is None:
        return
    if f["kind"] is None:
        f["kind"] = k
    elif f["kind"] != k:
        assert {f["kind"], k} == {"int", "double"}, (f, v)
        f["kind"] = "double"
    if k == "struct":
        for name, x in v.items():
            merge(f["fields"].setdefault(name, new_field()), x)
    elif k == "list":
        f["elem"] = f["elem"] or new_field()
        for x in v:
            merge(f["elem"], x)


def new_field():
    return {"kind": None, "fields": {}, "elem": None}


def expect(f, v):
    """The value a reader must give for JSON value v in field f (canonical form)."""
    if v is None:
        return None
    k = f["kind"] or "string"
    if k == "struct":
        return {name: expect(g, v.get(name)) for name, g in f["fields"].items()}
    if k == "list":
        return [expect(f["elem"], x) for x in v]
    if k == "double":
        return float(v)
    return v


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def compare(rows, docs, schema, what):
    want = [{name: expect(f, d.get(name)) for name, f in schema["fields"].items()} for d in docs]
    if len(rows) != len(want):
        return check(False, "%s: %d rows, expected %d" % (what, len(rows), len(want)))
    for i, (a, b) in enumerate(zip(rows, want)):
        if not same(a, b):
            return check(False, "%s: row %d differs:\n  got  %s\n  want %s" % (what, i, json.dumps(a)[:600],
                                                                              json.dumps(b)[:600]))
    return check(True, "%s: %d rows equal to the input's" % (what, len(rows)))


with tempfile.TemporaryDirectory() as work:
    # the sample, then documents of every kind the inference handles (hosts of the sample, so that
    # some are removed): nested structs, lists, integers turning double, escapes, null-only fields
    docs = jsonl(os.path.join(sample, "corpus.jsonl.zst"))
    urls = [d["url"] for d in docs]
    extra = []
    for i in range(200):
        d = {"text": "doc %d caf\u00e9 \"q\" \\ \n\u2028 \U0001F600" % i, "id": "x-%d" % i, "url": urls[i % len(urls)],
             "metadata": {"score": i if i % 3 else i + 0.5, "source": {"name": "s%d" % (i % 7), "rank": i}},
             "tags": ["a", "b\u00e9", None][: i % 4], "flags": [True, False] if i % 2 else [],
             "nums": [1, 2.5, i], "always_null": None, "ok": i % 5 == 0}
        if i % 11 == 0:
            del d["metadata"]
        if i % 13 == 0:
            d["tags"] = None
        if i % 17 == 0:
            d["late"] = "only sometimes"
        extra.append(d)
    all_docs = docs + extra
    src = os.path.join(work, "mixed.jsonl")
    with open(src, "w") as f:
        for i, d in enumerate(all_docs):  # escaped and raw UTF-8 alike
            f.write(json.dumps(d, ensure_ascii=bool(i % 2)) + "\n")
        f.write("\n")  # a blank line: no row
    schema = new_field()
    for d in all_docs:
        merge(schema, d)

    j_out, j_rm = os.path.join(work, "j.jsonl"), os.path.join(work, "j.rm.jsonl")
    p_out, p_rm = os.path.join(work, "p.parquet"), os.path.join(work, "p.rm.parquet")
    j_st, p_st = os.path.join(work, "j.stats"), os.path.join(work, "p.stats")
    rj = run("filter", "--robots-dir", robots, "--in", src, "--out", j_out, "--removed", j_rm, "--stats", j_st)
    rp = run("filter", "--robots-dir", robots, "--in", src, "--out", p_out, "--removed", p_rm, "--stats", p_st,
             "--output-format", "parquet")
    check(rj.returncode == 0, "filter to JSON Lines exits 0 (%s)" % rj.stderr.strip())
    if check(rp.returncode == 0, "filter --output-format parquet exits 0 (%s)" % rp.stderr.strip()):
        check(json.load(open(j_st)) == json.load(open(p_st)), "the same statistics as the JSON Lines output's")
        kept, removed = jsonl(j_out), jsonl(j_rm)
        check(0 < len(removed) < len(all_docs), "some removed, some kept (%d of %d)" % (len(removed), len(all_docs)))
        for reader in ("duckdb", "hyparquet"):
            compare(read(reader, p_out), kept, schema, "kept rows read by %s" % reader)
            rows = read(reader, p_rm)
            check([r.get("disallowed_user_agents") for r in rows] == [d["disallowed_user_agents"] for d in removed],
                  "%s: removed/ ends with the JSON Lines run's disallowed_user_agents" % reader)
            compare([{k: v for k, v in r.items() if k != "disallowed_user_agents"} for r in rows],
                    [{k: v for k, v in d.items() if k != "disallowed_user_agents"} for d in removed], schema,
                    "removed rows read by %s" % reader)
        types = [(r["column_name"], r["column_type"]) for r in duck("DESCRIBE SELECT * FROM read_parquet(%s)" % q(p_out))]
        names = list(schema["fields"])
        check([n for n, _ in types] == names, "columns in order of first appearance (%s)" % [n for n, _ in types])
        t = dict(types)
        check(t.get("token_count") == "BIGINT" and t.get("language_score") == "DOUBLE" and t.get("url") == "VARCHAR"
              and t.get("always_null") == "VARCHAR" and t.get("ok") == "BOOLEAN" and t.get("tags") == "VARCHAR[]"
              and t.get("nums") == "DOUBLE[]" and t.get("flags") == "BOOLEAN[]"
              and t.get("metadata") == 'STRUCT(score DOUBLE, "source" STRUCT("name" VARCHAR, rank BIGINT))',
              "the inferred types (%s)" % types)
        rtypes = [(r["column_name"], r["column_type"]) for r in duck("DESCRIBE SELECT * FROM read_parquet(%s)" % q(p_rm))]
        check(rtypes == types + [("disallowed_user_agents", "VARCHAR[]")], "removed/: the same columns, then the agents")
        codecs = {r["compression"] for r in duck("SELECT compression FROM parquet_metadata(%s)" % q(p_out))}
        check(codecs == {"ZSTD"}, "zstd by default (%s)" % codecs)
    r = run("filter", "--robots-dir", robots, "--in", src, "--out", os.path.join(work, "s.parquet"),
            "--output-format", "parquet", "--parquet-compression", "snappy")
    if check(r.returncode == 0, "--parquet-compression snappy (%s)" % r.stderr.strip()):
        codecs = {r["compression"] for r in duck("SELECT compression FROM parquet_metadata(%s)" %
                                                  q(os.path.join(work, "s.parquet")))}
        check(codecs == {"SNAPPY"}, "snappy output (%s)" % codecs)

    # row groups of 100,000 rows; a conflict after the inferred lines; a field they did not have
    big = os.path.join(work, "big.jsonl")
    n = 210000
    with open(big, "w") as f:
        for i in range(n):
            f.write('{"id": %d, "v": %s}\n' % (i, "null" if i % 3 == 0 else str(i * 2)))
    b_out = os.path.join(work, "big.parquet")
    r = run("filter", "--robots-dir", robots, "--in", big, "--out", b_out, "--output-format", "parquet",
            "--missing-url", "keep")
    if check(r.returncode == 0, "a file of %d lines (%s)" % (n, r.stderr.strip())):
        groups = duck("SELECT row_group_id, any_value(row_group_num_rows) AS n FROM parquet_metadata(%s) "
                      "GROUP BY row_group_id ORDER BY row_group_id" % q(b_out))
        check([int(g["n"]) for g in groups] == [100000, 100000, 10000], "row groups of 100,000 rows (%s)" % groups)
        agg = duck("SELECT count(*) AS c, sum(id) AS s, count(v) AS nv, sum(v) AS sv FROM read_parquet(%s)" % q(b_out))[0]
        check(int(agg["c"]) == n and int(agg["s"]) == n * (n - 1) // 2 and
              int(agg["nv"]) == n - (n + 2) // 3 and int(agg["sv"]) == sum(2 * i for i in range(n) if i % 3),
              "every row read back (%s)" % agg)

    # ... or of 128 MiB of values, whichever comes first: 140 documents of 1 MiB of text
    wide = os.path.join(work, "wide.jsonl")
    text = "x" * (1 << 20)
    with open(wide, "w") as f:
        for i in range(140):
            f.write('{"id": %d, "text": "%s"}\n' % (i, text))
    w_out = os.path.join(work, "wide.parquet")
    r = run("filter", "--robots-dir", robots, "--in", wide, "--out", w_out, "--output-format", "parquet",
            "--missing-url", "keep")
    os.unlink(wide)
    if check(r.returncode == 0, "140 documents of 1 MiB (%s)" % r.stderr.strip()):
        groups = duck("SELECT row_group_id, any_value(row_group_num_rows) AS n FROM parquet_metadata(%s) "
                      "GROUP BY row_group_id ORDER BY row_group_id" % q(w_out))
        check([int(g["n"]) for g in groups] == [128, 12], "row groups of 128 MiB of values (%s)" % groups)
        agg = duck("SELECT count(*) AS c, sum(length(text)) AS t FROM read_parquet(%s)" % q(w_out))[0]
        check(int(agg["c"]) == 140 and int(agg["t"]) == 140 << 20, "every text read back (%s)" % agg)

    # string columns: a dictionary (RLE_DICTIONARY) where it pays, none for unique values (the first
    # page's dictionary and indices are not smaller), and one that outgrows 1 MiB falls back to PLAIN
    # for the rest of its chunk (s: 3,000 distinct values of 600 bytes, each 4 times in a row: the
    # first pages dictionary-encoded, then PLAIN); both readers read every row back
    dic = os.path.join(work, "dict.jsonl")
    ddocs = [{"id": "doc-%d" % i, "k": ["en", "de", None, "fr"][i % 4], "s": ("%06d" % (i // 4)) * 100}
             for i in range(12000)]
    with open(dic, "w") as f:
        f.write("".join(json.dumps(d) + "\n" for d in ddocs))
    d_out = os.path.join(work, "dict.parquet")
    r = run("filter", "--robots-dir", robots, "--in", dic, "--out", d_out, "--output-format", "parquet",
            "--missing-url", "keep", "--parquet-compression", "none")
    if check(r.returncode == 0, "a dictionary-encoded file (%s)" % r.stderr.strip()):
        meta = {m["path_in_schema"]: m for m in duck("SELECT path_in_schema, encodings, total_uncompressed_size "
                                                     "FROM parquet_metadata(%s)" % q(d_out))}
        enc = {c: meta[c]["encodings"] for c in meta}
        check("RLE_DICTIONARY" in enc["k"] and "RLE_DICTIONARY" in enc["s"] and "RLE_DICTIONARY" not in enc["id"],
              "RLE_DICTIONARY for k and s, not for the unique ids (%s)" % enc)
        plain = sum(4 + len(d["s"]) for d in ddocs)
        ratio = int(meta["s"]["total_uncompressed_size"]) / plain
        check(0.3 < ratio < 0.9, "s: dictionary pages, then PLAIN past 1 MiB of dictionary (%.2f of its PLAIN size)"
              % ratio)
        dschema = new_field()
        for d in ddocs:
            merge(dschema, d)
        for reader in ("duckdb", "hyparquet"):
            compare(read(reader, d_out), ddocs, dschema, "dictionary-encoded rows read by %s" % reader)

    def refused(lines, what, *needles):
        path = os.path.join(work, "bad.jsonl")
        out = os.path.join(work, "bad.parquet")
        with open(path, "w") as f:
            f.write("".join(lines))
        r = run("filter", "--robots-dir", robots, "--in", path, "--out", out, "--output-format", "parquet",
                "--missing-url", "keep")
        check(r.returncode == 1 and all(x in r.stderr for x in needles) and not os.path.exists(out),
              "%s: refused naming %s, no output (%s)" % (what, needles, r.stderr.strip()[-300:]))

    late = ['{"id": %d, "v": 1}\n' % i for i in range(100000)]
    refused(late + ['{"id": "x", "v": 1}\n'], "a string where 100,000 lines had integers",
            "line 100001", "field id", "string", "integer")
    refused(late + ['{"id": 5, "w": 1}\n'], "a field the first 100,000 lines lack", "line 100001", "field w",
            "not in the schema")
    refused(['{"a": 1}\n', '{"a": 2}\n', '{"a": "x"}\n'], "a conflict within the first lines", "line 3", "field a",
            "string", "integer")
    refused(['{"a": {"b": true}}\n', '{"a": {"b": 2}}\n'], "a conflict in a struct", "line 2", "field a.b",
            "integer", "boolean")
    refused(['{"a": [{"b": 1}]}\n'], "an array of objects", "line 1", "field a", "array of objects")
    refused(['{"a": 1}\n', 'not json\n'], "a line that is not JSON", "line 2", "JSON object")
    refused(['{"a": {}}\n'], "an object empty on every line", "field a", "empty")

    # optout run: shards/x.parquet for x.jsonl.zst, Parquet inputs unchanged, the option in the plan
    mix = os.path.join(work, "mix")
    os.mkdir(mix)
    subprocess.run(["zstd", "-q", src, "-o", os.path.join(mix, "b.jsonl.zst")], check=True)
    rundir = os.path.join(work, "run")
    r = run("run", "--corpus", os.path.join(mix, "*"), "--out", rundir, "--robots-dir", robots, "--workers", "1",
            "--removed", "--output-format", "parquet")
    if check(r.returncode == 0, "optout run --output-format parquet exits 0 (%s)" % r.stderr.strip()[-500:]):
        check(sorted(os.listdir(os.path.join(rundir, "shards"))) == ["b.parquet"] and
              sorted(os.listdir(os.path.join(rundir, "removed"))) == ["b.parquet"],
              "the run publishes shards/b.parquet and removed/b.parquet")
        if rp.returncode == 0:
            compare(read("hyparquet", os.path.join(rundir, "shards", "b.parquet")), jsonl(j_out), schema,
                    "the run's shard read by hyparquet")
        check("option output-format parquet\n" in open(os.path.join(rundir, "plan")).read(),
              "the plan records the output format")
        v = run("verify", rundir)
        check(v.returncode == 0, "optout verify on the run (%s)" % (v.stdout + v.stderr).strip()[-300:])

finish("parquet_jsonl_out")
