// futex — the two system calls a parked thread needs: wait while a 32-bit
// word holds a value (with an optional relative timeout), and wake one
// waiter. Used by futex_parker and by the io_uring driver when a worker with
// no I/O in flight parks (uring_driver.hpp).
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>

namespace weft::detail {

/// Sleeps while `*word == expected`, until woken or `timeout` passed (none:
/// no deadline). May return early (a signal, a spurious wake-up): callers
/// re-check their condition.
inline void futex_wait(sync::atomic<std::uint32_t>* word, std::uint32_t expected,
                       const std::optional<std::chrono::nanoseconds>& timeout) noexcept {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout) {
    const auto ns = timeout->count() < 0 ? 0 : timeout->count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  // SAFETY: std::atomic<uint32_t> is a plain 32-bit word on Linux.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, tsp,
          nullptr, 0);
}

/// Wakes one thread sleeping in futex_wait on `word`.
inline void futex_wake_one(sync::atomic<std::uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

}  // namespace weft::detail
