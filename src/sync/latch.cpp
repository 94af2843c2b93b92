// src/sync/latch.cpp — weft::latch (see include/weft/sync/latch.hpp). The
// count changes only under mu_; wakes happen after it is released.
#include <weft/sync/latch.hpp>

#include "sync/wait_queue.hpp"

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
  return detail::count_waiters(l.mu_, l.waiters_);
}

latch::latch(std::ptrdiff_t count) : count_(checked_count(count)) {}

latch::~latch() {
  detail::check_no_waiters(mu_, waiters_,
                           "weft::latch destroyed while tasks wait for it (their queue nodes would "
                           "dangle)");
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
  detail::release_in_rounds<detail::waiter_node>(lk, waiters_, batch,
                                                 [](detail::waiter_node&) { return true; });
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
  detail::enqueue(waiters_, w, wk);
  return false;
}

void latch::withdraw(detail::waiter_node& w) noexcept {
  waker dropped;  // our own waker, dropped after the lock
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  // Released already: nothing to give back.
  (void)detail::unlink_if_queued(waiters_, w, dropped);
}

latch_wait_awaiter::~latch_wait_awaiter() {
  op_.cancel([] {},  // completed at once: nothing to give back (a latch only opens)
             [this](detail::waiter_node& w) { l_->withdraw(w); });
}

bool latch_wait_awaiter::await_ready() {
  if (arrive_ != 0) {
    l_->count_down(arrive_);  // may throw: then nothing was counted
    arrive_ = 0;
  }
  return op_.ready([this]() noexcept { return l_->try_wait(); });
}

bool latch_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  return op_.suspend(h, [this](detail::waiter_node& w, waker& wk) noexcept {
    return l_->ready_or_enqueue(w, wk);
  });
}

}  // namespace weft
