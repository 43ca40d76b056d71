"""policy_check — an independent reckoning of "robots.txt as it was": for every document, the capture
that judges it and its verdict under each of the four policies, recomputed from the rules in
docs/history.md (never from optout's code or output).

Used by the historical-mode tests (test_policy_filter.py and the archive's end-to-end test). The
robots.txt verdict of one body for one URL comes from a callback (the tests ask `optout robots
check`, whose engine has its own conformance suites); everything else is here:
- a document's crawl (the first CC-MAIN-YYYY-WW naming a real ISO week, not followed by a digit)
  and time (its date, else its crawl week's Monday, 00:00 UTC);
- which capture judges it: redirects resolved first (same origin and crawl, the target's scheme,
  the target's first capture at or after the redirect, up to 5 hops, more is unavailable, none is
  no capture); (1) the document's crawl: unreachable captures set aside when another is not, the
  latest of the URL's scheme at or before the time, else its first, else the other scheme's
  likewise; (2) any capture at or before the time, last capture at most max_age before it, the
  latest of the URL's scheme, else of the other; (3) none;
- the four policies and --history-missing.

A capture is a dict: host, origin ("cc"/"wayback"), scheme, crawl ("" for none), first, last,
outcome ("ok", "unavailable", "unreachable"), redirect (host or None), redirect_scheme, body (a key
the verdict callback understands, or None), sha (any string that orders ties).
"""
import datetime
import re

MAX_HOPS = 5


def status_outcome(status):
    """A capture's outcome from its HTTP status, as a fetch's: 2xx ok, other 3xx and 4xx
    unavailable, 429, 5xx and anything else unreachable (redirects are resolved before this)."""
    if 200 <= status < 300:
        return "ok"
    if 300 <= status < 500 and status != 429:
        return "unavailable"
    return "unreachable"
POLICIES = ["current", "crawl", "cutoff", "strictest"]
COVERAGES = ["same_crawl", "earlier", "none", "no_time"]

_CRAWL = re.compile(r"CC-MAIN-(\d{4})-(\d{2})(?!\d)")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
                   r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$")


def _utc(y, m, d, hh=0, mm=0, ss=0):
    return int(datetime.datetime(y, m, d, tzinfo=datetime.timezone.utc).timestamp()) + hh * 3600 + mm * 60 + ss


def crawl_monday(crawl):
    """00:00 UTC of the Monday of the crawl's ISO week, or None."""
    m = re.fullmatch(r"CC-MAIN-(\d{4})-(\d{2})", crawl)
    if not m:
        return None
    try:
        d = datetime.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        return None
    return _utc(d.year, d.month, d.day)


def find_crawl(text):
    for m in _CRAWL.finditer(text or ""):
        if crawl_monday(m.group(0)) is not None:
            return m.group(0)
    return ""


def parse_time(text):
    """ISO 8601 date or date-time (no zone: UTC) -> Unix seconds, or None."""
    m = _DATE.match(text or "")
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        datetime.date(y, mo, d)
    except ValueError:
        return None
    hh = int(m.group(4) or 0)
    mi = int(m.group(5) or 0)
    ss = int(m.group(6) or 0)
    if hh > 23 or mi > 59 or ss > 60:
        return None
    t = _utc(y, mo, d, hh, mi, ss)
    if m.group(8):
        oh, om = int(m.group(9)), int(m.group(10) or 0)
        if oh > 23 or om > 59:
            return None
        off = oh * 3600 + om * 60
        t -= off if m.group(8) == "+" else -off
    return t


def doc_time(dump, date):
    """(crawl, time or None, time_from_crawl)."""
    crawl = find_crawl(dump) if isinstance(dump, str) else ""
    t = parse_time(date) if isinstance(date, str) else None
    if t is not None:
        return crawl, t, False
    if crawl:
        return crawl, crawl_monday(crawl), True
    return "", None, False


