// weft/embedded/platform_cortex_m.hpp — the platform for ARMv7-M
// (Cortex-M3/M4): PRIMASK, WFI, SysTick, NVIC.
//
// Why these instructions:
//   * disable_interrupts: read PRIMASK, then `cpsid i`. Returning the old
//     PRIMASK (instead of blindly enabling later) is what lets critical
//     sections nest, and lets a task (which runs masked) use them.
//   * restore_interrupts: `msr primask`. If the value re-enables interrupts,
//     a pending one is taken right after the instruction.
//   * wait_for_interrupt: `dsb; wfi`, called with PRIMASK set. WFI wakes on a
//     *pending* interrupt even while it is masked, so the executor's "queue
//     empty? then sleep" cannot lose an interrupt that lands in between; the
//     handler runs when the executor unmasks.
//   * now(): a 32-bit tick counter in .bss, written only by on_systick() (from
//     the SysTick handler); a 32-bit aligned load is atomic on ARMv7-M.
// All "memory" clobbers make the mask changes compiler barriers too, so no
// access to shared state moves out of a critical section.
//
// note_frame_size is the build-time frame report (see frame_pool.hpp): inlined
// into each coroutine's ramp function, where the frame size is a constant, it
// emits (address of the ramp, frame size, slot size) into the non-allocated
// section .weft_frames (no flash, no RAM; `make frames` prints it), and if the
// frame cannot fit its slot it calls a function that is never defined, so the
// link fails with that function's name as the error message. At -O0 the size
// is not a constant; the report is then empty and the check moves to run time
// (spawn returns frame_too_large).
#pragma once

#if !defined(__arm__)
#error "platform_cortex_m.hpp is for ARM Cortex-M targets; host builds use platform_host.hpp"
#endif

#include <cstddef>
#include <cstdint>

#include <weft/embedded/platform.hpp>

extern "C" void weft_embedded_error_coroutine_frame_larger_than_its_frame_pool_slot();

namespace weft::embedded {

struct cortex_m {
  using irq_state = std::uint32_t;  // PRIMASK

  [[gnu::always_inline]] static irq_state disable_interrupts() noexcept {
    std::uint32_t primask;
    asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
  }
  [[gnu::always_inline]] static void restore_interrupts(irq_state primask) noexcept {
    asm volatile("msr primask, %0" : : "r"(primask) : "memory");
  }
  static void wait_for_interrupt() noexcept { asm volatile("dsb\n\twfi" : : : "memory"); }
  [[nodiscard]] static tick_type now() noexcept { return ticks_; }

  [[gnu::always_inline]] static void note_frame_size(std::size_t n, std::size_t slot_bytes) noexcept {
    if (__builtin_constant_p(n) && __builtin_constant_p(slot_bytes)) {
      asm volatile(
          "1:\n\t.pushsection .weft_frames,\"\",%%progbits\n\t"
          ".4byte 1b, %c0, %c1\n\t.popsection"
          :
          : "i"(n), "i"(slot_bytes));
      if (n > slot_bytes) weft_embedded_error_coroutine_frame_larger_than_its_frame_pool_slot();
    }
  }

  /// Call first thing in SysTick_Handler.
  static void on_systick() noexcept { ticks_ = ticks_ + 1; }

  /// SysTick every `cycles` processor clocks, at `priority` (0 highest; only
  /// the implemented top bits count).
  static void start_systick(std::uint32_t cycles, std::uint8_t priority) noexcept {
    reg(0xE000ED20) = (reg(0xE000ED20) & 0x00FFFFFFu) | (std::uint32_t{priority} << 24);  // SHPR3
    reg(0xE000E010) = 0x4;         // SYST_CSR: processor clock, still stopped
    reg(0xE000E014) = cycles - 1;  // SYST_RVR
    reg(0xE000E018) = 0;           // SYST_CVR
    reg(0xE000E010) = 0x7;         // SYST_CSR: processor clock, interrupt, enable
  }
  /// Enable external interrupt `irq` in the NVIC, at `priority`.
  static void enable_irq(unsigned irq, std::uint8_t priority) noexcept {
    *reinterpret_cast<volatile std::uint8_t*>(0xE000E400u + irq) = priority;  // NVIC_IPR
    reg(0xE000E100u + 4 * (irq / 32)) = 1u << (irq % 32);                    // NVIC_ISER
  }

 private:
  static volatile std::uint32_t& reg(std::uintptr_t address) noexcept {
    return *reinterpret_cast<volatile std::uint32_t*>(address);
  }
  inline static volatile tick_type ticks_ = 0;
};

static_assert(platform<cortex_m>);

}  // namespace weft::embedded
