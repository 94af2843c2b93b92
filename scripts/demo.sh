#!/usr/bin/env bash
# Build weft (release) and run the tour: spawn/join, sleep, timeout,
# spawn_blocking and a live measurement of spawn throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tour hello
./build/release/examples/tour
