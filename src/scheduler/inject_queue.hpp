// weft scheduler — the global inject queue.
//
// DESIGN
// ------
// An unbounded multi-producer multi-consumer FIFO of `T*`, intrusive: tasks
// are chained through their `T* queue_next_` member, so push never allocates.
// Two parts:
//
//   incoming_ — a lock-free stack (newest first) that push() prepends one
//               task to with one compare-exchange: no lock per task for the
//               threads that spawn from outside the runtime (rt.spawn from
//               main) or wake tasks there.
//   the list  — head_, tail_, count_ (oldest first) under mutex_: what the
//               workers pop from, in batches (pop_n), and where a worker's
//               overflowing local queue hands half of itself (push_batch:
//               one lock per batch).
//
// A consumer (pop, pop_n, drain, close) first takes the whole stack with one
// compare-exchange to null, reverses it outside the lock (its own now) and
// appends it to the list's tail: so a pushed task waits behind what the list
// held, and the stack's tasks keep the order they were pushed in. Every
// consumer operation takes the stack, so none waits there for long.
//
//   incoming_:  null ──push──▶ t1 ──push──▶ t2→t1 ── … (one CAS each)
//                 ▲                               │
//                 └──── a consumer's CAS to null ─┘   (the chain is its own)
//               any ──close()──▶ CLOSED (for good: push refuses)
//
// Two atomics mirror the guarded state for lock-free reads:
//   len_    — the list's count, stored under the mutex after every change;
//             is_empty() reads it and incoming_.
//   closed_ — set once under the mutex by close(); read by is_closed().
//
// Windows where tasks are invisible to other consumers: between a consumer's
// taking the stack and its appending to the list, and while pop_n walks the
// list it took (see there). A consumer that saw tasks left over after such a
// window reports it (`*more` / `*rest_requeued`); the caller wakes a worker,
// as a push would have, in case one went to sleep in the window.
//
// pop_n() and drain() unlink their tasks under the lock but call `sink`
// after unlocking (pop_n also walks its list outside the lock, see there), so
// a sink may push into this same queue (e.g. a local queue overflowing back
// here) without deadlock. If a sink throws, the task it was given counts as
// handed over (the sink owns it); the tasks not yet handed to it are put back
// at the front, in order, and the exception propagates.
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
    // ORDERING: relaxed: the destructor runs after every other user is done.
    assert(head_ == nullptr && count_ == 0 &&
           (incoming_.load(std::memory_order_relaxed) == nullptr ||
            incoming_.load(std::memory_order_relaxed) == closed_mark()) &&
           "inject_queue destroyed while holding tasks");
  }

  inject_queue(const inject_queue&) = delete;
  inject_queue& operator=(const inject_queue&) = delete;

  /// Append one task. true = taken; false = queue closed, caller keeps `t`.
  /// Lock-free: one compare-exchange on incoming_ (retried only when another
  /// push or a consumer changed it in between).
  bool push(T* t) {
    // INVARIANT: a task is in at most one queue at a time.
    assert(t != nullptr);
    // ORDERING: relaxed: the value is only an expectation for the CAS.
    T* top = incoming_.load(std::memory_order_relaxed);
    do {
      if (top == closed_mark()) return false;
      t->queue_next_ = top;
      // ORDERING: seq_cst on success. Its release publishes the task (its
      // fields and the link just written) to the consumer whose acquire CAS
      // takes the stack (take_incoming, close); each push is a
      // read-modify-write, so the consumer synchronises with every push it
      // takes, not only the last. seq_cst rather than release: the pusher
      // then reads the idle state (notify_parked) and a parking worker
      // updates that state, then reads this word (is_empty) — the store-load
      // pattern of idle.hpp, which needs seq_cst on both sides (on x86 the
      // same locked instruction as a release CAS). Relaxed on failure:
      // nothing is read through the value but the CLOSED mark.
    } while (!incoming_.compare_exchange_weak(top, t, std::memory_order_seq_cst,
                                              std::memory_order_relaxed));
    return true;
  }

  /// Append a chain `head -> ... -> tail` of `n` tasks already linked through
  /// queue_next_. true = taken; false = queue closed, caller keeps the chain.
  /// One lock for the whole chain.
  bool push_batch(T* head, T* tail, std::size_t n) {
    if (n == 0) {
      // INVARIANT: an empty batch is spelled (nullptr, nullptr, 0).
      assert(head == nullptr && tail == nullptr);
      return !is_closed();
    }
    // INVARIANT: head/tail delimit exactly n linked tasks (checked in debug).
    assert(head != nullptr && tail != nullptr && chain_ok(head, tail, n));

    // Tasks pushed before this batch go in front of it: the queue keeps the
    // order of arrival across both ways in.
    const chain in = take_incoming();
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    append_locked(in);  // even if closed: these were accepted before close
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

  /// Pop the oldest task; nullptr if empty. `*more` (if given) is set when
  /// this call moved pushed tasks into the list and some are still queued:
  /// other consumers may have found the queue empty meanwhile (wake one).
  T* pop(bool* more = nullptr) {
    if (more != nullptr) *more = false;
    // Fast path without the lock. A push or list change that happened-before
    // this call is visible here (see is_empty), so this never misses it.
    if (is_empty()) return nullptr;
    const chain in = take_incoming();
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    append_locked(in);
    T* t = head_;
    if (t == nullptr) return nullptr;
    head_ = t->queue_next_;
    if (head_ == nullptr) tail_ = nullptr;
    --count_;
    publish_len();
    t->queue_next_ = nullptr;
    if (more != nullptr) *more = in.n > 0 && head_ != nullptr;
    return t;
  }

  /// Pop up to `n` tasks (oldest first) and hand them to `sink(T*)` one by
  /// one outside the lock. Returns how many were popped; `*rest_requeued`
  /// (if given) says whether tasks were left queued behind them.
  ///
  /// The tasks pushed so far join the list first (take_incoming).
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
    const chain in = take_incoming();
    T* first = nullptr;
    T* last_of_all = nullptr;
    std::size_t all = 0;
    {
      sync::lock_guard<sync::spin_mutex> lock(mutex_);
      append_locked(in);
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
  bool is_empty() const noexcept {
    // ORDERING: acquire: pairs with the release store in publish_len(), so a
    // reader that sees a count also sees everything the writer did before
    // (including the task's own fields); all list access still takes mutex_.
    if (len_.load(std::memory_order_acquire) != 0) return false;
    // ORDERING: seq_cst: pairs with push's seq_cst CAS, for the store-load
    // pattern with idle.hpp's state word (see push); as an acquire, a reader
    // that sees a task sees it whole. List and stack are read apart, so a
    // task moving from the stack to the list in between is missed — the
    // consumer moving it reports that with `more`/`rest_requeued` (see the
    // file comment).
    T* top = incoming_.load(std::memory_order_seq_cst);
    return top == nullptr || top == closed_mark();
  }

  /// Number of queued tasks. Takes the lock and moves pushed tasks into the
  /// list (a consumer's step), so it is for tests and diagnostics; the count
  /// may be stale as soon as it returns.
  std::size_t len() {
    const chain in = take_incoming();
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    append_locked(in);
    return count_;
  }

  /// Refuse all later pushes. Idempotent. Queued tasks stay queued.
  void close() {
    sync::lock_guard<sync::spin_mutex> lock(mutex_);
    // ORDERING: release; pairs with the acquire load in is_closed(). Batch
    // pushers read it under mutex_ and need no ordering of their own.
    closed_.store(true, std::memory_order_release);
    // ORDERING: acquire: takes the tasks pushed so far, as take_incoming;
    // after the exchange every push sees CLOSED and refuses.
    T* top = incoming_.exchange(closed_mark(), std::memory_order_acquire);
    if (top != closed_mark()) append_locked(reversed(top));
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
      const chain in = take_incoming();
      sync::lock_guard<sync::spin_mutex> lock(mutex_);
      append_locked(in);
      first = head_;
      head_ = nullptr;
      tail_ = nullptr;
      count_ = 0;
      publish_len();
    }
    hand_over(first, std::forward<Sink>(sink));
  }

 private:
  // A nullptr-terminated chain of n tasks, oldest first.
  struct chain {
    T* first = nullptr;
    T* last = nullptr;
    std::size_t n = 0;
  };

  // Marks incoming_ closed. Never a task's address; never dereferenced.
  static T* closed_mark() noexcept {
    alignas(T) static unsigned char mark = 0;
    return reinterpret_cast<T*>(&mark);
  }

  // Takes every pushed task off the stack; oldest first.
  chain take_incoming() {
    // ORDERING: relaxed: the value is only an expectation for the CAS.
    T* top = incoming_.load(std::memory_order_relaxed);
    do {
      if (top == nullptr || top == closed_mark()) return {};
      // ORDERING: acquire on success: pairs with the release CAS of every
      // push taken (they form one release sequence on incoming_), so the
      // links and the tasks are visible. Relaxed on failure: retried.
    } while (!incoming_.compare_exchange_weak(top, nullptr, std::memory_order_acquire,
                                              std::memory_order_relaxed));
    WEFT_TEST_POINT("inject_queue.incoming_taken");
    return reversed(top);
  }

  // The stack from `top` (newest first), relinked oldest first. The chain
  // belongs to the caller: no lock.
  static chain reversed(T* top) noexcept {
    chain c;
    c.last = top;
    T* prev = nullptr;
    for (T* cur = top; cur != nullptr; ++c.n) {
      T* next = cur->queue_next_;
      cur->queue_next_ = prev;
      prev = cur;
      cur = next;
    }
    c.first = prev;
    return c;
  }

  // SAFETY: caller holds mutex_. Appends `c` behind the list's tasks.
  void append_locked(const chain& c) noexcept {
    if (c.n == 0) return;
    if (tail_ == nullptr) {
      head_ = c.first;
    } else {
      tail_->queue_next_ = c.first;
    }
    tail_ = c.last;
    count_ += c.n;
    publish_len();
  }

  // SAFETY: caller holds mutex_.
  void publish_len() noexcept {
    // ORDERING: release; pairs with the acquire load in is_empty(). Stored under
    // mutex_, so stores are in list order and the last one is the truth.
    len_.store(count_, std::memory_order_release);
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

  sync::atomic<T*> incoming_{nullptr};  // see the file comment
  sync::spin_mutex mutex_;
  T* head_ = nullptr;      // guarded by mutex_
  T* tail_ = nullptr;      // guarded by mutex_
  std::size_t count_ = 0;  // guarded by mutex_
  sync::atomic<std::size_t> len_{0};
  sync::atomic<bool> closed_{false};
};

}  // namespace weft::detail
