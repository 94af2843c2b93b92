// src/sync/fifo_permits.cpp — the fair permit queue (see
// include/weft/sync/fifo_permits.hpp). Without waiters, try_acquire and
// release are one CAS on word_; everything else takes mu_, and wakes happen
// after it is released (the wake_batch is declared before the lock).
#include <weft/sync/fifo_permits.hpp>

#include "sync/misuse.hpp"

#include <utility>

namespace weft::detail {

bool fifo_permits::try_acquire(std::size_t n) noexcept {
  // ORDERING: acquire on success: pairs with the release of the CAS or
  // fetch_add that returned these permits, so the new holder sees what the
  // previous one wrote (a mutex's critical section). Relaxed loads: only
  // a guess for the CAS.
  std::size_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    if ((cur & queued_bit) != 0 || (cur >> 1) < n) return false;  // FIFO: never overtake a waiter
    if (word_.compare_exchange_weak(cur, cur - n * one, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
}

bool fifo_permits::take_or_link_locked(permit_waiter& w) noexcept {
  if (waiters_.empty()) {
    std::size_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      const bool fits = (cur >> 1) >= w.wanted;
      // ORDERING: acquire when taking (as try_acquire); relaxed when only
      // setting queued_bit: the lock publishes the list, and the permits a
      // later grant hands over are published by the granter's wake.
      if (word_.compare_exchange_weak(cur, fits ? cur - w.wanted * one : cur | queued_bit,
                                      fits ? std::memory_order_acquire : std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        if (fits) return true;
        break;
      }
    }
  }
  waiters_.push_back(w);
  return false;
}

bool fifo_permits::acquire_or_enqueue(permit_waiter& w, waker& wk) noexcept {
  if (try_acquire(w.wanted)) return true;
  sync::lock_guard<sync::spinlock> lock(mu_);
  w.wake = std::move(wk);  // before linking: a granter takes it under this lock
  if (!take_or_link_locked(w)) return false;
  wk = std::move(w.wake);  // taken at once: the caller keeps its waker
  return true;
}

void fifo_permits::grant_locked(lock_type& lk, wake_batch& batch) noexcept {
  while (waiter_node* f = waiters_.front()) {
    auto& w = static_cast<permit_waiter&>(*f);
    // ORDERING: relaxed: with queued_bit set only lock holders change the
    // word, and the lock orders them.
    if ((word_.load(std::memory_order_relaxed) >> 1) < w.wanted) break;  // the head waits
    word_.fetch_sub(w.wanted * one, std::memory_order_relaxed);
    waiters_.remove(w);  // unlinked == granted; the task may run (and free w) from here on
    // ORDERING: release: a fast path that now sees queued_bit clear must see
    // the list change it pairs with (its acquire CAS).
    if (waiters_.empty()) word_.fetch_and(~queued_bit, std::memory_order_release);
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
  // Fast path: nobody waits; give the permits back with one CAS.
  // ORDERING: release: pairs with the acquire of the CAS that takes them
  // next (try_acquire, take_or_link_locked).
  std::size_t cur = word_.load(std::memory_order_relaxed);
  while ((cur & queued_bit) == 0) {
    if (word_.compare_exchange_weak(cur, cur + n * one, std::memory_order_release,
                                    std::memory_order_relaxed)) {
      return;
    }
  }
  wake_batch batch;  // destroyed (wakes) after the lock is released
  lock_type lk(mu_);
  // ORDERING: release, as above (a fast acquirer may take them if the list
  // emptied meanwhile); the granted waiters see our writes through the lock
  // and their wake.
  word_.fetch_add(n * one, std::memory_order_release);
  grant_locked(lk, batch);
}

bool fifo_permits::add(std::size_t n, std::size_t limit) noexcept {
  wake_batch batch;
  lock_type lk(mu_);
  // ORDERING: release, as release(); relaxed loads are guesses for the CAS.
  std::size_t cur = word_.load(std::memory_order_relaxed);
  do {
    if (n > limit || (cur >> 1) > limit - n) return false;
  } while (!word_.compare_exchange_weak(cur, cur + n * one, std::memory_order_release,
                                        std::memory_order_relaxed));
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
    // ORDERING: release, as in grant_locked.
    if (waiters_.empty()) word_.fetch_and(~queued_bit, std::memory_order_release);
    dropped = std::move(w.wake);
    if (was_head) grant_locked(lk, batch);
    return;
  }
  // Granted, but the task never resumed to take the permits ("cancel after"):
  // they go to the next waiters, or back to the free count.
  // ORDERING: release, as release().
  word_.fetch_add(w.wanted * one, std::memory_order_release);
  grant_locked(lk, batch);
}

std::size_t fifo_permits::available() const noexcept {
  // ORDERING: acquire: a caller that reads a count sees the releases that
  // made it.
  return word_.load(std::memory_order_acquire) >> 1;
}

std::size_t fifo_permits::waiters() const noexcept {
  sync::lock_guard<sync::spinlock> lock(mu_);
  return waiters_.size();
}

void fifo_permits::check_idle(std::size_t expected_free, const char* waiting,
                              const char* held) const noexcept {
  sync::lock_guard<sync::spinlock> lock(mu_);
  if (!waiters_.empty()) sync_misuse(waiting);
  if (expected_free != no_check && available() != expected_free) sync_misuse(held);
}

}  // namespace weft::detail
