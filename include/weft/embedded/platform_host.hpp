// weft/embedded/platform_host.hpp — the platform for host tests: interrupts
// simulated in software, deterministically.
//
// Why: the executor's hard parts (an interrupt arriving during a list walk, a
// waiter destroyed while linked, a task in two lists) must be tested in
// GoogleTest, under sanitizers, with exact event sequences. This file models
// the few NVIC behaviours the executor relies on, and nothing else:
//   * eight interrupt lines; the line number is the priority (0 highest). A
//     raised line becomes pending; a pending line is taken as soon as
//     interrupts are enabled and it outranks every active line — so a handler
//     is pre-empted only by a higher-priority line, never by itself;
//   * disable/restore_interrupts is PRIMASK: restoring "enabled" takes the
//     pending lines right there, as the real CPU does on `msr primask`;
//   * handlers run with interrupts enabled;
//   * wait_for_interrupt() calls the test's idle hook (which typically raises
//     the next simulated interrupt); with no hook, run() would sleep forever,
//     so it aborts instead of hanging the test;
//   * the tick only moves when a SysTick-style handler calls on_systick().
//
// Ownership: one process-wide simulated CPU (static state); reset() puts it
// back to power-on. Single-threaded by design: "interrupts" are function calls
// on the test's thread, which is what makes the recorded sequences exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <weft/embedded/platform.hpp>

namespace weft::embedded {

namespace detail {
// The simulated CPU's registers (host_platform::reset() restores these values).
struct host_cpu {
  bool enabled = true;
  std::uint32_t pending = 0;
  std::uint32_t active = 0;
  tick_type ticks = 0;
  unsigned sleeps = 0;
  void (*handlers[8])(void*) = {};
  void* contexts[8] = {};
  void (*idle)(void*) = nullptr;
  void* idle_context = nullptr;
};
}  // namespace detail

struct host_platform {
  using irq_state = bool;  // were interrupts enabled?
  using handler_fn = void (*)(void* context);
  static constexpr unsigned line_count = 8;

  // --- the platform interface -------------------------------------------
  static irq_state disable_interrupts() noexcept {
    const bool was = cpu_.enabled;
    cpu_.enabled = false;
    return was;
  }
  static void restore_interrupts(irq_state was) noexcept {
    cpu_.enabled = was;
    if (was) take_pending();
  }
  static void wait_for_interrupt() noexcept {
    ++cpu_.sleeps;
    if (cpu_.idle == nullptr) {
      std::fputs("host_platform: wait_for_interrupt() with no idle hook: run() would hang\n", stderr);
      std::abort();
    }
    cpu_.idle(cpu_.idle_context);
  }
  static tick_type now() noexcept { return cpu_.ticks; }
  static void note_frame_size(std::size_t, std::size_t) noexcept {}

  // --- the simulation -----------------------------------------------------
  static void reset() noexcept { cpu_ = detail::host_cpu{}; }
  /// Install the handler of `line` (like writing the vector table).
  static void attach(unsigned line, handler_fn h, void* context = nullptr) noexcept {
    cpu_.handlers[line] = h;
    cpu_.contexts[line] = context;
  }
  /// What wait_for_interrupt() does (it is called with interrupts disabled).
  static void on_idle(handler_fn h, void* context = nullptr) noexcept {
    cpu_.idle = h;
    cpu_.idle_context = context;
  }
  /// The hardware raises `line`: pending now, taken now if it may pre-empt.
  static void raise(unsigned line) noexcept {
    cpu_.pending |= 1u << line;
    if (cpu_.enabled) take_pending();
  }
  /// What the SysTick handler calls first, as on Cortex-M.
  static void on_systick() noexcept { ++cpu_.ticks; }
  [[nodiscard]] static bool interrupts_enabled() noexcept { return cpu_.enabled; }
  [[nodiscard]] static bool in_interrupt() noexcept { return cpu_.active != 0; }
  [[nodiscard]] static unsigned sleeps() noexcept { return cpu_.sleeps; }

 private:
  // Take every pending line that outranks the active ones, highest first.
  static void take_pending() noexcept {
    while (cpu_.enabled) {
      // Lines above the highest-priority active one (lowest set bit) may pre-empt.
      const std::uint32_t outranks = cpu_.active == 0 ? ~0u : (cpu_.active & (0u - cpu_.active)) - 1u;
      const std::uint32_t takeable = cpu_.pending & outranks;
      if (takeable == 0) return;
      const unsigned line = static_cast<unsigned>(__builtin_ctz(takeable));
      const std::uint32_t bit = 1u << line;
      cpu_.pending &= ~bit;
      if (cpu_.handlers[line] == nullptr) {
        std::fprintf(stderr, "host_platform: line %u raised with no handler attached\n", line);
        std::abort();
      }
      cpu_.active |= bit;
      cpu_.handlers[line](cpu_.contexts[line]);
      cpu_.active &= ~bit;
    }
  }

  inline static detail::host_cpu cpu_{};
};

static_assert(platform<host_platform>);

}  // namespace weft::embedded