def versions(captures):
    """The captures as an archive keeps them: consecutive captures (by first) of one host, scheme,
    origin and crawl with the same answer (status, outcome, redirect and its scheme, body,
    truncated) are one version from the first's first to the last's last."""
    key = lambda c: (c["host"], c["scheme"], c["origin"], c["crawl"])
    answer = lambda c: (c.get("status"), c["outcome"], c["redirect"], c["redirect_scheme"] if c["redirect"] else None,
                        c["sha"], c.get("truncated", False))
    out = []
    for c in sorted(captures, key=lambda c: key(c) + (c["first"], c["last"])):
        if out and key(out[-1]) == key(c) and answer(out[-1]) == answer(c):
            out[-1]["last"] = max(out[-1]["last"], c["last"])
        else:
            out.append(dict(c))
    return out


def _pref(c):
    """Among equal times: the later last, Common Crawl, the greater crawl id, the greater sha."""
    return (c["last"], c["origin"] == "cc", c["crawl"], c["sha"] or "")


class Captures:
    def __init__(self, captures):
        self.by_host = {}
        for c in captures:
            self.by_host.setdefault(c["host"], []).append(c)

    def resolve(self, c):
        """(final capture, outcome, hops) or None for an unresolved redirect."""
        cur, at, hops = c, c["first"], 0
        while cur["redirect"]:
            if hops == MAX_HOPS:
                return cur, "unavailable", hops
            cands = [t for t in self.by_host.get(cur["redirect"], [])
                     if t["origin"] == cur["origin"] and t["crawl"] == cur["crawl"]
                     and t["scheme"] == cur["redirect_scheme"] and t["last"] >= at]
            if not cands:
                return None
            # the target's first capture at or after the redirect: max(first, at) smallest
            tmin = min(max(t["first"], at) for t in cands)
            tied = [t for t in cands if max(t["first"], at) == tmin]
            best = max(tied, key=_pref)
            cur, at, hops = best, tmin, hops + 1
        return cur, cur["outcome"], hops

    def select(self, host, scheme, crawl, t, max_age):
        """(coverage, capture, final, outcome, hops)."""
        if t is None:
            return "no_time", None, None, None, 0
        caps = []
        for c in self.by_host.get(host, []):
            r = self.resolve(c)
            if r is not None:
                caps.append((c, r))
        other = "http" if scheme == "https" else "https"
        if crawl:
            same = [(c, r) for c, r in caps if c["crawl"] == crawl]
            if any(r[1] != "unreachable" for c, r in same):
                same = [(c, r) for c, r in same if r[1] != "unreachable"]
            for s in (scheme, other):
                mine = [(c, r) for c, r in same if c["scheme"] == s]
                before = [(c, r) for c, r in mine if c["first"] <= t]
                if before:
                    top = max(c["first"] for c, r in before)
                    c, r = max([x for x in before if x[0]["first"] == top], key=lambda x: _pref(x[0]))
                    return "same_crawl", c, r[0], r[1], r[2]
                if mine:
                    low = min(c["first"] for c, r in mine)
                    c, r = max([x for x in mine if x[0]["first"] == low], key=lambda x: _pref(x[0]))
                    return "same_crawl", c, r[0], r[1], r[2]
        for s in (scheme, other):
            ok = [(c, r) for c, r in caps if c["scheme"] == s and c["first"] <= t and t - c["last"] <= max_age]
            if ok:
                top = max(min(c["last"], t) for c, r in ok)
                c, r = max([x for x in ok if min(x[0]["last"], t) == top], key=lambda x: _pref(x[0]))
                return "earlier", c, r[0], r[1], r[2]
        return "none", None, None, None, 0


def policies(today, then, has_time, t, cutoff, missing):
    """{policy: (removed, agents set)} from today's disallowed agents and the capture's (None: no
    capture or no time)."""
    now = (bool(today), frozenset(today))
    if then is not None:
        past = (bool(then), frozenset(then))
    elif missing == "current":
        past = now
    elif missing == "keep":
        past = (False, frozenset())
    else:
        past = (True, frozenset())
    cut = now if has_time and t >= cutoff else past
    strict = (now[0] or past[0], now[1] | past[1])
    return {"current": now, "crawl": past, "cutoff": cut, "strictest": strict}
