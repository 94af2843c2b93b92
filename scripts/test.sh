#!/usr/bin/env bash
# Build and run weft's whole test suite: the plain (debug), ASan+UBSan+LSan and
# TSan builds with g++, a clang++ build, and the embedded executor's
# cross-compiled QEMU demo. Stops at the first failure.
#
#   scripts/test.sh              everything
#   scripts/test.sh debug asan   only these (debug release asan tsan clang package embedded)
#
# "package" installs the debug build into a scratch prefix and builds and runs
# a consumer project against it with find_package(weft) and with pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then presets=(debug asan tsan clang package embedded); fi

jobs=$(nproc)
for p in "${presets[@]}"; do
  echo "=== $p ==="
  if [ "$p" = embedded ]; then
    bash embedded/ci.sh
    continue
  fi
  if [ "$p" = package ]; then
    prefix="$PWD/build/package/prefix"
    rm -rf build/package
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$jobs" --target weft
    cmake --install build/release --prefix "$prefix" >/dev/null
    cmake -S tests/consumer -B build/package/consumer -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build build/package/consumer
    build/package/consumer/consumer
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ tests/consumer/consumer.cpp \
      $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs weft) -o build/package/consumer-pc
    build/package/consumer-pc
    echo "package: find_package(weft) and pkg-config consumers built and ran"
    continue
  fi
  # Line tables only (-g1): enough for sanitizer and assertion backtraces,
  # and a third less compile time than full debug info across five builds.
  cmake --preset "$p" -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  ctest --preset "$p" -j "$jobs"
  if [ "$p" = debug ]; then
    echo "=== debug, WEFT_IO_BACKEND=epoll ==="
    WEFT_IO_BACKEND=epoll ctest --preset "$p" -j "$jobs"
  fi
done
echo "=== all test runs passed: ${presets[*]} ==="
