#!/usr/bin/python3
"""`optout history` end to end against tools/gen-ccrobots' ground truth.

usage: test_history.py BIN_DIR REPO_ROOT [SHARED_DIR]

The generator writes three crawls of Common Crawl-style robotstxt WARC files from real bodies
(SHARED_DIR/data/robots-top10k; skipped without it), with damage in every file, a body over
500 KiB, and a host list. The expected archive is computed here from truth.json alone, by the
documented rules: the hosts kept (the list, then the redirect targets of kept captures, again for
up to five hops), the outcome of a status, the body a reader keeps, versions as runs of equal
answers per host, scheme and crawl. Scenarios:
  local     --cc-robots with a glob: index.tsv equals the expected versions line for line, every
            body frame decompresses (zstd) to its SHA-256, each distinct body is stored once; the
            summary counts records, responses and bad records by kind as the truth says. --jobs 3
            (parts merged): the same versions, counts and sources.tsv, no part left.
  http      --cc-crawls over a local HTTP server (127.0.0.1): the same index byte for byte; the
            paths lists' absolute and ".." entries are refused, counted and never requested; with
            --jobs 4 the same versions.
  flaky     every file answers 503 once (Retry-After: 0) and some 301 within the server: the same
            index; the server saw each file twice.
  cut       transfers cut half-way: resumed by Range (206), or read again whole (200) and the
            delivered part skipped: the same index.
  failures  a redirect to another origin, a file missing (404), a 206 of another part than asked:
            exit 1; SIGINT mid-transfer: exit 130; the archive of the earlier build untouched, no
            staging left; usage errors exit 2.
"""
import glob, hashlib, http.server, json, os, re, shutil, signal, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, decompress, finish, real_bodies, require_tool, run, shared_dir  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from policy_check import status_outcome as outcome  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
OPTOUT = os.path.join(BIN, "optout")
GEN = os.path.join(ROOT, "tools", "gen-ccrobots")
TOP10K = real_bodies(shared_dir(ROOT, 3))
MAX_HOPS = 5
require_tool("zstd", "to check the bodies file")

TMP = tempfile.mkdtemp(prefix="optout-history-test.")
CC = os.path.join(TMP, "cc")
g = run([GEN, "--out", CC, "--seed", "7", "--robots-dir", TOP10K, "--damage", "--big", "1"])
if not check(g.returncode == 0, "gen-ccrobots ran (%s)" % g.stderr.strip()):
    finish("test_history")
truth = json.load(open(os.path.join(CC, "truth.json")))
HOSTS = os.path.join(CC, "hosts.txt")
CRAWLS = truth["crawls"]


# ---- the expected archive ----------------------------------------------------------------------

