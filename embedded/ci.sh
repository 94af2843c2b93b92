#!/bin/bash
# embedded/ci.sh — the one script CI calls for weft/embedded's target side.
#
#   1. installs the cross toolchain and QEMU from Debian if missing;
#   2. for lm3s6965evb (Cortex-M3) and mps2-an386 (Cortex-M4): builds the demo
#      from scratch, runs it under QEMU, and compares its output with
#      demo/expected.txt and its exit status with 42;
#   3. checks the image: no .data initialiser, no .init_array, a frame report
#      with every task, the executor core under 2 KiB of .text at -Os, and a
#      program that allocates from the heap failing to link.
# Exits non-zero on the first failure, loudly. Idempotent; any working directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
expected_status=42
core_limit=2048

fail() {
  echo "embedded/ci.sh: FAIL: $*" >&2
  exit 1
}
step() { echo "==> $*"; }

# --- 1. tools -------------------------------------------------------------
packages=(make gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib libnewlib-arm-none-eabi qemu-system-arm)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
arm-none-eabi-g++ --version | head -n 1
qemu-system-arm --version | head -n 1

# --- 2. and 3., per board -------------------------------------------------
for board in lm3s6965evb mps2-an386; do
  out=$here/build/$board
  step "$board: build"
  rm -rf "$out"
  make -s -C "$here" BOARD="$board" all > /dev/null || fail "$board: build failed"

  step "$board: run under QEMU"
  status=0
  "$here/run-qemu.sh" "$board" > "$out/run.log" 2>&1 || status=$?
  cat "$out/run.log"
  # QEMU's lm3s6965evb model prints this about one of its own timers at
  # reset, whatever the guest does; it is not the demo's output.
  grep -vx 'Timer with period zero, disabling' "$out/run.log" > "$out/actual.txt" || true
  sed "s/@BOARD@/$board/" "$here/demo/expected.txt" > "$out/expected.txt"
  if ! diff -u "$out/expected.txt" "$out/actual.txt"; then
    fail "$board: the demo's output differs from demo/expected.txt (diff above: - expected, + actual)"
  fi
  [ "$status" -eq "$expected_status" ] || fail "$board: exit status $status, expected $expected_status"
  echo "$board: output as expected, exit status $status"

  step "$board: image checks"
  sections=$(arm-none-eabi-size -A "$out/demo.elf")
  data=$(awk '$1 == ".data" { print $2 }' <<< "$sections")
  [ "${data:-0}" -eq 0 ] || fail "$board: .data is $data bytes, expected none"
  if awk '$1 ~ /^\.(pre)?init_array$/ && $2 != 0 { found = 1 } END { exit !found }' <<< "$sections"; then
    fail "$board: the image has an .init_array"
  fi
  echo "no .data initialiser, no .init_array"

  make -s -C "$here" BOARD="$board" frames | tee "$out/frames.txt"
  for task in blinker uart_writer; do
    grep -qw "$task" "$out/frames.txt" || fail "$board: no frame size recorded for $task"
  done

  make -s -C "$here" BOARD="$board" sizes | tee "$out/sizes.txt"
  core=$(awk '$6 == "size_core.o" { print $1 }' "$out/sizes.txt")
  [ -n "$core" ] || fail "$board: could not measure the executor core"
  [ "$core" -lt "$core_limit" ] || fail "$board: executor core is $core bytes of .text, limit $core_limit"
  echo "executor core: $core bytes of .text (limit $core_limit)"

  make -s -C "$here" BOARD="$board" trap || fail "$board: a heap allocation linked; the trap is broken"
done

step "embedded/ci.sh: all checks passed"
