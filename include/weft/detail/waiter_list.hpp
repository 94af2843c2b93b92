// weft/detail/waiter_list.hpp — the intrusive wait queue under every channel
// and synchronisation primitive, and the batch that wakes its waiters after
// the primitive's lock is released.
//
// Design
// ------
// A task waiting on a mutex, a semaphore, a channel... is represented by a
// waiter_node that lives in its awaiter (inside the suspended coroutine's
// frame), so waiting allocates nothing. The primitive links the node into a
// FIFO waiter_list under its own lock. Whoever completes the wait (an unlock,
// a send) does, under that lock: write the outcome into the awaiter, unlink
// the node, move its waker into a wake_batch. The batch wakes after the lock
// is released, and touches only the wakers it holds, never a node: once a
// node is unlinked its task may resume (or be destroyed) on another thread
// and free it at once.
//
// An awaiter destroyed while waiting (weft::timeout, with_cancellation,
// runtime shutdown) takes the primitive's lock and unlinks its node if it is
// still linked; if it was not (the wait had just completed, its outcome
// written but the task never resumed), the awaiter hands the outcome back
// (an unlock passes the lock on, a permit goes back, a value goes back to
// the queue) — the primitive-specific half of "cancel after".
//
// Every field of a node is guarded by the owning primitive's lock while the
// node is linked; the outcome written with the unlink is published to the
// resumed task by the waker (its release in transition_to_notified pairs
// with the runner's acquire).
#pragma once

#include <weft/detail/task_header.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace weft::detail {

/// A waiting awaiter's place in a primitive's queue. Embedded in the awaiter.
struct waiter_node {
  waiter_node* prev = nullptr;
  waiter_node* next = nullptr;
  waker wake;           // the suspended task; moved out when the wait completes
  bool linked = false;  // in a waiter_list right now
};

/// A FIFO of waiter_nodes. Not synchronised: the owning primitive's lock
/// guards it. O(1) push, pop and removal from the middle.
class waiter_list {
 public:
  waiter_list() noexcept = default;
  waiter_list(const waiter_list&) = delete;
  waiter_list& operator=(const waiter_list&) = delete;
  ~waiter_list() { assert(head_ == nullptr); }  // INVARIANT: no waiter outlives its primitive

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] waiter_node* front() const noexcept { return head_; }

  void push_back(waiter_node& n) noexcept {
    assert(!n.linked);  // INVARIANT: a node is in at most one list, once
    n.prev = tail_;
    n.next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = &n;
    } else {
      head_ = &n;
    }
    tail_ = &n;
    n.linked = true;
    ++size_;
  }

  /// Unlink and return the oldest node, or nullptr.
  waiter_node* pop_front() noexcept {
    waiter_node* n = head_;
    if (n != nullptr) remove(*n);
    return n;
  }

  void remove(waiter_node& n) noexcept {
    assert(n.linked);  // INVARIANT: only linked nodes are removed
    (n.prev != nullptr ? n.prev->next : head_) = n.next;
    (n.next != nullptr ? n.next->prev : tail_) = n.prev;
    n.prev = n.next = nullptr;
    n.linked = false;
    --size_;
  }

 private:
  waiter_node* head_ = nullptr;
  waiter_node* tail_ = nullptr;
  std::size_t size_ = 0;
};

/// Wakers collected under a lock and woken once it is released: declare the
/// batch before the lock guard, so it is destroyed (and wakes) after it.
/// Holds at most `capacity`: a notify_all over more waiters wakes in rounds
/// (full() → release the lock, wake_all(), take it again), so waking never
/// allocates.
class wake_batch {
 public:
  static constexpr std::size_t capacity = 32;

  wake_batch() noexcept = default;
  wake_batch(const wake_batch&) = delete;
  wake_batch& operator=(const wake_batch&) = delete;
  ~wake_batch() { wake_all(); }

  [[nodiscard]] bool full() const noexcept { return count_ == capacity; }

  /// Take `n`'s waker (n must already be unlinked; its wait completed).
  void take(waiter_node& n) noexcept { push(std::move(n.wake)); }

  void push(waker&& w) noexcept {
    assert(count_ < capacity);  // INVARIANT: callers check full() first
    if (!w) return;
    const raw_waker raw = w.release();
    tasks_[count_] = raw.task;
    epochs_[count_] = raw.epoch;
    ++count_;
  }

  /// Wake and drop every collected waker. Call only with no lock held.
  void wake_all() noexcept {
    for (std::size_t i = 0; i < count_; ++i) waker{raw_waker{tasks_[i], epochs_[i]}}.wake();
    count_ = 0;
  }

 private:
  // Counted references, adopted back by wake_all. Plain arrays of trivial
  // types, left uninitialised: a batch is made for every unlock, and zeroing
  // 32 slots each time would cost more than the common single wake.
  task_header* tasks_[capacity];
  std::uint32_t epochs_[capacity];
  std::size_t count_ = 0;
};

}  // namespace weft::detail
