#!/usr/bin/python3
"""optout why against the filter: on a generated corpus (FineWeb and Dolma styles, bad lines
included), `optout run --removed` over a robots directory, then over the same bodies fetched from
tools/robots-server, then a fetch run with --top-en 1 --top-intl 1. For each run `optout why --json
--urls FILE` over every document's URL must agree with the filter: removed exactly for the documents
in DIR/removed/, with exactly their "disallowed_user_agents"; explanations must be consistent with
the verdicts (a disallowed agent of an ok host names a Disallow rule); host keys must be those the
generator chose. Then --id (shard and line reported), a not-ranked host, a host without robots.txt,
an unreachable host (both policies), human output, and the error exits.
usage: test_why.py BIN_DIR REPO_ROOT"""
import collections, glob, json, os, re, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import check, finish, robots_server, runner, split_lines, stop, zcat  # noqa: E402

bin_dir, root = sys.argv[1], sys.argv[2]
optout = os.path.join(bin_dir, "optout")
robots = os.path.realpath(os.path.join(root, "data", "sample", "robots"))
run, why = runner(optout, "run"), runner(optout, "why")


def doc_fields(line):
    """(id, url) of a JSON line as the filter reads it; None when not one object."""
    try:
        d = json.loads(line)
    except ValueError:
        return None
    if not isinstance(d, dict):
        return None
    meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
    url = d["url"] if "url" in d else meta.get("url")
    ident = d["id"] if "id" in d else meta.get("id")
    return ident, url


def inputs_of(corpus):
    """[(output name, path, [(lineno, raw line bytes)])] of the generated shards."""
    out = []
    for p in sorted(glob.glob(os.path.join(corpus, "**", "*.jsonl.zst"), recursive=True)):
        lines = split_lines(zcat(p))
        out.append((os.path.relpath(p, corpus), p, [(i + 1, l) for i, l in enumerate(lines)]))
    return out


def removed_of(rundir):
    """Counter of (output name, original line) -> list of agents, from DIR/removed/."""
    got = {}
    for p in glob.glob(os.path.join(rundir, "removed", "**", "*.zst"), recursive=True):
        name = os.path.relpath(p, os.path.join(rundir, "removed"))
        for line in zcat(p).split(b"\n"):
            if not line:
                continue
            agents = json.loads(line)["disallowed_user_agents"]
            k = line.rfind(b'"disallowed_user_agents": [')
            start = k - 2 if line[k - 2:k] == b", " else k
            end = line.index(b"]", k) + 1
            orig = line[:start] + line[end:]
            got.setdefault((name, orig), []).append(agents)
    return got


def meta_keys(corpus):
    """{(output name, lineno): host key} from the generator's _meta/*.lines.tsv."""
    keys = {}
    for name, _, _ in inputs_of(corpus):
        base = os.path.basename(name)[: -len(".jsonl.zst")]
        meta = os.path.join(corpus, os.path.dirname(name), "_meta", base + ".jsonl.zst.lines.tsv")
        if not os.path.exists(meta):
            meta = os.path.join(corpus, os.path.dirname(name), "_meta", os.path.basename(name) + ".lines.tsv")
        if not os.path.exists(meta):
            continue
        for i, row in enumerate(open(meta, encoding="utf-8")):
            kind, key, robots_file = row.rstrip("\n").split("\t")
            if kind == "doc" and robots_file:  # named by a robots file: the key is exact
                keys[(name, i + 1)] = key
    return keys


