// weft/sync/barrier.hpp — weft::barrier, a reusable rendezvous of n tasks.
//
//   weft::barrier b(4);
//   // in each of 4 tasks, every round:
//   if (co_await b.arrive_and_wait()) { /* exactly one task per phase: the leader */ }
//
// Each phase completes when n tasks have arrived: the last to arrive (the
// leader) continues at once and gets true; the n-1 waiting ones are released
// (in rounds of wake_batch::capacity) and get false. The barrier then starts
// the next phase with a zero count, so it can be reused any number of times.
//
// Design: one spin_mutex guards the arrival count, the phase number and the
// FIFO of waiters. Each waiter records its phase; the leader releases the
// waiters of the phase it completed (tasks of the next phase may queue behind
// them while a round of wakes runs unlocked; they stay).
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/sync/queued_awaiter.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>

namespace weft {

class barrier;

namespace detail {
/// Test and diagnostic accessor: how many tasks wait on `b` right now.
std::size_t waiter_count(const barrier& b) noexcept;

struct barrier_waiter : waiter_node {
  std::uint64_t phase = 0;  // the phase it arrived in; guarded by the lock
};
}  // namespace detail

/// The awaitable returned by barrier::arrive_and_wait().
///
/// - completes with: bool, true for exactly one task per phase (the last to
///   arrive, which does not suspend) and false for the others, once all n
///   have arrived. The arrival is made when the awaitable is awaited.
/// - budget: the leader's immediate completion counts against the
///   cooperative budget; when it is spent the leader yields first (it stays
///   the leader).
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) while it waits withdraws its
///   arrival: the phase then needs another arrival to complete, as if this
///   task had never arrived. Once the phase completed, destroying it changes
///   nothing (the phase stays completed).
/// - resumes on: the awaiting task's runtime (waiters), or continues inline
///   (the leader); never inline in another task.
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the barrier must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited; awaiting it a second time, or
///   after it was moved from, throws std::logic_error (in every build).
class [[nodiscard]] barrier_wait_awaiter {
 public:
  explicit barrier_wait_awaiter(barrier& b) noexcept : b_(&b) {}
  barrier_wait_awaiter(barrier_wait_awaiter&& o) noexcept = default;  // only before being awaited
  barrier_wait_awaiter(const barrier_wait_awaiter&) = delete;
  barrier_wait_awaiter& operator=(const barrier_wait_awaiter&) = delete;
  barrier_wait_awaiter& operator=(barrier_wait_awaiter&&) = delete;
  ~barrier_wait_awaiter();

  /// Never ready before arriving: arriving and queueing are one step under
  /// the barrier's lock, in await_suspend.
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  bool await_resume() noexcept {
    op_.resume();  // resumed only once its phase completed
    return leader_;
  }

 private:
  barrier* b_;
  detail::queued_awaiter<detail::barrier_waiter> op_;  // owned by the awaiting task
  bool leader_ = false;
};

class barrier {
 public:
  /// Throws std::invalid_argument if n == 0.
  explicit barrier(std::size_t n);
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;
  /// Aborts with a message if tasks wait on it.
  ~barrier();

  /// Arrive and wait for the phase to complete (see barrier_wait_awaiter).
  barrier_wait_awaiter arrive_and_wait() noexcept { return barrier_wait_awaiter{*this}; }

  /// Tasks per phase.
  [[nodiscard]] std::size_t expected() const noexcept { return n_; }

 private:
  friend class barrier_wait_awaiter;
  friend std::size_t detail::waiter_count(const barrier& b) noexcept;
  using lock_type = detail::sync::unique_lock<detail::sync::spin_mutex>;

  /// Arrive: true if this completed the phase (the leader; the others are
  /// woken), else `w` is queued with `wk`.
  bool arrive(detail::barrier_waiter& w, waker& wk) noexcept;
  void withdraw(detail::barrier_waiter& w) noexcept;

  const std::size_t n_;
  mutable detail::sync::spin_mutex mu_;
  detail::waiter_list waiters_;  // guarded by mu_
  std::size_t arrived_ = 0;      // in the current phase; guarded by mu_
  std::uint64_t phase_ = 0;      // completed phases; guarded by mu_
};

}  // namespace weft
