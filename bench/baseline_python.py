#!/usr/bin/python3
"""baseline_python.py — the Python baselines of bench/bench_robots.c, on the same inputs.

Usage: /usr/bin/python3 bench/baseline_python.py [--passes N] [--only urllib|protego] DIR URLS_FILE

Run it with Debian's /usr/bin/python3 (python3-protego 0.2.1 is installed there), not a pyenv one.
URLS_FILE is what `bench_robots --urls-out` wrote: "#agent<TAB>NAME" lines (the agent list, in
order) and "FILE<TAB>URL" lines (the URLs checked for each file). Every file named there is read
from DIR as bytes.

Measured, for urllib.robotparser and protego, with time.perf_counter() (CLOCK_MONOTONIC on Linux),
one thread, median of N passes (default 3; the C bench uses >= 20 — Python is ~100x slower):
  parse   per file: decode the body as UTF-8 (errors="replace") and parse it; MB/s over the
          undecoded input bytes (1 MB = 10^6 bytes). Decoding is part of the cost: the C engine
          parses bytes.
  match   parsed objects preloaded; one warm-up pass (protego compiles its regexes and memoises
          the agent -> group lookup lazily, on first use), then N passes of can_fetch(URL, agent)
          for every URL of the file and every agent; checks/s.
  e2e     per file: decode, parse, check every URL for every agent; seconds per pass.
Output: "key value" lines (urllib_parse_mb_s 3.1, ...) and '#'-prefixed human text; py_cpu_share
(process CPU time / wall time) below ~0.9 means other processes took the CPU away.
"""
import argparse
import os
import statistics
import sys
import time
import urllib.robotparser

try:
    import protego
except ImportError:  # reported, not fatal: the urllib baseline still runs
    protego = None


def load(dir_path, urls_path):
    agents, urls = [], {}
    with open(urls_path, "rb") as fp:
        for raw in fp:
            line = raw.rstrip(b"\n").decode("utf-8", errors="replace")
            if line.startswith("#agent\t"):
                agents.append(line.split("\t", 1)[1])
            elif line and not line.startswith("#"):
                name, url = line.split("\t", 1)
                urls.setdefault(name, []).append(url)
    files = []
    for name in sorted(urls):
        with open(os.path.join(dir_path, name), "rb") as fp:
            files.append((name, fp.read(), urls[name]))
    return agents, files


class Urllib:
    name = "urllib"

    @staticmethod
    def parse(body):
        rp = urllib.robotparser.RobotFileParser()
        rp.parse(body.decode("utf-8", errors="replace").splitlines())
        return rp

    @staticmethod
    def check(rp, urls, agents):
        disallowed = 0
        can_fetch = rp.can_fetch
        for url in urls:
            for agent in agents:
                if not can_fetch(agent, url):
                    disallowed += 1
        return disallowed


class Protego:
    name = "protego"

    @staticmethod
    def parse(body):
        return protego.Protego.parse(body.decode("utf-8", errors="replace"))

    @staticmethod
    def check(rp, urls, agents):
        disallowed = 0
        can_fetch = rp.can_fetch
        for url in urls:
            for agent in agents:
                if not can_fetch(url, agent):
                    disallowed += 1
        return disallowed


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def bench(lib, agents, files, passes):
    total = sum(len(body) for _, body, _ in files)
    mb = total / 1e6
    checks = sum(len(urls) for _, _, urls in files) * len(agents)
    p = lib.name

    def parse_pass():
        for _, body, _ in files:
            lib.parse(body)

    times = [timed(parse_pass)[0] for _ in range(passes)]
    t = statistics.median(times)
    print(f"# {p} parse: {mb / t:.2f} MB/s median of {passes} ({mb / max(times):.2f} .. {mb / min(times):.2f})")
    print(f"{p}_parse_mb_s {mb / t:.3f}\n{p}_parse_s {t:.4f}", flush=True)

    parsed = [lib.parse(body) for _, body, _ in files]

    def match_pass():
        return sum(lib.check(rp, urls, agents) for rp, (_, _, urls) in zip(parsed, files))

    match_pass()  # warm-up
    runs = [timed(match_pass) for _ in range(passes)]
    t = statistics.median(r[0] for r in runs)
    disallowed = runs[0][1]
    print(f"# {p} match: {checks / t / 1e6:.3f} M checks/s median of {passes} after a warm-up pass "
          f"({t * 1e9 / checks:.0f} ns per check); {disallowed} disallowed (URL, agent) pairs of {checks}")
    print(f"{p}_checks_s {checks / t:.0f}\n{p}_match_s {t:.4f}\n{p}_disallowed_pairs {disallowed}", flush=True)
    parsed = None  # free the parsed objects before the end-to-end passes

    def e2e_pass():
        return sum(lib.check(lib.parse(body), urls, agents) for _, body, urls in files)

    times = [timed(e2e_pass)[0] for _ in range(passes)]
    t = statistics.median(times)
    print(f"# {p} end to end: {t:.3f} s per pass median of {passes} ({min(times):.3f} .. {max(times):.3f}), "
          f"{len(files) / t:.0f} files/s")
    print(f"{p}_e2e_s {t:.4f}\n{p}_e2e_s_min {min(times):.4f}\n{p}_e2e_files_s {len(files) / t:.1f}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--only", choices=["urllib", "protego"])
    ap.add_argument("dir")
    ap.add_argument("urls_file")
    args = ap.parse_args()
    if args.passes < 1:
        ap.error("--passes must be >= 1")

    agents, files = load(args.dir, args.urls_file)
    if not agents or not files:
        print(f"baseline_python: no agents or no URLs in {args.urls_file}", file=sys.stderr)
        return 2
    print(f"# Python {sys.version.split()[0]} ({sys.executable}); {len(files)} files, "
          f"{sum(len(b) for _, b, _ in files)} bytes, {sum(len(u) for _, _, u in files)} URLs, "
          f"{len(agents)} agents; median of {args.passes} passes")
    print(f"py_passes {args.passes}", flush=True)
    libs = []
    if args.only in (None, "urllib"):
        libs.append(Urllib)
    if args.only in (None, "protego"):
        if protego is None:
            print("# protego: not importable (install Debian's python3-protego and use /usr/bin/python3)")
            print("protego_version na")
        else:
            version = getattr(protego, "__version__", None)
            if version is None:
                try:
                    from importlib.metadata import version as dist_version
                    version = dist_version("protego")
                except Exception:  # noqa: BLE001 - the version is informative only
                    version = "unknown"
            print(f"# protego {version} from {protego.__file__}")
            print(f"protego_version {version}", flush=True)
            libs.append(Protego)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for lib in libs:
        bench(lib, agents, files, args.passes)
    share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    busy = ": the machine is busy, the figures are too low" if share < 0.9 else ""
    print(f"# this process got {share * 100:.0f}% of a CPU during the measurements{busy}")
    print(f"py_cpu_share {share:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
