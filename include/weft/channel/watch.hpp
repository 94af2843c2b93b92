// weft/channel/watch.hpp — a single value that receivers watch for changes.
//
//   auto [tx, rx] = weft::watch::channel<config>(config{});
//   tx.send(load_config());                    // stores it, wakes watchers
//   while (co_await rx.changed()) {            // channel_closed: sender gone
//     config c = rx.get();                     // or: auto r = rx.borrow(); r->...
//     apply(c);
//   }
//
// - Only the latest value is kept. changed() completes when a value newer
//   than the last one this receiver saw has been sent; several sends in
//   between coalesce into one completion. Completing marks the newest value
//   seen. The initial value counts as seen.
// - borrow() returns a read guard holding a shared lock on the value (keep
//   it short: a send waits for it; a send from the guard's own thread
//   deadlocks). get() returns a copy. Neither marks the value seen;
//   mark_seen() does.
// - The sender is move-only; dropping it closes the channel: changed()
//   then returns channel_closed (after reporting a change not yet seen).
//   send() stores the value even when there is no receiver (and then
//   returns channel_closed); subscribe() makes a new receiver that has seen
//   the current value.
//
// Design
// ------
// One shared state, reference counted: the value under a std::shared_mutex
// (readers share, a send is exclusive), a version counter (atomic, bumped
// under the exclusive lock), and a waiter list of changed() awaiters under a
// separate spin_mutex. A receiver is a pointer and the version it saw. A
// changed() awaiter links itself only when its version is current, so the
// list is in version order; a send wakes the waiters whose version is older
// than the new one (rounds of 32), and the woken awaiter completes when it
// resumes (the change it was woken for cannot be undone).
//
// (std::shared_mutex is used directly: weft/detail/sync_shim.hpp has no
// reader-writer lock yet.)
#pragma once

#include <weft/channel/await_once.hpp>
#include <weft/channel/ordered_waiters.hpp>
#include <weft/channel/send_result.hpp>
#include <weft/channel/shared_refs.hpp>
#include <weft/channel/state_handle.hpp>
#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/waker.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <utility>

namespace weft::chan_detail {

// A changed() awaiter: ordered by the receiver's seen version when it linked.
using watch_node = ordered_node;

template <class T>
class watch_state : public shared_refs<watch_state<T>> {
  using spin = weft::detail::sync::spin_mutex;
  using guard = weft::detail::sync::lock_guard<spin>;

 public:
  explicit watch_state(T&& v) : value_(std::move(v)) {}

  void add_receiver() noexcept {
    // ORDERING: relaxed: only a count; send() reads it as a hint.
    receivers_.fetch_add(1, std::memory_order_relaxed);
    this->ref();
  }
  void drop_receiver() noexcept {
    // ORDERING: relaxed: as add_receiver.
    receivers_.fetch_sub(1, std::memory_order_relaxed);
    this->unref();
  }
  /// The sender is dropped: close, then let go.
  void drop_sender() noexcept {
    close();
    this->unref();
  }
  [[nodiscard]] std::size_t receiver_count() const noexcept {
    // ORDERING: relaxed: a count, not a synchronisation point.
    return receivers_.load(std::memory_order_relaxed);
  }

  [[nodiscard]] std::uint64_t version() const noexcept {
    // ORDERING: acquire: pairs with the release fetch_add in modify(); the
    // value itself is read under the shared lock, this orders the version.
    return version_.load(std::memory_order_acquire);
  }
  [[nodiscard]] bool closed() const noexcept {
    // ORDERING: acquire: pairs with the release store in close().
    return closed_.load(std::memory_order_acquire);
  }

  /// Replace or edit the value (exclusive lock), bump the version, wake.
  template <class F>
  void modify(F&& f) {
    {
      std::unique_lock<std::shared_mutex> w(value_mu_);
      static_cast<F&&>(f)(value_);
      // ORDERING: release: pairs with the acquire in version(); the change
      // is made before the version says so.
      version_.fetch_add(1, std::memory_order_release);
    }
    wake_ready();
  }

  void close() noexcept {
    {
      guard g(mu_);
      // ORDERING: release: pairs with the acquire in closed(). Written under
      // mu_ so a changed() that links after checking it cannot miss it.
      closed_.store(true, std::memory_order_release);
    }
    wake_ready();
  }

