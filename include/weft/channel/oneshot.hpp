// weft/channel/oneshot.hpp — a channel for exactly one value.
//
//   auto [tx, rx] = weft::oneshot::channel<int>();
//   std::thread([tx = std::move(tx)]() mutable { (void)tx.send(42); }).detach();
//   weft::result<int> v = co_await rx;      // 42, or channel_closed if tx was
//                                           // dropped without sending
//
// - sender<T>: move-only; send(v) once (not awaitable, never blocks, any
//   thread); it fails with channel_closed and hands the value back when the
//   receiver is closed or gone. Dropping an unsent sender closes the channel.
// - receiver<T>: move-only; `co_await rx` (or `co_await rx.recv()`),
//   try_recv(), close(). Dropping it closes the channel and destroys a value
//   sent but never received.
//
// Design
// ------
// One allocation per channel, the shared state: a 32-bit atomic state word,
// the receiver's waker and storage for the value. No lock. The state word:
//
//   RX_TASK_SET  the receiver's waker is stored and the receiver waits
//   VALUE_SENT   the value is stored (written before the bit, release)
//   TX_CLOSED    the sender was dropped without sending
//   RX_CLOSED    the receiver called close() or was dropped
//   TX_ALIVE     the sender still holds the state
//   RX_ALIVE     the receiver still holds the state
//
// The side that clears the last *_ALIVE bit frees the state (so there is no
// separate reference count). Ownership of the waker slot (tokio's protocol):
// the receiver writes it while RX_TASK_SET is clear, then sets the bit; once
// VALUE_SENT or TX_CLOSED is set with RX_TASK_SET, the sender owns it, takes
// it and wakes. A receive awaiter destroyed while waiting clears RX_TASK_SET
// with a CAS that fails if the sender completed first — then the value simply
// stays in the state for the next await: nothing to hand back.
//
// A send that finds no waiting receiver is one CAS (which also drops the
// sender's hold); with a waiting receiver it is a CAS, a wake and a
// fetch_and. Memory comes from weft's per-thread frame pools
// (detail::frame_allocate), so a ping-pong of short-lived oneshots does not
// reach malloc.
#pragma once

#include <weft/channel/send_result.hpp>
#include <weft/channel/state_handle.hpp>
#include <weft/detail/context.hpp>
#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/waker.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace weft::chan_detail {

template <class T>
class oneshot_state {
 public:
  static constexpr std::uint32_t rx_task_set = 1u << 0;
  static constexpr std::uint32_t value_sent = 1u << 1;
  static constexpr std::uint32_t tx_closed = 1u << 2;
  static constexpr std::uint32_t rx_closed = 1u << 3;
  static constexpr std::uint32_t tx_alive = 1u << 4;
  static constexpr std::uint32_t rx_alive = 1u << 5;
  static constexpr std::uint32_t complete = value_sent | tx_closed;

  static oneshot_state* create() {
    if constexpr (alignof(oneshot_state) <= alignof(std::max_align_t)) {
      return ::new (weft::detail::frame_allocate(sizeof(oneshot_state))) oneshot_state();
    } else {
      return ::new (::operator new(sizeof(oneshot_state), std::align_val_t{alignof(oneshot_state)}))
          oneshot_state();
    }
  }

  [[nodiscard]] std::uint32_t load() const noexcept {
    // ORDERING: acquire: pairs with the acq_rel RMWs that set VALUE_SENT /
    // TX_CLOSED; who sees VALUE_SENT sees the value written before it.
    return state_.load(std::memory_order_acquire);
  }

  // ---- sender -------------------------------------------------------------

