#!/usr/bin/python3
"""The fetcher end to end: `optout fetch` against tools/robots-server (plain HTTP, many virtual
hosts, scripted misbehaviour; see the table at the top of tools/robots-server), archive checked
host by host.

usage: test_fetch.py BIN_DIR REPO_ROOT [SHARED_DIR]

Scenarios (each check prints ok/FAIL with the host and what was expected):
  outcomes   every outcome class in auto mode (https is tried first, fails its handshake against
             the plain-HTTP server, and falls back to http): real bodies (sha256/size of the
             served file), every status class, redirect chains <= 5 / > 5 / loops, a cross-host
             redirect, a huge body (truncated), drip and slow headers (timeouts), gzip, wrong
             content type, HTML, connection reset, a flaky host (retried), NXDOMAIN (.invalid);
             the per-outcome counts on stdout; the archive's format.
  low-speed  a drip host with a long total timeout is cut by the low-speed limit.
  schemes    --scheme https fails (TLS) for every host, --scheme http needs no fallback.
  safety     without --connect-to / --allow-private, 127.0.0.1:PORT and localhost:PORT are
             refused (unreachable, the error says so) and the server sees no request; with
             --allow-private the same host reaches the server.
  resume     (http) kill -9 in the middle of 2,000 hosts, rerun: every host exactly once, no host
             recorded by the first run requested again; a third run fetches nothing, exits 0.
  top10k     with SHARED_DIR: the 4,231 real bodies of data/robots-top10k, all ok, bodies intact.
"""
import glob, hashlib, os, re, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, failures, finish, real_bodies, shared_dir  # noqa: E402

BIN, ROOT = sys.argv[1], sys.argv[2]
OPTOUT = os.path.join(BIN, "optout")
SERVER = os.path.join(ROOT, "tools", "robots-server")
SAMPLE = os.path.join(ROOT, "data", "sample", "robots")
TOP10K = real_bodies(shared_dir(ROOT, 3), required=False)
BODY_MAX = 500 * 1024
TMP = tempfile.mkdtemp(prefix="optout-fetch-test.")


# --- the server ---------------------------------------------------------------------------------

