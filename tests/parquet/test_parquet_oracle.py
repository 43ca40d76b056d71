#!/usr/bin/python3
"""The project's Parquet reader and writer against two independent implementations.

usage: test_parquet_oracle.py SRC_DIR SHARED_DIR [PARQUET_TOOL]   (or PARQUET_TOOL in the environment)

DuckDB and hyparquet (npm packages, tests/parquet/node_modules, installed by deploy/deps.sh) write the
fixtures (make_fixtures.mjs) and read every file back (dump.mjs, canonical form in oracle.mjs):
  0. the oracles agree with each other on every fixture (proves the harness);
  a. `parquet_tool dump` of every fixture equals DuckDB's and hyparquet's readings, `parquet_tool schema` their leaves;
  b. `parquet_tool filter` of every fixture, under several drop patterns and codecs, read back by DuckDB and
     hyparquet: the input's rows minus the dropped ones, same schema, key-value metadata, one row group per
     input row group, statistics recomputed; `--removed-col` adds a last list<varchar> column;
  c. Apache's parquet-testing files: each does what parquet_testing_expect.tsv says (round-trips, or is
     refused with exit 1 and a message); none crashes.
Exit 0 all passed, 1 a failure (tests/support/optout_test.py conventions), 77 skipped (no node/npm
packages outside CI, or no parquet_tool: then only the oracles' self-test ran).

Normalisations, applied to parquet_tool's output only, each one explicit (see docs/testing-parquet.md):
  - numbers compare by value (JSON "1" equals 1.0; integers exactly, int64 beyond 2^53 included);
    NaN/Infinity (JSON literals or strings) equal the oracles' "NaN"/"Infinity"/"-Infinity";
  - INT96 against DuckDB: DuckDB keeps microseconds, so the tool's nanoseconds are truncated to
    microseconds for that comparison (hyparquet compares them exactly), and values beyond DuckDB's range
    (2^63 ns) are compared with hyparquet alone;
  - DECIMAL given as a string ("-12.345") becomes its unscaled integer by the column's scale;
  - a map given as a JSON object becomes the list of {"key", "value"} entries in order;
  - FLOAT16 given as base64 bytes becomes its value.
"""
import base64, json, math, os, shutil, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, failures, finish, quiet, skip, skip_or_fail  # noqa: E402

SRC, SHARED = sys.argv[1], sys.argv[2]
TOOL = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else os.environ.get("PARQUET_TOOL", "")
HERE = os.path.join(SRC, "tests", "parquet")
PT_DIR = os.path.join(SHARED, "data", "parquet-testing", "data")
quiet()  # hundreds of checks: only the failed ones are printed
T0 = time.monotonic()


def phase(msg):
    print(f"[{time.monotonic() - T0:6.1f} s] {msg}", flush=True)


node = shutil.which("node")
if not node:
    skip_or_fail("parquet_oracle", "node is not installed: run deploy/deps.sh to install the Parquet test oracles")
if not os.path.isfile(os.path.join(HERE, "node_modules", ".optout-lock-sha256")):
    skip_or_fail("parquet_oracle", "the npm packages of the Parquet oracles are missing (tests/parquet/node_modules): run deploy/deps.sh")

work = tempfile.mkdtemp(prefix="pqoracle.")
FIX = os.path.join(work, "fixtures")


