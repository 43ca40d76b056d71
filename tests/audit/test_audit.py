#!/usr/bin/python3
"""Audit artefacts end to end: DIR/blocked_hosts.tsv and DIR/manifest.json with `optout verify`.

usage: test_audit.py BIN_DIR SOURCE_DIR AUDIT_TOOL [SHARED_DIR]

blocked_hosts.tsv (written by optout_blocked_write through tests/audit/audit_tool.c):
  - on data/sample/robots (rfc9309 and protego) and on an archive fetched with `optout fetch`
    from tools/robots-server serving those bodies, every host and every agent is checked against
    `optout robots check` (an independent path: the CLI decides URLs) on probe URLs made from the
    file's own rule patterns, "/" and a path no rule names: an agent is listed iff one probe is
    disallowed for it; whole-site iff every probe is; the file is sorted bytewise, has the header,
    and its last column agrees with the third;
  - the archive and the directory give the same lines for the same bodies;
  - with SHARED_DIR: the 4,231 real bodies of robots-top10k, fetched into an archive, give the
    same file as the directory (the time of both is printed).
manifest.json (optout_manifest_write through audit_tool) on a robots-dir run and a fetching run:
  `optout verify` passes; the listed outputs are the run's files (sorted, sizes and SHA-256 as
  Python computes them, no intermediate or hidden file); rewriting it gives identical bytes; one
  flipped byte of an output shard fails naming that file; a deleted output and an unlisted one
  fail; `--inputs` passes, then fails naming a touched corpus input and a touched robots file
  (plain verify still passes); an edited plan fails.
"""
import hashlib, json, os, shutil, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, failures, finish, quiet, real_bodies, run, shared_dir  # noqa: E402

BIN, ROOT, TOOL = sys.argv[1], sys.argv[2], sys.argv[3]
SHARED = shared_dir(ROOT, 4)
OPTOUT = os.path.join(BIN, "optout")
SAMPLE_ROBOTS = os.path.join(ROOT, "data", "sample", "robots")
AGENTS = [l.strip() for l in open(os.path.join(ROOT, "data", "agents", "apertus-paper.txt"))
          if l.strip() and not l.startswith("#")]
quiet()  # host-by-host checks: only the failures are printed


def key_of(name):  # robots directory file name -> host key (robots_dir_scan.h)
    k = name.lower()
    base, sep, port = k.rpartition("_")
    if sep and port.isdigit() and len(port) <= 5:
        k = base if port in ("80", "443") else base + ":" + port
    return k