def stamp(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_versions():
    caps = truth["captures"]
    kept = set(truth["listed"])
    frontier = set(kept)
    for _ in range(MAX_HOPS):
        targets = {c["redirect"] for c in caps if c["host"] in frontier and c["redirect"]} - kept
        if not targets:
            break
        kept |= targets
        frontier = targets
    series = {}
    for c in caps:
        if c["host"] in kept:
            series.setdefault((c["host"], c["scheme"], c["crawl"]), []).append(c)
    lines = []
    for key in sorted(series):
        host, scheme, crawl = key
        cur = None
        for c in sorted(series[key], key=lambda c: c["time"]):
            ok = c["status"] == 200
            answer = (c["status"], outcome(c["status"]), c["redirect"] or "-",
                      c["redirect_scheme"] or "-", c["kept_sha256"] if ok else "-",
                      c["kept_size"] if ok else 0, int(c["kept_truncated"]) if ok else 0)
            if cur and cur["answer"] == answer:
                cur["last"] = c["time"]
                cur["n"] += 1
            else:
                cur = {"answer": answer, "first": c["time"], "last": c["time"], "n": 1}
                lines.append((host, scheme, crawl, cur))
    out = []
    for host, scheme, crawl, v in lines:
        st, oc, red, rs, sha, size, tr = v["answer"]
        out.append("\t".join(map(str, [host, scheme, "cc", crawl, stamp(v["first"]), stamp(v["last"]), v["n"], st,
                                       oc, red, rs, sha, size, tr])))
    return out, kept


EXPECTED, KEPT = expected_versions()
BAD = {}
for f in truth["files"]:
    for k, n in f["damage"].items():
        BAD[k] = BAD.get(k, 0) + n
RECORDS = sum(f["records"] for f in truth["files"]) - sum(BAD.values())
RESPONSES = sum(f["responses"] for f in truth["files"])


def check_archive(out, what):
    """The archive under out against the expectation; returns index.tsv's bytes."""
    idx = os.path.join(out, "history", "index.tsv")
    if not check(os.path.isfile(idx), "%s: %s exists" % (what, idx)):
        return b""
    data = open(idx, "rb").read()
    lines = data.decode().split("\n")
    check(lines[-1] == "", "%s: index.tsv ends with a newline" % what)
    header = lines[0].split("\t")
    bodies = open(os.path.join(out, "history", "bodies.zst"), "rb").read()
    check(header[0] == "#optout-history 1" and header[1] == "bodies=%d" % len(bodies),
          "%s: header names the bodies file's size (%s)" % (what, lines[0]))
    rows = [l for l in lines[2:] if l]
    got = ["\t".join(r.split("\t")[:14]) for r in rows]
    check(header[2] == "versions=%d" % len(rows), "%s: header counts %d versions" % (what, len(rows)))
    missing = [e for e in EXPECTED if e not in got]
    extra = [r for r in got if r not in EXPECTED]
    check(not missing and not extra and got == EXPECTED,
          "%s: %d versions as expected (missing %s, extra %s)" % (what, len(EXPECTED), missing[:3], extra[:3]))
    check(any(int(r.split("\t")[6]) > 1 for r in rows), "%s: some versions merge several captures" % what)
    check(any(r.split("\t")[0] not in truth["listed"] for r in rows),
          "%s: captures of an unlisted redirect target are kept" % what)
    check(not any(r.split("\t")[0] not in KEPT for r in rows), "%s: no other unlisted host is kept" % what)
    # bodies: every frame decompresses to its sha; one frame per distinct body
    frames = {}
    bad_frames = 0
    for r in rows:
        c = r.split("\t")
        if c[8] != "ok":
            continue
        off, ln = int(c[14]), int(c[15])
        if c[11] in frames:
            bad_frames += frames[c[11]] != (off, ln)
            continue
        frames[c[11]] = (off, ln)
        try:
            body = decompress(bodies[off:off + ln], "frame of %s" % c[11])
        except ValueError:
            body = None
        bad_frames += body is None or hashlib.sha256(body).hexdigest() != c[11] or len(body) != int(c[12])
    check(bad_frames == 0, "%s: %d distinct bodies, each one frame with its SHA-256 and size" % (what, len(frames)))
    check(sum(f[1] for f in frames.values()) == len(bodies), "%s: bodies.zst holds only those frames" % what)
    # sources.tsv: every file read, with its own counts
    src = open(os.path.join(out, "history", "sources.tsv")).read().split("\n")
    kinds = src[0].split("\t")[5:]
    rows = [l.split("\t") for l in src[1:] if l]
    good = len(rows) == len(truth["files"])
    for f in truth["files"]:
        row = [r for r in rows if r[0].endswith("/" + f["path"])]
        want = [f["crawl"], str(f["bytes"]), str(f["records"] - sum(f["damage"].values())), str(f["responses"])] + \
            [str(f["damage"].get(k, 0)) for k in kinds]
        good = good and len(row) == 1 and row[0][1:] == want
    check(good and kinds == ["gzip", "length", "no_uri", "not_http", "oversize", "header"],
          "%s: sources.tsv lists the %d files with their crawl, bytes, records, responses, bad records" %
          (what, len(truth["files"])))
    return data


def summary_has(stderr, what, **want):
    m = re.search(r"history: \d+ files \(\d+ bytes\), (\d+) records, (\d+) responses", stderr)
    check(m and int(m.group(1)) == RECORDS and int(m.group(2)) == RESPONSES,
          "%s: summary counts %d records, %d responses (%s)" % (what, RECORDS, RESPONSES, m and m.group(0)))
    for kind in ("gzip", "length", "no_uri", "not_http"):
        check(re.search(r"[:,] %s %d[,;]" % (kind, BAD[kind]), stderr),
              "%s: summary counts %d bad records of kind %s" % (what, BAD[kind], kind))
    for label, v in want.items():
        check(re.search(r"%s %d\b" % (re.escape(label), v), stderr), "%s: summary says %s %d" % (what, label, v))


# ---- local ---------------------------------------------------------------------------------------

OUT1 = os.path.join(TMP, "local")
r = run([OPTOUT, "history", "--cc-robots", os.path.join(CC, "crawl-data/*/segments/*/robotstxt/*.warc.gz"),
         "--hosts", HOSTS, "--out", OUT1])
check(r.returncode == 0, "local: exit 0 (%s)" % r.stderr[-400:])
LOCAL = check_archive(OUT1, "local")
summary_has(r.stderr, "local")
check(re.search(r"offset \d+, record \d+: gzip: broken gzip member", r.stderr),
      "local: a broken member is named with its file and offset")
check("past the end of the gzip member" in r.stderr, "local: a lying Content-Length is named")
check(any(f"robotstxt/" in l and "no_uri" in l for l in r.stderr.splitlines()), "local: a missing URI is named")
cut = [c for c in truth["captures"] if c["status"] == 200 and c["kept_size"] < c["size"] and c["host"] in KEPT]
check(cut and all("\t".join(map(str, [c["kept_sha256"], c["kept_size"], 1])) in LOCAL.decode() for c in cut),
      "local: a body over 500 KiB is kept cut at a line end, flagged truncated")

# rebuilding replaces the archive whole: same content, nothing left over
r = run([OPTOUT, "history", "--cc-robots", os.path.join(CC, "crawl-data/*/segments/*/robotstxt/*.warc.gz"),
         "--hosts", HOSTS, "--out", OUT1, "--quiet"])
check(r.returncode == 0 and open(os.path.join(OUT1, "history", "index.tsv"), "rb").read() == LOCAL,
      "local: a rebuild gives the same index")
check(sorted(os.listdir(OUT1)) == ["history"], "local: no staging directory left (%s)" % os.listdir(OUT1))


def without_offsets(index):
    """index.tsv's bytes without the header's bodies size and each row's body offset (where a merge of
    parts puts a body may differ from where one build does)."""
    lines = index.decode().split("\n")
    return [lines[0].split("\t")[2:]] + ["\t".join(l.split("\t")[:14] + l.split("\t")[15:]) for l in lines[1:]]


# --jobs: the files read three at a time, into parts merged in file order: the same archive
OUTJ = os.path.join(TMP, "jobs")
r = run([OPTOUT, "history", "--cc-robots", os.path.join(CC, "crawl-data/*/segments/*/robotstxt/*.warc.gz"),
         "--hosts", HOSTS, "--out", OUTJ, "--jobs", "3"])
check(r.returncode == 0, "--jobs 3: exit 0 (%s)" % r.stderr[-400:])
JOBS = check_archive(OUTJ, "--jobs 3")
summary_has(r.stderr, "--jobs 3")
check(without_offsets(JOBS) == without_offsets(LOCAL) and
      open(os.path.join(OUTJ, "history", "sources.tsv"), "rb").read() ==
      open(os.path.join(OUT1, "history", "sources.tsv"), "rb").read(),
      "--jobs 3: the versions and sources.tsv of one thread's build")
check(sorted(os.listdir(OUTJ)) == ["history"], "--jobs 3: no part left (%s)" % os.listdir(OUTJ))


# ---- http ----------------------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    seen = {}
    lock = threading.Lock()
    flaky = False

    def log_message(self, *a):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        with self.lock:
            n = self.seen.get(path, 0)
            self.seen[path] = n + 1
        if path.startswith("/moved/"):
            self.send_response(301)
            self.send_header("Location", path[len("/moved"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.startswith("/away/"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:%d%s" % (self.server.server_port, path[len("/away"):]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.startswith("/stall/"):  # a few bytes, then nothing for a long time
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b\x08")
            self.wfile.flush()
            time.sleep(20)
            return
        cut = re.match(r"/(cut|cutrange|badrange)(/.*)", path)
        if cut:  # the first answer stops half-way; the next honours Range (cutrange) or not (cut)
            data = open(os.path.join(CC, cut.group(2).lstrip("/")), "rb").read()
            rng = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
            if n == 0:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            start = int(rng.group(1)) if rng and cut.group(1) == "cutrange" else 0
            self.send_response(206 if start or cut.group(1) == "badrange" else 200)
            if start or cut.group(1) == "badrange":  # badrange: 206 of the whole file, not of the rest
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            self.wfile.write(data[start:])
            return
        if self.flaky and path.endswith(".warc.gz") and n == 0:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"busy")
            return
        local = os.path.normpath(os.path.join(CC, path.lstrip("/")))
        if not local.startswith(CC + os.sep) or not os.path.isfile(local):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(local, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
BASE = "http://127.0.0.1:%d" % server.server_port
try:
    OUT2 = os.path.join(TMP, "http")
    r = run([OPTOUT, "history", "--cc-crawls", ",".join(CRAWLS), "--cc-base", BASE, "--hosts", HOSTS, "--out", OUT2],
            timeout=600)
    check(r.returncode == 0, "http: exit 0 (%s)" % r.stderr[-400:])
    check(open(os.path.join(OUT2, "history", "index.tsv"), "rb").read() == LOCAL,
          "http: the same index as from local files")
    summary_has(r.stderr, "http", **{"refused paths-list entries": truth["refused_paths"]})
    check(not any("elsewhere" in p or ".." in p or "passwd" in p for p in Handler.seen),
          "http: refused entries are never requested")
    check("not followed (only relative paths are)" in r.stderr, "http: refused entries are reported")
    r = run([OPTOUT, "history", "--cc-crawls", ",".join(CRAWLS), "--cc-base", BASE, "--hosts", HOSTS, "--out", OUT2,
             "--jobs", "4"], timeout=600)
    check(r.returncode == 0 and without_offsets(open(os.path.join(OUT2, "history", "index.tsv"), "rb").read()) ==
          without_offsets(LOCAL), "http, --jobs 4: the same versions (%s)" % r.stderr[-300:])

    # flaky: 503 once per file, and a file list served through same-origin redirects
    Handler.seen.clear()
    Handler.flaky = True
    files = [BASE + "/moved/" + f["path"] for f in truth["files"]]
    OUT3 = os.path.join(TMP, "flaky")
    r = run([OPTOUT, "history", "--cc-robots"] + files + ["--hosts", HOSTS, "--out", OUT3, "--retries", "2"],
            timeout=600)
    check(r.returncode == 0, "flaky: exit 0 after retries (%s)" % r.stderr[-400:])
    check(os.path.isfile(os.path.join(OUT3, "history", "index.tsv")) and
          open(os.path.join(OUT3, "history", "index.tsv"), "rb").read() == LOCAL, "flaky: the same index")
    check(all(Handler.seen.get("/" + f["path"], 0) >= 2 for f in truth["files"]),
          "flaky: every file was asked again after its 503")
    Handler.flaky = False

    # transfers cut half-way: resumed with Range (206), or read again whole and skipped (200)
    for kind in ("cut", "cutrange"):
        Handler.seen.clear()
        files = [BASE + "/" + kind + "/" + f["path"] for f in truth["files"]]
        out = os.path.join(TMP, kind)
        r = run([OPTOUT, "history", "--cc-robots"] + files + ["--hosts", HOSTS, "--out", out, "--retries", "1"],
                timeout=600)
        check(r.returncode == 0 and os.path.isfile(os.path.join(out, "history", "index.tsv")) and
              open(os.path.join(out, "history", "index.tsv"), "rb").read() == LOCAL,
              "%s: a transfer cut half-way is resumed, the same index (%s)" % (kind, r.stderr[-300:]))

    # failures keep the earlier archive
    before = open(os.path.join(OUT1, "history", "index.tsv"), "rb").read()
    Handler.seen.clear()
    r = run([OPTOUT, "history", "--cc-robots", BASE + "/badrange/" + truth["files"][0]["path"], "--hosts", HOSTS,
             "--out", OUT1, "--retries", "1"], timeout=120)
    check(r.returncode == 1 and "HTTP 206 for another part" in r.stderr,
          "failures: a 206 of another part than asked fails the file (%d: %s)" % (r.returncode, r.stderr[-200:]))
    p = subprocess.Popen([OPTOUT, "history", "--cc-robots", BASE + "/stall/x.warc.gz", "--hosts", HOSTS, "--out", OUT1],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=15)
        check(p.returncode == 130 and "interrupted" in err, "failures: SIGINT mid-transfer exits 130 (%d)" % p.returncode)
    except subprocess.TimeoutExpired:
        p.kill()
        check(False, "failures: SIGINT mid-transfer ends the build")
    away = [BASE + "/away/" + truth["files"][0]["path"]]
    r = run([OPTOUT, "history", "--cc-robots"] + away + ["--hosts", HOSTS, "--out", OUT1], timeout=120)
    check(r.returncode == 1 and "redirects are followed only within" in r.stderr,
          "failures: a redirect to another origin is refused, exit 1 (%d: %s)" % (r.returncode, r.stderr[-300:]))
    r = run([OPTOUT, "history", "--cc-robots", BASE + "/nothing.warc.gz", "--hosts", HOSTS, "--out", OUT1,
             "--retries", "0"], timeout=120)
    check(r.returncode == 1 and "HTTP 404" in r.stderr, "failures: a missing file over HTTP: exit 1 naming the status")
    check(open(os.path.join(OUT1, "history", "index.tsv"), "rb").read() == before and
          sorted(os.listdir(OUT1)) == ["history"], "failures: the earlier archive is untouched, no staging left")
finally:
    server.shutdown()

r = run([OPTOUT, "history", "--cc-robots", os.path.join(TMP, "none-*.warc.gz"), "--hosts", HOSTS, "--out", OUT1])
check(r.returncode == 2, "usage: a pattern matching nothing exits 2 (%d)" % r.returncode)
r = run([OPTOUT, "history", "--cc-crawls", "CC-MAIN-2019", "--hosts", HOSTS, "--out", OUT1])
check(r.returncode == 2, "usage: a bad crawl id exits 2")
r = run([OPTOUT, "history", "--cc-robots", glob.glob(os.path.join(CC, "crawl-data/*/segments/*/robotstxt/*"))[0],
         "--out", OUT1])
check(r.returncode == 2, "usage: no --hosts exits 2")
r = run([OPTOUT, "history", "--cc-robots", "x.warc.gz", "--cc-base", BASE, "--hosts", HOSTS, "--out", OUT1])
check(r.returncode == 2, "usage: --cc-base without --cc-crawls exits 2")

shutil.rmtree(TMP, ignore_errors=True)
finish("test_history")