class Server:
    def __init__(self, name, bodies=None):
        self.log = os.path.join(TMP, name + ".server.log")
        cmd = [SERVER, "--port", "0", "--log", self.log]
        if bodies:
            cmd += ["--bodies", bodies]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.log + ".err", "w"))
        line = self.proc.stdout.readline().decode()
        m = re.match(r"listening on (\S+):(\d+)$", line.strip())
        if not m:
            raise SystemExit("FAIL: robots-server did not start: %r" % line)
        self.port = int(m.group(2))
        self.addr = "127.0.0.1:%d" % self.port

    def requests(self):
        """[(host, path, status)] from the log so far."""
        out = []
        try:
            with open(self.log) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(tuple(line.rstrip("\n").split("\t")))
        except FileNotFoundError:
            pass
        return out

    def hosts_requested(self):
        counts = {}
        for h, p, s in self.requests():
            if p != "/__stats":
                counts[h] = counts.get(h, 0) + 1
        return counts

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def get_direct(server, host, path="/robots.txt"):
    """The bytes the server sends for HOST (identity encoding), fetched without the fetcher."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", path, headers={"Host": host, "Accept-Encoding": "identity"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


# --- the fetcher and its archive ----------------------------------------------------------------

def fetch(out, hosts, *args, wait=True, hosts_file=None):
    hosts_file = hosts_file or os.path.join(TMP, os.path.basename(out) + ".hosts")
    with open(hosts_file, "w") as f:
        f.write("".join(h + "\n" for h in hosts))
    cmd = [OPTOUT, "fetch", "--hosts", hosts_file, "--out", out] + list(args)
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    p.elapsed = time.time() - t0
    if p.returncode != 0:
        print("optout fetch exited %d; stderr:\n%s" % (p.returncode, p.stderr[-3000:]), flush=True)
    return p


def zstd_decompress(data):
    return subprocess.run(["zstd", "-qdc"], input=data, capture_output=True, check=True).stdout


COLUMNS = ["host", "outcome", "status", "fetched_at", "sha256", "size", "truncated", "time_ms", "attempts",
           "final_url", "offset", "length", "error"]


def read_archive(out, with_bodies=True):
    """(records, torn, malformed): records are dicts (COLUMNS, numbers as int, "body" for ok records);
    a torn tail (last line without '\\n', with the wrong column count, or pointing past the end of the
    bodies) is ignored as the reader does; anything else malformed is listed."""
    records, torn, malformed = [], 0, []
    for tsv in sorted(glob.glob(os.path.join(out, "robots", "*.tsv"))):
        pack = tsv[:-len(".tsv")]
        data = open(tsv, "rb").read()
        try:
            bodies = open(pack + ".bodies.zst", "rb").read()
        except FileNotFoundError:
            bodies = b""
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            lines.pop()  # no '\n': torn
            torn += 1
        pack_records = []
        for i, raw in enumerate(lines):
            last = i == len(lines) - 1
            if raw.startswith(b"#"):
                continue
            cols = raw.decode("utf-8", "replace").split("\t")
            try:
                if len(cols) != len(COLUMNS):
                    raise ValueError("%d columns" % len(cols))
                r = dict(zip(COLUMNS, cols))
                for k in ("status", "size", "truncated", "time_ms", "attempts", "offset", "length"):
                    r[k] = int(r[k])
                if r["offset"] + r["length"] > len(bodies):
                    raise ValueError("body frame past the end of the bodies file")
            except ValueError as e:
                if last:
                    torn += 1
                else:
                    malformed.append("%s line %d: %s" % (os.path.basename(tsv), i + 1, e))
                continue
            r["pack"] = os.path.basename(pack)
            pack_records.append(r)
        if with_bodies:
            load_bodies(pack_records, bodies, malformed)
        records += pack_records
    return records, torn, malformed


def load_bodies(recs, bodies, malformed):
    ok = sorted((r for r in recs if r["length"]), key=lambda r: r["offset"])
    pos, tiled = 0, True
    for r in ok:
        tiled = tiled and r["offset"] == pos
        pos = r["offset"] + r["length"]
    try:
        if tiled and ok:  # frames back to back from offset 0: one zstd run for all
            plain, at = zstd_decompress(bodies[:pos]), 0
            for r in ok:
                r["body"], at = plain[at:at + r["size"]], at + r["size"]
        else:
            for r in ok:
                r["body"] = zstd_decompress(bodies[r["offset"]:r["offset"] + r["length"]])
    except subprocess.CalledProcessError as e:
        malformed.append("bodies do not decompress: %s" % e.stderr.decode(errors="replace").strip())
    for r in recs:
        if r["outcome"] == "ok" and "body" not in r:
            r["body"] = b""


def by_host(records):
    d = {}
    for r in records:
        d.setdefault(r["host"], []).append(r)
    return d


def stdout_counts(text):
    counts = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(ok|unavailable|unreachable|no_such_host)\s+(\d+)\s*$", line)
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def small_body(host, what):
    """The scripted hosts' small robots body (tools/robots-server small_body())."""
    return ("# %s robots.txt of %s\nUser-agent: *\nDisallow: /%s/\n" % (what, host, what)).encode()


def host_key_of_file(name):
    m = re.match(r"^(.*)_(\d+)$", name)
    if m:
        return m.group(1) if m.group(2) in ("80", "443") else "%s:%s" % (m.group(1), m.group(2))
    return name


def expected_cut(body):
    if len(body) <= BODY_MAX:
        return body, 0
    cut = max(body.rfind(b"\n", 0, BODY_MAX), body.rfind(b"\r", 0, BODY_MAX))  # RFC 9309: either ends a line
    return (body[:cut + 1] if cut >= 0 else body[:BODY_MAX]), 1


# --- checks shared by the scenarios -------------------------------------------------------------