  /// Send `v`. Consumes the sender's hold on the state in every case.
  send_result<T> send(T&& v) {
    std::uint32_t cur = load();
    if ((cur & rx_closed) == 0) {
      ::new (static_cast<void*>(storage_)) T(std::move(v));
      do {
        if ((cur & rx_closed) != 0) break;
        // No waiting receiver: publish and let go in one step (we will not
        // touch the state again). Else keep our hold until we have woken it.
        std::uint32_t next = cur | value_sent;
        if ((cur & rx_task_set) == 0) next &= ~tx_alive;
        // ORDERING: acq_rel: release publishes the value (and, on the last
        // hold, everything else) to the receiver's acquire loads; acquire
        // makes the receiver's waker (written before RX_TASK_SET) visible.
        if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
          if ((cur & rx_task_set) != 0) {
            waker w = std::move(rx_waker_);  // ours now: VALUE_SENT is set
            w.wake();
            release(tx_alive);
          }
          return {};
        }
      } while (true);
      // The receiver closed while we wrote: take the value back.
      T back(std::move(*value_ptr()));
      value_ptr()->~T();
      release(tx_alive);
      return {make_error_code(errc::channel_closed), std::move(back)};
    }
    release(tx_alive);
    return {make_error_code(errc::channel_closed), std::move(v)};
  }

  /// The sender is dropped unsent.
  void drop_sender() noexcept {
    // ORDERING: relaxed: only the CAS's starting guess; the CAS below orders.
    std::uint32_t cur = state_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t next = cur | tx_closed;
      if ((cur & rx_task_set) == 0) next &= ~tx_alive;
      // ORDERING: acq_rel: as in send(); acquire also covers the receiver's
      // waker, and, when this frees, all of the receiver's writes.
      if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        break;
      }
    }
    if ((cur & rx_task_set) != 0) {
      waker w = std::move(rx_waker_);
      w.wake();
      release(tx_alive);
    } else if ((cur & rx_alive) == 0) {
      destroy();
    }
  }

  [[nodiscard]] bool rx_gone() const noexcept { return (load() & rx_closed) != 0; }

  // ---- receiver -----------------------------------------------------------

  /// Register the receiver's waker. False: the sender completed first (the
  /// waker is dropped; go on).
  bool register_waker(waker&& w) noexcept {
    rx_waker_ = std::move(w);  // ours while RX_TASK_SET is clear
    // ORDERING: acq_rel: release publishes the waker to the sender's CAS
    // (which acquires); acquire pairs with the sender's release of the value.
    const std::uint32_t prev = state_.fetch_or(rx_task_set, std::memory_order_acq_rel);
    if ((prev & complete) == 0) return true;
    // The sender finished before our bit: it did not see RX_TASK_SET, so the
    // waker is still ours (the stale bit is harmless: nothing waits again).
    rx_waker_ = waker{};
    return false;
  }

  /// Withdraw the waker of an awaiter destroyed while waiting. If the
  /// sender completed first it owns the waker and wakes a dead suspension
  /// point (harmless); the value stays here.
  void withdraw_waker() noexcept {
    // ORDERING: relaxed: only the CAS's starting guess; the CAS below orders.
    std::uint32_t cur = state_.load(std::memory_order_relaxed);
    while ((cur & complete) == 0) {
      // ORDERING: acq_rel: on success the waker is ours again (acquire pairs
      // with our own earlier release, nothing else wrote it); release keeps
      // the clear ordered before a later register_waker's writes.
      if (state_.compare_exchange_weak(cur, cur & ~rx_task_set, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        rx_waker_ = waker{};
        return;
      }
    }
  }

  /// Move the value out. Precondition: VALUE_SENT seen (acquire) and the
  /// value is ours (not taken back by a sender that saw RX_CLOSED).
  T take() noexcept {
    T v(std::move(*value_ptr()));
    value_ptr()->~T();
    taken_ = true;
    return v;
  }

  /// close(): true if the value was already sent (it stays receivable).
  bool close_rx() noexcept {
    // ORDERING: acq_rel: acquire to see a value sent before; release so a
    // sender that sees RX_CLOSED sees nothing it must not.
    return (state_.fetch_or(rx_closed, std::memory_order_acq_rel) & value_sent) != 0;
  }

  /// The receiver is dropped. `closed`: close() ran already; `value_ours`:
  /// a value is stored that the receiver did not take.
  void drop_receiver(bool closed) noexcept {
    const std::uint32_t sub = rx_alive - (closed ? 0 : rx_closed);
    // ORDERING: acq_rel: release publishes the receiver's writes (taken_) to
    // the side that frees; acquire, when we free, sees the sender's.
    const std::uint32_t prev = state_.fetch_sub(sub, std::memory_order_acq_rel);
    if ((prev & tx_alive) == 0) destroy();
  }

 private:
  oneshot_state() = default;
  ~oneshot_state() = default;

  T* value_ptr() noexcept { return std::launder(reinterpret_cast<T*>(storage_)); }

  void release(std::uint32_t bit) noexcept {
    // ORDERING: acq_rel: as drop_receiver.
    const std::uint32_t prev = state_.fetch_and(~bit, std::memory_order_acq_rel);
    const std::uint32_t other = bit == tx_alive ? rx_alive : tx_alive;
    if ((prev & other) == 0) destroy();
  }

  void destroy() noexcept {
    // The last hold: both sides' writes are visible (acq_rel above). A value
    // is still stored iff it was sent, not taken, and not taken back.
    // ORDERING: relaxed: our own acq_rel RMW that dropped the last hold
    // already synchronised with every earlier write of the word.
    const std::uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & value_sent) != 0 && !taken_) value_ptr()->~T();
    this->~oneshot_state();
    if constexpr (alignof(oneshot_state) <= alignof(std::max_align_t)) {
      weft::detail::frame_deallocate(this, sizeof(oneshot_state));
    } else {
      ::operator delete(static_cast<void*>(this), std::align_val_t{alignof(oneshot_state)});
    }
  }

  weft::detail::sync::atomic<std::uint32_t> state_{tx_alive | rx_alive};
  bool taken_ = false;  // the receiver's; read by the side that frees
  waker rx_waker_;      // see the ownership rule in the file comment
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace weft::chan_detail

