#include "scheduler/futex_parker.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace weft::detail {
namespace {

void futex_wait(sync::atomic<std::uint32_t>* word, std::uint32_t expected,
                const std::optional<std::chrono::nanoseconds>& timeout) {
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

void futex_wake_one(sync::atomic<std::uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

}  // namespace

void futex_parker::park(std::optional<std::chrono::nanoseconds> timeout) {
  // Fast path: a pending token.
  // ORDERING: acquire: pairs with unpark's release exchange, so what the
  // unparker wrote before unparking is visible after we return.
  std::uint32_t expected = notified;
  if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    return;
  }
  if (timeout && timeout->count() <= 0) return;
  expected = empty;
  // ORDERING: acquire (on failure): the failure means a token arrived (see above).
  if (!state_.compare_exchange_strong(expected, parked, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
    // INVARIANT: only the owner parks, so the state can only be NOTIFIED here.
    state_.store(empty, std::memory_order_relaxed);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::optional<std::chrono::nanoseconds> left;
    if (timeout) {
      left = *timeout - (std::chrono::steady_clock::now() - start);
      if (left->count() <= 0) break;
    }
    futex_wait(&state_, parked, left);
    // ORDERING: acquire: pairs with unpark's release.
    if (state_.load(std::memory_order_acquire) == notified) break;
    // Spurious or timed-out return: loop re-checks the deadline.
  }
  // PARKED (timed out) or NOTIFIED: either way consume and return.
  // ORDERING: acquire: see above.
  state_.exchange(empty, std::memory_order_acquire);
}

void futex_parker::unpark() noexcept {
  // ORDERING: release: publishes what the unparker wrote; pairs with the
  // acquires in park.
  if (state_.exchange(notified, std::memory_order_release) == parked) futex_wake_one(&state_);
}

}  // namespace weft::detail
