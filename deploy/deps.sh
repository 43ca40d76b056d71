#!/bin/sh
# Installs every Debian 12 package optout needs to build, test and run on one machine.
# Idempotent: quiet and fast when everything is already there. Run as root (or via sudo).
# Also installs the Parquet test oracles (DuckDB and hyparquet, npm packages pinned in
# tests/parquet/package-lock.json) into tests/parquet/node_modules, with Node.js from Debian when missing.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)

PACKAGES="build-essential cmake pkg-config git clang libclang-rt-14-dev \
  libzmq3-dev libhiredis-dev libcurl4-openssl-dev libzstd-dev zstd libmsgpack-dev libsnappy-dev liblz4-dev libbrotli-dev \
  libsystemd-dev libidn2-dev zlib1g-dev libpsl-dev libcmocka-dev libssl-dev \
  redis-server python3 python3-protego python3-zmq python3-msgpack libmicrohttpd-dev nginx-light"

# Node.js and npm run the Parquet test oracles; a node from elsewhere (say NodeSource, whose
# package bundles npm and conflicts with Debian's npm) is used as it is.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps.sh: need root (or sudo) to install:$missing" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "deps.sh: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The Parquet test oracles: `npm ci` from the lock file, redone only when the lock file changed
# (a stamp holding its hash marks a complete install; an interrupted one is redone).
ORACLES="$ROOT/tests/parquet"
if [ -f "$ORACLES/package-lock.json" ]; then
  want=$(sha256sum "$ORACLES/package-lock.json" | cut -d' ' -f1)
  have=$(cat "$ORACLES/node_modules/.optout-lock-sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    echo "deps.sh: installing the Parquet test oracles (npm ci in tests/parquet)" >&2
    (cd "$ORACLES" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$ORACLES/node_modules/.optout-lock-sha256"
  fi
fi
