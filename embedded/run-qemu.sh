#!/bin/bash
# embedded/run-qemu.sh BOARD — build the weft/embedded demo for BOARD
# (lm3s6965evb or mps2-an386), run it under qemu-system-arm, print what it
# prints, and exit with its exit status (124 if it had to be killed).
#
# -icount shift=0,sleep=off makes virtual time advance with instructions and
# jump straight to the next timer when the CPU sleeps in WFI: the demo's
# output does not depend on the host's speed, and it runs in well under a
# second. Semihosting text arrives on QEMU's stderr (QEMU 7.2); the UART's
# bytes go to a null serial backend.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
board=${1:-}
case "$board" in
  lm3s6965evb | mps2-an386) ;;
  *) echo "usage: $0 lm3s6965evb|mps2-an386" >&2; exit 64 ;;
esac
make -s -C "$here" BOARD="$board" >&2
status=0
timeout --kill-after=5 "${QEMU_TIMEOUT:-30}" qemu-system-arm -M "$board" -nographic -monitor none \
  -serial null -icount shift=0,sleep=off \
  -semihosting-config enable=on,target=native \
  -kernel "$here/build/$board/demo.elf" 2>&1 || status=$?
exit "$status"
