// weft/channel/mpsc.hpp — multi-producer, single-consumer channels.
//
//   auto [tx, rx] = weft::mpsc::channel<job>(100);        // bounded: back-pressure
//   weft::spawn([tx]() -> weft::task<> {                   // each copy is a sender
//     if (!co_await tx.send(job{})) { /* receiver gone; the value is handed back */ }
//   });
//   while (auto j = co_await rx.recv()) run(*j);           // channel_closed ends it
//
//   auto [utx, urx] = weft::mpsc::unbounded_channel<int>();
//   utx.send(1);                                           // never waits, any thread
//
// Both kinds share one receiver type, mpsc::receiver<T> (an unbounded channel
// is a bounded one whose capacity cannot be reached).
//
// Semantics
// ---------
// - Order: FIFO per sender; senders waiting for space are served oldest
//   first (a slot freed by the receiver goes to the oldest waiting send).
// - recv() returns errc::channel_closed once every sender (bounded and
//   unbounded copies alike) is gone and every buffered value was received,
//   or once close() ran and the buffer is drained.
// - rx.close(): every later or waiting send fails with channel_closed and
//   gets its value back; values already buffered can still be received.
// - Dropping the receiver closes and destroys the buffered values (after the
//   channel's lock is released: a value may own a sender of this channel).
// - Handles must outlive the awaiters they made (`co_await tx.send(v)`,
//   `co_await rx.recv()` and awaiters moved into weft::timeout or
//   with_cancellation do); T must be nothrow move constructible.
//
// Design
// ------
// One shared state (detail below: chan_detail::mpsc_chan), allocated once per
// channel, reference counted by the handles. Everything mutable is guarded by
// one sync::spinlock (an exchange to lock, a store to unlock: measured twice
// as fast per message as the adaptive pthread mutex, which cost ~40% of an
// uncontended send/receive); critical sections are a few instructions (a
// push, a pop, a list link) and never run user code other than T's move
// constructor. Values live in a block_queue (blocks of 32 slots, recycled:
// no allocation per message; a bounded channel keeps its blocks, so in steady
// state it never allocates, and a capacity of 1'000'000 only allocates the
// blocks it fills).
//
// Bounded capacity counts buffered values plus *reserved* slots: a send that
// waited is woken with a slot granted (reserved) and writes its value when
// its task resumes. So a cancelled send never delivers its value — see "cancel
// after" on send_awaiter — and a granted slot is never lost.
//
// A value sent while the receiver waits is handed straight into the
// receiver's awaiter (no queueing, the receiver resumes without taking the
// lock); a send to a receiver that is not waiting wakes nobody. Wakes are
// collected under the lock and run after it is released (wake_few for the
// one or two a message completes; wake_batch, in rounds of 32, for closing).
#pragma once

