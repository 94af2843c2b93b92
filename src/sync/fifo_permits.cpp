// src/sync/fifo_permits.cpp — the fair permit queue (see
// include/weft/sync/fifo_permits.hpp). Every function takes mu_; wakes happen
// after it is released (the wake_batch is declared before the lock).
#include <weft/sync/fifo_permits.hpp>

#include "sync/misuse.hpp"

#include <utility>

namespace weft::detail {

bool fifo_permits::try_acquire(std::size_t n) noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu_);
  if (!waiters_.empty() || available_ < n) return false;  // FIFO: never overtake a waiter
  available_ -= n;
  return true;
}

bool fifo_permits::acquire_or_enqueue(permit_waiter& w, waker& wk) noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu_);
  if (waiters_.empty() && available_ >= w.wanted) {
    available_ -= w.wanted;
    return true;
  }
  w.wake = std::move(wk);  // before linking: a granter takes it under this lock
  waiters_.push_back(w);
  return false;
}

void fifo_permits::grant_locked(lock_type& lk, wake_batch& batch) noexcept {
  while (waiter_node* f = waiters_.front()) {
    auto& w = static_cast<permit_waiter&>(*f);
    if (w.wanted > available_) break;  // the head waits; nobody overtakes it
    available_ -= w.wanted;
    waiters_.remove(w);  // unlinked == granted; the task may run (and free w) from here on
    batch.take(w);
    if (batch.full()) {
      // Wake in rounds: never allocate, never wake under the lock. The state
      // is consistent here; the loop re-reads it after relocking.
      lk.unlock();
      batch.wake_all();
      lk.lock();
    }
  }
}

void fifo_permits::release(std::size_t n) noexcept {
  wake_batch batch;  // destroyed (wakes) after the lock is released
  lock_type lk(mu_);
  available_ += n;
  grant_locked(lk, batch);
}

bool fifo_permits::add(std::size_t n, std::size_t limit) noexcept {
  wake_batch batch;
  lock_type lk(mu_);
  if (n > limit || available_ > limit - n) return false;
  available_ += n;
  grant_locked(lk, batch);
  return true;
}

void fifo_permits::withdraw(permit_waiter& w) noexcept {
  wake_batch batch;
  waker dropped;  // our own waker, dropped after the lock
  lock_type lk(mu_);
  if (w.linked) {
    // Still waiting: leave the queue. If we were the head, the next waiters
    // may fit in the permits that were reserved for us.
    const bool was_head = waiters_.front() == &w;
    waiters_.remove(w);
    dropped = std::move(w.wake);
    if (was_head) grant_locked(lk, batch);
    return;
  }
  // Granted, but the task never resumed to take the permits ("cancel after"):
  // they go to the next waiters, or back to the free count.
  available_ += w.wanted;
  grant_locked(lk, batch);
}

std::size_t fifo_permits::available() const noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu_);
  return available_;
}

std::size_t fifo_permits::waiters() const noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu_);
  return waiters_.size();
}

void fifo_permits::check_idle(std::size_t expected_free, const char* waiting,
                              const char* held) const noexcept {
  sync::lock_guard<sync::spin_mutex> lock(mu_);
  if (!waiters_.empty()) sync_misuse(waiting);
  if (expected_free != no_check && available_ != expected_free) sync_misuse(held);
}

}  // namespace weft::detail
