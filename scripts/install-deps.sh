#!/usr/bin/env bash
# Install what weft's build, tests and demo need on Debian 12, if missing.
# Usage: scripts/install-deps.sh [extra-package ...]   (run as root, or with sudo available)
set -euo pipefail

# curl and wrk drive the HTTP example in its test and in the demo; ab
# (apache2-utils) and h2load (nghttp2-client) test its HTTP/1.0 keep-alive.
packages=(cmake ninja-build g++ clang libgtest-dev libgmock-dev libbenchmark-dev pkg-config liburing-dev libglib2.0-dev
          curl wrk apache2-utils nghttp2-client "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