#include <weft/channel/await_once.hpp>
#include <weft/channel/block_queue.hpp>
#include <weft/channel/send_result.hpp>
#include <weft/channel/shared_refs.hpp>
#include <weft/channel/state_handle.hpp>
#include <weft/channel/wake_few.hpp>
#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/waker.hpp>

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft::chan_detail {

namespace sync = weft::detail::sync;
using weft::detail::waiter_list;
using weft::detail::waiter_node;
using weft::detail::wake_batch;

/// A waiting (or completed, not yet resumed) receive. Fields other than the
/// list links are written by the completer under the channel's lock, and read
/// by the resumed task (published by the waker).
template <class T>
struct mpsc_recv_node : waiter_node {
  enum class outcome : std::uint8_t { none, value, closed };
  outcome out = outcome::none;
  bool suspended = false;  // the awaiter suspended and has not resumed (own task only)
  std::optional<T> value;  // set with outcome::value
};

/// A send waiting for a slot; completed with a granted slot or closed.
struct mpsc_send_node : waiter_node {
  enum class outcome : std::uint8_t { none, sent, granted, closed };
  outcome out = outcome::none;
  bool suspended = false;
};

/// A sender's closed() wait.
struct mpsc_closed_node : waiter_node {
  bool suspended = false;
};

template <class T>
class mpsc_chan : public shared_refs<mpsc_chan<T>> {
 public:
  static constexpr std::size_t unbounded = SIZE_MAX;

  explicit mpsc_chan(std::size_t capacity)
      : queue_(capacity == unbounded ? 8 : unbounded,
               // capacity values span at most capacity / 32 + 2 blocks
               capacity == unbounded ? 0 : std::min<std::size_t>(capacity / 32 + 2, 8)),
        capacity_(capacity) {}

  // ---- handles ------------------------------------------------------------

  void add_sender() noexcept {
    // ORDERING: relaxed: made from a live sender, so the count is > 0 and no
    // "last sender" transition can race with it; tx_gone_ is under mu_.
    senders_.fetch_add(1, std::memory_order_relaxed);
    this->ref();
  }
  void drop_sender() noexcept {
    // ORDERING: acq_rel: pairs with the other droppers' fetch_sub, so the
    // last one runs after every other drop (the data itself is under mu_).
    if (senders_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      {
        sync::lock_guard<sync::spinlock> g(mu_);
        tx_gone_ = true;
      }
      finish_receivers();
    }
    this->unref();
  }
  /// The receiver is dropped: close (destroying the buffered values), let go.
  void drop_receiver() noexcept {
    close_rx(/*dropping=*/true);
    this->unref();
  }

  [[nodiscard]] bool is_closed() const noexcept {
    // ORDERING: acquire: pairs with the release store in close_rx().
    return closed_flag_.load(std::memory_order_acquire);
  }

  // ---- send side ---------------------------------------------------------

  /// try_send / unbounded send: deliver now, or say why not.
  send_result<T> try_send(T&& v) {
    wake_few b;  // before the guard: wakes after the unlock
    sync::lock_guard<sync::spinlock> g(mu_);
    if (rx_closed_) return {make_error_code(errc::channel_closed), std::move(v)};
    if (!has_room_locked()) return {make_error_code(errc::would_block), std::move(v)};
    deliver_locked(std::move(v), b);
    return {};
  }

  /// send_awaiter::await_suspend. True: suspended (waiting, or yielding with
  /// a reserved slot or a closed outcome); false: completed, go on.
  bool start_send(mpsc_send_node& s, T& v, std::coroutine_handle<> h) {
    {
      wake_few b;
      sync::lock_guard<sync::spinlock> g(mu_);
      if (rx_closed_) {
        s.out = mpsc_send_node::outcome::closed;
      } else if (has_room_locked()) {
        if (weft::detail::consume_budget()) {
          deliver_locked(std::move(v), b);
          s.out = mpsc_send_node::outcome::sent;
          return false;
        }
        ++reserved_;  // budget spent: keep a slot, write the value on resume
        s.out = mpsc_send_node::outcome::granted;
        s.suspended = true;
      } else {
        s.wake = weft::suspend_current(h);  // may throw: nothing linked yet
        s.suspended = true;
        send_waiters_.push_back(s);
        return true;  // `s` may resume (and vanish) once the lock is released
      }
    }
    if (s.out == mpsc_send_node::outcome::closed) {
      if (weft::detail::consume_budget()) return false;
      s.suspended = true;
    }
    weft::detail::suspend_current_and_reschedule(h);
    return true;
  }

  /// A granted slot at resume: write the value. False: the receiver closed
  /// meanwhile (the value stays with the caller).
  bool use_grant(T& v) {
    wake_few b;
    sync::lock_guard<sync::spinlock> g(mu_);
    --reserved_;
    if (rx_closed_) return false;
    try {
      deliver_locked(std::move(v), b);
    } catch (...) {
      grant_locked(b);  // the slot is free again: do not strand a waiter
      throw;
    }
    grant_locked(b);  // the value went straight to the receiver: slot free
    return true;
  }

  /// A send awaiter destroyed while suspended: unlink it, or release the slot
  /// it was granted to the next waiting send.
  void abandon_send(mpsc_send_node& s) noexcept {
    bool finish = false;
    {
      wake_few b;
      sync::lock_guard<sync::spinlock> g(mu_);
      if (s.linked) {
        send_waiters_.remove(s);
        return;
      }
      if (s.out == mpsc_send_node::outcome::granted) {
        --reserved_;
        grant_locked(b);
        finish = drained_locked() && !recv_waiters_.empty();
      }
    }
    if (finish) finish_receivers();
  }

  bool start_closed(mpsc_closed_node& c, std::coroutine_handle<> h) {
    {
      sync::lock_guard<sync::spinlock> g(mu_);
      if (!rx_closed_) {
        c.wake = weft::suspend_current(h);
        c.suspended = true;
        closed_waiters_.push_back(c);
        return true;
      }
    }
    if (weft::detail::consume_budget()) return false;
    c.suspended = true;
    weft::detail::suspend_current_and_reschedule(h);
    return true;
  }

  void abandon_closed(mpsc_closed_node& c) noexcept {
    sync::lock_guard<sync::spinlock> g(mu_);
    if (c.linked) closed_waiters_.remove(c);
  }

  // ---- receive side ------------------------------------------------------

  result<T> try_recv() {
    wake_few b;
    sync::lock_guard<sync::spinlock> g(mu_);
    if (!queue_.empty()) {
      result<T> r{queue_.pop_front()};
      grant_locked(b);
      return r;
    }
    return make_error_code(drained_locked() ? errc::channel_closed : errc::would_block);
  }

  bool start_recv(mpsc_recv_node<T>& r, std::coroutine_handle<> h) {
    {
      wake_few b;
      sync::lock_guard<sync::spinlock> g(mu_);
      if (!queue_.empty()) {
        queue_.pop_front_into(r.value);
        r.out = mpsc_recv_node<T>::outcome::value;
        grant_locked(b);
      } else if (drained_locked()) {
        r.out = mpsc_recv_node<T>::outcome::closed;
      } else {
        r.wake = weft::suspend_current(h);
        r.suspended = true;
        recv_waiters_.push_back(r);
        return true;
      }
    }
    if (weft::detail::consume_budget()) return false;
    // Budget spent: keep the outcome (a value is ours now) and let others run.
    r.suspended = true;
    weft::detail::suspend_current_and_reschedule(h);
    return true;
  }

  /// A receive awaiter destroyed while suspended: unlink it, or hand back the
  /// value it was given — to the next waiting receive, else to the front of
  /// the queue (where it was the oldest value: order is kept).
  void abandon_recv(mpsc_recv_node<T>& r) noexcept {
    wake_few b;
    sync::lock_guard<sync::spinlock> g(mu_);
    if (r.linked) {
      recv_waiters_.remove(r);
      return;
    }
    if (r.out != mpsc_recv_node<T>::outcome::value) return;
    if (!recv_waiters_.empty()) {
      auto& next = static_cast<mpsc_recv_node<T>&>(*recv_waiters_.pop_front());
      next.value.emplace(std::move(*r.value));
      next.out = mpsc_recv_node<T>::outcome::value;
      b.take(next);
    } else {
      // Can allocate one block (a full head block): bad_alloc here terminates.
      queue_.push_front(std::move(*r.value));
    }
    r.value.reset();
  }

  /// rx.close() (dropping = false) and the receiver's destructor (true).
  void close_rx(bool dropping) noexcept {
    block_queue<T> doomed(0);  // destroyed last, with no lock held
    {
      sync::lock_guard<sync::spinlock> g(mu_);
      rx_closed_ = true;
      // ORDERING: release: pairs with the acquire load in is_closed().
      closed_flag_.store(true, std::memory_order_release);
      if (dropping) queue_.swap(doomed);
    }
    // Every waiting send fails and gets its value back; closed() waiters
    // complete; a receive waiting in another branch sees the end.
    for (bool more = true; more;) {
      wake_batch b;
      sync::lock_guard<sync::spinlock> g(mu_);
      while (!b.full() && !send_waiters_.empty()) {
        auto& s = static_cast<mpsc_send_node&>(*send_waiters_.pop_front());
        s.out = mpsc_send_node::outcome::closed;
        b.take(s);
      }
      while (!b.full() && !closed_waiters_.empty()) b.take(*closed_waiters_.pop_front());
      more = !send_waiters_.empty() || !closed_waiters_.empty();
    }
    finish_receivers();
  }

 private:
  friend class shared_refs<mpsc_chan>;
  ~mpsc_chan() = default;  // through unref()

  // mu_ held. Room for one more value, and no older send waiting for it.
  [[nodiscard]] bool has_room_locked() const noexcept {
    return send_waiters_.empty() && queue_.size() + reserved_ < capacity_;
  }

  // mu_ held. Nothing more will ever arrive for the receiver.
  [[nodiscard]] bool drained_locked() const noexcept {
    return queue_.empty() && (rx_closed_ || (tx_gone_ && reserved_ == 0));
  }

  // mu_ held, a slot available. Hand `v` to a waiting receive (then the
  // queue is empty: receives wait only on an empty queue), else queue it.
  void deliver_locked(T&& v, wake_few& b) {
    if (!recv_waiters_.empty()) {
      auto& r = static_cast<mpsc_recv_node<T>&>(*recv_waiters_.pop_front());
      r.value.emplace(std::move(v));
      r.out = mpsc_recv_node<T>::outcome::value;
      b.take(r);
      return;
    }
    queue_.push_back(std::move(v));
  }

  // mu_ held. Give free slots to waiting sends, oldest first. Every caller
  // freed at most one slot and took at most one other waker, so `b` (room
  // for two) never stops this early.
  void grant_locked(wake_few& b) noexcept {
    while (!send_waiters_.empty() && queue_.size() + reserved_ < capacity_ && !b.full()) {
      auto& s = static_cast<mpsc_send_node&>(*send_waiters_.pop_front());
      s.out = mpsc_send_node::outcome::granted;
      ++reserved_;
      b.take(s);
    }
  }

  // If drained, complete every waiting receive with closed (rounds of 32).
  void finish_receivers() noexcept {
    for (;;) {
      wake_batch b;
      sync::lock_guard<sync::spinlock> g(mu_);
      if (!drained_locked()) return;
      while (!b.full() && !recv_waiters_.empty()) {
        auto& r = static_cast<mpsc_recv_node<T>&>(*recv_waiters_.pop_front());
        r.out = mpsc_recv_node<T>::outcome::closed;
        b.take(r);
      }
      if (recv_waiters_.empty()) return;
    }
  }

  sync::spinlock mu_;
  // Guarded by mu_:
  block_queue<T> queue_;
  std::size_t reserved_ = 0;  // slots granted to sends that have not written yet
  waiter_list send_waiters_;  // mpsc_send_node
  waiter_list recv_waiters_;  // mpsc_recv_node<T>
  waiter_list closed_waiters_;  // mpsc_closed_node
  bool rx_closed_ = false;    // close() ran or the receiver is gone
  bool tx_gone_ = false;      // the last sender is gone
  // Immutable:
  const std::size_t capacity_;  // unbounded: SIZE_MAX
  // Atomics (see their accessors):
  sync::atomic<bool> closed_flag_{false};  // rx_closed_, for lock-free is_closed()
  sync::atomic<std::size_t> senders_{1};
};

}  // namespace weft::chan_detail

