#!/bin/bash
# embedded/frames.sh ELF — print the coroutine frame sizes recorded at build
# time in ELF's .weft_frames section (see platform_cortex_m.hpp): one record
# of three 32-bit words per coroutine, (address in its ramp function, frame
# bytes, slot bytes of its frame_pool). The address is turned back into the
# coroutine's name with the debug info.
set -euo pipefail
elf=$1
words=$(arm-none-eabi-objdump -s -j .weft_frames "$elf" | awk '/^ [0-9a-f]+ /{for (i = 2; i <= 5; i++) if (length($i) == 8 && $i ~ /^[0-9a-f]+$/) print $i}')
le() { echo $((16#${1:6:2}${1:4:2}${1:2:2}${1:0:2})); }
set -- $words
[ $# -gt 0 ] || { echo "no frame records in $elf (built without optimisation?)" >&2; exit 1; }
printf '%-6s %-6s %s\n' frame slot coroutine
echo '------ ------ ---------'
while [ $# -ge 3 ]; do
  addr=$(le "$1"); size=$(le "$2"); slot=$(le "$3"); shift 3
  # The inline chain at the record reads allocate_slot, allocate, operator
  # new, then the coroutine whose ramp this is.
  name=$(arm-none-eabi-addr2line -f -i -C -e "$elf" "$(printf '0x%x' "$addr")" | grep -v '^/' |
    awk 'found { print; exit } /operator new/ { found = 1 }')
  printf '%-6s %-6s %s\n' "$size" "$slot" "$name"
done