def agree(label, rundir, corpus, tmp, keys=None):
    """why --json over every document's URL == the filter's removed/. Returns the answers by URL."""
    docs = []  # (name, lineno, line, url)
    for name, _, lines in inputs_of(corpus):
        for n, line in lines:
            f = doc_fields(line)
            if f is None or not isinstance(f[1], str) or not f[1]:
                continue
            if "\n" in f[1]:
                continue
            docs.append((name, n, line, f[1]))
    urls = os.path.join(tmp, label + ".urls")
    with open(urls, "w", encoding="utf-8", errors="surrogatepass") as fh:
        for d in docs:
            fh.write(d[3] + "\n")
    r = why(["--run", rundir, "--json", "--urls", urls])
    check(r.returncode == 0, "%s: why --urls over %d URLs exits 0 (%d: %s)" % (label, len(docs), r.returncode,
                                                                            r.stderr[-300:]))
    answers = [json.loads(l) for l in r.stdout.splitlines()]
    check(len(answers) == len(docs), "%s: one answer per URL (%d for %d)" % (label, len(answers), len(docs)))
    removed = removed_of(rundir)
    want_removed = sum(len(v) for v in removed.values())
    bad = []
    n_removed = 0
    inconsistent = []
    wrong_keys = []
    outcomes = collections.Counter()
    for (name, n, line, url), a in zip(docs, answers):
        outcomes[a["outcome"] or a["url_status"]] += 1
        if a["url"] != url:
            bad.append((name, n, "url echoed as %r" % a["url"]))
            continue
        if a["removed"]:
            n_removed += 1
            lst = removed.get((name, line))
            if not lst:
                bad.append((name, n, "why says removed, the filter kept it"))
            elif a["disallowed_user_agents"] not in lst:
                bad.append((name, n, "agents %s, the filter wrote %s" % (a["disallowed_user_agents"], lst[0])))
            else:
                lst.remove(a["disallowed_user_agents"])
        else:
            if removed.get((name, line)):
                bad.append((name, n, "why says kept, the filter removed it"))
            if a["disallowed_user_agents"]:
                bad.append((name, n, "kept with disallowed agents"))
        dis = set(x["agent"] for x in a["agents"] if x["verdict"] == "disallowed")
        if dis != set(a["disallowed_user_agents"]) or a["removed"] != bool(dis):
            inconsistent.append((name, n, "agents[] disagree with disallowed_user_agents"))
        if a["outcome"] == "ok":
            for x in a["agents"]:
                if x["verdict"] == "disallowed" and not (x["reason"] == "rule" and x["rule"] == "Disallow"):
                    inconsistent.append((name, n, "disallowed without a Disallow rule: %s" % x))
                if x["verdict"] == "allowed" and x["reason"] == "rule" and x["rule"] != "Allow":
                    inconsistent.append((name, n, "allowed by a Disallow rule: %s" % x))
            if not a["robots"]["found"] or not a["robots"]["sha256"]:
                inconsistent.append((name, n, "ok host without its record"))
        if keys is not None and (name, n) in keys and a["host_key"] != keys[(name, n)]:
            wrong_keys.append((name, n, a["host_key"], keys[(name, n)]))
    left = sum(len(v) for v in removed.values())
    for b in bad[:10] + inconsistent[:10] + wrong_keys[:10]:
        print("  ", b)
    check(not bad and left == 0 and n_removed == want_removed,
          "%s: why agrees with the filter on every document (%d removed of %d, %d mismatches, %d removed "
          "documents unexplained); outcomes %s" % (label, n_removed, len(docs), len(bad), left, dict(outcomes)))
    check(not inconsistent, "%s: explanations consistent with the verdicts (%d problems)" % (label, len(inconsistent)))
    if keys is not None:
        check(not wrong_keys, "%s: host keys are the generator's (%d of %d differ)" % (label, len(wrong_keys), len(keys)))
    return {d[3]: a for d, a in zip(docs, answers)}, docs


