// weft/embedded/platform.hpp — the one seam between the embedded executor and
// the CPU it runs on.
//
// Why: the executor, the waker lists and the primitives never touch a CPU
// register. Everything CPU-specific goes through a *platform*: a type with only
// static members, chosen at compile time as a template argument. Two exist,
// each a whole file: platform_cortex_m.hpp (PRIMASK, WFI, SysTick) and
// platform_host.hpp (simulated interrupts, for the GoogleTest host tests).
// Swapping the file swaps the machine; no `#if` picks between them.
//
// The interface (checked by the `platform` concept below):
//   P::irq_state                  what disable_interrupts() returns
//   P::disable_interrupts()       mask interrupts, return the previous mask
//   P::restore_interrupts(s)      put back a mask returned by the above; a
//                                 pending interrupt is taken right here
//   P::wait_for_interrupt()       sleep until an interrupt is pending. Called
//                                 with interrupts masked, so a wake-up between
//                                 "nothing to do" and "sleep" cannot be lost
//                                 (the classic WFI idiom: the CPU wakes on a
//                                 pending interrupt even while it is masked)
//   P::now()                      the monotonic tick (wraps; compare with
//                                 tick_reached, never with <)
//   P::note_frame_size(n, slot)   build-time hook, see frame_pool.hpp
//
// Interrupt safety: every function of the interface must be callable from an
// interrupt handler and from thread mode. critical_section nests: it saves the
// previous mask and restores exactly that, so an inner section never unmasks
// interrupts an outer one masked.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

namespace weft::embedded {

/// The monotonic tick of the platform (SysTick periods on Cortex-M).
using tick_type = std::uint32_t;

/// Whether `deadline` has been reached at `now`, correct across wrap-around as
/// long as the two are less than 2^31 ticks apart.
[[nodiscard]] constexpr bool tick_reached(tick_type now, tick_type deadline) noexcept {
  return static_cast<std::int32_t>(now - deadline) >= 0;
}

template <class P>
concept platform = requires(typename P::irq_state s, std::size_t n) {
  { P::disable_interrupts() } noexcept -> std::same_as<typename P::irq_state>;
  { P::restore_interrupts(s) } noexcept;
  { P::wait_for_interrupt() } noexcept;
  { P::now() } noexcept -> std::same_as<tick_type>;
  { P::note_frame_size(n, n) } noexcept;
};

/// Interrupts masked for the lifetime of the object; nests.
template <platform P>
class [[nodiscard]] critical_section {
 public:
  critical_section() noexcept : saved_(P::disable_interrupts()) {}
  ~critical_section() { P::restore_interrupts(saved_); }
  critical_section(const critical_section&) = delete;
  critical_section& operator=(const critical_section&) = delete;

 private:
  typename P::irq_state saved_;
};

}  // namespace weft::embedded