namespace weft::mpsc {

template <class T>
class sender;
template <class T>
class unbounded_sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity);
template <class T>
std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel();

/// `co_await tx.send(v)` on a bounded channel.
///
/// - completes with: send_result<T>: success once the value is in the
///   channel (at once if there is room and no older send waits; else when a
///   slot is granted to it — FIFO among waiting sends); channel_closed, with
///   the value handed back, if the receiver is closed or gone (also while
///   waiting: close() completes every waiting send).
/// - cancellation (destroying the awaiting coroutine: weft::timeout,
///   with_cancellation, shutdown): before it suspended, nothing happened;
///   while waiting, it is unlinked; after a slot was granted but before the
///   task resumed, the slot is released to the next waiting send and the
///   value is destroyed with the awaiter — a cancelled send never delivers.
/// - resumes on: the awaiting task's runtime (its worker or block_on thread),
///   never inline on the receiving thread.
/// - runtime shutdown: the waiting task is destroyed: as cancellation.
/// - allocation: none (the awaiter is the wait-list node; the value is
///   stored in a pre-allocated or recycled slot).
/// - budget: a send that completes at once counts against the cooperative
///   budget; when it is spent the send reserves its slot, yields, and writes
///   on resume.
/// Movable only before it is awaited. The sender must outlive it.
template <class T>
class [[nodiscard]] send_awaiter : private chan_detail::mpsc_send_node {
 public:
  send_awaiter(chan_detail::mpsc_chan<T>* ch, T&& v) noexcept : ch_(ch), value_(std::move(v)) {}
  send_awaiter(send_awaiter&& o) noexcept
      : ch_(o.ch_), value_(std::move(o.value_)), once_(std::move(o.once_)) {}
  send_awaiter& operator=(send_awaiter&&) = delete;
  ~send_awaiter() {
    if (this->suspended) ch_->abandon_send(*this);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    once_.begin();  // throws if awaited before or moved from: nothing sent
    return ch_->start_send(*this, value_, h);
  }
  send_result<T> await_resume() {
    this->suspended = false;
    switch (this->out) {
      case outcome::sent:
        return {};
      case outcome::granted:
        this->out = outcome::sent;
        if (ch_->use_grant(value_)) return {};
        break;
      default:
        break;
    }
    return {make_error_code(errc::channel_closed), std::move(value_)};
  }

