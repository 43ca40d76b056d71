#!/usr/bin/python3
"""`optout history --wayback` against a local CDX and replay server (wayback_server.py).

usage: test_wayback.py BIN_DIR REPO_ROOT [SHARED_DIR]

The scenario is built from real robots.txt bodies (SHARED_DIR/data/robots-top10k; skipped
without it): hosts with several captures over both schemes and www., bodies that change and come
back, CDX pages (three rows each) joined with resumeKey, an empty answer, a malformed one, 404,
503 and 301 captures, a row with status "-", rows of an unlisted www. host, captures outside the
years asked, CDX answers 429 (three in a row: the global pause) and 503 with Retry-After, a body
the archive does not have (404), one cut once (retried) and one always cut (dropped). The
expected index is computed here from the scenario alone by the documented rules (the checker does
not read the program's block files). Scenarios:
  full     index.tsv equals the expected versions line for line; each distinct body fetched once;
           the summary's counts; the answers' hash changes when the archive's answers do.
  rate     the server's request times: never two requests closer than 1/rate (retries and pages
           included), the Retry-After waited, the pause after three 429s, the User-Agent.
  resume   a run killed (SIGKILL) after its first blocks, then run again: the finished blocks'
           hosts are not asked again, and the index equals the full run's.
  interrupt SIGINT mid-run: exit 130, nothing published, the finished blocks kept.
  report   optout filter --history over the archive: the coverage counts the documents a Wayback
           capture decided (report.json's by_policy coverage, the Markdown table's source column).
  usage    --wayback-* without --wayback, a bad rate, from after to: exit 2.
"""
import datetime, hashlib, os, shutil, signal, subprocess, sys, tempfile, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from optout_test import check, finish, real_bodies, run, shared_dir  # noqa: E402
from policy_check import status_outcome as outcome  # noqa: E402
from wayback_server import WaybackServer, digest_of, group_of  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
OPTOUT = os.path.join(BIN, "optout")
TOP10K = real_bodies(shared_dir(ROOT, 3))

NAMES = ["4chan.org", "10times.com", "caniuse.com", "cdnjs.com", "ckeditor.com", "clark.com", "case.edu",
         "casper.com", "ccli.com", "collider.com", "colorlib.com", "cooltext.com"]
REAL = {}
for n in NAMES:
    REAL[n] = open(os.path.join(TOP10K, n), "rb").read()

CAPS = []


def cap(ts, original, status, body=None, status_text=None):
    c = {"timestamp": ts, "original": original, "status": status, "body": body}
    if status_text:
        c["status_text"] = status_text
    CAPS.append(c)


a, b, c_, d, e, f, g, h, i, j, k, l = NAMES
# a: both schemes and www. (both listed), a body that changes and comes back, 404 and 503 captures,
#    paged (more than three rows), one capture outside the years
A1, A2 = REAL[a], REAL[a] + b"\n# changed\nDisallow: /private/\n"
cap("20100105120000", "http://%s/robots.txt" % a, 200, A1)
cap("20100301000000", "http://%s/robots.txt" % a, 200, A1)
cap("20110301000000", "http://%s:80/robots.txt" % a, 200, A2)
cap("20120301000000", "http://%s/robots.txt" % a, 404)
cap("20120401000000", "http://%s/robots.txt" % a, 404)
cap("20130301000000", "http://%s/robots.txt" % a, 200, A1)
cap("20110601000000", "https://%s/robots.txt" % a, 200, A2)
cap("20140601000000", "https://%s/robots.txt" % a, 503)
cap("20120101000000", "http://www.%s/robots.txt" % a, 200, A1)
cap("20130101000000", "https://www.%s/robots.txt" % a, 301)
cap("20180101000000", "http://%s/robots.txt" % a, 200, b"User-agent: *\nDisallow: /\n")  # after --wayback-to
cap("20050101000000", "http://%s/robots.txt" % a, 200, b"# before --wayback-from\n")
# b: www. rows while only the bare host is listed (other host), a "-" status row
cap("20110101000000", "http://%s/robots.txt" % b, 200, REAL[b])
cap("20110201000000", "http://www.%s/robots.txt" % b, 200, REAL[b] + b"#www\n")
cap("20110301000000", "http://%s/robots.txt" % b, 200, REAL[b], status_text="-")
cap("20110401000000", "http://%s/robots.txt" % b, 200, REAL[b] + b"#x\n")  # a digest that is a path
CAPS[-1]["digest_text"], CAPS[-1]["bad"] = "../../etc/passwd", True
cap("20110501000000", "http://%s/robots.txt?a b" % b, 200, REAL[b] + b"#y\n")  # a blank in original
CAPS[-1]["bad"] = True
# c: nothing in the archive (empty answer); d: a malformed answer
cap("20110101000000", "http://%s/robots.txt" % d, 200, REAL[d])
# e: CDX answers 429 three times (Retry-After: 1) first; f: 503 once
cap("20120101000000", "https://%s/robots.txt" % e, 200, REAL[e])
cap("20120101000000", "https://%s/robots.txt" % f, 200, REAL[f])
# g: a body the archive lost (replay 404); h: cut once; i: always cut; j: same body as h (fetched once)
cap("20100101000000", "http://%s/robots.txt" % g, 200, REAL[g])
cap("20110101000000", "http://%s/robots.txt" % g, 200, REAL[g] + b"# 2\n")
cap("20100101000000", "http://%s/robots.txt" % h, 200, REAL[h])
cap("20100101000000", "http://%s/robots.txt" % i, 200, REAL[i])
cap("20100201000000", "http://%s/robots.txt" % j, 200, REAL[h])
# k, l: plain (blocks for the resume test)
cap("20140101000000", "https://%s/robots.txt" % k, 200, REAL[k])
cap("20150101000000", "https://%s/robots.txt" % l, 200, REAL[l])
cap("20150101000000", "https://%s/robots.txt" % l, 200, REAL[l])  # the same second twice

