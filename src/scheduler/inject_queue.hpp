// weft scheduler — the global inject queue.
//
// DESIGN
// ------
// An unbounded multi-producer multi-consumer FIFO of `T*`, intrusive: tasks
// are chained through their `T* queue_next_` member, so push never allocates.
// One mutex guards the list (head_, tail_, count_) and the closed flag. Two
// atomics mirror the guarded state for lock-free reads:
//   len_    — the number of queued tasks, stored under the mutex after every
//             change; read by is_empty()/len() and by pop()'s empty fast path.
//   closed_ — set once under the mutex by close(); read by is_closed().
//
// Tasks come in from spawns on non-worker threads, from wakes, and as whole
// batches from a worker whose local queue overflowed (push_batch). Workers
// take them back with pop() or pop_n() (refilling a local queue).
//
// pop_n() and drain() unlink their tasks under the lock but call `sink`
// after unlocking (pop_n also walks its list outside the lock, see there), so a sink may push into this same queue (e.g. a
// local queue overflowing back here) without deadlock. If a sink throws, the
// task it was given counts as handed over (the sink owns it); the tasks not yet
// handed to it are put back at the front, in order, and the exception
// propagates.
//
// close() is for shutdown: afterwards push/push_batch refuse (return false and
// leave the tasks with the caller); tasks already queued stay until popped or
// drained.
#pragma once

#include <cassert>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/test_point.hpp>

namespace weft::detail {

template <class T>
class inject_queue {
 public:
  inject_queue() {
    static_assert(std::is_same_v<decltype(std::declval<T&>().queue_next_), T*>,
                  "T must have a public member `T* queue_next_`");
  }

  ~inject_queue() {
    // INVARIANT: tasks are never dropped silently; shutdown drains first.
    assert(head_ == nullptr && count_ == 0 &&
           "inject_queue destroyed while holding tasks");
  }

  inject_queue(const inject_queue&) = delete;
  inject_queue& operator=(const inject_queue&) = delete;

  /// Append one task. true = taken; false = queue closed, caller keeps `t`.
  bool push(T* t) {
    // INVARIANT: a task is in at most one queue at a time.
    assert(t != nullptr);
    t->queue_next_ = nullptr;
    return push_batch(t, t, 1);
  }

  /// Append a chain `head -> ... -> tail` of `n` tasks already linked through
  /// queue_next_. true = taken; false = queue closed, caller keeps the chain.
  bool push_batch(T* head, T* tail, std::size_t n) {
    if (n == 0) {
      // INVARIANT: an empty batch is spelled (nullptr, nullptr, 0).
      assert(head == nullptr && tail == nullptr);
      return !is_closed();
    }
    // INVARIANT: head/tail delimit exactly n linked tasks (checked in debug).
    assert(head != nullptr && tail != nullptr && chain_ok(head, tail, n));

    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    // ORDERING: relaxed; closed_ is only stored under mutex_, which we hold.
    if (closed_.load(std::memory_order_relaxed)) return false;
    tail->queue_next_ = nullptr;
    if (tail_ == nullptr) {
      head_ = head;
    } else {
      tail_->queue_next_ = head;
    }
    tail_ = tail;
    count_ += n;
    publish_len();
    return true;
  }

  /// Pop the oldest task; nullptr if empty.
  T* pop() {
    // Fast path without the lock. A push that happened-before this call has
    // its len_ store visible here (see publish_len), so this never misses it.
    if (is_empty()) return nullptr;
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    T* t = head_;
    if (t == nullptr) return nullptr;
    head_ = t->queue_next_;
    if (head_ == nullptr) tail_ = nullptr;
    --count_;
    publish_len();
    t->queue_next_ = nullptr;
    return t;
  }