tmp = tempfile.mkdtemp(prefix="optout-why-")
server = None
try:
    corpus = os.path.join(tmp, "corpus")
    gen = os.path.join(root, "tools", "gen-corpus")
    for style, docs, seed in (("fineweb", 2000, 11), ("dolma", 1500, 12)):
        subprocess.run([gen, "--robots-dir", robots, "--seed", str(seed), "--docs", str(docs), "--shards", "2",
                        "--format", "zst", "--style", style, "--bad-rate", "0.01", "--hosts", "12", "--prefix", style,
                        "--out", os.path.join(corpus, style)], check=True, capture_output=True)
    keys = meta_keys(corpus)
    server, port = robots_server(root, robots)
    fetch = ["--connect-to", "127.0.0.1:" + port, "--timeout", "10", "--connect-timeout", "5"]
    base = ["--corpus", os.path.join(corpus, "**", "*.jsonl.zst"), "--removed", "--workers", "2"]

    dirrun, fetched, top = (os.path.join(tmp, n) for n in ("dir", "fetched", "top"))
    r = run(base + ["--robots-dir", robots, "--out", dirrun])
    check(r.returncode == 0, "run over --robots-dir exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    r = run(base + fetch + ["--out", fetched, "--fetch-tasks", "3", "--partitions", "3"])
    check(r.returncode == 0, "fetch run exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    r = run(base + fetch + ["--out", top, "--top-en", "1", "--top-intl", "1", "--fetch-tasks", "2",
                            "--partitions", "2"])
    check(r.returncode == 0, "top-1 fetch run exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))

    # 1. agreement with the filter on every document
    dir_answers, alldocs = agree("robots-dir run", dirrun, corpus, tmp, keys)
    fetched_answers, _ = agree("fetch run", fetched, corpus, tmp, keys)
    top_answers, _ = agree("top-1 run", top, corpus, tmp)
    other = os.path.join(tmp, "protego")
    r = run(base + ["--robots-dir", robots, "--out", other, "--mode", "protego", "--host-key", "netloc",
                    "--unreachable", "disallow", "--agent", "GPTBot", "--agent", "CCBot/2.0", "--agent", "*"])
    check(r.returncode == 0, "protego / netloc / RFC-strict run exits 0 (%d: %s)" % (r.returncode, r.stderr[-500:]))
    other_answers, _ = agree("protego netloc run", other, corpus, tmp)
    check(all(a["mode"] == "protego" and len(a["agents"]) == 3 for a in other_answers.values()),
          "the plan's mode and agent list are used")
    check(sum(a["removed"] for a in dir_answers.values()) > 100, "the corpus has removed documents to explain")
    check(any(a["url_status"] == "bad_url" for a in dir_answers.values()) and
          all(not a["removed"] for a in dir_answers.values() if a["url_status"] != "ok"),
          "bad URLs are explained as kept (bad_url / no_host)")

    # 2. records: the archive's fields for a fetched ok host, the directory's file for the other run
    a = next(a for a in fetched_answers.values() if a["outcome"] == "ok" and a["removed"])
    rb = a["robots"]
    check(rb["source"] == "archive" and rb["status"] == 200 and re.fullmatch(r"[0-9a-f]{64}", rb["sha256"] or "")
          and rb["size"] > 0 and rb["final_url"].endswith("/robots.txt") and
          re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rb["fetched_at"] or "") and
          re.fullmatch(r"robots/\d+\.tsv:\d+", rb["record"] or "") and rb["truncated"] is False,
          "fetched ok host: status, final URL, time, SHA-256, size and archive line (%s)" % rb)
    body = open(os.path.join(robots, rb["final_url"].split("/")[2].replace(":", "_")), "rb").read()
    import hashlib
    check(hashlib.sha256(body).hexdigest() == rb["sha256"] and rb["size"] == len(body),
          "the archive's SHA-256 and size are those of the served body")
    d = dir_answers[a["url"]]
    check(d["robots"]["source"] == "robots-dir" and d["robots"]["file"].startswith(robots) and
          d["robots"]["sha256"] == rb["sha256"] and d["robots"]["status"] == 200,
          "robots-dir run: the host's file, its SHA-256, and index.tsv's status")
    dis = [x for x in a["agents"] if x["verdict"] == "disallowed"][0]
    check(dis["group_line"] > 0 and dis["rule_line"] >= dis["group_line"] and dis["pattern"],
          "a disallowed agent names group line, rule line and pattern (%s)" % dis)

    # 3. a host without robots.txt: no file (robots-dir) / 404 (fetched)
    nofile = [u for u, a in dir_answers.items() if a["outcome"] == "no_robots"]
    check(len(nofile) > 0, "the corpus has hosts without robots.txt (%d URLs)" % len(nofile))
    if nofile:
        u = nofile[0]
        a, f = dir_answers[u], fetched_answers[u]
        check(not a["removed"] and not a["robots"]["found"] and
              all(x["reason"] == "no_robots" and x["verdict"] == "allowed" for x in a["agents"]),
              "robots-dir: a host without a file is no_robots, every agent allowed, kept")
        check(f["outcome"] == "unavailable" and f["robots"]["status"] == 404 and not f["removed"],
              "fetched: the same host is unavailable (HTTP 404), kept")
        h = why(["--run", dirrun, u])
        check(h.returncode == 0 and "no robots.txt" in h.stdout and h.stdout.rstrip("\n").splitlines()[-1].startswith(
            "  kept: no robots.txt"), "human output for a host without robots.txt:\n" + h.stdout)

    # 4. not ranked (top-1 run)
    nr = [u for u, a in top_answers.items() if a["outcome"] == "not_ranked"]
    check(len(nr) > 0, "the top-1 run has not-ranked hosts (%d URLs)" % len(nr))
    if nr:
        a = top_answers[nr[0]]
        check(not a["removed"] and not a["robots"]["found"] and
              all(x["reason"] == "not_ranked" for x in a["agents"]),
              "a not-ranked host: no archive record, every agent not_ranked, kept")
        h = why(["--run", top, nr[0]])
        last = h.stdout.rstrip("\n").splitlines()[-1]
        check(h.returncode == 0 and "not_ranked: no record in the fetch archive" in h.stdout and
              "top-en 1" in h.stdout and last.startswith("  kept: not ranked"),
              "human output for a not-ranked host:\n" + h.stdout)

    # 5. human output of a removed URL
    u = next(u for u, a in dir_answers.items() if a["removed"] and a["url_status"] == "ok")
    h = why(["--run", dirrun, u])
    lines = h.stdout.rstrip("\n").splitlines()
    a = dir_answers[u]
    check(h.returncode == 0 and lines[0] == u and lines[1].split()[:3] == ["host", "key", a["host_key"]] and
          re.match(r"  robots\.txt\s+ok \(HTTP 200", lines[2]) and
          lines[-1] == "  removed: disallowed for %s (%d of %d agents)" % (
              ", ".join(a["disallowed_user_agents"]), len(a["disallowed_user_agents"]), len(a["agents"])) and
          len(lines) == 3 + len(a["agents"]) + 1,
          "human output of a removed URL:\n" + h.stdout)
    agent_lines = lines[3:-1]
    gpt = [l for l in agent_lines if l.split()[0] == a["agents"][0]["agent"]]
    check(all(re.search(r"\s(allowed|disallowed)\s", l) for l in agent_lines) and
          any(re.search(r"disallowed\s+(no group of its own; \* )?group at line \d+, line \d+: Disallow: ", l)
              for l in agent_lines), "agent lines give verdict, group, line and rule")
    two = why(["--run", dirrun, u, u])
    check(two.returncode == 0 and two.stdout == h.stdout + "\n" + h.stdout, "two URLs: two blocks, a blank line between")

    # 6. --id: FineWeb top-level id and Dolma metadata-less id (the URL), shard and line reported
    picks = []
    for name, path, lines_ in inputs_of(corpus):
        for n, line in lines_:
            f = doc_fields(line)
            if f and isinstance(f[0], str) and isinstance(f[1], str) and f[1] and f[1] in dir_answers:
                picks.append((f[0], name, path, n, f[1]))
    fw = [p for p in picks if p[1].startswith("fineweb")]
    dm = [p for p in picks if p[1].startswith("dolma")]
    chosen = [next(p for p in fw if dir_answers[p[4]]["removed"]), next(p for p in fw if not dir_answers[p[4]]["removed"]),
              fw[-1], next(p for p in dm if dir_answers[p[4]]["removed"])]
    for ident, name, path, n, url in chosen:
        r = why(["--run", dirrun, "--json", "--id", ident])
        out = [json.loads(l) for l in r.stdout.splitlines()]
        occurrences = [(q[1], q[3]) for q in picks if q[0] == ident]
        ok = r.returncode == 0 and len(out) == len(occurrences) and any(
            o["shard"] == os.path.realpath(path) and o["line"] == n and o["url"] == url and o["output_name"] == name
            and o["id"] == ident and o["removed"] == dir_answers[url]["removed"] and
            o["disallowed_user_agents"] == dir_answers[url]["disallowed_user_agents"] for o in out)
        check(ok, "--id %s: found in %s line %d (%d occurrence(s)), same answer as by URL" % (
            ident, name, n, len(occurrences)))
    r = why(["--run", dirrun, "--id", chosen[0][0], "--first"])
    check(r.returncode == 0 and ('line %d' % chosen[0][3]) in r.stdout.splitlines()[1] and
          re.match(r'  document\s+id "' + re.escape(chosen[0][0]) + '"', r.stdout.splitlines()[1]),
          "--id human output names the document's shard and line:\n" + r.stdout)
    nourl = []
    for name, path, lines_ in inputs_of(corpus):
        for n, line in lines_:
            f = doc_fields(line)
            if f and isinstance(f[0], str) and f[0] and not (isinstance(f[1], str) and f[1]):
                nourl.append((f[0], name, n))
    check(len(nourl) > 0, "the corpus has documents without URL (%d)" % len(nourl))
    if nourl:
        r = why(["--run", dirrun, "--json", "--id", nourl[0][0]])
        out = [json.loads(l) for l in r.stdout.splitlines()]
        check(r.returncode == 0 and any(o["url"] is None and o["url_status"] == "no_url" and not o["removed"] and
                                        o["line"] == nourl[0][2] for o in out),
              "--id of a document without URL: no_url, kept (%s)" % r.stdout[:300])
    r = why(["--run", dirrun, "--json", "https://news.example/robots.txt"])
    a = json.loads(r.stdout)
    check(a["outcome"] == "ok" and not a["removed"] and all(x["reason"] == "robots_txt" for x in a["agents"]),
          "/robots.txt is always allowed, and said so for every agent")
    r = why(["--run", dirrun, "--id", "no-such-document-id"])
    check(r.returncode == 1 and "no-such-document-id" in r.stderr, "an unknown --id exits 1 naming it")

    # 7. unreachable: down.example is `unreachable` (HTTP 503) in the robots directory's index.tsv
    r = why(["--run", dirrun, "--json", "https://down.example/private/x"])
    a = json.loads(r.stdout)
    check(a["outcome"] == "unreachable" and not a["removed"] and a["robots"]["status"] == 503 and
          all(x["reason"] == "unreachable" and x["verdict"] == "allowed" for x in a["agents"]),
          "unreachable under the opt-out policy: allowed, kept")
    strict = os.path.join(tmp, "strict")
    r = run(["--corpus", os.path.join(root, "data", "sample", "corpus.jsonl.zst"), "--robots-dir", robots,
             "--removed", "--workers", "1", "--unreachable", "disallow", "--out", strict])
    check(r.returncode == 0, "an RFC-strict run exits 0 (%d: %s)" % (r.returncode, r.stderr[-300:]))
    r = why(["--run", strict, "--json", "https://down.example/private/x"])
    a = json.loads(r.stdout)
    check(a["removed"] and len(a["disallowed_user_agents"]) == len(a["agents"]) and a["unreachable"] == "disallow",
          "unreachable under --unreachable disallow: every agent disallowed, removed")
    h = why(["--run", strict, "https://down.example/private/x"])
    check("RFC-strict" in h.stdout and h.stdout.rstrip("\n").splitlines()[-1].startswith("  removed: disallowed for"),
          "human output names the RFC-strict policy")
    sdocs = [doc_fields(l) for l in zcat(os.path.join(root, "data", "sample", "corpus.jsonl.zst")).splitlines()]
    r = why(["--run", strict, "--json", "--urls", "-"], input="".join(f[1] + "\n" for f in sdocs))
    got = sum(json.loads(l)["removed"] for l in r.stdout.splitlines())
    rep = json.load(open(os.path.join(strict, "report.json")))
    check(r.returncode == 0 and got == rep["docs_removed"],
          "sample corpus, RFC-strict, URLs on stdin: %d removed, report.json says %d" % (got, rep["docs_removed"]))

    # 8. errors
    r = why(["--run", os.path.join(tmp, "no-such-run"), "https://news.example/"])
    check(r.returncode == 2 and "no-such-run" in r.stderr, "no such run directory: exit 2, a usage error (%s)" % r.stderr.strip())
    os.makedirs(os.path.join(tmp, "empty"))
    r = why(["--run", os.path.join(tmp, "empty"), "https://news.example/"])
    check(r.returncode == 1 and "no plan" in r.stderr, "a directory without a plan: exit 1 (%s)" % r.stderr.strip())
    r = why(["--run", dirrun])
    check(r.returncode == 2, "no URL: exit 2")
    r = why(["https://news.example/"])
    check(r.returncode == 2, "no --run: exit 2")
    r = why(["--run", dirrun, "--bogus", "x"])
    check(r.returncode == 2, "unknown option: exit 2")
    moved = os.path.join(tmp, "fetched-no-archive")
    shutil.copytree(fetched, moved, ignore=shutil.ignore_patterns("robots", "*.sock"))
    r = why(["--run", moved, "https://news.example/"])
    check(r.returncode == 1 and "no fetch archive" in r.stderr, "a fetch run without its archive: exit 1 (%s)"
          % r.stderr.strip())
    # a plan with an option why does not model (a future policy knob): answered, with a warning
    import hashlib
    odd = os.path.join(tmp, "odd")
    shutil.copytree(dirrun, odd, ignore=shutil.ignore_patterns("*.sock"))
    text = open(os.path.join(odd, "plan")).read().split("\n")
    opts = sorted([l for l in text if l.startswith("option ")] + ["option sample 0.5"], key=lambda l: l.split(" ")[1])
    body = "".join(o + "\n" for o in opts)
    with open(os.path.join(odd, "plan"), "w") as fh:
        fh.write("optout-plan 1\n" + body + "config " + hashlib.sha256(body.encode()).hexdigest() + "\n" +
                 "".join(l + "\n" for l in text if l.startswith("input")))
    r = why(["--run", odd, "https://news.example/"])
    check(r.returncode == 0 and "--sample 0.5" in r.stderr and "may differ" in r.stderr,
          "an option why does not model is warned about (%s)" % r.stderr.strip())
    r = why(["--run", dirrun, "https://news.example/"])
    check(r.returncode == 0 and r.stderr == "", "a plan of known options: no warning (%s)" % r.stderr.strip())
    r = why(["--run", dirrun, "--urls", os.path.join(tmp, "missing.txt")])
    check(r.returncode == 2, "a missing --urls file: exit 2, a usage error")
finally:
    stop(server)
    shutil.rmtree(tmp, ignore_errors=True)
finish("why")