LISTED = [a, "www." + a, b, c_, d, e, f, g, h, i, j, k, l]
FAULTS = {"malformed": {d}, "cdx_status": {e: [429, 429, 429], f: [503]},
          "body_404": {digest_of(REAL[g])}, "cut_once": {digest_of(REAL[h])}, "cut_always": {digest_of(REAL[i])}}
FROM, TO = 2008, 2016
TIMING = "100,1500"  # backoff 100 ms, the pause after three 429s 1.5 s (the test hook, docs/cli.md)
BLOCK = ["--wayback-block-hosts", "2"]  # blocks of 2 host groups


def stamp(ts):
    t = datetime.datetime.strptime(ts, "%Y%m%d%H%M%S")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def hostkey(original):
    hp = original.split("://", 1)[1].split("/", 1)[0].lower()
    return hp[:-3] if hp.endswith(":80") else hp


def expected(malformed=FAULTS["malformed"]):
    """The versions by the documented rules, from the scenario alone."""
    dropped = FAULTS["body_404"] | FAULTS["cut_always"]
    series = {}
    for cp in sorted(CAPS, key=lambda x: x["timestamp"]):
        host, scheme = hostkey(cp["original"]), cp["original"].split(":", 1)[0]
        if host not in LISTED or not (FROM <= int(cp["timestamp"][:4]) <= TO):
            continue
        if group_of(host) in malformed or cp.get("status_text") == "-" or cp.get("bad"):
            continue
        st = cp["status"]
        if 300 <= st < 400:
            continue
        body = cp["body"] if 200 <= st < 300 else None
        if body is not None and digest_of(body) in dropped:
            continue
        series.setdefault((host, scheme), []).append((cp["timestamp"], st, body))
    out = []
    for (host, scheme) in sorted(series):
        cur = None
        for ts, st, body in series[(host, scheme)]:
            ans = (st, outcome(st), hashlib.sha256(body).hexdigest() if body is not None else "-",
                   len(body) if body is not None else 0)
            if cur and cur[0] == ans:
                cur[2] = ts
                cur[3] += 1
            else:
                cur = [ans, ts, ts, 1]
                out.append((host, scheme, cur))
    lines = []
    for host, scheme, (ans, first, last, n) in out:
        lines.append("\t".join(map(str, [host, scheme, "wayback", "-", stamp(first), stamp(last), n, ans[0], ans[1],
                                         "-", "-", ans[2], ans[3], 0])))
    return lines


def index_lines(out):
    p = os.path.join(out, "history", "index.tsv")
    if not os.path.isfile(p):
        return None
    return ["\t".join(x.split("\t")[:14]) for x in open(p).read().split("\n")[2:] if x]


