// src/sync/notify.cpp — weft::notify (see include/weft/sync/notify.hpp).
// Every state change happens under mu_; wakes happen after it is released
// (the wake_batch is declared before the lock).
#include <weft/sync/notify.hpp>

#include "sync/misuse.hpp"

#include <utility>

namespace weft {

std::size_t detail::waiter_count(const notify& n) noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(n.mu_);
  return n.waiters_.size();
}

notify::~notify() {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  if (!waiters_.empty()) {
    detail::sync_misuse("weft::notify destroyed while tasks wait for it (their queue nodes would "
                        "dangle)");
  }
}

void notify::notify_one_locked(detail::wake_batch& batch) noexcept {
  if (detail::waiter_node* f = waiters_.pop_front()) {
    auto& w = static_cast<detail::notify_waiter&>(*f);
    w.by_one = true;  // if it is destroyed before resuming, it passes this on
    batch.take(w);
    return;
  }
  // ORDERING: relaxed: written under mu_, and whoever consumes the permit
  // does so under mu_ (the lock orders them); lock-free reads are hints.
  permit_.store(true, std::memory_order_relaxed);
}

void notify::notify_one() noexcept {
  detail::wake_batch batch;  // wakes after the lock is released
  lock_type lk(mu_);
  notify_one_locked(batch);
}

void notify::notify_all() noexcept {
  detail::wake_batch batch;
  lock_type lk(mu_);
  // Waiters that queued before this call carry a generation <= limit; they
  // are at the head (the list is in queueing order). Later ones, appended
  // while a round was woken unlocked, are left for the next notification.
  const std::uint64_t limit = generation_++;
  while (detail::waiter_node* f = waiters_.front()) {
    auto& w = static_cast<detail::notify_waiter&>(*f);
    if (w.generation > limit) break;
    waiters_.remove(w);
    w.by_one = false;
    batch.take(w);
    if (batch.full()) {
      lk.unlock();
      batch.wake_all();
      lk.lock();
    }
  }
}

bool notify::take_permit() noexcept {
  // ORDERING: relaxed: only a hint that spares the lock when no permit is
  // stored; the decision is made again under mu_ (here or in
  // take_permit_or_enqueue), so a stale value costs a retry, never a wake-up.
  if (!permit_.load(std::memory_order_relaxed)) return false;
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  // ORDERING: relaxed (both): under mu_, which orders every write.
  if (!permit_.load(std::memory_order_relaxed)) return false;
  permit_.store(false, std::memory_order_relaxed);
  return true;
}

bool notify::take_permit_or_enqueue(detail::notify_waiter& w, waker& wk) noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  // ORDERING: relaxed (both): under mu_, which orders every write.
  if (permit_.load(std::memory_order_relaxed)) {
    permit_.store(false, std::memory_order_relaxed);
    return true;
  }
  w.generation = generation_;
  w.by_one = false;
  w.wake = std::move(wk);
  waiters_.push_back(w);
  return false;
}

void notify::withdraw(detail::notify_waiter& w) noexcept {
  detail::wake_batch batch;
  waker dropped;  // our own waker, dropped after the lock
  lock_type lk(mu_);
  if (w.linked) {
    waiters_.remove(w);
    dropped = std::move(w.wake);
    return;
  }
  // Notified but never resumed: a notify_one is passed on, not lost.
  if (w.by_one) notify_one_locked(batch);
}

notified_awaiter::~notified_awaiter() {
  if (state_ == state::held) {
    n_->notify_one();  // consumed the permit, never resumed: give it back
  } else if (state_ == state::queued) {
    n_->withdraw(node_);
  }
}

bool notified_awaiter::await_ready() noexcept {
  if (!n_->take_permit()) return false;
  state_ = state::held;
  yield_ = !detail::consume_budget();
  return !yield_;
}

bool notified_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (yield_) {
    detail::suspend_current_and_reschedule(h);  // budget spent: let others run
    return true;
  }
  waker w = suspend_current(h);
  if (!n_->take_permit_or_enqueue(node_, w)) {
    state_ = state::queued;
    return true;
  }
  state_ = state::held;
  if (detail::consume_budget()) return false;
  w.wake();  // budget spent; we are RUNNING, so this re-queues us after the step
  return true;
}

}  // namespace weft
