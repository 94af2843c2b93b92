// weft/channel/broadcast.hpp — multi-producer, multi-consumer broadcast:
// every receiver sees every value sent after it subscribed.
//
//   auto [tx, rx] = weft::broadcast::channel<event>(64);
//   auto rx2 = tx.subscribe();                 // sees values sent from now on
//   tx.send(event{...});                       // send_result<event>: receivers reached,
//                                              // or the value handed back
//   for (;;) {
//     weft::result<event> e = co_await rx.recv();
//     if (e) handle(*e);
//     else if (e.error() == weft::errc::channel_lagged) note(rx.lagged_by());
//     else break;                              // channel_closed
//   }
//
// - The channel keeps the last `capacity` values. A receiver that falls
//   further behind gets errc::channel_lagged once; rx.lagged_by() then says
//   how many values it missed, and its next recv returns the oldest value
//   still held.
// - recv returns channel_closed once every sender is gone and the receiver
//   has received everything still held for it.
// - tx.send fails with channel_closed when no receiver exists, and hands
//   the value back (send_result::take_value).
// - A value is destroyed as soon as every receiver that was to see it has
//   received it (the last one gets it moved, not copied), has lagged past it
//   or is gone: a value owning a resource does not hold it for `capacity`
//   more sends.
// - T must be copyable: each receiver gets its own copy. Senders and
//   receivers are copyable; a copied receiver continues from the same
//   position independently.
//
// Design
// ------
// One shared state, reference counted by the handles: a ring of `capacity`
// slots, each holding an optional<T>, written in position order; position p
// lives in slot p % capacity. `tail_` is the position of the next send. A
// receiver is just a position. One adaptive spin_mutex guards the ring, the
// counts and the waiter list. Receivers copy the value under the lock (T's
// copy constructor must not use this channel); values a send evicts, and
// values a dropped receiver was the last to need, are destroyed after the
// lock is released.
//
// Each held slot counts the receivers still to read it (`remaining`):
// invariant, for every position q in [oldest, tail_), remaining(q) == the
// number of live receivers whose position is <= q. A send sets it to
// receivers_ (every receiver is at most at the tail); a read at q
// decrements it (at zero the reader moves the value out and the slot is
// emptied); a receiver copied at p adds one, and one dropped at p takes one,
// on every held position from p on; a lagging receiver jumps to `oldest`,
// which keeps it counted where it was. An evicted slot simply starts over.
//
// A receiver waits only when it has seen everything (position == tail_).
// Its awaiter records that position; a send wakes every waiter whose
// position is below the new tail (in rounds of 32, releasing the lock
// between rounds). Waiters are linked in position order, so waking stops at
// the first newer one: an awaiter is only ever woken when its recv is
// ready, and it performs the read when it resumes.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/channel/await_once.hpp>
#include <weft/channel/broadcast_send_result.hpp>
#include <weft/channel/ordered_waiters.hpp>
#include <weft/channel/send_result.hpp>
#include <weft/channel/shared_refs.hpp>
#include <weft/channel/state_handle.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/waker.hpp>

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft::chan_detail {

// A recv awaiter: ordered by the receiver's position when it linked.
using broadcast_node = ordered_node;

template <class T>
class broadcast_state : public shared_refs<broadcast_state<T>> {
  using sync_mutex = weft::detail::sync::spin_mutex;
  using guard = weft::detail::sync::lock_guard<sync_mutex>;

 public:
  explicit broadcast_state(std::size_t capacity)
      : ring_(std::make_unique<slot[]>(capacity)), capacity_(capacity) {}

  void add_sender() noexcept {
    {
      guard g(mu_);
      ++senders_;
    }
    this->ref();
  }
  void drop_sender() noexcept {
    bool last;
    {
      guard g(mu_);
      last = --senders_ == 0;
    }
    if (last) wake_ready();  // every waiter: nothing will arrive
    this->unref();
  }

  /// A receiver at the tail (subscribe) or at `pos` (a copy: it needs every
  /// value still held from `*pos` on, as the receiver it copies does).
  std::uint64_t add_receiver(const std::uint64_t* pos) noexcept {
    std::uint64_t p;
    {
      guard g(mu_);
      ++receivers_;
      p = pos != nullptr ? *pos : tail_;
      for (std::uint64_t q = std::max(p, oldest_locked()); q < tail_; ++q) {
        ++ring_[q % capacity_].remaining;
      }
    }
    this->ref();
    return p;
  }

  /// A receiver at `pos` is gone: the held values from `pos` on need one
  /// receiver fewer; those it was the last to need are destroyed, one at a
  /// time after the lock is released (a destructor may use this channel).
  void drop_receiver(std::uint64_t pos) noexcept {
    std::uint64_t end = 0;  // the tail when it left: later sends never counted it
    bool first = true;
    for (;;) {
      std::optional<T> dead;  // destroyed after the lock is released
      {
        guard g(mu_);
        if (first) {
          --receivers_;
          end = tail_;
          first = false;
        }
        // Positions evicted meanwhile are gone with their counts.
        for (pos = std::max(pos, oldest_locked()); pos < end && !dead.has_value(); ++pos) {
          slot& s = ring_[pos % capacity_];
          if (--s.remaining == 0) take(s.value, dead);
        }
      }
      if (!dead.has_value()) break;
    }
    this->unref();
  }

  broadcast::send_result<T> send(T&& v) {
    std::optional<T> evicted;  // destroyed after the lock is released
    std::size_t reached;
    {
      guard g(mu_);
      if (receivers_ == 0) return {make_error_code(errc::channel_closed), std::move(v)};
      slot& s = ring_[tail_ % capacity_];
      take(s.value, evicted);
      try {
        s.value.emplace(std::move(v));
      } catch (...) {
        take(evicted, s.value);  // nothing sent: the oldest value stays held
        throw;
      }
      s.remaining = receivers_;
      ++tail_;
      reached = receivers_;
      if (waiters_.empty()) return broadcast::send_result<T>{reached};
    }
    wake_ready();
    return broadcast::send_result<T>{reached};
  }

  [[nodiscard]] std::size_t receiver_count() noexcept {
    guard g(mu_);
    return receivers_;
  }

  enum class poll_result { value, lagged, closed, empty };

  /// mu_ held. Read at `pos`: a value (copied into `out`, pos advanced), a
  /// lag (pos moved to the oldest value held, `missed` set), closed, or empty.
  poll_result poll_locked(std::uint64_t& pos, std::optional<result<T>>& out,
                          std::uint64_t& missed) {
    if (pos < tail_) {
      const std::uint64_t oldest = oldest_locked();
      if (pos < oldest) {
        missed = oldest - pos;
        pos = oldest;
        out.emplace(make_error_code(errc::channel_lagged));
        return poll_result::lagged;
      }
      slot& s = ring_[pos % capacity_];
      if (s.remaining == 1) {
        // The last receiver to need it: take it; the slot is empty from now.
        out.emplace(std::move(*s.value));  // may throw (then nothing moved)
        s.value.reset();  // a moved-from T: destroyed under the lock
      } else {
        out.emplace(*s.value);  // copy; may throw (then nothing moved)
      }
      --s.remaining;
      ++pos;
      return poll_result::value;
    }
    if (senders_ == 0) {
      out.emplace(make_error_code(errc::channel_closed));
      return poll_result::closed;
    }
    return poll_result::empty;
  }

  result<T> try_recv(std::uint64_t& pos, std::uint64_t& missed) {
    std::optional<result<T>> out;
    guard g(mu_);
    if (poll_locked(pos, out, missed) == poll_result::empty) {
      return make_error_code(errc::would_block);
    }
    return std::move(*out);
  }

  /// The awaiter's await_suspend. True: suspended (waiting, or yielding for
  /// the budget, in which case it reads at resume).
  bool start_recv(broadcast_node& n, std::uint64_t& pos, std::optional<result<T>>& out,
                  std::uint64_t& missed, std::coroutine_handle<> h) {
    {
      guard g(mu_);
      // The budget first: a ready read stays ready (the ring only moves
      // forward), so a yielding awaiter reads when it resumes.
      if (pos < tail_ || senders_ == 0) {
        if (weft::detail::budget() > 0) {
          (void)poll_locked(pos, out, missed);
          (void)weft::detail::consume_budget();
          return false;
        }
      } else {
        waiters_.link(n, pos, h);
        return true;
      }
    }
    ordered_waiters::yield(n, h);
    return true;
  }

  /// At resume after a wait or a yield: the read is ready now.
  void finish_recv(std::uint64_t& pos, std::optional<result<T>>& out, std::uint64_t& missed) {
    guard g(mu_);
    (void)poll_locked(pos, out, missed);
  }

  void abandon(broadcast_node& n) noexcept {
    guard g(mu_);
    waiters_.remove_if_linked(n);
  }

 private:
  // Moves `from`'s value (if any) into the empty `to` and empties `from`.
  // Construction only (emplace, reset): T need not be assignable.
  static void take(std::optional<T>& from, std::optional<T>& to) {
    if (!from.has_value()) return;
    to.emplace(std::move(*from));
    from.reset();
  }

  friend class shared_refs<broadcast_state>;
  ~broadcast_state() = default;  // through unref()

  struct slot {
    std::optional<T> value;     // empty once every receiver that needs it has it
    std::size_t remaining = 0;  // receivers still to read it (see the file comment)
  };

  /// mu_ held. The oldest position still held.
  [[nodiscard]] std::uint64_t oldest_locked() const noexcept {
    return tail_ > capacity_ ? tail_ - capacity_ : 0;
  }

  // Wake, in rounds of 32, every waiter whose recv is ready: position below
  // the tail, or no sender left.
  void wake_ready() noexcept {
    waiters_.wake_ready(mu_, [this] { return wake_bound{tail_, senders_ == 0}; });
  }

  sync_mutex mu_;
  // Guarded by mu_:
  std::unique_ptr<slot[]> ring_;
  std::uint64_t tail_ = 0;  // position of the next send
  std::size_t senders_ = 1;
  std::size_t receivers_ = 1;
  ordered_waiters waiters_;  // broadcast_node, in position order
  // Immutable:
  const std::size_t capacity_;
};

}  // namespace weft::chan_detail

