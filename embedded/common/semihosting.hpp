// embedded/common/semihosting.hpp — talking to the debugger (here: QEMU)
// through ARM semihosting: `bkpt 0xab` with the operation in r0 and its
// argument in r1. QEMU needs `-semihosting-config enable=on,target=native`;
// QEMU 7.2 prints SYS_WRITE0 text on stderr.
//
// Exit: plain SYS_EXIT on 32-bit ARM carries only a reason code (QEMU maps
// "application exit" to 0 and anything else to 1). SYS_EXIT_EXTENDED takes a
// (reason, subcode) block, and QEMU exits with the subcode, so the demo can
// report any status.
#pragma once

#include <cstdint>

namespace weft::embedded::board_support {

inline std::uint32_t semihosting_call(std::uint32_t op, const void* arg) noexcept {
  register std::uint32_t r0 asm("r0") = op;
  register const void* r1 asm("r1") = arg;
  asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

/// Print a NUL-terminated string on the host's console.
inline void semihosting_write(const char* text) noexcept { semihosting_call(0x04 /* SYS_WRITE0 */, text); }

/// End the emulation with `status` as QEMU's exit status.
[[noreturn]] inline void semihosting_exit(std::uint32_t status) noexcept {
  const std::uint32_t block[2] = {0x20026 /* ADP_Stopped_ApplicationExit */, status};
  semihosting_call(0x20 /* SYS_EXIT_EXTENDED */, block);
  for (;;) asm volatile("wfi");  // not under a debugger: stop here
}

}  // namespace weft::embedded::board_support