 private:
  chan_detail::mpsc_chan<T>* ch_;
  T value_;
  chan_detail::await_once once_;
};

/// `co_await rx.recv()`.
///
/// - completes with: result<T>: the oldest buffered value (at once if there
///   is one; else the next value sent, handed straight to this awaiter);
///   errc::channel_closed once every sender is gone (or close() ran) and the
///   buffer is drained.
/// - cancellation: before it suspended, nothing happened; while waiting, it
///   is unlinked; after a value was handed to it but before the task resumed
///   (or while it yields for the budget holding a value), the value goes back
///   — to another waiting receive of this receiver, else to the *front* of
///   the queue, so it is the next value received and order is kept (on a
///   bounded channel the buffer may then hold capacity + 1 values for a
///   moment). Nothing is lost or duplicated.
/// - resumes on: the awaiting task's runtime, never inline on the sender's
///   thread.
/// - runtime shutdown: as cancellation.
/// - allocation: none.
/// - budget: a receive that completes at once counts against the budget;
///   when it is spent it keeps the value and yields.
/// Movable only before it is awaited. The receiver must outlive it.
template <class T>
class [[nodiscard]] recv_awaiter : private chan_detail::mpsc_recv_node<T> {
  using node = chan_detail::mpsc_recv_node<T>;