namespace weft::broadcast {

template <class T>
class sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity);

/// `co_await rx.recv()`.
///
/// - completes with: result<T>: a copy of the next value for this receiver
///   (at once if there is one); errc::channel_lagged once if values it had
///   not received were overwritten (rx.lagged_by() says how many; the next
///   recv returns the oldest value still held); errc::channel_closed when
///   every sender is gone and it has received everything still held.
/// - cancellation (destroying the awaiting coroutine): before it suspended,
///   or while waiting (it is unlinked), or after it was woken but before the
///   task resumed: the receiver's position is unchanged, so the value is
///   received by its next recv — nothing lost, nothing duplicated. (The
///   read happens only when the awaiter completes or resumes.)
/// - resumes on: the awaiting task's runtime, never inline on the sender's
///   thread.
/// - runtime shutdown: as cancellation.
/// - allocation: none (the awaiter is the wait-list node).
/// - budget: a ready recv counts against the cooperative budget; when it is
///   spent the awaiter yields and reads on resume.
/// The receiver must outlive the awaiter.
template <class T>
class [[nodiscard]] recv_awaiter : private chan_detail::broadcast_node {
 public:
  explicit recv_awaiter(receiver<T>& rx) noexcept : rx_(&rx) {}
  recv_awaiter(recv_awaiter&& o) noexcept : rx_(o.rx_), once_(std::move(o.once_)) {}
  recv_awaiter& operator=(recv_awaiter&&) = delete;
  ~recv_awaiter() {
    if (this->suspended) rx_->st_->abandon(*this);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    once_.begin();  // throws if awaited before or moved from: nothing received
    return rx_->st_->start_recv(*this, rx_->pos_, out_, rx_->lagged_, h);
  }
  result<T> await_resume() {
    if (this->suspended) {
      this->suspended = false;
      rx_->st_->finish_recv(rx_->pos_, out_, rx_->lagged_);
    }
    return std::move(*out_);
  }

