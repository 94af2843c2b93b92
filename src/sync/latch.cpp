// src/sync/latch.cpp — weft::latch (see include/weft/sync/latch.hpp). The
// count changes only under mu_; wakes happen after it is released.
#include <weft/sync/latch.hpp>

#include "sync/misuse.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace weft {

namespace {
std::ptrdiff_t checked_count(std::ptrdiff_t count) {
  if (count < 0) {
    throw std::invalid_argument("weft::latch: the initial count must not be negative (got " +
                                std::to_string(count) + ")");
  }
  return count;
}
}  // namespace

std::size_t detail::waiter_count(const latch& l) noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(l.mu_);
  return l.waiters_.size();
}

latch::latch(std::ptrdiff_t count) : count_(checked_count(count)) {}

latch::~latch() {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  if (!waiters_.empty()) {
    detail::sync_misuse("weft::latch destroyed while tasks wait for it (their queue nodes would "
                        "dangle)");
  }
}

void latch::count_down(std::ptrdiff_t n) {
  if (n < 0) {
    throw std::invalid_argument("weft::latch::count_down: n must not be negative (got " +
                                std::to_string(n) + ")");
  }
  detail::wake_batch batch;  // wakes after the lock is released
  lock_type lk(mu_);
  // ORDERING: relaxed: under mu_, which orders every write of count_.
  const std::ptrdiff_t c = count_.load(std::memory_order_relaxed);
  if (n > c) {
    throw std::logic_error("weft::latch::count_down: counting down by " + std::to_string(n) +
                           " would take the count (" + std::to_string(c) +
                           ") below zero; nothing was counted");
  }
  if (n == 0) return;
  // ORDERING: release: pairs with try_wait()'s acquire load; a task that sees
  // zero without the lock sees what every counter wrote before count_down.
  count_.store(c - n, std::memory_order_release);
  if (c - n != 0) return;
  // Zero: release everyone. Nobody can queue any more (they see zero under
  // mu_), so the rounds just drain the list.
  while (detail::waiter_node* f = waiters_.pop_front()) {
    batch.take(*f);
    if (batch.full()) {
      lk.unlock();
      batch.wake_all();
      lk.lock();
    }
  }
}

bool latch::try_wait() const noexcept {
  // ORDERING: acquire: pairs with count_down's release store.
  return count_.load(std::memory_order_acquire) == 0;
}

bool latch::ready_or_enqueue(detail::waiter_node& w, waker& wk) noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  // ORDERING: relaxed: under mu_, which orders every write (and the lock
  // acquisition makes the counters' writes visible).
  if (count_.load(std::memory_order_relaxed) == 0) return true;
  w.wake = std::move(wk);
  waiters_.push_back(w);
  return false;
}

void latch::withdraw(detail::waiter_node& w) noexcept {
  waker dropped;  // our own waker, dropped after the lock
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  if (!w.linked) return;  // released already: nothing to give back
  waiters_.remove(w);
  dropped = std::move(w.wake);
}

latch_wait_awaiter::~latch_wait_awaiter() {
  if (queued_) l_->withdraw(node_);
}

bool latch_wait_awaiter::await_ready() {
  if (arrive_ != 0) {
    l_->count_down(arrive_);  // may throw: then nothing was counted
    arrive_ = 0;
  }
  if (!l_->try_wait()) return false;
  yield_ = !detail::consume_budget();
  return !yield_;
}

bool latch_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (yield_) {
    detail::suspend_current_and_reschedule(h);  // budget spent: let others run
    return true;
  }
  waker w = suspend_current(h);
  if (!l_->ready_or_enqueue(node_, w)) {
    queued_ = true;
    return true;
  }
  if (detail::consume_budget()) return false;
  w.wake();  // budget spent; we are RUNNING, so this re-queues us after the step
  return true;
}

}  // namespace weft