def check_format(records, malformed, torn, label):
    check(not malformed, "%s: archive well formed%s" % (label, (": " + "; ".join(malformed[:5])) if malformed else ""))
    check(torn == 0, "%s: no torn archive lines after a clean exit (found %d)" % (label, torn))
    bad = []
    for r in records:
        ok = r["outcome"] == "ok"
        problems = []
        if r["outcome"] not in ("ok", "unavailable", "unreachable", "no_such_host"):
            problems.append("outcome %r" % r["outcome"])
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", r["fetched_at"]):
            problems.append("fetched_at %r" % r["fetched_at"])
        if ok and not re.match(r"^[0-9a-f]{64}$", r["sha256"]):
            problems.append("sha256 %r for ok" % r["sha256"])
        if ok and r["error"] != "-":
            problems.append("error %r for ok" % r["error"])
        if not ok and (r["sha256"] != "-" or r["offset"] or r["length"] or r["size"]):
            problems.append("a body recorded for %s" % r["outcome"])
        if not ok and r["error"] == "-":
            problems.append("no error for %s" % r["outcome"])
        if ok and "body" in r and (len(r["body"]) != r["size"] or
                                   hashlib.sha256(r["body"]).hexdigest() != r["sha256"]):
            problems.append("body does not match its size/sha256")
        if r["attempts"] < 1 and r["outcome"] != "no_such_host":
            problems.append("attempts %d" % r["attempts"])
        if problems:
            bad.append("%s: %s" % (r["host"], ", ".join(problems)))
    check(not bad, "%s: every record's columns are consistent%s" % (label, (": " + "; ".join(bad[:8])) if bad else ""))


def expect(recs, host, outcome, status=None, body=None, final_url=None, truncated=None, attempts=None,
           error_re=None, max_time_ms=None, why=""):
    rs = recs.get(host, [])
    what = "%s -> %s%s" % (host, outcome, (" (" + why + ")") if why else "")
    if not check(len(rs) == 1, "%s: exactly one record (found %d)" % (what, len(rs))) or not rs:
        return
    r = rs[0]
    got = "outcome=%s status=%d attempts=%d time_ms=%d truncated=%d size=%d final_url=%s error=%s" % (
        r["outcome"], r["status"], r["attempts"], r["time_ms"], r["truncated"], r["size"], r["final_url"], r["error"])
    problems = []
    if r["outcome"] != outcome:
        problems.append("outcome %s" % r["outcome"])
    if status is not None and r["status"] != status:
        problems.append("status %d, expected %d" % (r["status"], status))
    if body is not None and r.get("body") != body:
        b = r.get("body") or b""
        problems.append("body of %d bytes (sha256 %s), expected %d bytes (sha256 %s)%s" % (
            len(b), hashlib.sha256(b).hexdigest()[:12], len(body), hashlib.sha256(body).hexdigest()[:12],
            (": starts %r" % b[:60]) if b else ""))
    if body is not None and r["sha256"] != hashlib.sha256(body).hexdigest():
        problems.append("sha256 column %s" % r["sha256"][:12])
    if body is not None and r["size"] != len(body):
        problems.append("size column %d, expected %d" % (r["size"], len(body)))
    if final_url is not None and r["final_url"] != final_url:
        problems.append("final_url %s, expected %s" % (r["final_url"], final_url))
    if truncated is not None and r["truncated"] != truncated:
        problems.append("truncated %d, expected %d" % (r["truncated"], truncated))
    if attempts is not None and r["attempts"] != attempts:
        problems.append("attempts %d, expected %d" % (r["attempts"], attempts))
    if error_re is not None and not re.search(error_re, r["error"], re.I):
        problems.append("error %r does not match /%s/" % (r["error"], error_re))
    if max_time_ms is not None and r["time_ms"] > max_time_ms:
        problems.append("time_ms %d > %d" % (r["time_ms"], max_time_ms))
    check(not problems, "%s%s [%s]" % (what, (": " + "; ".join(problems)) if problems else "", got))


# --- scenarios ----------------------------------------------------------------------------------

TIMEOUT_S, RETRIES = 3, 1
AUTO = 0  # an https try that falls back to http is not an attempt (fetch.h: attempts = 1 + retries)


