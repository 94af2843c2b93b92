// weft/sync/notify.hpp — weft::notify, tokio's Notify: wake one waiting task,
// or store one wake-up for the next.
//
//   weft::notify ready;
//   // consumer                                  // producer (any thread)
//   for (;;) {                                   queue.push(x);
//     while (auto x = queue.try_pop()) use(*x);  ready.notify_one();
//     co_await ready.notified();
//   }
//
// notify_one() wakes the oldest waiting task; if nobody waits it stores ONE
// permit (several calls still store one), which the next notified() consumes
// at once. So a notify_one that races with a task about to wait is never lost:
// the pattern above cannot miss an item. notify_all() wakes every task waiting
// at that moment and stores nothing (tasks that start waiting afterwards wait
// for the next notification).
//
// Design: one spin_mutex guards the FIFO of waiters, the permit and the count
// of notify_all calls. Each waiter records that count when it queues;
// notify_all bumps it and wakes, in rounds of wake_batch::capacity, the
// waiters from the head that queued before the bump (later ones were appended
// behind them while a round was being woken with the lock released).
// A waiter woken by notify_one but destroyed before it resumed passes the
// notification on (to the next waiter, or as the stored permit), as tokio
// does; one woken by notify_all has nothing to pass on.
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

class notify;

namespace detail {
/// Test and diagnostic accessor: how many tasks wait in notified() right now.
std::size_t waiter_count(const notify& n) noexcept;

struct notify_waiter : waiter_node {
  std::uint64_t generation = 0;  // notify_all calls before it queued; guarded by the lock
  bool by_one = false;           // woken by notify_one (set under the lock with the unlink)
};
}  // namespace detail

/// The awaitable returned by notify::notified().
///
/// - completes with: nothing (void). At once if a permit is stored (it is
///   consumed); else when notify_one picks this waiter (oldest first) or
///   notify_all runs while it waits.
/// - budget: a permit consumed at once counts against the cooperative
///   budget; when it is spent the task yields first (keeping the permit).
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) is safe at any point: a queued
///   waiter leaves the queue; a notify_one it received (or a permit it
///   consumed) but never resumed for is passed on to the next waiter or
///   stored again — no wake-up is lost. A notify_all it received is dropped.
/// - resumes on: the awaiting task's runtime, never inline in the notifier.
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the notify must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited; awaiting it a second time, or
///   after it was moved from, throws std::logic_error (in every build).
class [[nodiscard]] notified_awaiter {
 public:
  explicit notified_awaiter(notify& n) noexcept : n_(&n) {}
  notified_awaiter(notified_awaiter&& o) noexcept = default;  // only before being awaited
  notified_awaiter(const notified_awaiter&) = delete;
  notified_awaiter& operator=(const notified_awaiter&) = delete;
  notified_awaiter& operator=(notified_awaiter&&) = delete;
  ~notified_awaiter();

  bool await_ready();  // throws std::logic_error if awaited twice or moved from
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume() noexcept { op_.resume(); }  // resumed only once notified

 private:
  notify* n_;
  detail::queued_awaiter<detail::notify_waiter> op_;  // owned by the awaiting task
};

class notify {
 public:
  notify() noexcept = default;
  notify(const notify&) = delete;
  notify& operator=(const notify&) = delete;
  /// Aborts with a message if tasks wait on it.
  ~notify();

  /// Wake the oldest waiting task, or store the permit if none waits. Any
  /// thread (also plain threads); never blocks; wakes after unlocking.
  void notify_one() noexcept;
  /// Wake every task waiting now (in rounds of 32 wakes, the lock released
  /// between rounds). Stores no permit. Any thread.
  void notify_all() noexcept;

  /// Wait for a notification (see notified_awaiter).
  notified_awaiter notified() noexcept { return notified_awaiter{*this}; }

 private:
  friend class notified_awaiter;
  friend std::size_t detail::waiter_count(const notify& n) noexcept;
  using lock_type = detail::sync::unique_lock<detail::sync::spin_mutex>;

  bool take_permit() noexcept;
  bool take_permit_or_enqueue(detail::notify_waiter& w, waker& wk) noexcept;
  void withdraw(detail::notify_waiter& w) noexcept;
  void notify_one_locked(detail::wake_batch& batch) noexcept;

  mutable detail::sync::spin_mutex mu_;
  detail::waiter_list waiters_;     // guarded by mu_
  std::uint64_t generation_ = 0;    // notify_all calls; guarded by mu_
  // The stored permit. Written only under mu_; read without it only as a
  // hint (see take_permit).
  detail::sync::atomic<bool> permit_{false};
};

}  // namespace weft