 public:
  explicit recv_awaiter(chan_detail::mpsc_chan<T>* ch) noexcept : ch_(ch) {}
  recv_awaiter(recv_awaiter&& o) noexcept : ch_(o.ch_), once_(std::move(o.once_)) {}
  recv_awaiter& operator=(recv_awaiter&&) = delete;
  ~recv_awaiter() {
    if (this->suspended) ch_->abandon_recv(*this);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    once_.begin();  // throws if awaited before or moved from: nothing received
    return ch_->start_recv(*this, h);
  }
  result<T> await_resume() {
    this->suspended = false;
    if (this->out == node::outcome::value) {
      this->out = node::outcome::none;
      result<T> r{std::move(*this->value)};
      this->value.reset();
      return r;
    }
    return make_error_code(errc::channel_closed);
  }

 private:
  chan_detail::mpsc_chan<T>* ch_;
  chan_detail::await_once once_;
};

/// `co_await tx.closed()`.
///
/// - completes with: nothing (void), when the receiver is closed or gone; at
///   once if it already is (counted against the cooperative budget).
/// - cancellation: destroying the waiting coroutine unlinks it (before it
///   suspended nothing happened; after it was woken there is nothing to
///   hand back).
/// - resumes on: the awaiting task's runtime, never inline on the thread
///   that closed the receiver.
/// - runtime shutdown: as cancellation.
/// - allocation: none (the awaiter is the wait-list node).
template <class T>
class [[nodiscard]] closed_awaiter : private chan_detail::mpsc_closed_node {
 public:
  explicit closed_awaiter(chan_detail::mpsc_chan<T>* ch) noexcept : ch_(ch) {}
  closed_awaiter(closed_awaiter&& o) noexcept : ch_(o.ch_), once_(std::move(o.once_)) {}
  closed_awaiter& operator=(closed_awaiter&&) = delete;
  ~closed_awaiter() {
    if (this->suspended) ch_->abandon_closed(*this);
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    once_.begin();  // throws if awaited before or moved from
    return ch_->start_closed(*this, h);
  }
  void await_resume() noexcept { this->suspended = false; }