def scenario_outcomes():
    print("== outcomes (auto scheme: https first, then http)", flush=True)
    srv = Server("outcomes", SAMPLE)
    try:
        sample = {}
        for name in os.listdir(SAMPLE):
            if name != "index.tsv":
                sample[host_key_of_file(name)] = open(os.path.join(SAMPLE, name), "rb").read()
        ok2xx = [200, 201, 202, 203, 206]
        unavailable4xx = [400, 401, 403, 404, 405, 410, 418, 451]
        unreachable5xx = [500, 501, 502, 503, 504]
        hosts = sorted(sample) + ["unknown.example"]
        hosts += ["s%d-a.test" % s for s in ok2xx + [204] + unavailable4xx + [429] + unreachable5xx + [301, 302]]
        hosts += ["redir%d-a.test" % n for n in (1, 2, 3, 4, 5, 6, 9)]
        hosts += ["loop-a.test", "cross-a.test", "huge-a.test", "drip-a.test", "gzip-a.test", "ctype-a.test",
                  "reset-a.test", "html-a.test", "slowhead1-a.test", "slowhead9-a.test", "flaky-a.test",
                  "nx-whatever.invalid"]
        out = os.path.join(TMP, "outcomes")
        p = fetch(out, hosts, "--connect-to", srv.addr, "--timeout", str(TIMEOUT_S), "--connect-timeout", "2",
                  "--retries", str(RETRIES), "--concurrency", "32", "--quiet")
        check(p.returncode == 0, "outcomes: optout fetch exits 0 (got %d)" % p.returncode)
        records, torn, malformed = read_archive(out)
        recs = by_host(records)
        check_format(records, malformed, torn, "outcomes")
        check(sorted(recs) == sorted(hosts), "outcomes: one record per host given, no other (missing %s, extra %s)" % (
            sorted(set(hosts) - set(recs)), sorted(set(recs) - set(hosts))))
        # stdout counts agree with the archive
        counts = stdout_counts(p.stdout)
        want = {}
        for r in records:
            want[r["outcome"]] = want.get(r["outcome"], 0) + 1
        check(all(counts.get(k, 0) == v for k, v in want.items()),
              "outcomes: per-outcome counts on stdout %s match the archive %s" % (counts, want))

        # ok: real bodies, byte for byte, after falling back from https to http
        for h, body in sorted(sample.items()):
            expect(recs, h, "ok", 200, body=body, truncated=0, attempts=AUTO + 1,
                   final_url="http://%s/robots.txt" % h, why="served file, https fallback")
        expect(recs, "unknown.example", "unavailable", 404, attempts=AUTO + 1, why="no file on the server")
        for s in ok2xx:
            h = "s%d-a.test" % s
            expect(recs, h, "ok", s, body=small_body(h, "s%d" % s), attempts=AUTO + 1, why="2xx")
        expect(recs, "s204-a.test", "ok", 204, body=b"", attempts=AUTO + 1, why="2xx without a body")
        for s in unavailable4xx:
            expect(recs, "s%d-a.test" % s, "unavailable", s, attempts=AUTO + 1, why="4xx, not retried")
        expect(recs, "s429-a.test", "unreachable", 429, attempts=AUTO + RETRIES + 1, why="429 after retries")
        for s in unreachable5xx:
            expect(recs, "s%d-a.test" % s, "unreachable", s, attempts=AUTO + RETRIES + 1, why="5xx after retries")
        for s in (301, 302):
            expect(recs, "s%d-a.test" % s, "unavailable", s, attempts=AUTO + 1, why="3xx without Location")
        for n in (1, 2, 3, 4, 5):
            h = "redir%d-a.test" % n
            expect(recs, h, "ok", 200, body=small_body(h, "redir%d" % n), attempts=AUTO + 1,
                   final_url="http://%s/redirect/%d" % (h, n), why="%d redirects" % n)
        for n in (6, 9):
            expect(recs, "redir%d-a.test" % n, "unavailable", why="%d redirects is more than 5" % n)
        expect(recs, "loop-a.test", "unavailable", why="redirect loop")
        expect(recs, "cross-a.test", "ok", 200, body=small_body("cross-target-a.test", "cross-target"),
               final_url="http://cross-target-a.test/robots.txt", why="cross-host redirect, record for the original")
        srv_huge = get_direct(srv, "huge-ref.test")[1]
        cut, _ = expected_cut(srv_huge)
        expect(recs, "huge-a.test", "ok", 200, body=cut, truncated=1, why="2 MiB body cut after its last line "
               "within 500 KiB")
        r = recs.get("huge-a.test", [{}])[0]
        if r.get("body") is not None:
            check(len(r["body"]) <= BODY_MAX and r["body"].endswith(b"\n"),
                  "huge-a.test: kept body <= 500 KiB and ends with a newline (%d bytes)" % len(r["body"]))
        expect(recs, "drip-a.test", "unreachable", attempts=AUTO + RETRIES + 1,
               max_time_ms=(RETRIES + 1) * (TIMEOUT_S * 1000 + 1500), why="drip, within the timeout")
        expect(recs, "gzip-a.test", "ok", 200, body=small_body("gzip-a.test", "gz").replace(b"# gz", b"# gzip-encoded", 1),
               why="gzip content encoding decoded")
        check(any(h == "gzip-a.test" for h, _, _ in srv.requests()), "gzip-a.test: requested from the server")
        expect(recs, "ctype-a.test", "ok", 200, body=small_body("ctype-a.test", "ctype"), why="robots as text/html")
        expect(recs, "html-a.test", "ok", 200, body=get_direct(srv, "html-ref.test")[1], why="an HTML page")
        expect(recs, "reset-a.test", "unreachable", status=0, attempts=AUTO + RETRIES + 1, why="connection reset, retried")
        expect(recs, "slowhead1-a.test", "ok", 200, body=small_body("slowhead1-a.test", "slowhead"),
               why="1 s before the headers, within the timeout")
        expect(recs, "slowhead9-a.test", "unreachable", status=0, attempts=AUTO + RETRIES + 1,
               max_time_ms=(RETRIES + 1) * (TIMEOUT_S * 1000 + 1500), why="9 s before the headers: timeout")
        expect(recs, "flaky-a.test", "ok", 200, body=small_body("flaky-a.test", "flaky"), attempts=AUTO + 2,
               why="503 once, then 200 on the retry")
        expect(recs, "nx-whatever.invalid", "no_such_host", status=0, why=".invalid, no lookup")
        seen = srv.hosts_requested()
        check("nx-whatever.invalid" not in seen, "nx-whatever.invalid: the server got no request")
        check("cross-target-a.test" in seen, "cross-a.test: the redirect target was requested from the server")
        check(all(h in seen for h in sample), "real hosts: each requested from the server (https fell back)")
    finally:
        srv.stop()


