#!/bin/sh
# Fetch throughput: robots.txt fetches per second over plain HTTP against a local nginx serving
# 10,000 virtual hosts, optout fetch versus curl --parallel in the same run, and optout's memory
# per transfer in flight. A benchmark: prints figures, exits 0 unless something fails to run;
# skips (exit 0, with a message) when nginx is not installed (Debian package nginx-light or nginx).
#   bench/fetch.sh [BUILD_DIR]        (default: build; built if bin/optout is missing)
# Environment: BENCH_HOSTS (10000), BENCH_REPEAT (3: best of that many runs per figure),
#   OPTOUT_BENCH_DATA (../shared/data/robots-top10k beside the repository).
#
# Setup (in a temporary directory): one nginx (worker_processes 2, access_log off, keep-alive,
# listening on a free port of 127.0.0.1) with `root DIR/www/$host;`, so every Host header has its
# own document root. Hosts: the 4,231 host keys of robots-top10k with their real bodies, then
# synthetic names (bNNNNN.bench.test) reusing those bodies in turn, up to BENCH_HOSTS; without
# robots-top10k every host gets a generated 2 KiB body. Every fetch is a 200.
# Clients, each fetching http://HOST/robots.txt for every host, every connection sent to nginx:
#   curl --parallel --parallel-max N --connect-to ::127.0.0.1:PORT, -o /dev/null per URL (a -K
#     config file), N = 64 and 256 (curl 7.88 caps N at 300);
#   optout fetch --scheme http --connect-to 127.0.0.1:PORT --concurrency N, N = 64, 256, 1000,
#     2000, under /usr/bin/time -v; it also compresses every body into the archive (curl discards
#     them), and its stdout counts are checked (every host ok).
# Figures: fetches/s (hosts / wall seconds, best of BENCH_REPEAT), optout/curl at 64 and 256,
# optout's peak RSS per N, and RSS per in-flight transfer = (peak RSS at 2000 - peak RSS at 64) /
# 1936. nginx, curl and optout share the machine's cores, as they would not in production.
# Targets: >= 1.0x curl at N = 64 and 256; no loss of throughput up to 2,000 in flight.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
nhosts=${BENCH_HOSTS:-10000}
repeat=${BENCH_REPEAT:-3}
data=${OPTOUT_BENCH_DATA:-$root/../shared/data/robots-top10k}

nginx=$(command -v nginx || true)
[ -n "$nginx" ] || { [ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx; } || true
if [ -z "$nginx" ]; then
  echo "bench/fetch.sh: nginx is not installed (Debian: apt-get install nginx-light); skipped"
  exit 0
fi
[ -x "$build/bin/optout" ] || cmake --build "$build" -j >/dev/null
optout=$build/bin/optout
[ -x /usr/bin/time ] || { echo "bench/fetch.sh: /usr/bin/time is missing (Debian package time)"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d /tmp/optout-bench-fetch.XXXXXX)
chmod 755 "$tmp"
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the hosts and their document roots ---------------------------------------------------------
/usr/bin/python3 - "$data" "$tmp" "$nhosts" <<'EOF'
import os, re, sys
data, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bodies = []
if os.path.isdir(data):
    for name in sorted(os.listdir(data)):
        m = re.match(r"^(.*)_(\d+)$", name)
        if m and m.group(2) not in ("80", "443"):
            continue  # a host with a port: nginx's $host drops ports
        bodies.append(((m.group(1) if m else name), os.path.join(data, name)))
    print("hosts: %d real bodies from %s, %d synthetic names reusing them" % (
        min(n, len(bodies)), data, max(0, n - len(bodies))))
else:
    print("hosts: %s absent, %d hosts with generated bodies" % (data, n))
hosts = []
os.makedirs(os.path.join(tmp, "gen"))
for i in range(n):
    if bodies and i < len(bodies):
        host, src = bodies[i]
    else:
        host = "b%05d.bench.test" % i
        if bodies:
            src = bodies[i % len(bodies)][1]
        else:
            src = os.path.join(tmp, "gen", host)
            lines = ["User-agent: *"] + ["Disallow: /%s/%d/" % (host, k) for k in range(80)]
            open(src, "w").write("\n".join(lines)[:2048].rsplit("\n", 1)[0] + "\n")
    d = os.path.join(tmp, "www", host)
    os.makedirs(d)
    os.symlink(os.path.abspath(src), os.path.join(d, "robots.txt"))
    hosts.append(host)
with open(os.path.join(tmp, "hosts"), "w") as f:
    f.write("".join(h + "\n" for h in hosts))
with open(os.path.join(tmp, "curl.cfg"), "w") as f:
    f.write("".join('url = "http://%s/robots.txt"\noutput = "/dev/null"\n' % h for h in hosts))
EOF
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=
[ "$(id -u)" = 0 ] && user_line="user root;"
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<EOF
$user_line
worker_processes 2;
worker_rlimit_nofile 65536;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
  access_log off;
  default_type text/plain;
  sendfile on;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port backlog=16384;
    server_name _;
    root $tmp/www/\$host;
    location / { }
  }
}
EOF
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx.conf" -e "$tmp/nginx/error.log" &
nginx_pid=$!
i=0
until curl -s -o /dev/null --connect-to "::127.0.0.1:$port" "http://$(head -1 "$tmp/hosts")/robots.txt"; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "nginx did not start:"; cat "$tmp/nginx/error.log"; exit 1; }
  sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' --connect-to "::127.0.0.1:$port" "http://$(tail -1 "$tmp/hosts")/robots.txt")
