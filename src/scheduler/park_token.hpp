// park_token — the unpark protocol every park driver shares.
//
// One 32-bit word: EMPTY, PARKED or NOTIFIED. Only the owner parks; any
// thread unparks.
//
//   park:   NOTIFIED→EMPTY: return at once (an unpark came first, never lost)
//           EMPTY→PARKED; wait in the driver until NOTIFIED or the deadline
//           (a loop: spurious returns and early timeouts wait again);
//           then back to EMPTY
//   unpark: exchange(NOTIFIED); only if it was PARKED does the unparker make
//           the system call that wakes the owner (futex wake, eventfd write),
//           so unparking a running worker costs one atomic exchange
//
// The drivers differ only in how they wait and wake; park_with() holds the
// loop so the protocol is written once. Memory ordering: unpark's exchange is
// a release, every owner-side transition that ends a park an acquire, so what
// the unparker wrote before unparking is visible when park returns. When the
// owner sleeps in the kernel, the wake (futex_wake, the eventfd write) passes
// through a kernel lock after the exchange, so the owner's acquire load after
// waking sees NOTIFIED.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

class park_token {
 public:
  static constexpr std::uint32_t empty = 0;
  static constexpr std::uint32_t parked = 1;
  static constexpr std::uint32_t notified = 2;

  /// Unpark: true if the owner is (about to be) asleep in the driver and the
  /// caller must wake it.
  [[nodiscard]] bool notify() noexcept {
    // ORDERING: acq_rel: the release publishes what the unparker wrote and
    // pairs with the acquires on the owner's side; the acquire pairs with the
    // owner's release CAS to PARKED, so an unparker that sees PARKED also sees
    // what the owner did before parking (a park hook it installed).
    return word_.exchange(notified, std::memory_order_acq_rel) == parked;
  }

  /// For observers (tests): the owner is parked.
  [[nodiscard]] bool is_parked() const noexcept {
    // ORDERING: relaxed: a hint; unpark's exchange sees the latest state.
    return word_.load(std::memory_order_relaxed) == parked;
  }

  /// The word a futex waits on.
  sync::atomic<std::uint32_t>& word() noexcept { return word_; }

  /// The owner parks. `on_token()` runs when a pending unpark makes the park
  /// return at once; `poll()` for a zero timeout; `wait(left)` otherwise —
  /// `left` is nullopt for no deadline; `wait` returns true if the driver got
  /// work of its own (an I/O completion), which ends the park like an unpark.
  template <class OnToken, class Poll, class Wait>
  void park_with(std::optional<std::chrono::nanoseconds> timeout, OnToken&& on_token, Poll&& poll,
                 Wait&& wait) {
    // Fast path: a pending token.
    // ORDERING: acquire: pairs with notify's release.
    std::uint32_t expected = notified;
    if (word_.compare_exchange_strong(expected, empty, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      on_token();
      return;
    }
    if (timeout && timeout->count() <= 0) {
      poll();
      return;
    }
    expected = empty;
    // ORDERING: acq_rel on success: the release pairs with notify's acquire
    // (see notify); acquire on failure: a token arrived.
    if (!word_.compare_exchange_strong(expected, parked, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      // INVARIANT: only the owner parks, so the word can only be NOTIFIED.
      // ORDERING: relaxed: the failed CAS already acquired the token.
      word_.store(empty, std::memory_order_relaxed);
      on_token();
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      std::optional<std::chrono::nanoseconds> left;
      if (timeout) {
        left = *timeout - (std::chrono::steady_clock::now() - start);
        if (left->count() <= 0) break;
      }
      if (wait(left)) break;  // the driver's own work arrived
      // ORDERING: acquire: pairs with notify's release (see the file comment).
      if (word_.load(std::memory_order_acquire) == notified) break;
      // Spurious return, a signal, a stale wake, or a timeout a little
      // early: re-check the deadline and wait again — never end early.
    }
    // PARKED (timed out, or work) or NOTIFIED: consume either way.
    // ORDERING: acquire: as the fast path.
    word_.exchange(empty, std::memory_order_acquire);
  }

 private:
  sync::atomic<std::uint32_t> word_{empty};
};

}  // namespace weft::detail
