#!/bin/sh
# Installs every Debian 12 package optout needs to build, test and run on one machine.
# Idempotent: quiet and fast when everything is already there. Run as root (or via sudo).
set -eu

PACKAGES="build-essential cmake pkg-config git clang libclang-rt-14-dev \
  libzmq3-dev libhiredis-dev libcurl4-openssl-dev libzstd-dev zstd libmsgpack-dev libsnappy-dev liblz4-dev libbrotli-dev \
  libsystemd-dev libidn2-dev zlib1g-dev libpsl-dev libcmocka-dev libssl-dev \
  redis-server python3 python3-protego libmicrohttpd-dev nginx-light"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

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
