// weft/sync/fifo_permits.hpp — the fair permit queue under weft::semaphore,
// weft::mutex and weft::shared_mutex.
//
// Design
// ------
// One counter of free permits and one FIFO of waiters (detail::waiter_list).
// A request for n permits succeeds at once only if nobody waits and n are
// free; otherwise it queues. A release adds its permits and grants waiters
// from the head, in order, while the head's request fits: the head is never
// overtaken by a later, smaller request (no barging, no starvation of large
// requests). Granting = subtract the permits, unlink the node, move its waker
// into a wake_batch; the batch wakes after the lock is released (in rounds of
// wake_batch::capacity when many are granted).
//
// The counter is one atomic word, `free << 1 | queued`, where `queued` is set
// exactly while the waiter list is non-empty. Without waiters, acquiring and
// releasing are a single compare-and-swap each and take no lock (what an
// uncontended mutex or a semaphore with spare permits costs). Once `queued`
// is set those fast paths refuse, and every change goes through the list's
// spinlock: a release then adds under the lock and grants. A fast path that
// raced with the first waiter setting `queued` fails its CAS and retries, so
// either its permits are seen by the enqueuer (which then takes them instead
// of queueing) or it sees `queued` and takes the slow path — no lost grant.
//
// Free permits accumulate while the head waits for more than are free: they
// are reserved for it (nobody else can take them, the queue is not empty).
//
// The awaiter (permit_acquire) is the queue node; its state machine is
// detail::queued_awaiter (weft/sync/queued_awaiter.hpp): idle, held (acquired
// on the ready path, maybe yielding for the budget), queued (under the lock,
// linked == still waiting, unlinked == granted: the permits were subtracted
// for us), done (await_resume gave the permits to a guard). Its destructor is
// the cancellation path: held → release; queued → take the lock, unlink if
// still linked (then re-grant: the next waiters may fit now), else release
// the granted permits (they go to the next waiters).
//
// Locking: every field of fifo_permits and of a linked node is guarded by
// mu_. No atomics: the outcome of a wait is published to the woken task by its
// waker (release in transition_to_notified, acquire in the runner).
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
#include <limits>
#include <utility>

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

  explicit fifo_permits(std::size_t permits) noexcept : word_(permits << 1) {}
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
  using lock_type = sync::unique_lock<sync::spinlock>;
  static constexpr std::size_t queued_bit = 1;
  static constexpr std::size_t one = 2;  // one permit in word_
  void grant_locked(lock_type& lk, wake_batch& batch) noexcept;
  /// Lock held: take w.wanted permits if the list is empty and they are
  /// free, else set queued_bit and link `w`.
  bool take_or_link_locked(permit_waiter& w) noexcept;

  mutable sync::spinlock mu_;
  // free permits << 1 | queued_bit. Fast paths CAS it while queued_bit is
  // clear; with it set, only holders of mu_ change it.
  sync::atomic<std::size_t> word_;
  waiter_list waiters_;  // guarded by mu_
};

/// The awaiter state shared by mutex::lock, shared_mutex::lock(_shared) and
/// semaphore::acquire: see the file comment. Movable only before it is awaited
/// (with_cancellation and timeout move the awaitable in).
class permit_acquire {
 public:
  permit_acquire(fifo_permits& core, std::size_t n) noexcept : core_(&core) {
    op_.node().wanted = n;
  }
  permit_acquire(permit_acquire&& o) noexcept : core_(o.core_), op_(std::move(o.op_)) {
    op_.node().wanted = o.op_.node().wanted;
  }
  permit_acquire(const permit_acquire&) = delete;
  permit_acquire& operator=(const permit_acquire&) = delete;
  permit_acquire& operator=(permit_acquire&&) = delete;
  ~permit_acquire() {
    op_.cancel(
        // acquired, never handed out (cancelled while yielding)
        [this] { core_->release(op_.node().wanted); },
        // still queued, or granted but never resumed
        [this](permit_waiter& w) { core_->withdraw(w); });
  }

  /// await_ready: acquire at once if possible; keep the permits and yield
  /// instead of completing when the step's budget is spent.
  /// Throws std::logic_error if awaited before, or moved from.
  bool ready() {
    return op_.ready([this] { return core_->try_acquire(op_.node().wanted); });
  }

  /// await_suspend.
  bool suspend(std::coroutine_handle<> h) {
    return op_.suspend(
        h, [this](permit_waiter& w, waker& wk) { return core_->acquire_or_enqueue(w, wk); });
  }

  /// await_resume: the permits now belong to the caller's guard.
  void take() noexcept { op_.resume(); }

  [[nodiscard]] std::size_t wanted() const noexcept { return op_.node().wanted; }

 private:
  fifo_permits* core_;
  queued_awaiter<permit_waiter> op_;
};

}  // namespace weft::detail
