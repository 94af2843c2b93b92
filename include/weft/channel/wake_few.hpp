// weft/channel/wake_few.hpp — the wakers of the one or two waits a single
// channel operation completes, woken after the channel's lock is released.
//
// A send completes at most one receive (the value handed to it) and a
// receive or a released slot grants at most one waiting send; a granted
// send that resumes does both. So the per-message paths need room for two
// wakers only, and use this two-slot batch instead of detail::wake_batch
// (32 slots and a loop; an earlier version that zero-filled them measured
// half the cost of an uncontended receive). Operations that wake many
// (closing a channel) use wake_batch.
//
// Same rule as wake_batch: declare it before the lock guard, so it is
// destroyed — and wakes — after the guard unlocks. It touches only the
// wakers it took, never a node.
#pragma once

#include <weft/detail/waiter_list.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <utility>

namespace weft::chan_detail {

class wake_few {
 public:
  wake_few() noexcept = default;
  wake_few(const wake_few&) = delete;
  wake_few& operator=(const wake_few&) = delete;
  ~wake_few() {
    first_.wake();  // a no-op on an empty waker
    second_.wake();
  }

  /// Room for one more waker?
  [[nodiscard]] bool full() const noexcept { return static_cast<bool>(second_); }

  /// Take `n`'s waker (n is unlinked; its wait completed).
  void take(weft::detail::waiter_node& n) noexcept {
    if (!first_) {
      first_ = std::move(n.wake);
    } else {
      assert(!second_);  // INVARIANT: callers check full() first
      second_ = std::move(n.wake);
    }
  }

 private:
  waker first_;
  waker second_;
};

}  // namespace weft::chan_detail
