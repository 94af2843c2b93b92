// src/sync/event.cpp — weft::event (see include/weft/sync/event.hpp). Every
// state change happens under mu_; wakes happen after it is released (the
// wake_batch is declared before the lock).
#include <weft/sync/event.hpp>

#include "sync/wait_queue.hpp"

#include <utility>

namespace weft {

std::size_t detail::waiter_count(const event& e) noexcept {
  return detail::count_waiters(e.mu_, e.waiters_);
}

event::~event() {
  detail::check_no_waiters(mu_, waiters_,
                           "weft::event destroyed while tasks wait for it (their queue nodes would "
                           "dangle)");
}

bool event::is_set() const noexcept {
  // ORDERING: acquire: pairs with the release store in set_locked; who sees
  // the event set sees what the setter wrote before set().
  return set_.load(std::memory_order_acquire);
}

void event::set_locked(lock_type& lk, detail::wake_batch& batch) noexcept {
  if (mode_ == event_mode::automatic) {
    if (detail::waiter_node* f = waiters_.pop_front()) {
      batch.take(*f);  // exactly one waiter released; the event stays clear
      return;
    }
    // ORDERING: release: pairs with is_set()'s acquire. (A waiter consumes it
    // under mu_, which orders it already.)
    set_.store(true, std::memory_order_release);
    return;
  }
  // ORDERING: relaxed: under mu_, which orders every write of set_.
  if (set_.load(std::memory_order_relaxed)) return;  // set already: nobody waits for it
  // ORDERING: release: pairs with the acquire loads in is_set() and in the
  // manual fast path (try_consume): a waiter that completes without the lock
  // sees what this thread wrote before set().
  set_.store(true, std::memory_order_release);
  // Wake the waiters that queued before this set(), in rounds. New ones can
  // queue meanwhile only after a reset(); they carry a larger generation.
  const std::uint64_t limit = generation_++;
  detail::release_in_rounds<detail::event_waiter>(
      lk, waiters_, batch, [limit](detail::event_waiter& w) { return w.generation <= limit; });
}

void event::set() noexcept {
  detail::wake_batch batch;
  lock_type lk(mu_);
  set_locked(lk, batch);
}

void event::reset() noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  // ORDERING: relaxed: under mu_; a lock-free reader that still sees `true`
  // sees the state just before this reset, a valid snapshot.
  set_.store(false, std::memory_order_relaxed);
}

bool event::try_consume() noexcept {
  if (mode_ == event_mode::manual) {
    // ORDERING: acquire: pairs with set_locked's release store (see there).
    return set_.load(std::memory_order_acquire);
  }
  return detail::take_stored(mu_, set_);  // automatic: consume the set state
}

bool event::try_consume_or_enqueue(detail::event_waiter& w, waker& wk) noexcept {
  detail::sync::lock_guard<detail::sync::spin_mutex> lock(mu_);
  // ORDERING: relaxed (both): under mu_, which orders every write.
  if (set_.load(std::memory_order_relaxed)) {
    if (mode_ == event_mode::automatic) set_.store(false, std::memory_order_relaxed);
    return true;
  }
  w.generation = generation_;
  detail::enqueue(waiters_, w, wk);
  return false;
}

void event::withdraw(detail::event_waiter& w) noexcept {
  detail::wake_batch batch;
  waker dropped;  // our own waker, dropped after the lock
  lock_type lk(mu_);
  if (detail::unlink_if_queued(waiters_, w, dropped)) return;
  // Released but never resumed. Automatic: that set() is passed on.
  if (mode_ == event_mode::automatic) set_locked(lk, batch);
}

event_wait_awaiter::~event_wait_awaiter() {
  op_.cancel(
      // Completed at once but destroyed while yielding for the budget: an
      // automatic event's consumed state goes back.
      [this] {
        if (e_->mode() == event_mode::automatic) e_->set();
      },
      [this](detail::event_waiter& w) { e_->withdraw(w); });
}

bool event_wait_awaiter::await_ready() {
  return op_.ready([this]() noexcept { return e_->try_consume(); });
}

bool event_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  return op_.suspend(h, [this](detail::event_waiter& w, waker& wk) noexcept {
    return e_->try_consume_or_enqueue(w, wk);
  });
}

}  // namespace weft
