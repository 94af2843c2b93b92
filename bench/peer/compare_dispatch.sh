#!/usr/bin/env bash
# bench/peer/compare_dispatch.sh — weft's dispatcher against Boost.Asio's
# strand and io_context, in one process (bench/peer/dispatch_bench.cpp).
#
#   bench/peer/compare_dispatch.sh [WORKERS] [REPS] [ROUNDS]   (defaults 2 10 3)
#
# Builds Release in <repo>/build/bench and prints a markdown table.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build/bench"
"$REPO/scripts/install-deps.sh" libboost1.81-dev >&2
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD" --target dispatch_bench >&2
"$BUILD/bench/peer/dispatch_bench" "${1:-2}" "${2:-10}" "${3:-3}"