def run_node(*args):
    p = subprocess.run([node, os.path.join(HERE, args[0]), *args[1:]], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        print(p.stdout, p.stderr, file=sys.stderr)
        raise SystemExit(f"FAIL: node {args[0]} exited {p.returncode}")
    return p.stdout


def oracle_batch(paths, tag):
    """Reads every path with both oracles; returns {path: {'duckdb': (meta|error, rows), 'hyparquet': ...}}."""
    out = os.path.join(work, "dump-" + tag)
    lst = os.path.join(work, "list-" + tag)
    with open(lst, "w") as f:
        for i, p in enumerate(paths):
            f.write(f"{i}\t{p}\n")
    run_node("dump.mjs", "--batch", out, lst)
    res = {}
    for i, p in enumerate(paths):
        res[p] = {}
        for r in ("duckdb", "hyparquet"):
            with open(os.path.join(out, f"{i}.{r}.jsonl")) as f:
                lines = f.read().split("\n")[:-1]  # not splitlines(): U+2028 is inside strings
            head = json.loads(lines[0])
            res[p][r] = (head, [json.loads(x) for x in lines[1:]])
    return res


# ---------------------------------------------------------------------------------------------------
# Schema walking (the flat element list from hyparquet's metadata) and the comparer.
class Node:
    def __init__(self, e):
        self.e, self.children = e, []


def tree(elements):
    it = iter(elements)

    def node():
        n = Node(next(it))
        for _ in range(n.e.get("num_children") or 0):
            n.children.append(node())
        return n
    return node()


def ann(e):
    lt = e.get("logical_type") or {}
    return e.get("converted_type"), (lt.get("type") if isinstance(lt, dict) else None)


def is_list(n):
    return "LIST" in ann(n.e)


def is_map(n):
    ct, lt = ann(n.e)
    return ct in ("MAP", "MAP_KEY_VALUE") or lt == "MAP"


def list_element(n):
    rep = n.children[0]
    if len(rep.children) == 1 and rep.e["name"] not in ("array", n.e["name"] + "_tuple"):
        return rep.children[0]
    return rep


def canon_float(x):
    if isinstance(x, float):
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
    if x in ("nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(x, x)
    return x


def normalise_tool(v, n, repeated_done=False):
    """parquet_tool's JSON value for schema node n, in the oracles' canonical form (documented above)."""
    if v is None:
        return None
    if n.e.get("repetition_type") == "REPEATED" and not repeated_done and isinstance(v, list):
        return [normalise_tool(x, n, True) for x in v]
    if n.children:
        if is_map(n):
            kv = n.children[0]
            vnode = kv.children[1] if len(kv.children) > 1 else None
            knode = kv.children[0]
            if isinstance(v, dict):
                # an object's keys are strings: parsed back by the key column's type
                t = knode.e.get("type")
                conv = {"INT32": int, "INT64": int, "BOOLEAN": lambda k: k == "true", "FLOAT": float, "DOUBLE": float}.get(t)
                entries = [(conv(k) if conv else k, x) for k, x in v.items()]
            else:
                entries = [(x.get("key"), x.get("value")) for x in v]
            return [{"key": normalise_tool(k, knode), "value": normalise_tool(x, vnode) if vnode else None}
                    for k, x in entries]
        if is_list(n) and isinstance(v, list):
            return [normalise_tool(x, list_element(n)) for x in v]
        if isinstance(v, dict):
            return {c.e["name"]: normalise_tool(v.get(c.e["name"]), c) for c in n.children} if set(v) <= {c.e["name"] for c in n.children} else v
        return v
    ct, lt = ann(n.e)
    if (ct == "DECIMAL" or lt == "DECIMAL") and isinstance(v, str):
        scale = n.e.get("scale") or 0
        neg = v.startswith("-")
        whole, _, frac = v.lstrip("+-").partition(".")
        if len(frac) <= scale and (whole + frac).isdigit():
            u = int(whole + frac.ljust(scale, "0"))
            return -u if neg else u
    if lt == "FLOAT16" and isinstance(v, str):
        try:
            return canon_float(struct.unpack("<e", base64.b64decode(v, validate=True))[0])
        except Exception:
            return v
    return canon_float(v)


def is_int96(n):
    return not n.children and n.e.get("type") == "INT96"


def for_duckdb(v, n):
    """Tool value as DuckDB can represent it: INT96 truncated to microseconds; None when out of its range."""
    if v is None or not isinstance(v, int) or isinstance(v, bool):
        return v
    if abs(v) >= 2 ** 63:
        return "beyond DuckDB's range"
    return v - v % 1000


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def first_difference(rows_a, rows_b, top, name_a, name_b):
    """None when equal, else a precise description: row, column, both values."""
    if len(rows_a) != len(rows_b):
        return f"{len(rows_a)} rows from {name_a}, {len(rows_b)} from {name_b}"
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b)):
        if list(ra) != list(rb):
            return f"row {i}: columns {list(ra)} from {name_a}, {list(rb)} from {name_b}"
        for k in ra:
            if not same(ra[k], rb[k]):
                return f"row {i} column {k!r}: {name_a} {json.dumps(ra[k])[:200]} vs {name_b} {json.dumps(rb[k])[:200]}"
    return None


