// src/sync/barrier.cpp — weft::barrier (see include/weft/sync/barrier.hpp).
// Every field changes only under mu_; wakes happen after it is released.
#include <weft/sync/barrier.hpp>

#include "sync/misuse.hpp"

#include <stdexcept>
#include <utility>

namespace weft {

namespace {
std::size_t checked_parties(std::size_t n) {
  if (n == 0) throw std::invalid_argument("weft::barrier: the number of tasks must be at least 1");
  return n;
}
}  // namespace

std::size_t detail::waiter_count(const barrier& b) noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(b.mu_);
  return b.waiters_.size();
}

barrier::barrier(std::size_t n) : n_(checked_parties(n)) {}

barrier::~barrier() {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  if (!waiters_.empty()) {
    detail::sync_misuse("weft::barrier destroyed while tasks wait for it (their queue nodes "
                        "would dangle)");
  }
}

bool barrier::arrive(detail::barrier_waiter& w, waker& wk) noexcept {
  detail::wake_batch batch;  // wakes after the lock is released
  lock_type lk(mu_);
  if (++arrived_ < n_) {
    w.phase = phase_;
    w.wake = std::move(wk);
    waiters_.push_back(w);
    return false;
  }
  // The last arrival: complete the phase and release its waiters. The next
  // phase starts now; its arrivals queue behind, with a larger phase number.
  arrived_ = 0;
  const std::uint64_t done = phase_++;
  while (detail::waiter_node* f = waiters_.front()) {
    auto& x = static_cast<detail::barrier_waiter&>(*f);
    if (x.phase != done) break;
    waiters_.remove(x);
    batch.take(x);
    if (batch.full()) {
      lk.unlock();
      batch.wake_all();
      lk.lock();
    }
  }
  return true;
}

void barrier::withdraw(detail::barrier_waiter& w) noexcept {
  waker dropped;  // our own waker, dropped after the lock
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  if (!w.linked) return;  // its phase completed: nothing to undo
  // Still waiting, so its phase is the current one: take the arrival back.
  waiters_.remove(w);
  --arrived_;
  dropped = std::move(w.wake);
}

barrier_wait_awaiter::~barrier_wait_awaiter() {
  if (queued_) b_->withdraw(node_);
}

bool barrier_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  waker w = suspend_current(h);  // may throw (not in a task): nothing arrived yet
  if (!b_->arrive(node_, w)) {
    queued_ = true;
    return true;
  }
  leader_ = true;
  if (detail::consume_budget()) return false;
  w.wake();  // budget spent; we are RUNNING, so this re-queues us after the step
  return true;
}

}  // namespace weft