namespace weft::oneshot {

template <class T>
class sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel();

/// `co_await rx` / `co_await rx.recv()`.
///
/// - completes with: result<T>: the value once sent (at once if it is);
///   channel_closed if the sender was dropped unsent, or close() ran before
///   the value was sent.
/// - cancellation (destroying the awaiting coroutine): before it suspended,
///   nothing happened; while waiting, the waker is withdrawn; after the
///   value was sent but before the task resumed, the value stays in the
///   channel and the next await (or try_recv) of the receiver gets it —
///   nothing lost, nothing duplicated.
/// - resumes on: the awaiting task's runtime, never inline on the sender's
///   thread (which may be any thread).
/// - runtime shutdown: as cancellation.
/// - allocation: none (the waker lives in the channel's state).
/// - budget: completing at once counts against the cooperative budget.
/// - misuse: awaiting again after an await completed (with the value or
///   channel_closed), two awaits of one receiver at once, or awaiting a
///   moved-from receiver throws std::logic_error.
/// The receiver must outlive the awaiter.
template <class T>
class [[nodiscard]] recv_awaiter {
 public:
  explicit recv_awaiter(receiver<T>& rx) noexcept : rx_(&rx) {}
  recv_awaiter(recv_awaiter&& o) noexcept : rx_(o.rx_) {}
  recv_awaiter& operator=(recv_awaiter&&) = delete;
  ~recv_awaiter() {
    if (registered_) {
      rx_->st_->withdraw_waker();
      rx_->awaiting_ = false;
    }
  }

  bool await_ready() {
    rx_->check_awaitable();
    if (!rx_->ready()) return false;
    yield_ = !weft::detail::consume_budget();
    return !yield_;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    if (yield_) {
      weft::detail::suspend_current_and_reschedule(h);
      return true;
    }
    waker w = weft::suspend_current(h);
    rx_->awaiting_ = true;
    registered_ = true;
    if (rx_->st_->register_waker(std::move(w))) return true;
    registered_ = false;
    rx_->awaiting_ = false;
    return false;
  }
  result<T> await_resume() {
    registered_ = false;
    rx_->awaiting_ = false;
    return rx_->finish();
  }

 private:
  receiver<T>* rx_;
  bool registered_ = false;
  bool yield_ = false;
};

/// The sending half: move-only, one send.
template <class T>
class sender {
  using state = chan_detail::oneshot_state<T>;

 public:
  sender(sender&& o) noexcept = default;
  sender& operator=(sender&& o) noexcept = default;
  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;
  /// Unsent: closes the channel (the receiver gets channel_closed).
  ~sender() = default;
  void swap(sender& o) noexcept { st_.swap(o.st_); }

  /// Send the value: success, or channel_closed with the value handed back
  /// if the receiver is closed or gone. Not awaitable, never blocks, any
  /// thread; wakes the receiver if it waits. The sender is spent afterwards
  /// (valid() is false); a second send throws std::logic_error.
  send_result<T> send(T value) {
    (void)st_.checked(
        "weft::oneshot::sender::send: this sender already sent (or was moved from); a oneshot "
        "carries one value — make a new channel for the next one");
    return st_.release()->send(std::move(value));  // send consumes the hold
  }

  /// True once the receiver is closed or gone (a spent sender: true).
  [[nodiscard]] bool is_closed() const noexcept { return st_.get() == nullptr || st_->rx_gone(); }
  /// False once sent or moved from.
  [[nodiscard]] bool valid() const noexcept { return st_.get() != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>();
  explicit sender(state* st) noexcept : st_(st) {}
  chan_detail::unique_state<state, &state::drop_sender> st_;
};

/// The receiving half: move-only, awaitable once.
template <class T>
class receiver {
  using state = chan_detail::oneshot_state<T>;