[ "$code" = 200 ] || { echo "nginx answers $code for $(tail -1 "$tmp/hosts")"; cat "$tmp/nginx/error.log"; exit 1; }
echo "nginx $("$nginx" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$port, $nhosts virtual hosts; $(curl --version | head -1 | cut -d' ' -f1-2); $(nproc) cores"

now() { date +%s.%N; }
best=  # fetches/s of the last measure
measure_curl() { # N
  best=0
  for r in $(seq "$repeat"); do
    t0=$(now)
    curl -s --no-progress-meter --parallel --parallel-max "$1" --connect-to "::127.0.0.1:$port" \
      -w '%{http_code}\n' -K "$tmp/curl.cfg" >"$tmp/codes.txt" 2>/dev/null || true
    t1=$(now)
    ok=$(grep -c '^200$' "$tmp/codes.txt" || true)
    [ "$ok" = "$nhosts" ] || echo "  warning: curl N=$1: $ok of $nhosts answered 200"
    rate=$(echo "$nhosts / ($t1 - $t0)" | bc -l)
    best=$(echo "if ($rate > $best) $rate else $best" | bc -l)
  done
}
rss=0
measure_optout() { # N
  best=0 rss=0
  for r in $(seq "$repeat"); do
    rm -rf "$tmp/out"
    t0=$(now)
    /usr/bin/time -v -o "$tmp/time.txt" "$optout" fetch --scheme http --connect-to "127.0.0.1:$port" \
      --concurrency "$1" --hosts "$tmp/hosts" --out "$tmp/out" --quiet >"$tmp/counts.txt" 2>"$tmp/err.txt" || {
      echo "optout fetch failed (N=$1):"; tail -5 "$tmp/err.txt"; exit 1; }
    t1=$(now)
    ok=$(sed -n 's/^ok[[:space:]]\{1,\}\([0-9]*\).*/\1/p' "$tmp/counts.txt")
    [ "${ok:-0}" = "$nhosts" ] || echo "  warning: N=$1: ok ${ok:-0} of $nhosts ($(tr '\n' ' ' <"$tmp/counts.txt"))"
    rate=$(echo "$nhosts / ($t1 - $t0)" | bc -l)
    best=$(echo "if ($rate > $best) $rate else $best" | bc -l)
    m=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
}

printf '%-8s %6s %12s %14s\n' client N "fetches/s" "peak RSS"
for n in 64 256; do
  measure_curl "$n"; eval "curl_$n=$best"
  printf '%-8s %6s %12.0f %14s\n' curl "$n" "$best" -
done
for n in 64 256 1000 2000; do
  measure_optout "$n"; eval "optout_$n=$best rss_$n=$rss"
  printf '%-8s %6s %12.0f %10s KiB\n' optout "$n" "$best" "$rss"
done
echo "optout/curl: $(printf '%.2f' "$(echo "$optout_64 / $curl_64" | bc -l)")x at 64, $(printf '%.2f' \
  "$(echo "$optout_256 / $curl_256" | bc -l)")x at 256 (target >= 1.0x)"
echo "optout at 2000 / at 256: $(printf '%.2f' "$(echo "$optout_2000 / $optout_256" | bc -l)")x (target: no loss)"
echo "RSS per in-flight transfer: $(( (rss_2000 - rss_64) * 1024 / 1936 )) bytes ((peak RSS at 2000 - at 64) / 1936)"
