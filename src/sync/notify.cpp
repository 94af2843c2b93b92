// src/sync/notify.cpp — weft::notify (see include/weft/sync/notify.hpp).
// Every state change happens under mu_; wakes happen after it is released
// (the wake_batch is declared before the lock).
#include <weft/detail/planted_bug.hpp>
#include <weft/sync/notify.hpp>

#include "sync/wait_queue.hpp"

#include <utility>

namespace weft {

std::size_t detail::waiter_count(const notify& n) noexcept {
  return detail::count_waiters(n.mu_, n.waiters_);
}

notify::~notify() {
  detail::check_no_waiters(
      mu_, waiters_,
      "weft::notify destroyed while tasks wait for it (their queue nodes would "
      "dangle)");
}

void notify::notify_one_locked(detail::wake_batch& batch) noexcept {
  // A notify_all may be waking a round unlocked (release_in_rounds): the
  // nodes it has still to release stay linked at the head, with a generation
  // below generation_. They are notified already; this notify_one is for the
  // first waiter no notify_all releases (or is stored as the permit).
  detail::waiter_node* f = waiters_.front();
  while (f != nullptr && static_cast<detail::notify_waiter*>(f)->generation < generation_) {
    f = f->next;
  }
  if (f != nullptr) {
    auto& w = static_cast<detail::notify_waiter&>(*f);
    waiters_.remove(w);
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
  detail::release_in_rounds<detail::notify_waiter>(lk, waiters_, batch,
                                                   [limit](detail::notify_waiter& w) {
                                                     if (w.generation > limit) return false;
                                                     w.by_one = false;
                                                     return true;
                                                   });
}

bool notify::take_permit() noexcept {
  // Decided again under mu_ in take_permit_or_enqueue when it finds none.
  return detail::take_stored(mu_, permit_);
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
  detail::enqueue(waiters_, w, wk);
  return false;
}

void notify::withdraw(detail::notify_waiter& w) noexcept {
  detail::wake_batch batch;
  waker dropped;  // our own waker, dropped after the lock
  lock_type lk(mu_);
  if (detail::unlink_if_queued(waiters_, w, dropped)) return;
  // Notified but never resumed: a notify_one is passed on, not lost. (A test
  // may plant the lost wake-up of dropping it.)
  if (w.by_one && !detail::planted(detail::planted_bug::notify_one_not_passed_on)) {
    notify_one_locked(batch);
  }
}

notified_awaiter::~notified_awaiter() {
  op_.cancel(
      // consumed the permit, never resumed: give it back
      [this] { n_->notify_one(); }, [this](detail::notify_waiter& w) { n_->withdraw(w); });
}

bool notified_awaiter::await_ready() {
  return op_.ready([this]() noexcept { return n_->take_permit(); });
}

bool notified_awaiter::await_suspend(std::coroutine_handle<> h) {
  return op_.suspend(h, [this](detail::notify_waiter& w, waker& wk) noexcept {
    return n_->take_permit_or_enqueue(w, wk);
  });
}

}  // namespace weft