 private:
  receiver<T>* rx_;
  std::optional<result<T>> out_;
  chan_detail::await_once once_;
};

/// The sending half. Copyable; the channel closes for receivers when the
/// last copy is gone. Any thread.
template <class T>
class sender {
  using state = chan_detail::broadcast_state<T>;

 public:
  sender(const sender& o) noexcept = default;
  sender(sender&& o) noexcept = default;
  sender& operator=(const sender& o) noexcept = default;
  sender& operator=(sender&& o) noexcept = default;
  ~sender() = default;
  void swap(sender& o) noexcept { st_.swap(o.st_); }

  /// Send to every current receiver: send_result with the number of
  /// receivers reached, or channel_closed and the value handed back
  /// (take_value) when there is none. Overwrites the oldest value when
  /// `capacity` are held. Never blocks, any thread; wakes the waiting
  /// receivers. No allocation (the slot exists).
  send_result<T> send(T value) const { return checked()->send(std::move(value)); }

  /// A new receiver that sees the values sent after this call.
  [[nodiscard]] receiver<T> subscribe() const {
    state* st = checked();
    const std::uint64_t pos = st->add_receiver(nullptr);
    return receiver<T>{st, pos};
  }

  /// The number of live receivers.
  [[nodiscard]] std::size_t receiver_count() const {
    return checked()->receiver_count();
  }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  explicit sender(state* st) noexcept : st_(st) {}
  state* checked() const {
    return st_.checked(
        "weft::broadcast::sender: used after it was moved from; use the sender it was moved "
        "to, or a copy");
  }
  chan_detail::shared_state<state, &state::add_sender, &state::drop_sender> st_;
};