  std::shared_mutex& value_mutex() noexcept { return value_mu_; }
  const T& value() const noexcept { return value_; }

  /// changed(): the awaiter's await_suspend. `seen` is the receiver's.
  bool start_changed(watch_node& n, std::uint64_t seen, std::coroutine_handle<> h) {
    {
      guard g(mu_);
      if (version() == seen && !closed()) {
        waiters_.link(n, seen, h);
        return true;
      }
    }
    // Ready (a change, or closed): both are permanent, so a yielding awaiter
    // can decide when it resumes.
    if (weft::detail::consume_budget()) return false;
    ordered_waiters::yield(n, h);
    return true;
  }

  void abandon(watch_node& n) noexcept {
    guard g(mu_);
    waiters_.remove_if_linked(n);
  }

 private:
  friend class shared_refs<watch_state>;
  ~watch_state() = default;  // through unref()

  // Wake, in rounds of 32, every waiter older than the current version (all
  // of them once closed). The list is in version order.
  void wake_ready() noexcept {
    // A waiter's seen version is <= the current one; it is ready when older.
    waiters_.wake_ready(mu_, [this] { return wake_bound{version(), closed()}; });
  }

  std::shared_mutex value_mu_;
  T value_;  // guarded by value_mu_
  weft::detail::sync::atomic<std::uint64_t> version_{0};
  weft::detail::sync::atomic<bool> closed_{false};
  spin mu_;
  ordered_waiters waiters_;  // guarded by mu_; watch_node, version order
  weft::detail::sync::atomic<std::size_t> receivers_{1};
};

}  // namespace weft::chan_detail

namespace weft::watch {

template <class T>
class sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel(T initial);

/// A read guard on the watched value: holds a shared lock until destroyed.
/// Move-only. Keep it short; a send waits for it.
template <class T>
class [[nodiscard]] ref {
 public:
  ref(std::shared_mutex& m, const T& v) : lock_(m), value_(&v) {}
  const T& operator*() const noexcept { return *value_; }
  const T* operator->() const noexcept { return value_; }
  const T& get() const noexcept { return *value_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  const T* value_;
};

/// `co_await rx.changed()`.
///
/// - completes with: result<void>: success when a value newer than the last
///   one this receiver saw has been sent (at once if it already was; many
///   sends coalesce into one completion), marking the newest value seen;
///   channel_closed when the sender is gone and there is no unseen value.
/// - cancellation (destroying the awaiting coroutine): before it suspended,
///   or while waiting (unlinked), or after it was woken but before the task
///   resumed: the receiver's seen version is unchanged, so the change is
///   reported by its next changed() — nothing lost.
/// - resumes on: the awaiting task's runtime, never inline on the sender's
///   thread.
/// - runtime shutdown: as cancellation.
/// - allocation: none (the awaiter is the wait-list node).
/// - budget: a ready changed() counts against the cooperative budget.
/// The receiver must outlive the awaiter.
template <class T>
class [[nodiscard]] changed_awaiter : private chan_detail::watch_node {
 public:
  explicit changed_awaiter(receiver<T>& rx) noexcept : rx_(&rx) {}
  changed_awaiter(changed_awaiter&& o) noexcept : rx_(o.rx_), once_(std::move(o.once_)) {}
  changed_awaiter& operator=(changed_awaiter&&) = delete;
  ~changed_awaiter() {
    if (this->suspended) rx_->st_->abandon(*this);
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    once_.begin();  // throws if awaited before or moved from
    return rx_->st_->start_changed(*this, rx_->seen_, h);
  }
  result<void> await_resume() noexcept {
    this->suspended = false;
    const std::uint64_t v = rx_->st_->version();
    if (v != rx_->seen_) {
      rx_->seen_ = v;
      return {};
    }
    return make_error_code(errc::channel_closed);
  }

 private:
  receiver<T>* rx_;
  chan_detail::await_once once_;
};

/// The sending half: move-only. Dropping it closes the channel.
template <class T>
class sender {
  using state = chan_detail::watch_state<T>;

 public:
  sender(sender&& o) noexcept = default;
  sender& operator=(sender&& o) noexcept = default;
  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;
  ~sender() = default;  // closes the channel
  void swap(sender& o) noexcept { st_.swap(o.st_); }

