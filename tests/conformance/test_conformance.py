#!/usr/bin/python3
"""Runs the shared robots.txt conformance suites through `optout robots check --mode rfc9309`.

usage: test_conformance.py OPTOUT_BINARY CONFORMANCE_DIR

Case selection and interpretation are those of ../shared/tools/robots-conformance: the matching
cases of google_robotstxt_cases.jsonl, google_spec_test_cases.jsonl and
texting_robots_realworld_cases.jsonl; the body is robots_b64 when present, else robots; the
expected answer is `allowed`, or `google_cpp_allowed` where `allowed` is absent. A case is
*flagged* (not judged) when it is google_specific, rfc_strict_may_differ, test_type
GOOGLE_SPECIFIC, google_cpp_agrees false, or has an empty agent or URL; every other case is
*strict* and must agree, unless it is listed in known_deviations.tsv (beside this script) with the
answer we give. A listed case that now agrees (or no longer exists) is a stale entry: a failure.

Flagged cases are still run (except those with an empty agent, which the CLI rejects by contract)
and every one on which we answer differently is printed with its reason, for information.

aux_cases.jsonl is checked where the CLI can observe the property (see check_aux below).

Speed: each (body, agent) pair is written once and all its URLs go through one CLI call.
Exit: 0 when every strict case agrees or is listed, 1 otherwise, 77 when the suites are absent.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from optout_test import skip  # noqa: E402

SUITES = ["google_robotstxt_cases.jsonl", "google_spec_test_cases.jsonl", "texting_robots_realworld_cases.jsonl"]
HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_DEVIATIONS = os.path.join(HERE, "known_deviations.tsv")
CALL_TIMEOUT = 60


def flags_of(c):
    """The reasons a case is not judged (empty list: strict), as the shared tool decides."""
    f = []
    if c.get("google_specific"):
        f.append("google_specific")
    if c.get("rfc_strict_may_differ"):
        f.append("rfc_strict_may_differ")
    if c.get("test_type") == "GOOGLE_SPECIFIC":
        f.append("GOOGLE_SPECIFIC")
    if c.get("google_cpp_agrees") is False:
        f.append("google_cpp_agrees=false")
    if not c.get("agent"):
        f.append("empty agent")
    if not c.get("url"):
        f.append("empty url")
    return f


def reason_of(c):
    for key in ("google_specific_reason", "rfc_strict_note", "reason", "explanation"):
        if c.get(key):
            return c[key]
    if c.get("google_cpp_agrees") is False and "google_cpp_allowed" in c:
        return "expected %s (%s) but Google's C++ library says %s" % (
            "allowed" if c["allowed"] else "disallowed", c.get("source", "?"),
            "allowed" if c["google_cpp_allowed"] else "disallowed")
    return "(no reason given)"


def verdict_word(allowed):
    return "allowed" if allowed else "disallowed"


def agent_acceptable(name):
    """optout_agents_add's rule (agents.h): trimmed, the token up to '/' or white space is non-empty."""
    ws = " \t\n\r\v\f"
    name = name.strip(ws)
    token = name
    for i, ch in enumerate(name):
        if ch == "/" or ch in ws:
            token = name[:i]
            break
    return token