def compare_oracle_rows(rows, oracle, reader, top):
    """rows (tool values already normalised) against one oracle's rows, INT96 handled for DuckDB."""
    if reader == "duckdb":
        int96_cols = [c.e["name"] for c in top.children if is_int96(c)]
        if int96_cols:
            rows = [{k: (for_duckdb(v, None) if k in int96_cols else v) for k, v in r.items()} for r in rows]
            oracle = [{k: ("beyond DuckDB's range" if k in int96_cols and rows[i][k] == "beyond DuckDB's range" else v)
                       for k, v in r.items()} for i, r in enumerate(oracle)] if len(oracle) == len(rows) else oracle
    return first_difference(rows, oracle, top, "parquet_tool", reader)


# ---------------------------------------------------------------------------------------------------
# 0. Fixtures, and the oracles' agreement on them.
print(run_node("make_fixtures.mjs", FIX).strip(), flush=True)
with open(os.path.join(FIX, "manifest.json")) as f:
    manifest = json.load(f)
fixtures = [os.path.join(FIX, m["file"]) for m in manifest]
fx = oracle_batch(fixtures, "fixtures")


def meta_of(entry, reader):
    head, _ = entry[reader]
    return head.get("meta")


for p in fixtures:
    name = os.path.basename(p)
    d, h = fx[p]["duckdb"], fx[p]["hyparquet"]
    if "error" in d[0] or "error" in h[0]:
        check(False, f"oracle self-test {name}: DuckDB {d[0].get('error')} / hyparquet {h[0].get('error')}")
        continue
    top = tree(h[0]["meta"]["schema"])
    diff = compare_oracle_rows(h[1], d[1], "duckdb", top)
    if diff:
        check(False, f"oracle self-test {name}: hyparquet and DuckDB disagree: {diff}")
    elif d[0]["meta"]["row_groups"] != h[0]["meta"]["row_groups"] or d[0]["meta"]["kv"] != h[0]["meta"]["kv"]:
        check(False, f"oracle self-test {name}: row groups or key-value metadata differ between DuckDB and hyparquet")
    else:
        check(True, f"oracle self-test {name}")
