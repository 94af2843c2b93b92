// weft/sync/event.hpp — weft::event, a manual- or auto-reset event.
//
//   weft::event done;                              // manual, not set
//   co_await done.wait();                          // in any number of tasks
//   done.set();                                    // any thread: releases them all
//
//   weft::event turn(weft::event_mode::automatic); // releases one waiter per set()
//
// Manual mode: set() wakes every waiter and the event stays set (waits
// complete at once) until reset(). Automatic mode: set() releases exactly one
// waiter, the oldest; with none waiting the event stays set until one wait
// consumes it (several set() calls still store one), like a notify permit.
//
// Design: one spin_mutex guards the FIFO of waiters and the set flag. The flag
// is also an atomic so is_set() and a manual wait on a set event need no lock.
// A manual set() wakes, in rounds of wake_batch::capacity, the waiters that
// queued before it (each records the count of set() calls when it queues; a
// reset() during an unlocked round lets new waiters queue behind them, and
// those stay waiting).
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

class event;

enum class event_mode {
  manual,     // set() releases every waiter; stays set until reset()
  automatic,  // set() releases one waiter; a wait consumes the set state
};

namespace detail {
/// Test and diagnostic accessor: how many tasks wait on `e` right now.
std::size_t waiter_count(const event& e) noexcept;

struct event_waiter : waiter_node {
  std::uint64_t generation = 0;  // manual set() calls before it queued; guarded by the lock
};
}  // namespace detail

/// The awaitable returned by event::wait().
///
/// - completes with: nothing (void). Manual: at once if the event is set,
///   else at the next set(). Automatic: at once if set (consuming it), else
///   when a set() picks this waiter (oldest first).
/// - budget: a wait that completes at once counts against the cooperative
///   budget; when it is spent the task yields first (an automatic event's
///   state stays consumed for it).
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) is safe at any point: a queued
///   waiter leaves the queue. In automatic mode a set() it received (or a
///   set state it consumed) but never resumed for is passed on: the next
///   waiter is released, or the event is set again. Nothing is lost.
/// - resumes on: the awaiting task's runtime, never inline in set().
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the event must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited; awaiting it a second time, or
///   after it was moved from, throws std::logic_error (in every build).
class [[nodiscard]] event_wait_awaiter {
 public:
  explicit event_wait_awaiter(event& e) noexcept : e_(&e) {}
  event_wait_awaiter(event_wait_awaiter&& o) noexcept = default;  // only before being awaited
  event_wait_awaiter(const event_wait_awaiter&) = delete;
  event_wait_awaiter& operator=(const event_wait_awaiter&) = delete;
  event_wait_awaiter& operator=(event_wait_awaiter&&) = delete;
  ~event_wait_awaiter();

  bool await_ready();  // throws std::logic_error if awaited twice or moved from
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume() noexcept { op_.resume(); }  // resumed only once released

 private:
  event* e_;
  detail::queued_awaiter<detail::event_waiter> op_;  // owned by the awaiting task
};

class event {
 public:
  explicit event(event_mode mode = event_mode::manual, bool initially_set = false) noexcept
      : mode_(mode), set_(initially_set) {}
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  /// Aborts with a message if tasks wait on it.
  ~event();

  /// Manual: set, and wake every waiter (in rounds of 32). Automatic:
  /// release the oldest waiter, or stay set until a wait consumes it. Any
  /// thread (also plain threads); never blocks; wakes after unlocking.
  void set() noexcept;
  /// Clear the set state. Any thread.
  void reset() noexcept;
  /// Whether it is set now (a snapshot). Any thread; lock-free.
  [[nodiscard]] bool is_set() const noexcept;

  /// Wait until set (see event_wait_awaiter).
  event_wait_awaiter wait() noexcept { return event_wait_awaiter{*this}; }

  [[nodiscard]] event_mode mode() const noexcept { return mode_; }

 private:
  friend class event_wait_awaiter;
  friend std::size_t detail::waiter_count(const event& e) noexcept;
  using lock_type = detail::sync::unique_lock<detail::sync::spin_mutex>;

  bool try_consume() noexcept;
  bool try_consume_or_enqueue(detail::event_waiter& w, waker& wk) noexcept;
  void withdraw(detail::event_waiter& w) noexcept;
  void set_locked(lock_type& lk, detail::wake_batch& batch) noexcept;

  const event_mode mode_;
  mutable detail::sync::spin_mutex mu_;
  detail::waiter_list waiters_;   // guarded by mu_
  std::uint64_t generation_ = 0;  // manual set() calls; guarded by mu_
  // Written only under mu_; read without it by is_set() and the manual
  // fast path (see the ORDERING notes in event.cpp).
  detail::sync::atomic<bool> set_;
};

}  // namespace weft