def scenario_low_speed():
    print("== low-speed limit", flush=True)
    srv = Server("lowspeed")
    try:
        out = os.path.join(TMP, "lowspeed")
        p = fetch(out, ["drip-ls.test"], "--connect-to", srv.addr, "--scheme", "http", "--timeout", "120",
                  "--retries", "0", "--quiet")
        check(p.returncode == 0, "low-speed: optout fetch exits 0 (got %d)" % p.returncode)
        recs = by_host(read_archive(out)[0])
        expect(recs, "drip-ls.test", "unreachable", attempts=1, max_time_ms=25000,
               why="one byte a second is below the low-speed limit (default 100 B/s over 10 s), "
                   "long before the 120 s timeout")
    finally:
        srv.stop()


def scenario_schemes():
    print("== schemes", flush=True)
    srv = Server("schemes", SAMPLE)
    try:
        hosts = ["news.example", "s200-h.test", "redir2-h.test", "flaky-h.test"]
        out = os.path.join(TMP, "https-only")
        p = fetch(out, hosts, "--connect-to", srv.addr, "--scheme", "https", "--timeout", "3", "--retries", "0", "--quiet")
        check(p.returncode == 0, "https only: optout fetch exits 0 (got %d)" % p.returncode)
        recs = by_host(read_archive(out)[0])
        for h in hosts:
            expect(recs, h, "unreachable", status=0, why="--scheme https against a plain-HTTP server: TLS fails, no fallback")
        check(not srv.requests(), "https only: no HTTP request reached the server (%d)" % len(srv.requests()))
        out = os.path.join(TMP, "http-only")
        p = fetch(out, hosts, "--connect-to", srv.addr, "--scheme", "http", "--timeout", "3", "--retries", "1", "--quiet")
        check(p.returncode == 0, "http only: optout fetch exits 0 (got %d)" % p.returncode)
        recs = by_host(read_archive(out)[0])
        expect(recs, "news.example", "ok", 200, body=open(os.path.join(SAMPLE, "news.example"), "rb").read(),
               final_url="http://news.example/robots.txt", why="--scheme http")
        expect(recs, "s200-h.test", "ok", 200, body=small_body("s200-h.test", "s200"), why="--scheme http")
        expect(recs, "redir2-h.test", "ok", 200, final_url="http://redir2-h.test/redirect/2", attempts=1, why="--scheme http")
        expect(recs, "flaky-h.test", "ok", 200, body=small_body("flaky-h.test", "flaky"), attempts=2,
               why="--scheme http: 503 once, then 200 on the retry")
    finally:
        srv.stop()


