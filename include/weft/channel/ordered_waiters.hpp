// weft/channel/ordered_waiters.hpp — the wait list of broadcast::recv and
// watch::changed: waiters linked in the order of a key that only grows (a
// broadcast receiver's position, a watch receiver's seen version), so a
// wake-up walks from the head and stops at the first waiter that is not
// ready yet.
//
// The list is guarded by the channel's own lock (passed in); wakes happen in
// rounds of detail::wake_batch::capacity (32) with the lock released between
// rounds, after each round's unlock.
//
// An awaiter is the node (no allocation). `suspended` is owned by the
// awaiting task: set when it suspends (linked or yielding for the budget),
// cleared at resume; the awaiter's destructor unlinks the node when set.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/waker.hpp>

#include <coroutine>
#include <cstdint>

namespace weft::chan_detail {

struct ordered_node : weft::detail::waiter_node {
  std::uint64_t key = 0;   // the receiver's position / version when it linked
  bool suspended = false;  // suspended and not resumed (own task only)
};

/// What ordered_waiters::wake_ready's bound returns.
struct wake_bound {
  std::uint64_t limit;  // waiters with a key below it are ready
  bool all;             // every waiter is ready (the channel closed)
};

class ordered_waiters {
 public:
  /// Lock held, the wait not ready: link `n` at `key` (the newest key), with
  /// the waker of `h`. Throws (not in a task) before linking anything.
  void link(ordered_node& n, std::uint64_t key, std::coroutine_handle<> h) {
    n.wake = weft::suspend_current(h);  // may throw: nothing linked yet
    n.key = key;
    n.suspended = true;
    list_.push_back(n);
  }

  /// The wait is ready but the budget is spent: yield, and complete when
  /// resumed (callers' readiness is permanent). Lock not held.
  static void yield(ordered_node& n, std::coroutine_handle<> h) {
    n.suspended = true;
    weft::detail::suspend_current_and_reschedule(h);
  }

  /// An awaiter destroyed while suspended: unlink it if still linked. Lock
  /// held.
  void remove_if_linked(ordered_node& n) noexcept {
    if (n.linked) list_.remove(n);
  }

  [[nodiscard]] bool empty() const noexcept { return list_.empty(); }

  /// Wake every waiter whose key is below the bound. `bound()` runs under
  /// `mu` at the start of each round and returns a wake_bound.
  template <class Mutex, class Bound>
  void wake_ready(Mutex& mu, Bound&& bound) noexcept {
    for (;;) {
      weft::detail::wake_batch b;  // before the guard: wakes after the unlock
      weft::detail::sync::lock_guard<Mutex> g(mu);
      const wake_bound wb = bound();
      while (!b.full() && !list_.empty()) {
        auto& n = static_cast<ordered_node&>(*list_.front());
        if (n.key >= wb.limit && !wb.all) return;  // this and later ones are newer
        list_.remove(n);
        b.take(n);
      }
      if (list_.empty()) return;
    }
  }

 private:
  weft::detail::waiter_list list_;  // ordered_node, in key order
};

}  // namespace weft::chan_detail
