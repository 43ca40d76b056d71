"""wayback_server — a local stand-in for the Wayback Machine's CDX API and raw replay (tests only).

WaybackServer(captures, faults) listens on 127.0.0.1 (a free port) in a thread:
  captures  a list of dicts {"timestamp": "YYYYMMDDhhmmss", "original": URL, "status": int,
            "body": bytes or None}; the digest is computed as the Wayback Machine does (base32
            of the body's SHA-1), "-" without a body.
  faults    {"malformed": set of groups (the CDX answer is broken JSON),
             "cdx_status": {group: [status, ...]} (answers given before the real one, each with
                            Retry-After: 1),
             "body_404": set of digests, "cut_once": set of digests (the first answer sends half
             the body under the full Content-Length, then closes), "cut_always": set of digests}
GET /cdx/search/cdx?url=HOST/robots.txt&output=json&fl=...&from=Y&to=Y&showResumeKey=true&limit=N
  matches the captures whose host, without "www.", is HOST's without "www." (both schemes), in the
  years asked, sorted by time; pages of at most min(N, page_rows) rows, each but the last ending
  with [] and [resumeKey]. GET /web/<timestamp>id_/<original> replays the capture's body.
Every request is logged: (monotonic time of its arrival, path, status, User-Agent) in server.log.
"""
import base64
import hashlib
import http.server
import json
import threading
import time
import urllib.parse


def digest_of(body):
    return base64.b32encode(hashlib.sha1(body).digest()).decode() if body is not None else "-"


def group_of(url_or_host):
    h = url_or_host
    if "://" in h:
        h = h.split("://", 1)[1]
    h = h.split("/", 1)[0].split(":", 1)[0].lower()
    return h[4:] if h.startswith("www.") else h


class WaybackServer:
    def __init__(self, captures, faults=None, page_rows=3):
        self.captures = sorted(captures, key=lambda c: (c["timestamp"], c["original"]))
        for c in self.captures:
            c["digest"] = digest_of(c.get("body"))
        self.faults = faults or {}
        self.page_rows = page_rows
        self.log = []
        self.ports = []  # the client's port of each request: its connections
        self.lock = threading.Lock()
        self.pending = {g: list(s) for g, s in self.faults.get("cdx_status", {}).items()}
        self.cut_done = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, status, body, ctype="application/json", extra=None, cut=False):
                with server.lock:
                    server.log.append((self.received, self.path, status, self.headers.get("User-Agent", "")))
                    server.ports.append(self.client_address[1])
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.wfile.flush()
                if cut:
                    self.close_connection = True

            def do_GET(self):
                self.received = time.monotonic()  # when the request arrived: what the rate is about
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/cdx/search/cdx":
                    return self.cdx(urllib.parse.parse_qs(u.query))
                if u.path.startswith("/web/"):
                    return self.replay(self.path[len("/web/"):])
                self.send(404, b"not found", "text/plain")

            def cdx(self, q):
                url = q.get("url", [""])[0]
                g = group_of(url)
                with server.lock:
                    pend = server.pending.get(g)
                    st = pend.pop(0) if pend else None
                if st:
                    return self.send(st, b"slow down", "text/plain", {"Retry-After": "1"})
                if g in server.faults.get("malformed", ()):
                    return self.send(200, b'[["timestamp","original","statuscode","digest","length"],["2012')
                y0, y1 = int(q.get("from", ["0"])[0]), int(q.get("to", ["9999"])[0])
                rows = [c for c in server.captures
                        if group_of(c["original"]) == g and y0 <= int(c["timestamp"][:4]) <= y1]
                if not rows:
                    return self.send(200, b"[]")  # what the CDX answers when it has nothing
                start = int(q.get("resumeKey", ["0"])[0].split(":")[-1] or 0)
                n = min(int(q.get("limit", ["100000"])[0]), server.page_rows)
                page = rows[start:start + n]
                out = [["timestamp", "original", "statuscode", "digest", "length"]]
                out += [[c["timestamp"], c["original"], c.get("status_text", str(c["status"])), c.get("digest_text", c["digest"]),
                         str(len(c["body"] or b""))] for c in page]
                if start + n < len(rows):
                    out += [[], ["%s:%d" % (g, start + n)]]
                self.send(200, json.dumps(out).encode())

            def replay(self, rest):
                ts, _, original = rest.partition("id_/")
                for c in server.captures:
                    if c["timestamp"] == ts and c["original"] == original and c.get("body") is not None:
                        d = c["digest"]
                        if d in server.faults.get("body_404", ()):
                            return self.send(404, b"not in archive", "text/plain")
                        cut = d in server.faults.get("cut_always", ())
                        if d in server.faults.get("cut_once", ()) and d not in server.cut_done:
                            server.cut_done.add(d)
                            cut = True
                        return self.send(200, c["body"], "text/plain", cut=cut)
                self.send(404, b"no such capture", "text/plain")

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def requests(self):
        with self.lock:
            return list(self.log)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
