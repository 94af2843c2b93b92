// park_token — the unpark protocol every park driver shares.
//
// One 32-bit word: EMPTY, PARKED, PARKED_FUTEX or NOTIFIED. Only the owner
// parks; any thread unparks.
//
//   park:   NOTIFIED→EMPTY: return at once (an unpark came first, never lost)
//           EMPTY→PARKED; wait in the driver until NOTIFIED or the deadline
//           (a loop: spurious returns and early timeouts wait again);
//           then back to EMPTY
//   unpark: exchange(NOTIFIED); only if it was PARKED does the unparker make
//           the system call that wakes the owner (futex wake, eventfd write),
//           so unparking a running worker costs one atomic exchange
//
// PARKED_FUTEX: a driver whose owner may sleep either in the driver or on a
// futex (io_uring with no I/O in flight: a futex wake is cheaper than an
// eventfd write and its completion) moves PARKED→PARKED_FUTEX before it
// sleeps on the word (enter_futex_wait), so the unparker, which reads the
// state in its exchange, knows which wake to make.
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
  static constexpr std::uint32_t parked_futex = 3;

  /// Unpark: the state before it — PARKED or PARKED_FUTEX if the owner is
  /// (about to be) asleep and the caller must wake it (in the driver, or on
  /// the word with futex_wake_one); EMPTY or NOTIFIED if not.
  [[nodiscard]] std::uint32_t notify_from() noexcept {
    // ORDERING: acq_rel: the release publishes what the unparker wrote and
    // pairs with the acquires on the owner's side; the acquire pairs with the
    // owner's release CAS to PARKED (or PARKED_FUTEX), so an unparker that
    // sees it also sees what the owner did before parking (a park hook it
    // installed).
    return word_.exchange(notified, std::memory_order_acq_rel);
  }

  /// Unpark, for drivers that never park on the futex: true if the owner is
  /// (about to be) asleep in the driver and the caller must wake it.
  [[nodiscard]] bool notify() noexcept { return notify_from() == parked; }

  /// Owner, inside park_with's `wait`: sleep on the word rather than in the
  /// driver. True if the word is now PARKED_FUTEX (wait on it with
  /// futex_wait(word, parked_futex)); false if an unpark came first (do not
  /// wait: park_with sees NOTIFIED). A driver must make the same choice on
  /// every wait of one park.
  [[nodiscard]] bool enter_futex_wait() noexcept {
    std::uint32_t expected = parked;
    // ORDERING: acq_rel on success: the release publishes the state change
    // to the unparker's exchange; acquire on failure: pairs with notify's
    // release (a token, or PARKED_FUTEX set by this owner's earlier wait).
    if (word_.compare_exchange_strong(expected, parked_futex, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      return true;
    }
    return expected == parked_futex;
  }

  /// For observers (tests): the owner is parked.
  [[nodiscard]] bool is_parked() const noexcept {
    // ORDERING: relaxed: a hint; unpark's exchange sees the latest state.
    const std::uint32_t w = word_.load(std::memory_order_relaxed);
    return w == parked || w == parked_futex;
  }

  /// For observers (tests): the owner has chosen to sleep on the word
  /// (PARKED_FUTEX), so an unpark now makes a futex wake.
  [[nodiscard]] bool is_parked_on_word() const noexcept {
    // ORDERING: relaxed: a hint, as is_parked.
    return word_.load(std::memory_order_relaxed) == parked_futex;
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
    // PARKED or PARKED_FUTEX (timed out, or work) or NOTIFIED: consume either way.
    // ORDERING: acquire: as the fast path.
    word_.exchange(empty, std::memory_order_acquire);
  }

 private:
  sync::atomic<std::uint32_t> word_{empty};
};

}  // namespace weft::detail