 private:
  chan_detail::mpsc_chan<T>* ch_;
  chan_detail::await_once once_;
};

namespace mpsc_handles {
template <class T>
using chan = chan_detail::mpsc_chan<T>;
/// A sender's hold (copyable: one more sender) and the receiver's (move-only).
template <class T>
using sender_ref = chan_detail::shared_state<chan<T>, &chan<T>::add_sender, &chan<T>::drop_sender>;
template <class T>
using receiver_ref = chan_detail::unique_state<chan<T>, &chan<T>::drop_receiver>;
}  // namespace mpsc_handles

/// The sending half of a bounded channel. Copyable: every copy is a sender;
/// the receiver sees channel_closed after the last copy is gone. Any thread.
template <class T>
class sender {
 public:
  sender(const sender& o) noexcept = default;
  sender(sender&& o) noexcept = default;
  sender& operator=(const sender& o) noexcept = default;
  sender& operator=(sender&& o) noexcept = default;
  ~sender() = default;
  void swap(sender& o) noexcept { ch_.swap(o.ch_); }

  /// Wait for room, then send (see send_awaiter). Throws std::logic_error on
  /// a moved-from sender.
  send_awaiter<T> send(T value) const {
    return send_awaiter<T>{ch_.checked("weft::mpsc::sender::send: this sender was moved from; send "
                                       "through the sender it was moved to, or a copy"),
                           std::move(value)};
  }

  /// Send without waiting: would_block when full (or older sends wait),
  /// channel_closed when the receiver is closed or gone; both hand the value
  /// back. Never suspends; callable from any thread.
  send_result<T> try_send(T value) const {
    return ch_.checked("weft::mpsc::sender::try_send: this sender was moved from")
        ->try_send(std::move(value));
  }

  /// True once the receiver is closed or gone (a moved-from sender: true).
  [[nodiscard]] bool is_closed() const noexcept { return ch_.get() == nullptr || ch_->is_closed(); }

  /// Wait until the receiver is closed or gone (see closed_awaiter).
  closed_awaiter<T> closed() const {
    return closed_awaiter<T>{ch_.checked("weft::mpsc::sender::closed: this sender was moved from")};
  }

  /// True if both send into the same channel.
  [[nodiscard]] bool same_channel(const sender& o) const noexcept {
    return ch_.get() == o.ch_.get();
  }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  explicit sender(chan_detail::mpsc_chan<T>* ch) noexcept : ch_(ch) {}
  mpsc_handles::sender_ref<T> ch_;
};

/// The sending half of an unbounded channel. Copyable (every copy is a
/// sender). send() never waits and never fails for lack of room.
template <class T>
class unbounded_sender {
 public:
  unbounded_sender(const unbounded_sender& o) noexcept = default;
  unbounded_sender(unbounded_sender&& o) noexcept = default;
  unbounded_sender& operator=(const unbounded_sender& o) noexcept = default;
  unbounded_sender& operator=(unbounded_sender&& o) noexcept = default;
  ~unbounded_sender() = default;
  void swap(unbounded_sender& o) noexcept { ch_.swap(o.ch_); }