TMP = tempfile.mkdtemp(prefix="optout-wayback-test.")
HOSTS = os.path.join(TMP, "hosts.txt")
open(HOSTS, "w").write("".join(x + "\n" for x in LISTED))
EXPECTED = expected()
RATE = 10.0


def history(out, srv, extra=(), env_timing=TIMING, **kw):
    env = dict(os.environ, OPTOUT_WAYBACK_TEST_TIMING=env_timing)
    return run([OPTOUT, "history", "--wayback", "--hosts", HOSTS, "--out", out, "--wayback-base", srv.base,
                "--wayback-from", str(FROM), "--wayback-to", str(TO), "--wayback-rate", str(RATE)] + BLOCK + list(extra),
               env=env, timeout=300, **kw)


# ---- full --------------------------------------------------------------------------------------
srv = WaybackServer([dict(x) for x in CAPS], FAULTS)
OUT1 = os.path.join(TMP, "out1")
r = history(OUT1, srv)
check(r.returncode == 0, "full: exit 0 (%d: %s)" % (r.returncode, r.stderr.strip()[-800:]))
got = index_lines(OUT1)
check(got == EXPECTED, "full: index.tsv is the expected versions (%d lines)" % len(EXPECTED))
if got != EXPECTED:
    print("expected:\n  " + "\n  ".join(EXPECTED) + "\ngot:\n  " + "\n  ".join(got or []))
log = srv.requests()
ports = list(srv.ports)  # the first run's connections
bodies = [p for (_, p, s, _) in log if p.startswith("/web/") and s == 200]
fetched = {}
for p in bodies:
    fetched[p] = fetched.get(p, 0) + 1
digests_2xx = {digest_of(x["body"]) for x in CAPS if x["body"] is not None and 200 <= x["status"] < 300
               and FROM <= int(x["timestamp"][:4]) <= TO and hostkey(x["original"]) in LISTED
               and x.get("status_text") != "-" and not x.get("bad") and group_of(x["original"]) not in FAULTS["malformed"]}
replays = [p for (_, p, _, _) in log if p.startswith("/web/")]
check(len({p for p in replays}) == len(digests_2xx),
      "full: one replay URL per distinct 2xx digest (%d URLs, %d digests)" % (len(set(replays)), len(digests_2xx)))
check(not any(p.startswith("/web/2005") or p.startswith("/web/2018") for p in replays),
      "full: no body of a capture outside the years asked")
cdx = [p for (_, p, _, _) in log if p.startswith("/cdx/")]
check(all("from=%d" % FROM in p and "to=%d" % TO in p and "output=json" in p and "collapse" not in p for p in cdx),
      "full: every CDX query names the years, JSON, no collapse")
# the server answers the documented columns whatever is asked: the client must ask for exactly them
check(cdx and all("fl=timestamp,original,statuscode,digest,length&" in p or "fl=timestamp%2Coriginal%2Cstatuscode%2C"
                  "digest%2Clength&" in p for p in cdx),
      "full: every CDX query asks for fl=timestamp,original,statuscode,digest,length")
check(sum(1 for p in cdx if "url=www." in p) == 0 and sum(1 for p in cdx if "url=%s%%2F" % a in p or
                                                           "url=%s/" % a in p) >= 4,
      "full: one query (paged) for %s and www.%s together" % (a, a))
check(any("resumeKey=" in p for p in cdx), "full: pages joined with resumeKey")
err = r.stderr
check("hosts failed 1" in err and "bad 3" in err,
      "full: the malformed answer fails its host; the '-' status, a path as digest, a blank in original are bad rows")
check("1 redirects skipped" in err, "full: the 301 capture skipped")
check("bodies fetched" in err and "dropped 2" in err, "full: two digests dropped (404, always cut)")
check("answers sha256 " in err and "queries from " in err, "full: the queries' time and answers' hash")
check("at least" in err and "ETA" in err, "full: an estimate first, progress with an ETA")
hash1 = err.split("answers sha256 ")[1].split()[0] if "answers sha256 " in err else ""
src = open(os.path.join(OUT1, "history", "sources.tsv")).read().split("\n")
check(len(src) == 3 and src[1].startswith("wayback %s/cdx/search/cdx years %d-%d queried " % (srv.base, FROM, TO))
      and ("answers sha256 %s rate %g\t-\t0\t25\t%d\t" % (hash1, RATE, sum(int(x.split("\t")[6]) for x in EXPECTED)))
      in src[1],
      "full: sources.tsv records the queries (base, years, time, answers' hash, rate, rows, captures): %s" % src[1:])