# Negative controls: the comparer must see a changed value, a missing row and an int64 off by one past 2^53.
base = fx[os.path.join(FIX, "fineweb.parquet")]["duckdb"][1]
changed = [dict(r) for r in base]
changed[len(changed) // 2]["url"] = (changed[len(changed) // 2]["url"] or "") + "x"
if (first_difference(changed, base, None, "a", "b") is None or first_difference(base[1:], base, None, "a", "b") is None
        or same(2 ** 60 + 1, 2 ** 60) or not same(2 ** 60, 2 ** 60) or same(True, 1) or not same(1, 1.0)):
    check(False, "the comparer cannot see a difference: the harness is broken")
else:
    check(True, "the comparer sees a changed value, a missing row, an int64 off by one")
phase(f"oracle self-test: {len(fixtures)} fixtures read identically by DuckDB and hyparquet" if not failures else
      "oracle self-test: FAILED")

# The expectations table for parquet-testing is checked against the folder even without a tool.
EXPECT = {}
with open(os.path.join(HERE, "parquet_testing_expect.tsv")) as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        path, verdict = line.rstrip("\n").split("\t", 1)
        EXPECT[path] = verdict
pt_files = []
if os.path.isdir(PT_DIR):
    for root, _, files in os.walk(PT_DIR):
        for fn in files:
            if ".parquet" in fn:
                pt_files.append(os.path.relpath(os.path.join(root, fn), PT_DIR))
    pt_files.sort()
    for rel in pt_files:
        if rel not in EXPECT:
            check(False, f"parquet-testing {rel}: not in parquet_testing_expect.tsv (add what it should do)")
    for rel in EXPECT:
        if rel not in pt_files:
            check(False, f"parquet_testing_expect.tsv names {rel}, which {PT_DIR} does not have")
else:
    print(f"note: {PT_DIR} is absent: the parquet-testing part does not run", flush=True)

if not TOOL:
    if failures:
        finish("parquet_oracle")
    shutil.rmtree(work, ignore_errors=True)
    skip("no parquet_tool given (argument or PARQUET_TOOL): only the oracles' self-test ran")


# ---------------------------------------------------------------------------------------------------
def tool(*args, timeout=300):
    try:
        p = subprocess.run([TOOL, *args], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1000, b"", f"no answer within {timeout} s"
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace").strip()


def tool_rows(stdout):
    return [json.loads(x) for x in stdout.decode("utf-8").split("\n") if x]


def check_dump(label, path, oracles, readers=("duckdb", "hyparquet")):
    rc, out, err = tool("dump", path)
    if rc != 0:
        check(False, f"{label}: parquet_tool dump exited {rc}: {err[:300]}")
        return None
    try:
        raw = tool_rows(out)
    except ValueError as e:
        check(False, f"{label}: parquet_tool dump printed something that is not JSON Lines: {e}")
        return None
    ref = next(oracles[r] for r in ("hyparquet", "duckdb") if "meta" in oracles[r][0])
    top = tree(ref[0]["meta"]["schema"])
    rows = [{k: normalise_tool(v, next((c for c in top.children if c.e["name"] == k), Node({}))) for k, v in r.items()} for r in raw]
    good = True
    for r in readers:
        if "meta" not in oracles[r][0]:
            continue
        diff = compare_oracle_rows(rows, oracles[r][1], r, top)
        if diff:
            check(False, f"{label}: parquet_tool dump vs {r}: {diff}")
            good = False
    if good:
        check(True, label)
    return rows


def first_mismatch(a, b):
    """The first differing pair of two lists, or what one has beyond the other."""
    return next(((x, y) for x, y in zip(a, b) if x != y), (a[len(b):], b[len(a):]))


def leaves(n, prefix=()):
    for c in n.children:
        path = prefix + (c.e["name"],)
        if c.children:
            yield from leaves(c, path)
        else:
            yield ".".join(path), c.e.get("type"), c.e.get("repetition_type")


def check_schema(label, path, meta):
    """`parquet_tool schema`: leaf path, physical type and repetition of every leaf, then the kv keys."""
    rc, out, err = tool("schema", path)
    if rc != 0:
        check(False, f"{label}: parquet_tool schema exited {rc}: {err[:300]}")
        return
    lines = [x.split("\t") for x in out.decode("utf-8").split("\n") if x]
    got_leaves = [(x[0], x[1], x[3]) for x in lines if x[0] != "kv" and len(x) >= 4]
    got_keys = [x[1] for x in lines if x[0] == "kv" and len(x) >= 2]
    want_leaves = list(leaves(tree(meta["schema"])))
    want_keys = [k for k, _ in meta["kv"]]
    if got_leaves != want_leaves:
        d = first_mismatch(got_leaves, want_leaves)
        check(False, f"{label}: parquet_tool schema says {d[0]}, hyparquet {d[1]}")
    elif got_keys != want_keys:
        check(False, f"{label}: parquet_tool schema lists key-value keys {got_keys}, hyparquet {want_keys}")
    else:
        check(True, label)


# a. dump and schema of every fixture
for p in fixtures:
    check_dump(f"dump {os.path.basename(p)}", p, fx[p])
    check_schema(f"schema {os.path.basename(p)}", p, fx[p]["hyparquet"][0]["meta"])

phase(f"dump: {len(fixtures)} fixtures compared")

# b. filter: drop patterns × codecs (codecs rotate over the patterns of every fixture; FineWeb's fixture
# gets every pair), read back by both oracles.
CODECS = ["zstd", "snappy", "gzip", "lz4", "none"]
CODEC_NAME = {"zstd": "ZSTD", "snappy": "SNAPPY", "gzip": "GZIP", "lz4": "LZ4_RAW", "none": "UNCOMPRESSED"}


def patterns(n):
    # --drop-every K drops every row whose number (0-based) is a multiple of K
    pats = [("none", [], set()), ("every3", ["--drop-every", "3"], {i for i in range(n) if i % 3 == 0})]
    if n:
        pats += [("all", ["--drop", ",".join(map(str, range(n)))], set(range(n))),
                 ("first_last", ["--drop", f"0,{n - 1}"], {0, n - 1})]
    return pats


jobs = []  # (label, input path, output path, dropped rows, codec, removed_col)
for k, p in enumerate(fixtures):
    n = len(fx[p]["hyparquet"][1])
    pats = patterns(n)
    name = os.path.basename(p)
    for j, (pname, args, dropped) in enumerate(pats):
        codecs = CODECS if name == "fineweb.parquet" else [CODECS[(k + j) % len(CODECS)]]
        for c in codecs:
            out = os.path.join(work, "out", f"{name}.{pname}.{c}.parquet")
            jobs.append((f"filter {name} {pname} --codec {c}", p, out, dropped, c, False, ["--codec", c, *args]))
    out = os.path.join(work, "out", f"{name}.removed.parquet")
    jobs.append((f"filter {name} every3 --removed-col", p, out, pats[1][2], "zstd", True,
                 ["--drop-every", "3", "--removed-col", "GPTBot,CCBot"]))
os.makedirs(os.path.join(work, "out"), exist_ok=True)

made = []
for label, src, out, dropped, codec, removed, args in jobs:
    rc, _, err = tool("filter", src, out, *args)
    if rc != 0:
        check(False, f"{label}: parquet_tool filter exited {rc}: {err[:300]}")
        continue
    made.append((label, src, out, dropped, codec, removed))
phase(f"filter: {len(made)} of {len(jobs)} runs wrote a file")
outs = oracle_batch([m[2] for m in made], "outputs")
phase("filter: outputs read by the oracles")


def leaf_rows_meta(m):
    # every schema element; the root is not a column, only its number of children counts (writers name it
    # as they like, and the format gives it no repetition, though DuckDB writes REQUIRED there)
    els = m["schema"]
    return [("(root)", els[0].get("num_children"))] + [
        (e.get("name"), e.get("type"), e.get("type_length"), e.get("repetition_type"), e.get("converted_type"),
         json.dumps(e.get("logical_type"), sort_keys=True), e.get("scale"), e.get("precision"), e.get("num_children"),
         e.get("field_id")) for e in els[1:]]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_stats(label, in_meta, out_meta, out_rows, top):
    """Statistics of the output's flat integer, floating and string columns, as DuckDB reads them, against
    the rows: the null count exact; min and max exact for numbers, bounds for strings (a writer may
    truncate them); present wherever the input had them."""
    kinds = {}
    for c in top.children:
        e = c.e
        ct, lt = ann(e)
        if c.children or e.get("repetition_type") == "REPEATED":
            continue
        if e.get("type") in ("INT32", "INT64") and (ct is None or ct.startswith(("INT_", "UINT_"))) and lt in (None, "INTEGER"):
            kinds[e["name"]] = int
        elif e.get("type") in ("FLOAT", "DOUBLE") and ct is None and lt is None:
            kinds[e["name"]] = f32 if e["type"] == "FLOAT" else float
        elif e.get("type") == "BYTE_ARRAY" and (ct == "UTF8" or lt == "STRING"):
            kinds[e["name"]] = str
    had = {(c["path"]) for c in in_meta["columns"] if c.get("null_count") is not None}
    start = 0
    problems = []
    for g, n in enumerate(out_meta["row_groups"]):
        rows = out_rows[start:start + n]
        start += n
        for c in out_meta["columns"]:
            name = c["path"]
            if c["row_group"] != g or name not in kinds or not n:
                continue
            vals = [r[name] for r in rows]
            nn = [v for v in vals if v is not None and not (isinstance(v, str) and kinds[name] is not str)]
            if c.get("null_count") is None:
                if name in had:
                    problems.append(f"row group {g} column {name!r}: no statistics (the input had them)")
                continue
            if int(c["null_count"]) != sum(v is None for v in vals):
                problems.append(f"row group {g} column {name!r}: null_count {c['null_count']}, the rows hold {vals.count(None)} nulls")
            if not nn or c.get("min") is None or c.get("max") is None:
                continue
            if kinds[name] is str:
                lo, hi = min(x.encode() for x in nn), max(x.encode() for x in nn)
                if not (c["min"].encode() <= lo and c["max"].encode() >= hi):
                    problems.append(f"row group {g} column {name!r}: min/max {c['min']!r}/{c['max']!r} do not bound the rows' {lo!r}/{hi!r}"[:300])
            else:
                conv = kinds[name]
                lo, hi = min(nn), max(nn)
                smin, smax = conv(c["min"]) if conv is int else conv(float(c["min"])), conv(c["max"]) if conv is int else conv(float(c["max"]))
                if smin != lo or smax != hi:
                    problems.append(f"row group {g} column {name!r}: min/max {c['min']}/{c['max']}, the rows' {lo}/{hi}")
    return problems


for label, src, out, dropped, codec, removed in made:
    good = True
    for r in ("duckdb", "hyparquet"):
        ih, irows = fx[src][r]
        oh, orows = outs[out][r]
        if "error" in oh:
            check(False, f"{label}: {r} cannot read the output: {oh['error']}")
            good = False
            continue
        im, om = ih["meta"], oh["meta"]
        want = [row for i, row in enumerate(irows) if i not in dropped]
        got = orows
        isch, osch = (im["schema"], om["schema"])
        if removed:
            # the last top-level column is the added one: check it, then compare the rest
            top_out = [c.e["name"] for c in tree(osch).children]
            if not top_out or top_out[-1] != "disallowed_user_agents":
                check(False, f"{label}: {r}: the last column is {top_out[-1:]} , not disallowed_user_agents")
                good = False
                continue
            vals = [row.get("disallowed_user_agents") for row in got]
            if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in vals):
                check(False, f"{label}: {r}: disallowed_user_agents is not a list of strings in every row: {vals[:3]}")
                good = False
            got = [{k: v for k, v in row.items() if k != "disallowed_user_agents"} for row in got]
            n_top = len(tree(osch).children)
            # drop the added column's elements (a group and its descendants) from the schema compared
            t = tree(osch)
            count = 0

            def size(nd):
                return 1 + sum(size(c) for c in nd.children)
            count = size(t.children[-1])
            osch = [dict(osch[0], num_children=n_top - 1)] + osch[1:len(osch) - count]
        diff = first_difference(got, want, None, "output", "input minus dropped")
        if diff:
            check(False, f"{label}: read back by {r}: {diff}")
            good = False
        if leaf_rows_meta({"schema": osch}) != leaf_rows_meta({"schema": isch}):
            a, b = leaf_rows_meta({"schema": isch}), leaf_rows_meta({"schema": osch})
            d = first_mismatch(a, b)
            check(False, f"{label}: {r}: schema differs: input {d[0]} output {d[1]}")
            good = False
        ikv = [kv for kv in im["kv"] if not (removed and kv[0] == "ARROW:schema")]
        okv = [kv for kv in om["kv"] if not (removed and kv[0] == "ARROW:schema")]
        if ikv != okv:
            check(False, f"{label}: {r}: key-value metadata differs: input {ikv} output {okv}")
            good = False
        # one output row group per input row group, holding its kept rows (an input group whose rows were all
        # dropped may leave no group or an empty one)
        kept, start = [], 0
        for g in im["row_groups"]:
            kept.append(sum(1 for i in range(start, start + g) if i not in dropped))
            start += g
        if [x for x in om["row_groups"] if x] != [x for x in kept if x]:
            check(False, f"{label}: {r}: output row groups {om['row_groups']}, expected the kept rows of each input group {kept}")
            good = False
        if r == "duckdb":
            # column kinds from hyparquet's reading of the schema (DuckDB's gives logical types as text)
            hmeta = outs[out]["hyparquet"][0].get("meta") or om
            for problem in check_stats(label, im, om, orows, tree(hmeta["schema"])):
                check(False, f"{label}: statistics: {problem}")
                good = False
        codecs = {c["codec"] for c in om["columns"]}
        if r == "hyparquet" and om["columns"] and codecs != {CODEC_NAME[codec]}:
            check(False, f"{label}: output codecs {sorted(codecs)}, asked for {CODEC_NAME[codec]}")
            good = False
    if removed and good:
        # ARROW:schema rewritten: Apache Arrow decodes the output's to the input's fields plus
        # disallowed_user_agents, a list of strings, nullable as the Parquet column and its items are
        hin, hout = fx[src]["hyparquet"][0]["meta"], outs[out]["hyparquet"][0]["meta"]
        if hin.get("arrow_schema") is not None:
            a_in, a_out = hin["arrow_schema"], hout.get("arrow_schema")
            els = hout["schema"]
            col = next((i for i, e in enumerate(els) if e.get("name") == "disallowed_user_agents"), None)
            elem = els[-1] if col is not None else {}
            want_last = ["disallowed_user_agents", "List<Utf8>", els[col].get("repetition_type") != "REQUIRED" if col else None,
                         elem.get("repetition_type") != "REQUIRED"]
            if not isinstance(a_out, list) or a_out[:-1] != a_in or a_out[-1:] != [want_last]:
                check(False, f"{label}: ARROW:schema of the output decodes to {a_out} (input {a_in}); want the input's fields then {want_last}"[:700])
                good = False
    if removed and good:
        t = (outs[out]["duckdb"][0]["meta"].get("types") or ["none"])[-1]
        if t != "VARCHAR[]":
            check(False, f"{label}: DuckDB reads disallowed_user_agents as {t}, not VARCHAR[]")
            good = False
    if good:
        check(True, label)

phase("filter: outputs compared")

# c. parquet-testing
if pt_files:
    verdicts = {rel: EXPECT.get(rel, "") for rel in pt_files}
    readable = [os.path.join(PT_DIR, rel) for rel, v in verdicts.items() if v.split(":")[0] in ("roundtrip", "nested")]
    pt = oracle_batch(readable, "parquet-testing")
    copies = []  # (label, input path, filtered copy, readers)
    for rel, v in verdicts.items():
        kind = v.split(":")[0]
        path = os.path.join(PT_DIR, rel)
        label = f"parquet-testing {rel} ({v})"
        rc, out, err = tool("dump", path)
        if rc < 0 or rc > 2:
            check(False, f"{label}: parquet_tool dump died (status {rc}): {err[:300]}")
            continue
        if kind == "refused":
            if rc != 1 or not err:
                check(False, f"{label}: parquet_tool dump exited {rc} {'with' if err else 'without'} a message; expected a refusal (exit 1, message)")
            else:
                check(True, label)
            continue
        if kind == "unverifiable":
            check(True, label)  # no oracle can read it: only "no crash" (checked above) is asserted
            continue
        readers = [r for r in ("duckdb", "hyparquet") if "meta" in pt[path][r][0]]
        if not readers:
            check(False, f"{label}: neither oracle reads it any more; fix the table")
            continue
        if check_dump(label, path, pt[path], readers) is None:
            continue
        # filter with nothing dropped, read back by the oracles that read the input
        outp = os.path.join(work, "out", "pt-" + rel.replace("/", "_"))
        rc, _, err = tool("filter", path, outp)
        if rc < 0 or rc > 2:
            check(False, f"{label}: parquet_tool filter died (status {rc}): {err[:300]}")
        elif rc != 0 and not (kind == "nested" and rc == 1 and err):
            check(False, f"{label}: parquet_tool filter exited {rc}: {err[:300]}")
        elif rc != 0:
            check(True, label)  # a nested column the writer cannot reproduce: refused with a message
        else:
            copies.append((label, path, outp, readers))
    phase(f"parquet-testing: {len(pt_files)} files dumped, {len(copies)} filtered copies to read back")
    back = oracle_batch([c[2] for c in copies], "parquet-testing-copies")
    for label, path, outp, readers in copies:
        good = True
        for r in readers:
            head, rows = back[outp][r]
            if "error" in head:
                check(False, f"{label}: {r} cannot read the filtered copy: {head['error']}")
                good = False
                continue
            diff = first_difference(rows, pt[path][r][1], None, "filtered copy", "input")
            if diff:
                check(False, f"{label}: filtered copy read by {r}: {diff}")
                good = False
            if head["meta"]["kv"] != pt[path][r][0]["meta"]["kv"]:
                check(False, f"{label}: filtered copy's key-value metadata differs ({r}): input {pt[path][r][0]['meta']['kv']} copy {head['meta']['kv']}"[:600])
                good = False
            a, b = leaf_rows_meta(pt[path][r][0]["meta"]), leaf_rows_meta(head["meta"])
            if a != b:
                d = first_mismatch(a, b)
                check(False, f"{label}: filtered copy's schema differs ({r}): input {d[0]} copy {d[1]}")
                good = False
        if good:
            check(True, label)

phase("parquet-testing: done")
if failures:
    print(f"work files kept in {work}")
else:
    shutil.rmtree(work, ignore_errors=True)
finish("parquet_oracle")
