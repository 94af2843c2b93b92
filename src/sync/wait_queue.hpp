// src/sync/wait_queue.hpp — the FIFO of waiting tasks that notify, event,
// latch and barrier each keep (a detail::waiter_list guarded by the
// primitive's spin_mutex): the steps they all take on it.
//
// Wakes happen after the lock is released: the wake_batch is declared before
// the lock, and release_in_rounds unlocks between rounds of
// wake_batch::capacity.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/waker.hpp>

#include "sync/misuse.hpp"

#include <cstddef>
#include <utility>

namespace weft::detail {

/// Test and diagnostic accessor: how many wait now.
inline std::size_t count_waiters(sync::spin_mutex& mu, const waiter_list& waiters) noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu);
  return waiters.size();
}

/// The primitive's destructor: abort with `what` if tasks still wait (their
/// queue nodes would dangle).
inline void check_no_waiters(sync::spin_mutex& mu, const waiter_list& waiters,
                             const char* what) noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu);
  if (!waiters.empty()) sync_misuse(what);
}

/// A stored wake-up (notify's permit, an automatic event's set state),
/// written only under `mu`: take it (true) if it is there. The lock-free load
/// first spares the lock when nothing is stored.
inline bool take_stored(sync::spin_mutex& mu, sync::atomic<bool>& stored) noexcept {
  // ORDERING: relaxed: only a hint that spares the lock when nothing is
  // stored; the decision is made again under mu (here or in the caller's
  // take-or-enqueue step), so a stale value costs a retry, never a wake-up.
  if (!stored.load(std::memory_order_relaxed)) return false;
  sync::lock_guard<sync::spin_mutex> lock(mu);
  // ORDERING: relaxed (both): under mu, which orders every write.
  if (!stored.load(std::memory_order_relaxed)) return false;
  stored.store(false, std::memory_order_relaxed);
  return true;
}

/// Lock held. Queue `w` at the tail with the waiter's waker `wk`.
inline void enqueue(waiter_list& waiters, waiter_node& w, waker& wk) noexcept {
  w.wake = std::move(wk);
  waiters.push_back(w);
}

/// Lock held. A waiter being destroyed (the withdraw of its awaiter): if it
/// is still queued, unlink it and move its own waker into `dropped` (to drop
/// after the lock) and return true; false if it was released already.
inline bool unlink_if_queued(waiter_list& waiters, waiter_node& w, waker& dropped) noexcept {
  if (!w.linked) return false;
  waiters.remove(w);
  dropped = std::move(w.wake);
  return true;
}

/// Lock held (by `lk`). Release waiters from the head while `take(node)`
/// says so (it may update the node it accepts; false stops: this and later
/// ones stay). Every wake_batch::capacity releases, unlock, wake the round,
/// and lock again. While a round is woken unlocked, nodes this call would
/// still take stay linked: a waiter destroyed then (its withdraw) finds itself
/// linked although its wait already completed — each primitive's withdraw must
/// tell that apart from "still waiting" (barrier: by phase, notify: by
/// generation), never undo state of a wait that is already complete.
template <class Node, class Lock, class Take>
void release_in_rounds(Lock& lk, waiter_list& waiters, wake_batch& batch, Take&& take) noexcept {
  while (waiter_node* f = waiters.front()) {
    auto& w = static_cast<Node&>(*f);
    if (!take(w)) break;
    waiters.remove(w);
    batch.take(w);
    if (batch.full()) {
      lk.unlock();
      batch.wake_all();
      WEFT_TEST_POINT("wait_queue.between_rounds");
      lk.lock();
    }
  }
}

}  // namespace weft::detail