# a run again: only the host whose query failed is asked again (still malformed), the same index
n_before = len(srv.requests())
r = history(OUT1, srv)
again = srv.requests()[n_before:]
check(r.returncode == 0 and index_lines(OUT1) == EXPECTED and len(again) == 1 and "url=%s" % d in again[0][1],
      "full: a second run asks only the failed host again and publishes the same index (%s)" %
      [x[1][:60] for x in again])
check(("answers sha256 %s" % hash1) in r.stderr and "hosts failed 1, asked again 1" in r.stderr,
      "full: the same answers' hash from the blocks; the failed host counted as asked again")
# the archive answers for it now: a third run asks for it alone (its query and its body), and its
# capture joins the archive
srv.faults = dict(srv.faults, malformed=set())  # FAULTS itself stays as it is for the later servers
n_before = len(srv.requests())
r = history(OUT1, srv)
again = srv.requests()[n_before:]
check(r.returncode == 0 and index_lines(OUT1) == expected(malformed=set()) and "hosts failed 0" in r.stderr,
      "full: the failed host, answered now, joins the archive (%s)" % r.stderr.strip()[-300:])
check(len(again) == 2 and all(d in x[1] for x in again),
      "full: only the failed host's query and body are asked (%s)" % [x[1][:60] for x in again])
srv.close()

# ---- rate --------------------------------------------------------------------------------------
gaps = [t2[0] - t1[0] for t1, t2 in zip(log, log[1:])]
window = max(sum(1 for u in log if t[0] <= u[0] < t[0] + 1.0) for t in log)
check(window <= RATE + 1, "rate: at most %d requests in any second (%d)" % (RATE + 1, window))
# the server notes a request when its thread gets to it: on a loaded machine one arrival may be
# noted late, which shortens the next gap alone; so every span of k gaps must last k/rate less
# that one delay (JITTER), which a client sending faster than the rate fails on long spans
JITTER = 0.15
worst = min((log[j][0] - log[i][0]) - (j - i) / RATE for i in range(len(log)) for j in range(i + 1, len(log)))
check(worst >= -JITTER, "rate: any k requests in a row span at least k/rate s, less %.2f s of jitter (worst %.3f s, "
      "min gap %.3f s, %d requests)" % (JITTER, worst, min(gaps), len(log)))
for idx, (t, p, s, _) in enumerate(log[:-1]):
    if s in (429, 503) and p.startswith("/cdx/"):
        check(log[idx + 1][0] - t >= 0.95, "rate: Retry-After waited after %d (%.2f s)" % (s, log[idx + 1][0] - t))
e_reqs = [x for x in log if "url=%s" % e in x[1]]
check(len(e_reqs) >= 4 and e_reqs[3][0] - e_reqs[2][0] >= 1.45 and "in a row: pausing" in err,
      "rate: three 429s in a row pause every request (gap %.2f s)" %
      ((e_reqs[3][0] - e_reqs[2][0]) if len(e_reqs) >= 4 else -1))
check(all(ua.startswith("optout/") for (_, _, _, ua) in log), "rate: every request names the tool (User-Agent)")
# exponential backoff: the always-cut body is asked 5 times, the waits doubling from the test's
# 100 ms (100, 200, 400, 800 ms; a fixed backoff would wait 400 ms in all), less the jitter above
cut_digest = next(iter(FAULTS["cut_always"]))
cut_times = [t for (t, p, _, _) in log if p.startswith("/web/") and any(
    cp["body"] is not None and digest_of(cp["body"]) == cut_digest and p.endswith("id_/" + cp["original"])
    and p.startswith("/web/" + cp["timestamp"]) for cp in CAPS)]
cut_gaps = [b_ - a_ for a_, b_ in zip(cut_times, cut_times[1:])]
check(len(cut_gaps) == 4 and all(g_ >= 0.1 * 2 ** k - JITTER for k, g_ in enumerate(cut_gaps)) and
      cut_gaps[3] >= 0.8 - JITTER,
      "rate: retries back off exponentially (gaps %s s)" % ["%.2f" % g_ for g_ in cut_gaps])