/// The receiving half. Copyable (the copy continues from the same position)
/// and movable. Use each receiver from one task at a time.
template <class T>
class receiver {
  using state = chan_detail::broadcast_state<T>;

 public:
  // The copy continues from o's position: add_receiver(&o.pos_) makes the
  // hold that st_ adopts.
  receiver(const receiver& o) noexcept : st_(o.st_), lagged_(o.lagged_) {
    if (st_ != nullptr) pos_ = st_->add_receiver(&o.pos_);
  }
  receiver(receiver&& o) noexcept
      : st_(std::exchange(o.st_, nullptr)), pos_(o.pos_), lagged_(o.lagged_) {}
  receiver& operator=(const receiver& o) noexcept {
    receiver(o).swap(*this);
    return *this;
  }
  receiver& operator=(receiver&& o) noexcept {
    receiver(std::move(o)).swap(*this);
    return *this;
  }
  ~receiver() {
    if (st_ != nullptr) st_->drop_receiver(pos_);
  }
  void swap(receiver& o) noexcept {
    std::swap(st_, o.st_);
    std::swap(pos_, o.pos_);
    std::swap(lagged_, o.lagged_);
  }

  /// Receive the next value (see recv_awaiter). Throws std::logic_error on a
  /// moved-from receiver.
  recv_awaiter<T> recv() {
    checked();
    return recv_awaiter<T>{*this};
  }

  /// Receive without waiting: as recv, or would_block when there is nothing
  /// new yet.
  result<T> try_recv() { return checked()->try_recv(pos_, lagged_); }

  /// How many values were missed at the last channel_lagged (0 before any).
  [[nodiscard]] std::uint64_t lagged_by() const noexcept { return lagged_; }

  /// False for a moved-from receiver.
  [[nodiscard]] bool valid() const noexcept { return st_ != nullptr; }

 private:
  friend class recv_awaiter<T>;
  friend class sender<T>;
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  receiver(state* st, std::uint64_t pos) noexcept : st_(st), pos_(pos) {}
  state* checked() const {
    if (st_ == nullptr) {
      weft::detail::throw_channel_misuse(
          "weft::broadcast::receiver: used after it was moved from; receive through the "
          "receiver it was moved to");
    }
    return st_;
  }

  state* st_ = nullptr;       // one hold, dropped with the position (drop_receiver)
  std::uint64_t pos_ = 0;     // the position of the next value for this receiver
  std::uint64_t lagged_ = 0;  // missed at the last lag
};

/// A broadcast channel holding the last `capacity` values (>= 1; 0 throws
/// std::invalid_argument). One allocation for the state and one for the
/// ring of `capacity` slots (made up front; no allocation per send).
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
  static_assert(std::is_copy_constructible_v<T>,
                "weft::broadcast: T must be copyable (every receiver gets a copy)");
  if (capacity == 0) {
    throw std::invalid_argument("weft::broadcast::channel: capacity must be at least 1");
  }
  auto* st = new chan_detail::broadcast_state<T>(capacity);
  return {sender<T>{st}, receiver<T>{st, 0}};
}

}  // namespace weft::broadcast