def scenario_safety():
    print("== safety (no --connect-to, no --allow-private)", flush=True)
    srv = Server("safety")
    try:
        hosts = ["127.0.0.1:%d" % srv.port, "localhost:%d" % srv.port]
        out = os.path.join(TMP, "safety")
        p = fetch(out, hosts, "--timeout", "3", "--connect-timeout", "2", "--retries", "0", "--quiet")
        check(p.returncode == 0, "safety: optout fetch exits 0 (got %d)" % p.returncode)
        recs = by_host(read_archive(out)[0])
        for h in hosts:
            expect(recs, h, "unreachable", status=0, error_re=r"refus|not public|private|loopback|forbidden|blocked",
                   why="loopback address refused")
        time.sleep(0.2)
        check(not srv.requests(), "safety: the server saw no request (%s)" % srv.requests()[:3])
        # control: allowed, the same host reaches the server (unknown key: 404)
        out = os.path.join(TMP, "safety-allowed")
        p = fetch(out, hosts[:1], "--allow-private", "--scheme", "http", "--timeout", "3", "--retries", "0", "--quiet")
        recs = by_host(read_archive(out)[0])
        expect(recs, hosts[0], "unavailable", 404, why="--allow-private: reaches the server, which has no such host")
        check(hosts[0] in srv.hosts_requested(), "safety control: the server saw the request with --allow-private")
    finally:
        srv.stop()


def scenario_resume():
    print("== resume after kill -9", flush=True)
    srv = Server("resume")
    try:
        hosts = []
        for i in range(2000):
            kind = ("slowhead2", "s200", "slowhead2", "s404", "slowhead2", "s410", "redir1", "slowhead2")[i % 8]
            hosts.append("%s-r%04d.test" % (kind, i))
        out = os.path.join(TMP, "resume")
        args = ["--connect-to", srv.addr, "--scheme", "http", "--concurrency", "100", "--timeout", "10", "--retries", "0", "--quiet"]
        hosts_file = os.path.join(TMP, "resume.hosts")
        proc = fetch(out, hosts, *args, wait=False, hosts_file=hosts_file)
        t0, killed = time.time(), False
        while time.time() - t0 < 60:
            if proc.poll() is not None:
                break
            n = sum(open(t, "rb").read().count(b"\n") for t in glob.glob(os.path.join(out, "robots", "*.tsv")))
            if n >= 400 or time.time() - t0 >= 8:  # 8 s: about a third of the run
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
        proc.wait()
        check(killed, "resume: the first run was killed mid-way (it %s after %.1f s)" % (
            "was killed" if killed else "ended with %s" % proc.returncode, time.time() - t0))
        time.sleep(2.5)  # let the server answer what was in flight (slowhead2)
        first, torn1, malformed1 = read_archive(out, with_bodies=False)
        done_first = set(r["host"] for r in first)
        before = srv.hosts_requested()
        check(not malformed1, "resume: the killed run's archive is readable (%s)" % malformed1[:3])
        check(0 < len(done_first) < len(hosts), "resume: the killed run recorded some hosts, not all (%d of %d, "
              "torn tail %d)" % (len(done_first), len(hosts), torn1))
        p = fetch(out, hosts, *args, hosts_file=hosts_file)
        check(p.returncode == 0, "resume: the rerun exits 0 (got %d)" % p.returncode)
        records, torn, malformed = read_archive(out)
        check(not malformed, "resume: archive well formed after the rerun (%s)" % malformed[:3])
        recs = by_host(records)
        dup = sorted(h for h, rs in recs.items() if len(rs) > 1)
        missing = sorted(set(hosts) - set(recs))
        check(not dup, "resume: no host recorded twice (%d: %s)" % (len(dup), dup[:5]))
        check(not missing, "resume: every host recorded (%d missing: %s)" % (len(missing), missing[:5]))
        after = srv.hosts_requested()
        again = sorted(h for h in done_first if after.get(h, 0) > before.get(h, 0))
        check(not again, "resume: no host recorded by the killed run was requested again (%d: %s)" % (
            len(again), again[:5]))
        wrong = sorted(h for h, rs in recs.items() if rs[0]["outcome"] != {
            "slowhead2": "ok", "s200": "ok", "s404": "unavailable", "s410": "unavailable", "redir1": "ok"}[h.split("-")[0]])
        check(not wrong, "resume: every host's outcome is right after the rerun (%d wrong: %s)" % (len(wrong), wrong[:5]))
        # a third run: nothing to do
        n_req = len(srv.requests())
        t0 = time.time()
        p = fetch(out, hosts, *args, hosts_file=hosts_file)
        check(p.returncode == 0, "resume: a run on a complete archive exits 0 (got %d)" % p.returncode)
        time.sleep(0.3)
        check(len(srv.requests()) == n_req, "resume: a run on a complete archive fetches nothing (%d requests)" % (
            len(srv.requests()) - n_req))
        records2, _, _ = read_archive(out, with_bodies=False)
        check(len(records2) == len(records), "resume: a run on a complete archive adds no record (%d -> %d)" % (
            len(records), len(records2)))
    finally:
        srv.stop()