  /// Send now: success, or channel_closed with the value handed back when
  /// the receiver is closed or gone. Not awaitable, never blocks, any thread
  /// (a plain thread too: it only wakes the receiver). Allocates one block
  /// of 32 slots when the current one is full and no spare is left
  /// (amortised; emptied blocks are recycled). Throws std::logic_error on a
  /// moved-from sender.
  send_result<T> send(T value) const {
    return ch_.checked("weft::mpsc::unbounded_sender::send: this sender was moved from")
        ->try_send(std::move(value));
  }

  [[nodiscard]] bool is_closed() const noexcept { return ch_.get() == nullptr || ch_->is_closed(); }
  closed_awaiter<T> closed() const {
    return closed_awaiter<T>{
        ch_.checked("weft::mpsc::unbounded_sender::closed: this sender was moved from")};
  }
  [[nodiscard]] bool same_channel(const unbounded_sender& o) const noexcept {
    return ch_.get() == o.ch_.get();
  }

 private:
  friend std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel<T>();
  explicit unbounded_sender(chan_detail::mpsc_chan<T>* ch) noexcept : ch_(ch) {}
  mpsc_handles::sender_ref<T> ch_;
};

/// The receiving half (bounded and unbounded channels). Move-only. Use it
/// from one task at a time.
template <class T>
class receiver {
 public:
  receiver(receiver&& o) noexcept = default;
  receiver& operator=(receiver&& o) noexcept = default;
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;
  /// Closes the channel and destroys the values still buffered.
  ~receiver() = default;
  void swap(receiver& o) noexcept { ch_.swap(o.ch_); }

  /// Receive the next value (see recv_awaiter). Throws std::logic_error on a
  /// moved-from receiver.
  recv_awaiter<T> recv() {
    return recv_awaiter<T>{
        ch_.checked("weft::mpsc::receiver::recv: this receiver was moved from; receive through the "
                    "receiver it was moved to")};
  }

  /// Receive without waiting: the oldest value, else would_block, or
  /// channel_closed when nothing more can arrive.
  result<T> try_recv() {
    return ch_.checked("weft::mpsc::receiver::try_recv: this receiver was moved from")->try_recv();
  }

  /// Close: sends fail from now on (waiting ones at once) and get their
  /// values back; buffered values can still be received, then recv returns
  /// channel_closed. Idempotent.
  void close() {
    ch_.checked("weft::mpsc::receiver::close: this receiver was moved from")
        ->close_rx(/*dropping=*/false);
  }

  /// False for a moved-from receiver.
  [[nodiscard]] bool valid() const noexcept { return ch_.get() != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  friend std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel<T>();
  explicit receiver(chan_detail::mpsc_chan<T>* ch) noexcept : ch_(ch) {}
  mpsc_handles::receiver_ref<T> ch_;
};

/// A bounded channel holding at most `capacity` values (>= 1; 0 throws
/// std::invalid_argument). One allocation for the shared state and up to 8
/// blocks of 32 slots up front; further blocks are allocated when first
/// filled and kept, so a warmed-up channel never allocates.
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::mpsc: T must be nothrow move constructible (mark its move constructor "
                "noexcept)");
  if (capacity == 0) {
    throw std::invalid_argument(
        "weft::mpsc::channel: capacity must be at least 1 (a rendezvous channel is not "
        "supported; use capacity 1, or mpsc::unbounded_channel for no limit)");
  }
  auto* ch = new chan_detail::mpsc_chan<T>(capacity);
  return {sender<T>{ch}, receiver<T>{ch}};
}

/// An unbounded channel: sends never wait. One allocation for the shared
/// state; values live in blocks of 32 slots, allocated as needed and
/// recycled (up to 8 spare blocks are kept).
template <class T>
std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel() {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::mpsc: T must be nothrow move constructible (mark its move constructor "
                "noexcept)");
  auto* ch = new chan_detail::mpsc_chan<T>(chan_detail::mpsc_chan<T>::unbounded);
  return {unbounded_sender<T>{ch}, receiver<T>{ch}};
}

}  // namespace weft::mpsc