def read_blocked(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    check(lines[0] == "#host\tagents\twhole_site_agents\twhole_site", "header of %s" % path)
    check(lines[-1] == "", "%s ends with a newline" % path)
    rows = {}
    hosts = []
    for l in lines[1:-1]:
        f = l.split("\t")
        check(len(f) == 4, "4 columns: %r" % l)
        host, agents, whole, flag = f
        check(flag == ("no" if whole == "-" else "yes"), "whole_site flag of %s" % host)
        rows[host] = (agents.split(","), [] if whole == "-" else whole.split(","))
        hosts.append(host)
    check(hosts == sorted(hosts, key=lambda h: h.encode()), "%s sorted bytewise" % path)
    return rows, open(path, "rb").read()


def probes(body):
    """URLs from the body's rule values ('*' as nothing and as 'x', '$' dropped; any key, so that
    misspelled ones such as "Disalow" count as the parser's leniency does), '/' and a path no rule
    names. Values not starting with '/' or '*' are tried with a '/' in front too."""
    urls = {"/", "/optout-probe/unnamed-path.html"}
    for line in body.split("\n"):
        k, sep, v = line.partition(":")
        v = v.split("#")[0].strip().rstrip("$")
        if not sep or not v or k.strip().lower() in ("user-agent", "sitemap", "host"):
            continue
        for base in {v if v[0] in "/*" else "/" + v, "/" + v.lstrip("/*")}:
            for star in ("", "x", "x?"):  # "x?": the rest in the query (Protego encodes '=' in paths)
                u = base.replace("*", star, 1).replace("*", star[:1])
                if not u.startswith("/"):
                    u = "/" + u
                for w in (u, u + "zz"):
                    if not w.startswith("//"):  # a network-path reference: not a path
                        urls.add(w)
    return sorted(u for u in urls if not u.startswith("/robots.txt"))


def expected(body_path, mode):
    """{agent: (disallowed something, disallowed everything probed)} by `optout robots check`."""
    body = open(body_path, encoding="utf-8", errors="replace").read()
    urls = probes(body)
    r = run([OPTOUT, "robots", "check", "--mode", mode, "--robots", body_path, "--urls", "-"],
            input="\n".join(urls) + "\n")
    check(r.returncode == 0, "robots check %s: %s" % (body_path, r.stderr))
    dis = {a: set() for a in AGENTS}
    for line in r.stdout.splitlines():
        verdict, agent, url = line.split("\t")[:3]
        if verdict == "disallowed":
            dis[agent].add(url)
    return {a: (len(dis[a]) > 0, len(dis[a]) == len(urls)) for a in AGENTS}


def check_against_cli(rows, bodies, mode, label, strict=True):
    """bodies: host key -> body file. Not strict: a host listed although no probe is disallowed is
    printed, not failed (protego: rules its quirks make unmatchable, e.g. www.dal.ca's
    "*/search.html?*q=*$", are still rules of the file)."""
    for host, path in sorted(bodies.items()):
        exp = expected(path, mode)
        some = [a for a in AGENTS if exp[a][0]]
        whole = [a for a in AGENTS if exp[a][1]]
        if not some:
            if host in rows and not strict:
                print("%s %s: %s listed, no probe disallowed (a rule no URL matches)" % (label, mode, host))
                continue
            check(host not in rows, "%s %s: %s listed but no probe is disallowed" % (label, mode, host))
            continue
        check(host in rows, "%s %s: %s not listed (disallowed for %s)" % (label, mode, host, some))
        if host in rows:
            check(rows[host][0] == some, "%s %s %s agents: %s, robots check says %s" % (label, mode, host, rows[host][0], some))
            check(rows[host][1] == whole, "%s %s %s whole-site: %s, robots check says %s" % (label, mode, host, rows[host][1], whole))
    extra = set(rows) - set(bodies)
    check(not extra, "%s %s: hosts without an ok body listed: %s" % (label, mode, sorted(extra)))


def blocked(args, out):
    os.makedirs(out, exist_ok=True)
    r = run([TOOL, "blocked", "--out", out] + args)
    check(r.returncode == 0, "audit_tool blocked %s: %s" % (args, r.stderr))
    return json.loads(r.stdout) if r.returncode == 0 else {}


def start_server(bodies):
    server = subprocess.Popen([os.path.join(ROOT, "tools", "robots-server"), "--port", "0", "--bodies", bodies],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = server.stdout.readline().strip().rsplit(":", 1)[1]
    return server, port


def fetch(hosts, out, port):  # the archive is out/robots
    hf = out + ".hosts"
    open(hf, "w").write("\n".join(hosts) + "\n")
    r = run([OPTOUT, "fetch", "--hosts", hf, "--out", out, "--connect-to", "127.0.0.1:" + port,
             "--timeout", "20", "--connect-timeout", "5"])
    check(r.returncode == 0, "optout fetch: %s" % r.stderr[-2000:])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(d, *extra):
    r = run([OPTOUT, "verify", d] + list(extra))
    mism = [l.split("\t") for l in r.stdout.splitlines() if l.startswith("MISMATCH\t")]
    return r.returncode, mism, r.stderr


def flip(path, offset):
    b = bytearray(open(path, "rb").read())
    b[offset] ^= 0x01
    st = os.stat(path)
    open(path, "wb").write(bytes(b))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: only the hash tells


def manifest(d, *extra):
    r = run([TOOL, "manifest", d] + list(extra))
    check(r.returncode == 0, "audit_tool manifest %s: %s" % (d, r.stderr))
    return json.loads(r.stdout) if r.returncode == 0 else {}


def check_manifest_listing(d, m):
    outs = [o["path"] for o in m["outputs"]]
    check(outs == sorted(outs, key=lambda p: p.encode()), "outputs sorted")
    for o in m["outputs"]:
        p = os.path.join(d, o["path"])
        check(os.path.getsize(p) == o["size"] and sha256(p) == o["sha256"], "size/sha256 of %s" % o["path"])
    want = []
    for top, rec in (("shards", 1), ("removed", 1), ("tags", 1), ("robots", 0), ("ranking", 0)):
        base = os.path.join(d, top)
        for dp, dns, fns in os.walk(base):
            dns[:] = [x for x in dns if not x.startswith(".")] if rec else []
            for fn in fns:
                if fn.startswith("."):
                    continue
                if top == "ranking" and not (fn.endswith(".tsv") or fn == "hosts.txt"):
                    continue
                want.append(os.path.relpath(os.path.join(dp, fn), d))
    for fn in ("report.json", "report.md", "report.msgpack", "loss-by-year.svg", "blocked_hosts.tsv"):
        if os.path.exists(os.path.join(d, fn)):
            want.append(fn)
    check(sorted(want) == sorted(outs), "outputs listed: %s, files: %s" % (sorted(outs), sorted(want)))


def main():
    tmp = tempfile.mkdtemp(prefix="optout-audit-")
    server = None
    try:
        # ---- blocked_hosts.tsv on the sample robots directory, both modes ----
        index = {}
        for l in open(os.path.join(SAMPLE_ROBOTS, "index.tsv")):
            if not l.startswith("#") and l.strip():
                f = l.split("\t")
                index[f[0]] = f[1]
        bodies = {key_of(n): os.path.join(SAMPLE_ROBOTS, n) for n in os.listdir(SAMPLE_ROBOTS) if n != "index.tsv"}
        ok_bodies = {h: p for h, p in bodies.items() if index.get(h, "ok") == "ok"}
        dir_rows = {}
        for mode in ("rfc9309", "protego"):
            out = os.path.join(tmp, "dir-" + mode)
            c = blocked(["--robots-dir", SAMPLE_ROBOTS, "--mode", mode], out)
            rows, raw = read_blocked(os.path.join(out, "blocked_hosts.tsv"))
            dir_rows[mode] = raw
            check_against_cli(rows, ok_bodies, mode, "robots-dir")
            check(c.get("hosts_blocking") == len(rows), "counts.hosts_blocking")
            check(c.get("hosts_whole_site") == sum(1 for r in rows.values() if r[1]), "counts.hosts_whole_site")
            check(c.get("fetched_from") == 1736935200 and c.get("fetched_to") == 1736935206, "index.tsv time range")
            print("robots-dir %s: %d hosts listed, %d whole-site" % (mode, len(rows), c.get("hosts_whole_site", -1)))
        check(not os.path.exists(os.path.join(tmp, "dir-rfc9309", ".blocked_hosts.tsv.tmp.%d" % os.getpid())),
              "no temporary left")

        # ---- the same bodies fetched into an archive ----
        server, port = start_server(SAMPLE_ROBOTS)
        archive = os.path.join(tmp, "archive")
        fetch(sorted(bodies) + ["missing.example"], archive, port)
        for mode in ("rfc9309", "protego"):
            out = os.path.join(tmp, "arc-" + mode)
            c = blocked(["--archive", os.path.join(archive, "robots"), "--mode", mode], out)
            rows, raw = read_blocked(os.path.join(out, "blocked_hosts.tsv"))
            check_against_cli(rows, bodies, mode, "archive")  # every sample file is served: all ok
            check(c.get("hosts") == len(bodies) + 1 and c.get("hosts_ok") == len(bodies), "archive counts %s" % c)
            check(c.get("fetched_from", 0) > 1700000000 and c["fetched_to"] >= c["fetched_from"], "archive time range")
            # the directory's file minus nothing: the sample's non-ok index entries have no body file
            check(raw == dir_rows[mode], "archive and robots-dir give the same file (%s)" % mode)
        # an empty archive gives just the header
        c = blocked(["--archive", os.path.join(tmp, "no-such-archive")], os.path.join(tmp, "empty"))
        check(open(os.path.join(tmp, "empty", "blocked_hosts.tsv")).read() ==
              "#host\tagents\twhole_site_agents\twhole_site\n", "empty archive: header only")

        # ---- the 4,231 real bodies ----
        top = real_bodies(SHARED, required=False)
        if top:
            server.send_signal(signal.SIGTERM)
            server.wait()
            server, port = start_server(top)
            hosts = sorted(key_of(n) for n in os.listdir(top) if n != "index.tsv")
            tarc = os.path.join(tmp, "top-archive")
            t0 = time.time()
            fetch(hosts, tarc, port)
            print("top10k: fetched %d hosts in %.1f s" % (len(hosts), time.time() - t0))
            for mode in ("rfc9309", "protego"):
                cd = blocked(["--robots-dir", top, "--mode", mode], os.path.join(tmp, "topd-" + mode))
                ca = blocked(["--archive", os.path.join(tarc, "robots"), "--mode", mode], os.path.join(tmp, "topa-" + mode))
                rd, rawd = read_blocked(os.path.join(tmp, "topd-" + mode, "blocked_hosts.tsv"))
                ra, rawa = read_blocked(os.path.join(tmp, "topa-" + mode, "blocked_hosts.tsv"))
                check(rawd == rawa, "top10k %s: archive and directory give the same file" % mode)
                print("top10k %s: %d of %d hosts block some agent, %d the whole site; directory %.3f s, "
                      "archive %.3f s" % (mode, cd.get("hosts_blocking", -1), cd.get("hosts", -1),
                                          cd.get("hosts_whole_site", -1), cd.get("seconds", -1), ca.get("seconds", -1)))
                # the CLI cross-check on every 20th host (all of them with OPTOUT_AUDIT_FULL=1: minutes)
                step = 1 if os.environ.get("OPTOUT_AUDIT_FULL") else 20
                sub = {key_of(n): os.path.join(top, n) for n in sorted(os.listdir(top))[::step] if n != "index.tsv"}
                sub_rows = {h: r for h, r in rd.items() if h in sub}
                check_against_cli(sub_rows, sub, mode, "top10k", strict=mode == "rfc9309")
        else:
            print("top10k: skipped (no %s)" % top)

        # ---- manifest.json on a robots-dir run ----
        corpus = os.path.join(tmp, "in", "corpus.jsonl.zst")
        os.makedirs(os.path.dirname(corpus))
        shutil.copy2(os.path.join(ROOT, "data", "sample", "corpus.jsonl.zst"), corpus)
        robots = os.path.join(tmp, "robots")
        shutil.copytree(SAMPLE_ROBOTS, robots)
        d = os.path.join(tmp, "run")
        r = run([OPTOUT, "run", "--robots-dir", robots, "--corpus", corpus, "--out", d, "--removed"])
        check(r.returncode == 0, "optout run: %s" % r.stderr[-2000:])
        blocked(["--robots-dir", robots], d)
        agents_file = os.path.join(ROOT, "data", "agents", "apertus-paper.txt")
        s = manifest(d, "--agents-file", agents_file, "--agents-name", "apertus-paper.txt",
                     "--agents-sha256", sha256(agents_file), "--from", "1736935200", "--to", "1736935206")
        m = json.load(open(os.path.join(d, "manifest.json")))
        check(m["format"] == "optout-manifest" and m["version"] == 1, "format and version")
        check(m["robots"] == {"source": os.path.realpath(robots), "from": "2025-01-15T10:00:00Z",
                              "to": "2025-01-15T10:00:06Z"}, "robots: %s" % m["robots"])
        check(m["config"]["options"]["mode"] == "rfc9309" and m["config"]["options"]["removed"] == "yes", "options")
        plan_cfg = [l.split()[1] for l in open(os.path.join(d, "plan")) if l.startswith("config ")][0]
        check(m["config"]["sha256"] == plan_cfg, "config hash from the plan")
        roles = [i["role"] for i in m["inputs"]]
        check(roles == ["corpus", "agents", "robots-dir"], "input roles %s" % roles)
        check(m["inputs"][0]["sha256"] == sha256(corpus), "corpus hashed (small)")
        check(m["inputs"][2]["files"] == len(os.listdir(robots)), "robots-dir file count")
        check_manifest_listing(d, m)
        check(s.get("outputs") == len(m["outputs"]), "summary outputs")
        first = open(os.path.join(d, "manifest.json"), "rb").read()
        manifest(d, "--agents-file", agents_file, "--agents-name", "apertus-paper.txt",
                 "--agents-sha256", sha256(agents_file), "--from", "1736935200", "--to", "1736935206")
        check(open(os.path.join(d, "manifest.json"), "rb").read() == first, "rewriting gives identical bytes")

        rc, mism, err = verify(d)
        check(rc == 0 and not mism, "verify of an untouched run: %d %s %s" % (rc, mism, err))
        rc, mism, err = verify(d, "--inputs")
        check(rc == 0 and not mism, "verify --inputs of an untouched run: %d %s %s" % (rc, mism, err))
        print("verify:", err.strip())

        shard = os.path.join(d, "shards", "corpus.jsonl.zst")
        flip(shard, os.path.getsize(shard) // 2)
        rc, mism, err = verify(d)
        check(rc == 1 and [x[1:3] for x in mism] == [["output", "shards/corpus.jsonl.zst"]],
              "flipped byte: %d %s" % (rc, mism))
        print("flipped byte:", mism)
        flip(shard, os.path.getsize(shard) // 2)
        check(verify(d)[0] == 0, "restored byte verifies again")

        removed = os.path.join(d, "removed", "corpus.jsonl.zst")
        saved = open(removed, "rb").read()
        os.unlink(removed)
        rc, mism, err = verify(d)
        check(rc == 1 and [x[1:] for x in mism] == [["output", "removed/corpus.jsonl.zst", "missing"]],
              "deleted output: %d %s" % (rc, mism))
        open(removed, "wb").write(saved)
        os.makedirs(os.path.join(d, "shards", "more"))
        open(os.path.join(d, "shards", "more", "x.jsonl.zst"), "wb").write(b"x")
        open(os.path.join(d, "shards", ".hidden.tmp"), "wb").write(b"x")  # staging-like: ignored
        rc, mism, err = verify(d)
        check(rc == 1 and [x[1:] for x in mism] == [["output", "shards/more/x.jsonl.zst", "not in the manifest"]],
              "unlisted output: %d %s" % (rc, mism))
        shutil.rmtree(os.path.join(d, "shards", "more"))
        check(verify(d)[0] == 0, "clean again")

        st = os.stat(corpus)
        os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        check(verify(d)[0] == 0, "plain verify does not look at inputs")
        rc, mism, err = verify(d, "--inputs")
        check(rc == 1 and [x[1:3] for x in mism] == [["input", corpus]], "touched input: %d %s" % (rc, mism))
        print("touched input:", mism)
        os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns))
        rfile = os.path.join(robots, "news.example")
        rst = os.stat(rfile)
        flip(rfile, 10)  # same size, same mtime: only the content hash can tell
        rc, mism, err = verify(d, "--inputs")
        check(rc == 1 and [x[1:] for x in mism] == [["input", os.path.realpath(robots), "content SHA-256 differs"]],
              "changed robots body: %d %s" % (rc, mism))
        flip(rfile, 10)
        os.utime(rfile, ns=(rst.st_atime_ns, rst.st_mtime_ns + 5))
        rc, mism, err = verify(d, "--inputs")
        check(rc == 1 and len(mism) == 1 and mism[0][2] == os.path.realpath(robots), "touched robots file: %s" % mism)
        os.utime(rfile, ns=(rst.st_atime_ns, rst.st_mtime_ns))
        check(verify(d, "--inputs")[0] == 0, "inputs restored")

        plan = os.path.join(d, "plan")
        text = open(plan).read()
        open(plan, "w").write(text.replace("option level 3\n", "option level 4\n"))
        rc, mism, err = verify(d)
        check(rc == 1 and mism and mism[0][1] == "plan", "edited plan: %d %s" % (rc, mism))
        open(plan, "w").write(text)

        open(os.path.join(d, "manifest.json"), "w").write('{"format": "something else"}')
        rc, mism, err = verify(d)
        check(rc == 1 and "not an optout manifest" in err, "foreign manifest: %d %s" % (rc, err))
        check(run([OPTOUT, "verify"]).returncode == 2, "usage error")

        # ---- a fetching run: the archive packs and the ranking are outputs ----
        server.send_signal(signal.SIGTERM)
        server.wait()
        server, port = start_server(SAMPLE_ROBOTS)
        d2 = os.path.join(tmp, "run-fetched")
        r = run([OPTOUT, "run", "--corpus", corpus, "--out", d2, "--connect-to", "127.0.0.1:" + port, "--removed"])
        check(r.returncode == 0, "optout run (fetching): %s" % r.stderr[-2000:])
        c = blocked(["--archive", os.path.join(d2, "robots")], d2)
        check(c.get("fetched_from", 0) > 0, "fetched run: time range from the archive")
        manifest(d2, "--from", str(c.get("fetched_from", 0)), "--to", str(c.get("fetched_to", 0)),
                 "--hash-limit", "-1")
        m2 = json.load(open(os.path.join(d2, "manifest.json")))
        outs = [o["path"] for o in m2["outputs"]]
        check("robots/000000.tsv" in outs and "ranking/hosts.txt" in outs and "ranking/en.tsv" in outs,
              "archive packs and ranking listed")
        check(not any(p.startswith(("ranking/map/", "ranking/top/")) for p in outs), "ranking intermediates not listed")
        check(m2["robots"]["source"] == "fetched", "source fetched")
        check(all(i["sha256"] is None for i in m2["inputs"]), "--hash-limit -1: no input hashed")
        check_manifest_listing(d2, m2)
        rc, mism, err = verify(d2, "--inputs")
        check(rc == 0 and not mism, "fetched run verifies: %s %s" % (mism, err))
        pack = os.path.join(d2, "robots", "000000.tsv")
        flip(pack, os.path.getsize(pack) - 2)
        rc, mism, err = verify(d2)
        check(rc == 1 and [x[2] for x in mism] == ["robots/000000.tsv"], "flipped archive byte: %s" % mism)
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait()
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp, file=sys.stderr)
    finish("audit")


if __name__ == "__main__":
    sys.exit(main())
