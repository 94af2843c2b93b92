// src/sync/barrier.cpp — weft::barrier (see include/weft/sync/barrier.hpp).
// Every field changes only under mu_; wakes happen after it is released.
#include <weft/detail/planted_bug.hpp>
#include <weft/sync/barrier.hpp>

#include "sync/wait_queue.hpp"

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
  return detail::count_waiters(b.mu_, b.waiters_);
}

barrier::barrier(std::size_t n) : n_(checked_parties(n)) {}

barrier::~barrier() {
  detail::check_no_waiters(mu_, waiters_,
                           "weft::barrier destroyed while tasks wait for it (their queue nodes "
                           "would dangle)");
}

bool barrier::arrive(detail::barrier_waiter& w, waker& wk) noexcept {
  detail::wake_batch batch;  // wakes after the lock is released
  lock_type lk(mu_);
  if (++arrived_ < n_) {
    w.phase = phase_;
    detail::enqueue(waiters_, w, wk);
    return false;
  }
  // The last arrival: complete the phase and release its waiters. The next
  // phase starts now; its arrivals queue behind, with a larger phase number.
  arrived_ = 0;
  const std::uint64_t done = phase_++;
  detail::release_in_rounds<detail::barrier_waiter>(
      lk, waiters_, batch, [done](detail::barrier_waiter& x) { return x.phase == done; });
  return true;
}

void barrier::withdraw(detail::barrier_waiter& w) noexcept {
  waker dropped;  // our own waker, dropped after the lock
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  if (!detail::unlink_if_queued(waiters_, w, dropped)) return;  // its phase completed
  // Still linked does not mean still waiting: the leader of its phase may be
  // waking a round unlocked (release_in_rounds) with this node still queued,
  // while arrived_ already counts the next phase. Only an arrival of the
  // current phase is taken back; one of a completed phase just leaves.
  // (A test may re-plant the bug this replaced: the arrival taken back from
  // whatever phase is current.)
  if (w.phase == phase_ || detail::planted(detail::planted_bug::barrier_withdraw_any_phase)) --arrived_;
}

barrier_wait_awaiter::~barrier_wait_awaiter() {
  op_.cancel([] {},  // led its phase: nothing to undo
             [this](detail::barrier_waiter& w) { b_->withdraw(w); });
}

bool barrier_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  // Arriving and queueing are one step (never ready before arriving), so the
  // ready path of op_ is not used: it never yields before suspending.
  return op_.suspend(h, [this](detail::barrier_waiter& w, waker& wk) noexcept {
    leader_ = b_->arrive(w, wk);
    return leader_;
  });
}

}  // namespace weft