 public:
  receiver(receiver&& o) noexcept
      : st_(std::exchange(o.st_, nullptr)),
        closed_(o.closed_),
        keep_value_(o.keep_value_),
        done_(o.done_) {}
  receiver& operator=(receiver&& o) noexcept {
    receiver(std::move(o)).swap(*this);
    return *this;
  }
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;
  /// Closes the channel; a value sent but not received is destroyed.
  ~receiver() {
    if (st_ != nullptr) st_->drop_receiver(closed_);
  }
  void swap(receiver& o) noexcept {
    std::swap(st_, o.st_);
    std::swap(closed_, o.closed_);
    std::swap(keep_value_, o.keep_value_);
    std::swap(done_, o.done_);
    std::swap(awaiting_, o.awaiting_);
  }

  /// `co_await rx`. An rvalue (`co_await std::move(rx)`, a receiver moved
  /// into weft::timeout) is awaited where it is: it must outlive the await,
  /// as a temporary or a moved-in operand does.
  recv_awaiter<T> operator co_await() & noexcept { return recv_awaiter<T>{*this}; }
  recv_awaiter<T> operator co_await() && noexcept { return recv_awaiter<T>{*this}; }
  recv_awaiter<T> recv() & noexcept { return recv_awaiter<T>{*this}; }

  /// The value if it was sent; would_block if not yet; channel_closed if it
  /// never will be, or was already received. Throws std::logic_error on a
  /// moved-from receiver.
  result<T> try_recv() {
    if (st_ == nullptr) {
      weft::detail::throw_channel_misuse(
          "weft::oneshot::receiver::try_recv: this receiver was moved from");
    }
    if (done_) return make_error_code(errc::channel_closed);
    if (!ready()) return make_error_code(errc::would_block);
    return finish();
  }

  /// Close: a later send fails and gets its value back. A value sent before
  /// close() can still be received. Idempotent. Throws std::logic_error
  /// while an await of this receiver is suspended (the await would never
  /// end) or on a moved-from receiver.
  void close() {
    if (st_ == nullptr) {
      weft::detail::throw_channel_misuse(
          "weft::oneshot::receiver::close: this receiver was moved from");
    }
    if (awaiting_) {
      weft::detail::throw_channel_misuse(
          "weft::oneshot::receiver::close: an await of this receiver is in progress; cancel it "
          "(or drop the receiver after it) instead");
    }
    if (closed_) return;
    closed_ = true;
    keep_value_ = st_->close_rx();
  }

  /// False for a moved-from receiver.
  [[nodiscard]] bool valid() const noexcept { return st_ != nullptr; }

 private:
  friend class recv_awaiter<T>;
  friend std::pair<sender<T>, receiver<T>> channel<T>();
  explicit receiver(state* st) noexcept : st_(st) {}

  void check_awaitable() const {
    if (st_ == nullptr) {
      weft::detail::throw_channel_misuse(
          "weft::oneshot::receiver: awaited after it was moved from; await the receiver it was "
          "moved to");
    }
    if (done_) {
      weft::detail::throw_channel_misuse(
          "weft::oneshot::receiver: awaited again after it completed; a oneshot delivers one "
          "value (keep the first result)");
    }
    if (awaiting_) {
      weft::detail::throw_channel_misuse(
          "weft::oneshot::receiver: awaited twice at the same time; await it from one place");
    }
  }

  // Completed: the value is here, or it never will be.
  [[nodiscard]] bool ready() const noexcept {
    return closed_ || (st_->load() & state::complete) != 0;
  }

  // Precondition: ready(). Take the outcome; the receiver is done after it.
  result<T> finish() {
    done_ = true;
    const std::uint32_t s = st_->load();
    const bool have = (s & state::value_sent) != 0 && (!closed_ || keep_value_);
    if (have) {
      keep_value_ = false;
      return result<T>{st_->take()};
    }
    return make_error_code(errc::channel_closed);
  }

  state* st_;
  bool closed_ = false;      // close() ran
  bool keep_value_ = false;  // close() found the value already sent
  bool done_ = false;        // the outcome was taken
  bool awaiting_ = false;    // an awaiter is registered
};

/// A new oneshot channel: one allocation (the shared state, from weft's
/// per-thread pools). T must be nothrow move constructible.
template <class T>
std::pair<sender<T>, receiver<T>> channel() {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::oneshot: T must be nothrow move constructible");
  auto* st = chan_detail::oneshot_state<T>::create();
  return {sender<T>{st}, receiver<T>{st}};
}

}  // namespace weft::oneshot
