// weft/sync/fifo_permits.hpp — the fair permit queue under weft::semaphore,
// weft::mutex and weft::shared_mutex.
//
// Design
// ------
// One counter of free permits and one FIFO of waiters (detail::waiter_list),
// both guarded by a spin_mutex. A request for n permits succeeds at once only
// if nobody waits and n are free; otherwise it queues. A release adds its
// permits and grants waiters from the head, in order, while the head's request
// fits: the head is never overtaken by a later, smaller request (no barging,
// no starvation of large requests). Granting = subtract the permits, unlink
// the node, move its waker into a wake_batch; the batch wakes after the lock
// is released (in rounds of wake_batch::capacity when many are granted).
//
//   mutex         = 1 permit; lock takes it, unlock gives it back, so an
//                   unlock with waiters hands the lock straight to the oldest.
//   shared_mutex  = max_permits permits; a reader takes 1, a writer takes all
//                   of them (as tokio's RwLock does), so a queued writer
//                   blocks every later reader.
//   semaphore     = n permits.
//
// Free permits accumulate while the head waits for more than are free: they
// are reserved for it (nobody else can take them, the queue is not empty).
//
// The awaiter (permit_acquire) is the queue node. Its states, all owned by the
// awaiting task's thread:
//   idle    nothing acquired (never awaited, or already handed out)
//   held    the permits are ours but not yet given to the caller (acquired
//           on the ready path, maybe yielding for the budget)
//   queued  the node was linked; under the lock, linked == still waiting,
//           unlinked == granted (the permits were subtracted for us)
//   taken   await_resume gave the permits to a guard
// Its destructor is the cancellation path: held → release; queued → take the
// lock, unlink if still linked (then re-grant: the next waiters may fit now),
// else release the granted permits (they go to the next waiters).
//
// Locking: every field of fifo_permits and of a linked node is guarded by
// mu_. No atomics: the outcome of a wait is published to the woken task by its
// waker (release in transition_to_notified, acquire in the runner).
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace weft::detail {

/// A request in a fifo_permits queue: the node and how many permits it wants.
struct permit_waiter : waiter_node {
  std::size_t wanted = 0;  // set before linking; read by granters under the lock
};

class fifo_permits {
 public:
  /// The most permits a fifo_permits holds, and the largest single request.
  /// (Below SIZE_MAX so that permits given back on top of a full count can
  /// never overflow.)
  static constexpr std::size_t max_permits = std::numeric_limits<std::size_t>::max() >> 3;

  explicit fifo_permits(std::size_t permits) noexcept : available_(permits) {}
  fifo_permits(const fifo_permits&) = delete;
  fifo_permits& operator=(const fifo_permits&) = delete;
  ~fifo_permits() = default;  // the owner checks for waiters (check_no_waiters)

  /// Take n permits if nobody waits and n are free.
  [[nodiscard]] bool try_acquire(std::size_t n) noexcept;

  /// Take w.wanted permits at once (true; `wk` untouched) or link `w` with
  /// `wk` moved into it (false).
  [[nodiscard]] bool acquire_or_enqueue(permit_waiter& w, waker& wk) noexcept;

  /// Give back n permits (from a guard or a cancelled grant) and grant
  /// waiters. Never fails: the count stays below 2 * max_permits.
  void release(std::size_t n) noexcept;

  /// Add n new permits unless the free count would exceed `limit`: false then,
  /// and nothing changes.
  [[nodiscard]] bool add(std::size_t n, std::size_t limit) noexcept;

  /// A queued waiter is being destroyed: unlink it, or give back what it was
  /// granted. After this returns the queue never touches `w` again.
  void withdraw(permit_waiter& w) noexcept;

  /// Free permits (reserved for the head waiter while there is one).
  [[nodiscard]] std::size_t available() const noexcept;
  /// Queued waiters.
  [[nodiscard]] std::size_t waiters() const noexcept;

  /// For the owner's destructor: abort with `waiting` if waiters are queued
  /// (they would stay linked into freed memory), and with `held` if the free
  /// count is not `expected_free` (a guard would release into freed memory;
  /// pass no_check to skip that test).
  static constexpr std::size_t no_check = std::numeric_limits<std::size_t>::max();
  void check_idle(std::size_t expected_free, const char* waiting,
                  const char* held) const noexcept;

 private:
  using lock_type = sync::unique_lock<sync::spin_mutex>;
  void grant_locked(lock_type& lk, wake_batch& batch) noexcept;

  mutable sync::spin_mutex mu_;
  std::size_t available_;  // guarded by mu_
  waiter_list waiters_;    // guarded by mu_
};

/// The awaiter state shared by mutex::lock, shared_mutex::lock(_shared) and
/// semaphore::acquire: see the file comment. Movable only before it is awaited
/// (with_cancellation and timeout move the awaitable in).
class permit_acquire {
 public:
  permit_acquire(fifo_permits& core, std::size_t n) noexcept : core_(&core) { node_.wanted = n; }
  permit_acquire(permit_acquire&& o) noexcept : core_(o.core_) {
    assert(o.state_ == state::idle);  // INVARIANT: only moved before being awaited
    node_.wanted = o.node_.wanted;
  }
  permit_acquire(const permit_acquire&) = delete;
  permit_acquire& operator=(const permit_acquire&) = delete;
  permit_acquire& operator=(permit_acquire&&) = delete;
  ~permit_acquire() {
    if (state_ == state::held) {
      core_->release(node_.wanted);  // acquired, never handed out (cancelled while yielding)
    } else if (state_ == state::queued) {
      core_->withdraw(node_);  // still queued, or granted but never resumed
    }
  }

  /// await_ready: acquire at once if possible; keep the permits and yield
  /// instead of completing when the step's budget is spent.
  bool ready() noexcept {
    assert(state_ == state::idle);  // INVARIANT: an awaiter is awaited once
    if (!core_->try_acquire(node_.wanted)) return false;
    state_ = state::held;
    yield_ = !consume_budget();
    return !yield_;
  }

  /// await_suspend.
  bool suspend(std::coroutine_handle<> h) {
    if (yield_) {
      detail::suspend_current_and_reschedule(h);  // budget spent: let others run
      return true;
    }
    waker w = suspend_current(h);  // may throw (not in a task): nothing acquired yet
    if (!core_->acquire_or_enqueue(node_, w)) {
      state_ = state::queued;  // a grant may already have woken us: we are RUNNING,
      return true;             // so the runner re-queues us when this step ends
    }
    state_ = state::held;  // freed between await_ready and here
    if (consume_budget()) return false;
    w.wake();  // budget spent: we are RUNNING, so this re-queues us after the step
    return true;
  }

  /// await_resume: the permits now belong to the caller's guard.
  void take() noexcept {
    assert(!node_.linked);  // INVARIANT: resumed only once granted
    state_ = state::taken;
  }

  [[nodiscard]] std::size_t wanted() const noexcept { return node_.wanted; }

 private:
  enum class state : std::uint8_t { idle, held, queued, taken };
  fifo_permits* core_;
  permit_waiter node_;
  state state_ = state::idle;
  bool yield_ = false;
};

}  // namespace weft::detail
