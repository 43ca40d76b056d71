"""test_parquet_int96.py — dates outside years 0001..9999 in Parquet (INT96 reaches millions of years;
a TIMESTAMP thousands): such a date is no date (as a null is), never a year misread from its first
four digits (year 20210 is not 2021), and `--output-format jsonl` still writes the exact value (INT96
as nanoseconds, beyond 64 bits when it must). DuckDB reads such values wrapped (int96_from_spark's
last row: 226414 BC for about 294,000 BC), so it is no oracle for them: the expected values are
computed here.

The INT96 file is written by int96.mjs (hyparquet-writer's pages, footer retyped).

usage: test_parquet_int96.py OPTOUT_BINARY SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pq_support import ENV, HERE, check, finish, require  # noqa: E402

optout, root = sys.argv[1], sys.argv[2]
robots = os.path.join(root, "data", "sample", "robots")
require("parquet_int96", ("hyparquet-writer",))


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def ns(y, m, d, secs=0):
    return (days_from_civil(y, m, d) * 86400 + secs) * 10**9


rows = [("https://forum.example/a", ns(2021, 6, 1, 3600)),   # 2021
        ("https://forum.example/b", ns(20210, 1, 1)),        # year 20210: not 2021
        ("https://forum.example/c", ns(-5000, 3, 1)),         # before year 1
        ("https://forum.example/d", None),
        ("https://forum.example/e", ns(300000, 12, 31)),      # beyond 64-bit nanoseconds
        ("https://forum.example/f", ns(9999, 12, 31, 86399)), # the last second of year 9999
        ("https://forum.example/g", ns(1, 1, 1))]             # the first of year 1

with tempfile.TemporaryDirectory() as work:
    pq = os.path.join(work, "d.parquet")
    subprocess.run(["node", os.path.join(HERE, "int96.mjs"), pq] +
                   ["%s=%s" % (u, "null" if n is None else n) for u, n in rows], check=True, env=ENV)
    st = os.path.join(work, "st.json")
    r = subprocess.run([optout, "filter", "--robots-dir", robots, "--in", pq, "--out", os.path.join(work, "o.parquet"),
                        "--stats", st], capture_output=True, text=True)
    if check(r.returncode == 0, "filter on INT96 dates exits 0 (%s)" % r.stderr.strip()):
        years = {k: v["docs_in"] for k, v in json.load(open(st))["by_year"].items()}
        check(years == {"2021": 1, "unknown": 6},
              "by_year: 2021 once; years 20210, -5000, 300000 and null are no date (%s)" % years)
    out, rm = os.path.join(work, "o.jsonl"), os.path.join(work, "r.jsonl")
    r = subprocess.run([optout, "filter", "--robots-dir", robots, "--in", pq, "--out", out, "--removed", rm,
                        "--output-format", "jsonl"], capture_output=True, text=True)
    if check(r.returncode == 0, "--output-format jsonl exits 0 (%s)" % r.stderr.strip()):
        docs = [json.loads(x) for f in (out, rm) for x in open(f).read().split("\n") if x]
        got = [d["date"] for d in sorted(docs, key=lambda d: d["url"])]
        check(got == [n for _, n in rows], "the exact nanoseconds, beyond 64 bits too (%s)" % got)

finish("parquet_int96")