  /// Store `value` (always) and wake the receivers waiting in changed().
  /// channel_closed if no receiver exists. Never suspends, any thread;
  /// blocks only while a borrow() guard is held. The old value is destroyed
  /// under the exclusive lock.
  result<void> send(T value) const {
    state* st = checked();
    st->modify([&](T& v) { v = std::move(value); });
    return st->receiver_count() == 0 ? result<void>{make_error_code(errc::channel_closed)}
                                     : result<void>{};
  }

  /// Edit the value in place under the exclusive lock (`f(T&)`), then
  /// notify as send() does. `f` must not use this channel.
  template <class F>
  void send_modify(F&& f) const {
    checked()->modify(static_cast<F&&>(f));
  }

  /// A new receiver that has seen the current value.
  [[nodiscard]] receiver<T> subscribe() const {
    state* st = checked();
    st->add_receiver();
    return receiver<T>{st, st->version()};
  }

  /// A read guard on the current value.
  ref<T> borrow() const {
    state* st = checked();
    return ref<T>{st->value_mutex(), st->value()};
  }

  [[nodiscard]] std::size_t receiver_count() const { return checked()->receiver_count(); }
  /// True when no receiver exists (a moved-from sender: true).
  [[nodiscard]] bool is_closed() const noexcept {
    return st_.get() == nullptr || st_->receiver_count() == 0;
  }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(T);
  explicit sender(state* st) noexcept : st_(st) {}
  state* checked() const {
    return st_.checked(
        "weft::watch::sender: used after it was moved from; use the sender it was moved to");
  }
  chan_detail::unique_state<state, &state::drop_sender> st_;
};

/// The receiving half: copyable (the copy has seen what this one saw) and
/// movable. Use each receiver from one task at a time.
template <class T>
class receiver {
  using state = chan_detail::watch_state<T>;

 public:
  receiver(const receiver& o) noexcept = default;
  receiver(receiver&& o) noexcept = default;
  receiver& operator=(const receiver& o) noexcept {
    receiver(o).swap(*this);
    return *this;
  }
  receiver& operator=(receiver&& o) noexcept {
    receiver(std::move(o)).swap(*this);
    return *this;
  }
  ~receiver() = default;
  void swap(receiver& o) noexcept {
    st_.swap(o.st_);
    std::swap(seen_, o.seen_);
  }

  /// A read guard on the current value (does not mark it seen).
  ref<T> borrow() const {
    state* st = checked();
    return ref<T>{st->value_mutex(), st->value()};
  }

  /// A copy of the current value (does not mark it seen).
  T get() const { return *borrow(); }

  /// Wait for a value newer than the last one seen (see changed_awaiter).
  changed_awaiter<T> changed() {
    (void)checked();
    return changed_awaiter<T>{*this};
  }

  /// True if a value newer than the last one seen was sent.
  [[nodiscard]] bool has_changed() const { return checked()->version() != seen_; }

  /// Mark the current value seen.
  void mark_seen() { seen_ = checked()->version(); }

  /// True once the sender is gone.
  [[nodiscard]] bool is_closed() const noexcept { return st_.get() == nullptr || st_->closed(); }

  [[nodiscard]] bool valid() const noexcept { return st_.get() != nullptr; }

 private:
  friend class changed_awaiter<T>;
  friend class sender<T>;
  friend std::pair<sender<T>, receiver<T>> channel<T>(T);
  receiver(state* st, std::uint64_t seen) noexcept : st_(st), seen_(seen) {}
  state* checked() const {
    return st_.checked(
        "weft::watch::receiver: used after it was moved from; use the receiver it was moved to");
  }

  chan_detail::shared_state<state, &state::add_receiver, &state::drop_receiver> st_;
  std::uint64_t seen_ = 0;  // the version this receiver saw last
};

/// A watch channel holding `initial` (seen by the returned receiver). One
/// allocation; sends allocate nothing of their own.
template <class T>
std::pair<sender<T>, receiver<T>> channel(T initial) {
  auto* st = new chan_detail::watch_state<T>(std::move(initial));
  return {sender<T>{st}, receiver<T>{st, 0}};
}

}  // namespace weft::watch
