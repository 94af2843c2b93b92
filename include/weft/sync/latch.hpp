// weft/sync/latch.hpp — weft::latch, a single-use countdown (std::latch for
// tasks).
//
//   weft::latch ready(3);
//   // three workers:            // a waiter:
//   ready.count_down();           co_await ready.wait();   // resumes once all 3 counted down
//
// The count only goes down; when it reaches zero every waiter is released
// (in rounds of wake_batch::capacity) and later waits complete at once.
// Counting below zero is misuse and throws.
//
// Design: one spin_mutex guards the count and the FIFO of waiters. The count
// is also an atomic, so try_wait() and a wait on an open latch need no lock.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/sync/queued_awaiter.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <limits>
#include <utility>

namespace weft {

class latch;

namespace detail {
/// Test and diagnostic accessor: how many tasks wait on `l` right now.
std::size_t waiter_count(const latch& l) noexcept;
}  // namespace detail

/// The awaitable returned by latch::wait() and latch::arrive_and_wait(n).
///
/// - completes with: nothing (void), once the count is zero; at once if it
///   already is. arrive_and_wait(n) first counts down by n — when it is
///   awaited, not when it is made (so a with_cancellation whose token is
///   already cancelled does not arrive) — and throws from the co_await as
///   count_down would.
/// - budget: a wait that completes at once counts against the cooperative
///   budget; when it is spent the task yields first.
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) while it waits unlinks it. An
///   arrival already made by arrive_and_wait stays counted (a latch cannot
///   count up).
/// - resumes on: the awaiting task's runtime, never inline in count_down.
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the latch must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited; awaiting it a second time, or
///   after it was moved from, throws std::logic_error (in every build).
class [[nodiscard]] latch_wait_awaiter {
 public:
  latch_wait_awaiter(latch& l, std::ptrdiff_t arrive) noexcept : l_(&l), arrive_(arrive) {}
  // The arrival goes with the move: a moved-from awaiter never counts down.
  latch_wait_awaiter(latch_wait_awaiter&& o) noexcept
      : l_(o.l_), arrive_(std::exchange(o.arrive_, 0)), op_(std::move(o.op_)) {}
  latch_wait_awaiter(const latch_wait_awaiter&) = delete;
  latch_wait_awaiter& operator=(const latch_wait_awaiter&) = delete;
  latch_wait_awaiter& operator=(latch_wait_awaiter&&) = delete;
  ~latch_wait_awaiter();

  bool await_ready();  // arrive_and_wait: throws as count_down does
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume() noexcept { op_.resume(); }  // resumed only once released

 private:
  latch* l_;
  std::ptrdiff_t arrive_;                           // still to count down when awaited
  detail::queued_awaiter<detail::waiter_node> op_;  // owned by the awaiting task
};

class latch {
 public:
  /// Throws std::invalid_argument if count < 0.
  explicit latch(std::ptrdiff_t count);
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;
  /// Aborts with a message if tasks wait on it.
  ~latch();

  [[nodiscard]] static constexpr std::ptrdiff_t max() noexcept {
    return std::numeric_limits<std::ptrdiff_t>::max();
  }

  /// Count down by n; at zero, release every waiter. Any thread (also plain
  /// threads); never blocks; wakes after unlocking. Throws
  /// std::invalid_argument if n < 0 and std::logic_error if n exceeds the
  /// current count (nothing is counted then).
  void count_down(std::ptrdiff_t n = 1);

  /// True once the count is zero. Any thread; lock-free.
  [[nodiscard]] bool try_wait() const noexcept;

  /// Wait for zero (see latch_wait_awaiter).
  latch_wait_awaiter wait() noexcept { return latch_wait_awaiter{*this, 0}; }
  /// Count down by n when awaited, then wait for zero (see latch_wait_awaiter).
  latch_wait_awaiter arrive_and_wait(std::ptrdiff_t n = 1) noexcept {
    return latch_wait_awaiter{*this, n};
  }

 private:
  friend class latch_wait_awaiter;
  friend std::size_t detail::waiter_count(const latch& l) noexcept;
  using lock_type = detail::sync::unique_lock<detail::sync::spin_mutex>;

  bool ready_or_enqueue(detail::waiter_node& w, waker& wk) noexcept;
  void withdraw(detail::waiter_node& w) noexcept;

  mutable detail::sync::spin_mutex mu_;
  detail::waiter_list waiters_;  // guarded by mu_
  // Written only under mu_; read without it by try_wait() (see latch.cpp).
  detail::sync::atomic<std::ptrdiff_t> count_;
};

}  // namespace weft