  /// Pop up to `n` tasks (oldest first) and hand them to `sink(T*)` one by
  /// one outside the lock. Returns how many were popped; `*rest_requeued`
  /// (if given) says whether tasks were left queued behind them.
  ///
  /// The walk to the n-th task reads every task's link, and those tasks were
  /// queued long ago (cold in cache): it must not happen under the lock,
  /// where it held both workers up (a refill of 128 from a queue of 1,000s
  /// was most of yield_many's time at 5,000 tasks). So pop_n takes the whole
  /// list under the lock, walks outside it, and puts the rest back at the
  /// front under the lock again — both critical sections O(1). Meanwhile the
  /// queue looks empty to other poppers (they see fewer tasks, never a task
  /// twice); a caller that sees `*rest_requeued` should wake a worker, as a
  /// push would, in case one went to sleep in that window.
  template <class Sink>
  std::size_t pop_n(std::size_t n, Sink&& sink, bool* rest_requeued = nullptr) {
    if (rest_requeued != nullptr) *rest_requeued = false;
    if (n == 0 || is_empty()) return 0;
    T* first = nullptr;
    T* last_of_all = nullptr;
    std::size_t all = 0;
    {
      sync::lock_guard<sync::spin_mutex> lock(mutex_);
      first = head_;
      if (first == nullptr) return 0;
      last_of_all = tail_;
      all = count_;
      head_ = tail_ = nullptr;
      count_ = 0;
      publish_len();
    }
    WEFT_TEST_POINT("inject_queue.pop_n.list_taken");
    // The chain first..last_of_all is ours alone now: pushers append to the
    // (now empty) list, never to last_of_all.
    T* last = first;
    std::size_t taken = 1;
    while (taken < n && last->queue_next_ != nullptr) {
      last = last->queue_next_;
      ++taken;
    }
    if (T* rest = last->queue_next_) {
      last->queue_next_ = nullptr;
      sync::lock_guard<sync::spin_mutex> lock(mutex_);
      // Older than anything pushed in the window: back at the front. Even if
      // closed meanwhile: these tasks were already accepted; drain() gets them.
      last_of_all->queue_next_ = head_;
      head_ = rest;
      if (tail_ == nullptr) tail_ = last_of_all;
      count_ += all - taken;
      publish_len();
      if (rest_requeued != nullptr) *rest_requeued = true;
    }
    hand_over(first, std::forward<Sink>(sink));
    return taken;
  }

  /// True if no task is queued (lock-free; may be stale under concurrency).
  bool is_empty() const noexcept { return len() == 0; }

  /// Number of queued tasks (lock-free; may be stale under concurrency).
  std::size_t len() const noexcept {
    // ORDERING: seq_cst. As an acquire it pairs with the store in
    // publish_len(), so a reader that sees a count also sees everything the
    // writer did before (including the task's own fields); all list access
    // still takes mutex_. seq_cst because a pusher then reads the idle state
    // (notify_parked) while a parking worker updates that state and then
    // reads this count: the store-load pattern of idle.hpp, which needs
    // seq_cst on both sides (acquire alone may read a stale 0 and park with
    // a task queued; found by an outside review with the model checker). On
    // x86 a seq_cst load is a plain load.
    return len_.load(std::memory_order_seq_cst);
  }

  /// Refuse all later pushes. Idempotent. Queued tasks stay queued.
  void close() {
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    // ORDERING: release; pairs with the acquire load in is_closed(). Pushers
    // read it under mutex_ and need no ordering of their own.
    closed_.store(true, std::memory_order_release);
  }

  bool is_closed() const noexcept {
    // ORDERING: acquire; pairs with the release store in close().
    return closed_.load(std::memory_order_acquire);
  }

  /// Take every queued task (oldest first) into `sink(T*)`; the queue is empty
  /// afterwards (unless pushes race with it, or the sink throws).
  template <class Sink>
  void drain(Sink&& sink) {
    T* first = nullptr;
    {
      sync::lock_guard<sync::spin_mutex> lock(mutex_);
      first = head_;
      head_ = nullptr;
      tail_ = nullptr;
      count_ = 0;
      publish_len();
    }
    hand_over(first, std::forward<Sink>(sink));
  }

 private:
  // SAFETY: caller holds mutex_.
  void publish_len() noexcept {
    // ORDERING: seq_cst: pairs with the seq_cst load in len() (see there;
    // release alone leaves the store-load pattern with idle.hpp open). Stored
    // under mutex_, so stores are in list order and the last one is the truth.
    len_.store(count_, std::memory_order_seq_cst);
  }

  // Hands an unlinked, nullptr-terminated chain to sink in order. On throw,
  // puts the tasks the sink did not get back at the front.
  template <class Sink>
  void hand_over(T* first, Sink&& sink) {
    T* cur = first;
    try {
      while (cur != nullptr) {
        T* next = cur->queue_next_;
        cur->queue_next_ = nullptr;
        T* given = cur;
        cur = next;
        sink(given);
      }
    } catch (...) {
      requeue_front(cur);
      throw;
    }
  }

  void requeue_front(T* first) {
    if (first == nullptr) return;
    std::size_t n = 1;
    T* last = first;
    while (last->queue_next_ != nullptr) {
      last = last->queue_next_;
      ++n;
    }
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    // Even if closed: these tasks were already accepted; drain() gets them.
    last->queue_next_ = head_;
    head_ = first;
    if (tail_ == nullptr) tail_ = last;
    count_ += n;
    publish_len();
  }

  static bool chain_ok(T* head, T* tail, std::size_t n) noexcept {
    T* cur = head;
    for (std::size_t i = 1; i < n; ++i) {
      if (cur == nullptr) return false;
      cur = cur->queue_next_;
    }
    return cur == tail;
  }

  sync::spin_mutex mutex_;
  T* head_ = nullptr;      // guarded by mutex_
  T* tail_ = nullptr;      // guarded by mutex_
  std::size_t count_ = 0;  // guarded by mutex_
  sync::atomic<std::size_t> len_{0};
  sync::atomic<bool> closed_{false};
};

}  // namespace weft::detail