def scenario_top10k():
    if not TOP10K:
        print("== top10k: skipped (no real robots.txt bodies)", flush=True)
        return
    print("== top10k: every real body of %s" % TOP10K, flush=True)
    srv = Server("top10k", TOP10K)
    try:
        expected = {}
        for name in os.listdir(TOP10K):
            expected[host_key_of_file(name)] = os.path.join(TOP10K, name)
        hosts = sorted(expected)
        out = os.path.join(TMP, "top10k")
        # auto: 4,231 failed TLS handshakes and fallbacks (about a second since the CA bundle is
        # parsed once, not per handshake)
        p = fetch(out, hosts, "--connect-to", srv.addr, "--concurrency", "256", "--timeout", "20", "--quiet")
        check(p.returncode == 0, "top10k: optout fetch exits 0 (got %d) in %.1f s" % (p.returncode, p.elapsed))
        records, torn, malformed = read_archive(out)
        check_format(records, malformed, torn, "top10k")
        recs = by_host(records)
        bad = []
        for h in hosts:
            rs = recs.get(h, [])
            if len(rs) != 1:
                bad.append("%s: %d records" % (h, len(rs)))
                continue
            r = rs[0]
            body, trunc = expected_cut(open(expected[h], "rb").read())
            if r["outcome"] != "ok" or r.get("body") != body or r["truncated"] != trunc:
                bad.append("%s: %s status %d size %d truncated %d (expected size %d truncated %d) %s" % (
                    h, r["outcome"], r["status"], r["size"], r["truncated"], len(body), trunc, r["error"]))
        check(not bad, "top10k: %d hosts ok with the served body (%d wrong%s)" % (
            len(hosts), len(bad), (": " + "; ".join(bad[:5])) if bad else ""))
    finally:
        srv.stop()


def main():
    if not os.access(OPTOUT, os.X_OK):
        print("FAIL: no optout binary at %s" % OPTOUT)
        return 1
    try:
        for s in (scenario_outcomes, scenario_low_speed, scenario_schemes, scenario_safety, scenario_resume,
                  scenario_top10k):
            t0 = time.time()
            try:
                s()
            except Exception as e:
                import traceback
                traceback.print_exc()
                check(False, "%s: raised %s: %s" % (s.__name__, type(e).__name__, e))
            print("   (%.1f s)" % (time.time() - t0), flush=True)
    finally:
        if not failures:
            shutil.rmtree(TMP, ignore_errors=True)
    if failures:
        print("work files kept in " + TMP)
    finish("fetch")


if __name__ == "__main__":
    sys.exit(main())