class Runner:
    def __init__(self, optout):
        self.optout = optout
        self.tmp = tempfile.TemporaryDirectory(prefix="optout-conformance-")
        self.nfiles = 0
        self.calls = 0

    def write_body(self, body):
        path = os.path.join(self.tmp.name, "robots%d.txt" % self.nfiles)
        self.nfiles += 1
        with open(path, "wb") as f:
            f.write(body)
        return path

    def run(self, agent, robots_path, urls, explain=False):
        """Returns (returncode, list of output lines split on TAB, stderr)."""
        argv = [self.optout, "robots", "check", "--mode", "rfc9309", "--agent", agent, "--robots", robots_path]
        if explain:
            argv.append("--explain")
        argv.append("--")
        argv.extend(urls)
        self.calls += 1
        try:
            p = subprocess.run(argv, capture_output=True, timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            return "timeout", [], ""
        lines = p.stdout.decode("utf-8", errors="replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return p.returncode, [l.split("\t") for l in lines], p.stderr.decode("utf-8", errors="replace").strip()

    def verdicts(self, agent, robots_path, urls):
        """One verdict per URL: 'allowed', 'disallowed' or 'error:...'."""
        rc, rows, err = self.run(agent, robots_path, urls)
        if rc == 0 and len(rows) == len(urls) and all(r[0] in ("allowed", "disallowed") for r in rows):
            return [r[0] for r in rows]
        if len(urls) > 1:  # find out which URL the batch failed on
            return [self.verdicts(agent, robots_path, [u])[0] for u in urls]
        return ["error:%s %s" % (rc, err[:200])]


def load_cases(cdir):
    cases = []
    for name in SUITES:
        with open(os.path.join(cdir, name), encoding="utf-8") as f:
            for i, line in enumerate(f):
                if not line.strip():
                    continue
                c = json.loads(line)
                if "allowed" not in c and "google_cpp_allowed" in c:
                    c["allowed"] = c["google_cpp_allowed"]
                c["_file"] = name
                c.setdefault("name", "%s#%d" % (name, i))
                c["_body"] = base64.b64decode(c["robots_b64"]) if c.get("robots_b64") else c["robots"].encode("utf-8")
                c["_flags"] = flags_of(c)
                cases.append(c)
    return cases


def load_known(path):
    known = {}
    problems = []
    if not os.path.exists(path):
        return known, problems
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 3 or cols[1] not in ("allowed", "disallowed"):
                problems.append("%s:%d: want NAME<TAB>allowed|disallowed<TAB>REASON" % (os.path.basename(path), n))
                continue
            known[cols[0]] = (cols[1], cols[2])
    return known, problems


def run_matching(runner, cases):
    groups = {}
    for c in cases:
        if not agent_acceptable(c.get("agent", "")):
            c["_got"] = "not run: empty agent (rejected by the CLI)"
            continue
        groups.setdefault((c["_body"], c["agent"]), []).append(c)
    for (body, agent), group in groups.items():
        path = runner.write_body(body)
        got = runner.verdicts(agent, path, [c["url"] for c in group])
        for c, v in zip(group, got):
            c["_got"] = v


# ---- aux_cases.jsonl -------------------------------------------------------------------------
#
# path_params_query: the CLI does not print the path it matches, but an exact-match rule shows it:
#   with "Disallow: EXPECTED$" the URL is disallowed iff its path+params+query is EXPECTED.
# escape_pattern: --explain prints the normalised pattern of the deciding rule; with
#   "Disallow: /INPUT" and the URL "/EXPECTED" the printed pattern must be "/EXPECTED" (no '/'
#   is prefixed when INPUT already starts with one).
# parse_stats / line_metadata: optout does not count directives nor report sitemaps; what the CLI
#   shows is the effect of the parse. Each case's expected counts are translated below (by hand,
#   from the body) into the group/rule lines --explain must print for some agent and URL: a line
#   count of 6 means the final Disallow is reported at line 6; 2 valid directives in a BOM case
#   mean the User-agent line was recognised, so its Allow decides; 1 valid + 1 unknown means one of
#   them was not, and so on. The sitemap value itself is not observable (reported as such).
# valid_user_agent: Google's IsValidUserAgentToObey accepts only [A-Za-z_-]+; optout deliberately
#   reads an agent name as its token up to the first '/' or white space (agents.h), so
#   these expectations are Google's, not ours. What is checked is our contract: a name whose token
#   is empty is refused by --agent (exit 2); any other is accepted and obeys a
#   "User-agent: TOKEN" group. Where Google would refuse a name we accept, it is printed as a
#   deliberate difference, not a failure.

AUX_EXPLAIN = {
    # name: [(agent, url, expected verdict, expected --explain text)]
}
for _n in ("kUnixFile", "kDosFile", "kMacFile", "kNoFinalNewline", "kMixedFile"):
    # valid_directives 4, last_line_seen 6: UA foo (1), Allow (2), UA bar (3), Disallow (6)
    AUX_EXPLAIN["ID_LinesNumbersAreCountedCorrectly/" + _n] = [
        ("foo", "/some/path", "allowed", "group at line 1, line 2: Allow: /some/path"),
        ("bar", "/x", "disallowed", "group at line 3, line 6: Disallow: /"),
    ]
for _n in ("kUtf8FileFullBOM", "kUtf8FilePartial2BOM", "kUtf8FilePartial1BOM"):
    # valid 2, unknown 0: the (partial) BOM is skipped, the User-agent line is recognised
    AUX_EXPLAIN["ID_UTF8ByteOrderMarkIsSkipped/" + _n] = [
        ("foo", "/AnyValue", "allowed", "group at line 1, line 2: Allow: /AnyValue")]
# valid 1, unknown 1: the broken BOM spoils the User-agent line; the Allow is outside any group
AUX_EXPLAIN["ID_UTF8ByteOrderMarkIsSkipped/kUtf8FileBrokenBOM"] = [
    ("foo", "/AnyValue", "allowed", "no group for this agent and no User-agent: * group")]
# valid 1, unknown 1: a BOM in the middle spoils the Allow line; foo's group has no rule
AUX_EXPLAIN["ID_UTF8ByteOrderMarkIsSkipped/kUtf8BOMSomewhereInMiddleOfFile"] = [
    ("foo", "/AnyValue", "allowed", "no rule matches")]
# sitemap: not observable; the Sitemap line must not disturb the groups around it
AUX_EXPLAIN["ID_NonStandardLineExample_Sitemap/sitemap_at_end"] = [
    ("foo", "/some/path", "allowed", "group at line 1, line 2: Allow: /some/path")]
AUX_EXPLAIN["ID_NonStandardLineExample_Sitemap/sitemap_at_start"] = [
    ("foo", "/some/path", "allowed", "group at line 2, line 3: Allow: /some/path")]
# line metadata: line 3 "User-Agent bar" (missing colon) is a User-agent line; lines 4-8 (unknown,
# comment, empty, unicorns, noarchive) do not end bar's group; line 9 is its Disallow; the typos
# "useragent" (11) and "disallaw" (12) are accepted.
AUX_EXPLAIN["reporting_robots_test/LinesNumbersAreCountedCorrectly/kSimpleFile"] = [
    ("foo", "/some/path", "allowed", "group at line 1, line 2: Allow: /some/path"),
    ("bar", "/x", "disallowed", "group at line 3, line 9: Disallow: /"),
    ("baz", "/some/thing", "disallowed", "group at line 11, line 12: Disallow: /some"),
    ("baz", "/other", "allowed", "no rule matches"),
]
SITEMAP_ONLY = {"ID_NonStandardLineExample_Sitemap/sitemap_at_end", "ID_NonStandardLineExample_Sitemap/sitemap_at_start"}


def check_aux(runner, path):
    """Returns (checked, failures, notes)."""
    checked = 0
    failures, notes = [], []
    with open(path, encoding="utf-8") as f:
        aux = [json.loads(l) for l in f if l.strip()]
    kinds = {}
    for c in aux:
        kinds.setdefault(c["kind"], []).append(c)
    for kind, cs in kinds.items():
        kind_checked = 0
        for c in cs:
            label = "%s %s" % (kind, c.get("name") or repr(c.get("input")))
            body = base64.b64decode(c["robots_b64"]) if c.get("robots_b64") else c.get("robots", "").encode("utf-8")
            if kind == "path_params_query":
                exp = c["expected"]
                if any(ch in exp for ch in "#*$\r\n"):
                    notes.append("%s: expected path not expressible as a rule: not checked" % label)
                    continue
                rp = runner.write_body(("User-agent: *\nDisallow: %s$\n" % exp).encode("utf-8"))
                got = runner.verdicts("probe", rp, [c["input"]])[0]
                if got != "disallowed":
                    failures.append("aux %s: path+query of %r should be %r (exact rule %r$ gave %s)"
                                    % (kind, c["input"], exp, exp, got))
            elif kind == "escape_pattern":
                # a pattern must start with '/' to match a path: prefix one where it lacks it
                slash = "" if c["input"].startswith("/") else "/"
                rp = runner.write_body(("User-agent: probe\nDisallow: %s%s\n" % (slash, c["input"])).encode("utf-8"))
                rc, rows, err = runner.run("probe", rp, [slash + c["expected"]], explain=True)
                want = "group at line 1, line 2: Disallow: " + slash + c["expected"]
                got = rows[0][3] if rc == 0 and rows and len(rows[0]) >= 4 else "error:%s %s" % (rc, err)
                if got != want:
                    failures.append("aux %s: pattern %r should normalise to %r; --explain: %s"
                                    % (kind, c["input"], c["expected"], got))
            elif kind in ("parse_stats", "line_metadata"):
                checks = AUX_EXPLAIN.get(c.get("name"))
                if not checks:
                    notes.append("%s: not observable through the CLI: not checked" % label)
                    continue
                if c.get("name") in SITEMAP_ONLY:
                    notes.append("%s: the sitemap value is not reported by optout; checked only that the "
                                 "Sitemap line leaves the groups intact" % label)
                rp = runner.write_body(body)
                for agent, url, want_v, want_x in checks:
                    rc, rows, err = runner.run(agent, rp, [url], explain=True)
                    got = rows[0] if rc == 0 and rows and len(rows[0]) >= 4 else ["error:%s %s" % (rc, err), "", "", ""]
                    if got[0] != want_v or got[3] != want_x:
                        failures.append("aux %s: agent %s url %s: want %s (%s), got %s (%s)"
                                        % (label, agent, url, want_v, want_x, got[0], got[3]))
            elif kind == "valid_user_agent":
                name = c["input"]
                token = agent_acceptable(name)
                if not token:
                    rp = runner.write_body(b"User-agent: *\nDisallow: /\n")
                    rc, _, _ = runner.run(name, rp, ["/x"])
                    if rc != 2:
                        failures.append("aux %s: --agent %r should be refused (exit 2), exit %s" % (kind, name, rc))
                    elif c["expected"]:
                        notes.append("%s: Google accepts %r, optout refuses it" % (kind, name))
                else:
                    rp = runner.write_body(("User-agent: %s\nDisallow: /\n" % token).encode("utf-8"))
                    got = runner.verdicts(name, rp, ["/x"])[0]
                    if got != "disallowed":
                        failures.append("aux %s: --agent %r (token %r) should obey User-agent: %s, got %s"
                                        % (kind, name, token.lower(), token, got))
                    elif not c["expected"]:
                        notes.append("%s: %r: Google's IsValidUserAgentToObey refuses it; optout accepts it "
                                     "as token %r (deliberate, agents.h)" % (kind, name, token.lower()))
            else:
                notes.append("%s: unknown kind, not checked" % label)
                continue
            kind_checked += 1
        checked += kind_checked
        notes.insert(0, "aux kind %s: %d/%d cases checked through the CLI" % (kind, kind_checked, len(cs)))
    return checked, failures, notes


def main():
    if len(sys.argv) != 3:
        print("usage: test_conformance.py OPTOUT_BINARY CONFORMANCE_DIR", file=sys.stderr)
        return 2
    optout, cdir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(cdir) or not all(os.path.exists(os.path.join(cdir, s)) for s in SUITES):
        skip("conformance suites not found at %s (the shared data folder)" % cdir)
    cases = load_cases(cdir)
    known, problems = load_known(KNOWN_DEVIATIONS)
    runner = Runner(optout)
    run_matching(runner, cases)

    failures = list(problems)
    deviations = []
    by_name = {}
    for c in cases:
        by_name.setdefault(c["name"], []).append(c)
    strict = [c for c in cases if not c["_flags"]]
    flagged = [c for c in cases if c["_flags"]]
    agree = 0
    per_file = {s: [0, 0] for s in SUITES}
    for c in strict:
        want = verdict_word(c["allowed"])
        per_file[c["_file"]][1] += 1
        k = known.get(c["name"])
        if c["_got"] == want:
            agree += 1
            per_file[c["_file"]][0] += 1
            if k:
                failures.append("stale known deviation: %s (%s) now agrees (%s): remove it from known_deviations.tsv"
                                % (c["name"], c["_file"], want))
        elif k and k[0] == c["_got"]:
            deviations.append("%s (%s): want %s, we say %s: %s" % (c["name"], c["_file"], want, c["_got"], k[1]))
        elif k:
            failures.append("%s (%s): want %s, got %s (known_deviations.tsv says we answer %s)"
                            % (c["name"], c["_file"], want, c["_got"], k[0]))
        else:
            failures.append("%s (%s): want %s, got %s\n    agent %r url %r\n    robots %r"
                            % (c["name"], c["_file"], want, c["_got"], c["agent"], c["url"], c["_body"][:300]))
    for name in known:
        cs = by_name.get(name)
        if not cs:
            failures.append("stale known deviation: %s is not a case of the suites" % name)
        elif all(c["_flags"] for c in cs):
            failures.append("stale known deviation: %s is flagged (%s), not strict" % (name, ", ".join(cs[0]["_flags"])))

    differ = []
    flagged_agree = flagged_run = 0
    for c in flagged:
        if c["_got"].startswith("not run"):
            continue
        flagged_run += 1
        want = verdict_word(c["allowed"])
        if c["_got"] == want:
            flagged_agree += 1
        else:
            differ.append("%s (%s) [%s]: expected %s, we say %s\n    agent %r url %r\n    reason: %s"
                          % (c["name"], c["_file"], ", ".join(c["_flags"]), want, c["_got"], c["agent"], c["url"],
                             reason_of(c)))

    aux_path = os.path.join(cdir, "aux_cases.jsonl")
    aux_checked, aux_failures, aux_notes = (0, [], ["aux_cases.jsonl absent: not checked"])
    if os.path.exists(aux_path):
        aux_checked, aux_failures, aux_notes = check_aux(runner, aux_path)
    failures.extend(aux_failures)

    total = len(strict)
    not_run = [c for c in flagged if c["_got"].startswith("not run")]
    print("conformance: %d/%d strict cases agree (%.1f%%); with the %d known deviations: %d/%d"
          % (agree, total, 100.0 * agree / max(total, 1), len(deviations), agree + len(deviations), total))
    for s in SUITES:
        a, t = per_file[s]
        print("  %s: %d/%d strict cases agree" % (s, a, t))
    print("  flagged (not judged): %d/%d run agree with the expected answer, %d not run; aux: %d cases checked"
          % (flagged_agree, flagged_run, len(not_run), aux_checked))
    print("  (%d CLI calls, %d bodies written)" % (runner.calls, runner.nfiles))
    print("== flagged cases on which we differ from the expected answer (%d of %d run; not judged)"
          % (len(differ), flagged_run))
    for d in differ:
        print(d)
    for c in not_run:
        print("%s (%s) [%s]: %s" % (c["name"], c["_file"], ", ".join(c["_flags"]), c["_got"]))
    print("== known deviations (strict cases we answer differently on purpose: known_deviations.tsv)")
    for d in deviations:
        print(d)
    print("== aux_cases.jsonl")
    for n in aux_notes:
        print(n)
    if failures:
        print("== FAILURES (%d)" % len(failures))
        for f in failures:
            print(f)
        print("conformance: FAILED (%d failures)" % len(failures))
    else:
        print("conformance: OK (%d strict cases agree, %d known deviations)" % (agree, len(deviations)))
    return 0 if not failures and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
