#!/bin/sh
# with_redis.sh — runs a command beside a private redis-server, for tests that need Redis.
#
#   tests/redis/with_redis.sh COMMAND [ARG...]
#
# Starts redis-server on a unix socket in a fresh temporary directory (`--port 0 --unixsocket PATH
# --save '' --appendonly no --maxmemory-policy noeviction`: no TCP, no persistence, never evicts),
# waits until it answers, runs COMMAND with
#   OPTOUT_TEST_REDIS      the endpoint, "unix:/tmp/.../redis.sock"
#   OPTOUT_TEST_REDIS_DIR  the server's directory (its log is redis.log there)
# in the environment, then stops the server, removes the directory and exits with COMMAND's status.
# With OPTOUT_TEST_REDIS_PASSWORD set, the server requires that password (given in a config file,
# never on a command line). Without redis-server (or $OPTOUT_REDIS_SERVER): exit 77 with a message,
# which ctest reads as "skipped" (SKIP_RETURN_CODE 77).
set -eu

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

server=${OPTOUT_REDIS_SERVER:-}
if [ -z "$server" ]; then
  server=$(command -v redis-server 2>/dev/null || true)
  for candidate in /usr/bin/redis-server /usr/sbin/redis-server; do
    if [ -z "$server" ] && [ -x "$candidate" ]; then server=$candidate; fi
  done
fi
if [ -z "$server" ] || [ ! -x "$server" ]; then
  echo "$0: redis-server is not installed: skipping" >&2
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/optout-redis.XXXXXX")
sock="$dir/redis.sock"
pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

umask 077
: >"$dir/redis.conf"
if [ -n "${OPTOUT_TEST_REDIS_PASSWORD:-}" ]; then
  printf 'requirepass "%s"\n' "$OPTOUT_TEST_REDIS_PASSWORD" >"$dir/redis.conf"
fi
"$server" "$dir/redis.conf" --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no \
  --maxmemory-policy noeviction --dir "$dir" --logfile "$dir/redis.log" --daemonize no &
pid=$!

# Up when the socket exists and (when redis-cli is there) it answers PING.
i=0
while :; do
  if [ -S "$sock" ]; then
    if ! command -v redis-cli >/dev/null 2>&1; then break; fi
    if [ -n "${OPTOUT_TEST_REDIS_PASSWORD:-}" ]; then
      reply=$(REDISCLI_AUTH="$OPTOUT_TEST_REDIS_PASSWORD" redis-cli -s "$sock" ping 2>/dev/null || true)
    else
      reply=$(redis-cli -s "$sock" ping 2>/dev/null || true)
    fi
    if [ "$reply" = PONG ]; then break; fi
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$0: redis-server exited:" >&2
    cat "$dir/redis.log" >&2 || true
    pid=
    exit 1
  fi
  i=$((i + 1))
  if [ "$i" -gt 500 ]; then
    echo "$0: redis-server did not come up on $sock" >&2
    exit 1
  fi
  sleep 0.01
done

export OPTOUT_TEST_REDIS="unix:$sock" OPTOUT_TEST_REDIS_DIR="$dir"
status=0
"$@" || status=$?
exit "$status"
