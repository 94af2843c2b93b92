#!/usr/bin/env bash
# Build and run weft's whole test suite: the plain (debug), ASan+UBSan+LSan and
# TSan builds with g++, a clang++ build, and the embedded executor's
# cross-compiled QEMU demo. Stops at the first failure.
#
#   scripts/test.sh              everything
#   scripts/test.sh debug asan   only these presets (debug release asan tsan clang embedded)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then presets=(debug asan tsan clang embedded); fi

jobs=$(nproc)
for p in "${presets[@]}"; do
  echo "=== $p ==="
  if [ "$p" = embedded ]; then
    bash embedded/ci.sh
    continue
  fi
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  ctest --preset "$p" -j "$jobs"
done
echo "=== all test runs passed: ${presets[*]} ==="