# one connection, but the server closes it after each cut body (once, and every attempt of the
# always-cut one: --retries' default 4, so 5)
conns = len(set(ports))
check(conns <= 1 + 1 + 5, "rate: one connection at a time, reused (%d connections for %d requests)" % (conns, len(log)))

# ---- resume ------------------------------------------------------------------------------------
srv = WaybackServer([dict(x) for x in CAPS], FAULTS)
OUT2 = os.path.join(TMP, "out2")
env = dict(os.environ, OPTOUT_WAYBACK_TEST_TIMING=TIMING)
p = subprocess.Popen([OPTOUT, "history", "--wayback", "--hosts", HOSTS, "--out", OUT2, "--wayback-base", srv.base,
                      "--wayback-from", str(FROM), "--wayback-to", str(TO), "--wayback-rate", str(RATE)] + BLOCK,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
state = os.path.join(OUT2, ".wayback")
deadline = time.time() + 60
while time.time() < deadline and p.poll() is None:
    if os.path.isdir(state) and len([x for x in os.listdir(state) if x.endswith(".tsv")]) >= 3:
        break
    time.sleep(0.02)
p.send_signal(signal.SIGKILL)
p.wait()
done_blocks = sorted(x for x in os.listdir(state) if x.startswith("block-") and x.endswith(".tsv"))
check(3 <= len(done_blocks) < 6, "resume: killed after %d of 6 blocks" % len(done_blocks))
asked_before = set()
for name in done_blocks:
    for line in open(os.path.join(state, name)):
        if line.startswith("Q\t") and line.rstrip("\n").endswith("\t0"):  # failed ones are asked again
            asked_before.add(line.split("\t")[1])
n_first = len(srv.requests())
r = history(OUT2, srv)
check(r.returncode == 0, "resume: the second run exits 0 (%s)" % r.stderr.strip()[-300:])
again = {group_of(x[1].split("url=")[1].split("%2F")[0].split("/")[0]) for x in srv.requests()[n_first:]
         if x[1].startswith("/cdx/")}
check(again and not (again & asked_before),
      "resume: the finished blocks' hosts are not asked again (%s before, %s after)" %
      (sorted(asked_before), sorted(again)))
check(index_lines(OUT2) == EXPECTED, "resume: the same index as the full run")
check("resumed" in r.stderr and ("(%d resumed)" % len(done_blocks)) in r.stderr, "resume: the summary says so")

# SIGINT while asking: exit 130, nothing published, the finished blocks kept
OUT4 = os.path.join(TMP, "out4")
p = subprocess.Popen([OPTOUT, "history", "--wayback", "--hosts", HOSTS, "--out", OUT4, "--wayback-base", srv.base,
                      "--wayback-from", str(FROM), "--wayback-to", str(TO), "--wayback-rate", "2"] + BLOCK,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
state4 = os.path.join(OUT4, ".wayback")
deadline = time.time() + 60
while time.time() < deadline and p.poll() is None and not (
        os.path.isdir(state4) and any(x.endswith(".tsv") for x in os.listdir(state4))):
    time.sleep(0.02)
p.send_signal(signal.SIGINT)
_, perr = p.communicate(timeout=30)
check(p.returncode == 130 and not os.path.exists(os.path.join(OUT4, "history"))
      and any(x.endswith(".tsv") for x in os.listdir(state4)) and "interrupted" in perr,
      "interrupt: SIGINT exits 130, publishes nothing, keeps the finished blocks (%d)" % p.returncode)

# a finished block file is read back as any file is: a query's time that is no number fails the run, named
kept = sorted(x for x in os.listdir(state4) if x.startswith("block-") and x.endswith(".tsv"))
bpath = os.path.join(state4, kept[0])
lines = open(bpath).read().split("\n")
qline = next(i for i, x in enumerate(lines) if x.startswith("Q\t"))
fields = lines[qline].split("\t")
fields[2] += "x"
lines[qline] = "\t".join(fields)
with open(bpath, "w") as fh:
    fh.write("\n".join(lines))
r = history(OUT4, srv)
check(r.returncode == 1 and ("%s:%d: not a block line" % (kept[0], qline + 1)) in r.stderr
      and not os.path.exists(os.path.join(OUT4, "history")),
      "tampered block: a time that is no number fails, naming the file and line (%d: %s)" %
      (r.returncode, r.stderr.strip()[-200:]))
srv.close()

# the archive answers otherwise: the answers' hash changes
srv = WaybackServer([dict(x) for x in CAPS] + [{"timestamp": "20150601000000", "original": "https://%s/robots.txt" % k,
                                               "status": 404, "body": None}], FAULTS)
OUT3 = os.path.join(TMP, "out3")
r = history(OUT3, srv)
check(r.returncode == 0 and "answers sha256 " in r.stderr and hash1 and ("answers sha256 %s" % hash1) not in r.stderr,
      "full: another answer gives another hash")
srv.close()

# ---- report ------------------------------------------------------------------------------------
# optout filter --history over the Wayback archive: the coverage says which documents a Wayback
# capture decided (at or before the document's time, within 365 days), by the rules alone
import json  # noqa: E402
DOCS = [("4chan.org", "http", "2011-06-01", "wayback"),   # the http capture of 2011-03-01
        ("colorlib.com", "https", "2014-06-01", "wayback"),  # its capture of 2014-01-01
        ("caniuse.com", "http", "2011-06-01", "none"),     # nothing in the archive
        ("colorlib.com", "https", "2013-06-01", "none"),   # before its only capture
        ("cooltext.com", "https", "2019-01-01", "none")]   # its 2015 capture is older than 365 days
shard = os.path.join(TMP, "docs.jsonl")
with open(shard, "w") as fh:
    for n, (host, scheme, day, _) in enumerate(DOCS):
        fh.write(json.dumps({"id": str(n), "url": "%s://%s/page%d" % (scheme, host, n), "date": day,
                             "text": "word " * (10 + n)}) + "\n")
stats, md = os.path.join(TMP, "stats.json"), os.path.join(TMP, "policies.md")
r = run([OPTOUT, "filter", "--history", OUT1, "--robots-dir", TOP10K, "--robots-time", "crawl", "--in", shard,
         "--out", os.path.join(TMP, "kept.jsonl"), "--stats", stats, "--policy-report", md])
cov = json.load(open(stats)).get("by_policy", {}).get("coverage", {}) if r.returncode == 0 else {}
want_wb = sum(1 for d_ in DOCS if d_[3] == "wayback")
check(r.returncode == 0 and cov.get("earlier", {}).get("docs_in") == want_wb
      and cov.get("earlier", {}).get("wayback", {}).get("docs_in") == want_wb
      and cov.get("none", {}).get("docs_in") == len(DOCS) - want_wb
      and cov.get("same_crawl", {}).get("wayback", {}).get("docs_in") == 0,
      "report: the coverage counts the documents a Wayback capture decided (%d: %s)" % (r.returncode, cov.get("earlier")))
text = open(md).read() if os.path.exists(md) else ""
check("| only an earlier capture (within the maximum age) | Wayback Machine | %d |" % want_wb in text
      and "| only an earlier capture (within the maximum age) | Common Crawl | 0 |" in text,
      "report: the Markdown coverage table has a row per source of the deciding capture")

# ---- usage -------------------------------------------------------------------------------------
r = run([OPTOUT, "history", "--hosts", HOSTS, "--out", OUT3, "--wayback-rate", "2", "--cc-robots", HOSTS])
check(r.returncode == 2, "usage: --wayback-rate without --wayback exits 2")
r = run([OPTOUT, "history", "--wayback", "--hosts", HOSTS, "--out", OUT3, "--wayback-rate", "0"])
check(r.returncode == 2, "usage: --wayback-rate 0 exits 2")
r = run([OPTOUT, "history", "--wayback", "--hosts", HOSTS, "--out", OUT3, "--wayback-from", "2015",
         "--wayback-to", "2010"])
check(r.returncode == 2, "usage: --wayback-from after --wayback-to exits 2")
r = run([OPTOUT, "history", "--wayback", "--hosts", HOSTS, "--out", OUT3, "--wayback-base", "ftp://x"])
check(r.returncode == 2, "usage: a --wayback-base that is no http(s) URL exits 2")

if not os.environ.get("OPTOUT_KEEP_TMP"):
    shutil.rmtree(TMP, ignore_errors=True)
finish("test_wayback")
