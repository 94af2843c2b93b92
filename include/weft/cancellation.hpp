// weft/cancellation.hpp — cancellation_source, cancellation_token,
// cancellation_callback, and the bridges to std::stop_token.
//
//   weft::cancellation_source src;
//   weft::spawn(worker(src.token()));          // the worker watches the token
//   ...
//   src.cancel();                              // every watcher learns it once
//
//   weft::task<> worker(weft::cancellation_token t) {
//     while (!t.is_cancelled()) { ... }       // poll it,
//     co_await t.cancelled();                 // or wait for it,
//     weft::cancellation_callback cb(t, [&] { conn.close(); });  // or react to it
//   }
//
// Cancellation here is a request that code checks cooperatively, as with
// std::stop_token; it never destroys anything by itself. (Destroying a
// coroutine — weft::timeout, runtime shutdown — is weft's other, forcible way
// to cancel; the awaiters below cope with it.)
//
// Design
// ------
// One shared state per source (detail::cancellation_state), allocated once and
// reference counted: every cancellation_source and cancellation_token copy,
// every registered callback and every waiting awaiter holds one reference. It
// holds the cancelled flag, a mutex, and an intrusive doubly linked list of
// registrations (detail::cancellation_node); each node lives in the object
// that registered it (a cancellation_callback, a cancelled() awaiter, a child
// source's state), so registering allocates nothing.
//
// cancel() sets the flag under the mutex, then pops the nodes one at a time.
// A child's link is not called: the walk enters the child and cancels it in
// place (its callbacks, then its own children, depth first), then goes on with
// the parent's next node — the order of a recursive walk, but with no
// recursion, so a chain of children of any depth cancels in constant stack.
// A callback node runs with the mutex released (a callback may register,
// deregister or cancel anything), and the state records which node runs on
// which thread; a waiter node (an awaiter: its run is one wake) runs under the
// mutex. Withdrawing a node (a callback's or an awaiter's destructor):
//   - still linked: unlink it; it will never run;
//   - running on another thread: wait (condition variable) until it returned,
//     so the callback's object is never freed under it;
//   - running on this thread (the callback destroys its own registration):
//     return at once; the cancelling loop never touches a node after its run
//     (it clears the state's record, not the node).
// This is std::stop_callback's protocol. A callback that waits for a lock held
// by the thread destroying it deadlocks, as with std::stop_callback.
//
// A child source's state holds a reference to its parent and a node in the
// parent's list; when the parent is cancelled, the node cancels the child.
// When the child's last reference goes, it withdraws that node, so a parent
// that outlives many short-lived children does not accumulate them.
//
// Who touches what: the list, the running-node record and the lazily made
// std::stop_source are guarded by the state's mutex; the flag and the count
// are atomics, read without the lock. Implementation: src/cancel/cancellation.cpp.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/waker.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>

namespace weft {

class cancellation_token;
class cancellation_source;

namespace detail {

/// A registration in a cancellation_state's list. Lives in the registering
/// object (pinned while linked); the state only links it.
struct cancellation_node {
  using run_fn = void (*)(cancellation_node&) noexcept;

  cancellation_node(run_fn run, bool run_locked) noexcept : run_(run), run_locked_(run_locked) {}
  cancellation_node(const cancellation_node&) = delete;
  cancellation_node& operator=(const cancellation_node&) = delete;

  // All guarded by the owning state's mutex.
  cancellation_node* prev_ = nullptr;
  cancellation_node* next_ = nullptr;
  bool linked_ = false;
  const run_fn run_;
  /// Run under the state's mutex: the run must be short and must not touch
  /// any cancellation state (a waker's wake). Others run with it released.
  const bool run_locked_;
};

/// The shared state of a source and its tokens. See the file comment.
class cancellation_state {
 public:
  /// A fresh state with one reference, for the caller.
  static cancellation_state* create();
  /// A fresh child of `parent` (may be null: then a plain fresh state), with
  /// one reference. Starts cancelled if the parent is.
  static cancellation_state* create_child(cancellation_state* parent);
  /// A fresh state cancelled when `st` has stop requested (it keeps a
  /// std::stop_callback on `st` for as long as it lives).
  static cancellation_state* create_from_stop_token(std::stop_token st);

  cancellation_state(const cancellation_state&) = delete;
  cancellation_state& operator=(const cancellation_state&) = delete;

  void ref() noexcept {
    // ORDERING: relaxed: a new reference is made from an existing one, which
    // keeps the state alive; nothing is published by counting (as shared_ptr).
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  /// Drop a reference; the last one withdraws from the parent and frees.
  void unref() noexcept;

  [[nodiscard]] bool is_cancelled() const noexcept {
    // ORDERING: acquire: pairs with the release store in cancel(); who sees
    // the flag sees what the cancelling thread wrote before cancel().
    return cancelled_.load(std::memory_order_acquire);
  }

  /// Cancel: set the flag and run every registration once. True if this call
  /// cancelled (false: it was already). The caller holds a reference.
  bool cancel() noexcept;

  /// Link `n` unless the state is cancelled. True if linked; false if
  /// cancelled (nothing linked: the caller acts on the cancellation itself).
  bool link(cancellation_node& n) noexcept;

  /// Withdraw `n` (see the file comment): after this returns, the state never
  /// touches `n` again. Does nothing for a node that already ran.
  void withdraw(cancellation_node& n) noexcept;

  /// A std::stop_token requested when this state is cancelled. (Virtual:
  /// from_stop_token's state gives back the std::stop_token it watches.)
  virtual std::stop_token stop_token();

  /// How many registrations are linked (callbacks, waiters, children).
  [[nodiscard]] std::size_t registrations() noexcept;

 protected:
  cancellation_state() = default;
  virtual ~cancellation_state() = default;

 private:
  struct parent_link final : cancellation_node {
    explicit parent_link(cancellation_state* child) noexcept;
    cancellation_state* const child;
    cancellation_state* parent = nullptr;  // counted; null when not linked to one
  };
  static void cancel_from_parent(cancellation_node& n) noexcept;
  void unlink_locked(cancellation_node& n) noexcept;
  /// Take a reference unless the count is already zero (being destroyed).
  bool try_ref() noexcept;
  /// Set the flag and record this thread as the canceller; false if the
  /// state was cancelled already.
  bool begin_cancel() noexcept;
  /// One step of cancel()'s walk (see there): run the registrations in order
  /// until one is a child's link whose child starts cancelling (return the
  /// child, with the link recorded as running) or the list is empty (return
  /// nullptr). `resuming`: a child entered from here has finished.
  cancellation_state* run_registrations(bool resuming) noexcept;
  /// The walk is done with this state: request the std::stop_source, drop
  /// the walk's reference (may free *this).
  void finish_cancel() noexcept;

 protected:
  /// Cancel, unless the last reference is already gone (the state is being
  /// destroyed; nobody can observe it). For callbacks into the state whose
  /// node keeps the memory alive but not the count (a parent's, a
  /// std::stop_callback's).
  void cancel_if_alive() noexcept;
  /// cancel_if_alive for std::stop_callback's bridge (from_stop_token). If
  /// this thread is inside a cancel() walk (its request_stop ran the bridge),
  /// the state is queued for that walk to cancel after its current tree,
  /// instead of a nested walk: a chain of bridges then does not recurse.
  void cancel_from_bridge() noexcept;

 private:
  // ORDERING: see ref()/unref()/is_cancelled()/cancel().
  sync::atomic<std::size_t> refs_{1};
  sync::atomic<bool> cancelled_{false};

  sync::mutex mu_;
  sync::condition_variable running_done_;  // signalled when running_ is cleared
  // Guarded by mu_:
  cancellation_node* head_ = nullptr;
  cancellation_node* tail_ = nullptr;
  std::size_t count_ = 0;
  cancellation_node* running_ = nullptr;  // the unlocked run in progress
  std::thread::id canceller_;             // the thread running cancel()
  std::size_t waiting_ = 0;               // withdrawers waiting for running_
  std::stop_source stop_source_{std::nostopstate};
  // Only the thread cancelling this state (its walk) reads or writes these:
  cancellation_state* walk_parent_ = nullptr;  // the state whose walk entered this one
  bool walk_has_stop_source_ = false;           // decided when the list ran empty
  cancellation_state* deferred_next_ = nullptr; // in the walk's queue of bridged states

  parent_link parent_link_{
      this};  // our node in the parent's list; its own fields under the parent's mu_
};

}  // namespace detail

/// The awaitable returned by cancellation_token::cancelled().
///
/// - completes with: nothing (void), once the token is cancelled; at once if
///   it already is. A token that can never be cancelled waits for ever (until
///   the coroutine is destroyed).
/// - cancellation: destroying the waiting coroutine (weft::timeout, shutdown)
///   unlinks the awaiter; a later cancel() does not touch it.
/// - resumes on: the awaiting task's runtime (or its block_on thread), never
///   inline on the cancelling thread.
/// - allocation: none; the awaiter is the list node.
class [[nodiscard]] cancelled_awaiter : private detail::cancellation_node {
 public:
  explicit cancelled_awaiter(detail::cancellation_state* s) noexcept;
  cancelled_awaiter(const cancelled_awaiter&) = delete;
  cancelled_awaiter& operator=(const cancelled_awaiter&) = delete;
  ~cancelled_awaiter();

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume() noexcept { registered_ = false; }  // the cancel popped our node

 private:
  static void wake(cancellation_node& n) noexcept;
  detail::cancellation_state* state_;  // counted; null: never cancelled
  waker waker_;                        // guarded by the state's mutex while linked
  bool registered_ = false;
  bool yield_ = false;
};

/// A read-only view of a cancellation_source's state. Copyable; copies watch
/// the same source. A default-constructed token is never cancelled.
class cancellation_token {
 public:
  cancellation_token() noexcept = default;
  cancellation_token(const cancellation_token& o) noexcept : state_(o.state_) {
    if (state_ != nullptr) state_->ref();
  }
  cancellation_token(cancellation_token&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  cancellation_token& operator=(const cancellation_token& o) noexcept {
    cancellation_token(o).swap(*this);
    return *this;
  }
  cancellation_token& operator=(cancellation_token&& o) noexcept {
    cancellation_token(std::move(o)).swap(*this);
    return *this;
  }
  ~cancellation_token() {
    if (state_ != nullptr) state_->unref();
  }
  void swap(cancellation_token& o) noexcept { std::swap(state_, o.state_); }

  [[nodiscard]] bool is_cancelled() const noexcept {
    return state_ != nullptr && state_->is_cancelled();
  }
  /// False only for a token with no source (default-constructed or moved
  /// from), which is never cancelled. True for a token made by a source, even
  /// after every source copy is gone.
  [[nodiscard]] bool can_be_cancelled() const noexcept { return state_ != nullptr; }

  /// Wait until cancelled: `co_await token.cancelled();` (see cancelled_awaiter).
  cancelled_awaiter cancelled() const noexcept { return cancelled_awaiter{state_}; }

  /// A new source whose token is cancelled when this one is (and not the
  /// other way round). Starts cancelled if this token is. A child of a token
  /// that can never be cancelled is an independent source.
  [[nodiscard]] cancellation_source child() const;

  /// Same source (or both without one).
  friend bool operator==(const cancellation_token& a, const cancellation_token& b) noexcept {
    return a.state_ == b.state_;
  }

  /// For the implementation: adopt a reference.
  explicit cancellation_token(detail::cancellation_state* adopted) noexcept : state_(adopted) {}
  /// For the implementation (cancellation_callback, bridges): the shared state.
  [[nodiscard]] detail::cancellation_state* state() const noexcept { return state_; }

 private:
  detail::cancellation_state* state_ = nullptr;
};

/// Owns the right to cancel. Copyable; copies share the state (any copy can
/// cancel). One allocation per source (not per copy).
class cancellation_source {
 public:
  /// A new, uncancelled source (allocates its state).
  cancellation_source() : state_(detail::cancellation_state::create()) {}
  cancellation_source(const cancellation_source& o) noexcept : state_(o.state_) {
    if (state_ != nullptr) state_->ref();
  }
  /// A moved-from source has no state: it behaves as the source of a token
  /// that can never be cancelled (cancel() does nothing and returns false).
  cancellation_source(cancellation_source&& o) noexcept
      : state_(std::exchange(o.state_, nullptr)) {}
  cancellation_source& operator=(const cancellation_source& o) noexcept {
    cancellation_source(o).swap(*this);
    return *this;
  }
  cancellation_source& operator=(cancellation_source&& o) noexcept {
    cancellation_source(std::move(o)).swap(*this);
    return *this;
  }
  ~cancellation_source() {
    if (state_ != nullptr) state_->unref();
  }
  void swap(cancellation_source& o) noexcept { std::swap(state_, o.state_); }

  /// Cancel: idempotent. The first call runs every registered callback once,
  /// on this thread, before it returns, and wakes every awaiter of
  /// cancelled(); it returns true. Later calls return false at once. A
  /// callback that throws terminates the process (as std::stop_callback).
  bool cancel() noexcept { return state_ != nullptr && state_->cancel(); }

  [[nodiscard]] bool is_cancelled() const noexcept {
    return state_ != nullptr && state_->is_cancelled();
  }

  [[nodiscard]] cancellation_token token() const noexcept {
    if (state_ != nullptr) state_->ref();
    return cancellation_token{state_};
  }

  /// A child: see cancellation_token::child().
  [[nodiscard]] cancellation_source child() const {
    return cancellation_source{detail::cancellation_state::create_child(state_)};
  }

  /// For the implementation: adopt a reference.
  explicit cancellation_source(detail::cancellation_state* adopted) noexcept : state_(adopted) {}

 private:
  detail::cancellation_state* state_;
};

inline cancellation_source cancellation_token::child() const {
  return cancellation_source{detail::cancellation_state::create_child(state_)};
}

/// Runs `f` once when the token is cancelled (RAII, like std::stop_callback).
///
///   weft::cancellation_callback cb(token, [&] { sock.shutdown(); });
///
/// - registration: if the token is already cancelled, the constructor runs
///   `f` at once, on the constructing thread; else `f` later runs on the
///   thread that calls cancel(), inside that call. A token that can never be
///   cancelled never runs it.
/// - destruction deregisters: afterwards `f` never runs. If `f` is running on
///   another thread at that moment, the destructor waits for it to return;
///   `f` may destroy its own cancellation_callback (no deadlock). Do not
///   destroy it while holding a lock that `f` takes.
/// - `f` must not throw (an exception terminates, as with std::stop_callback).
/// - allocation: none; the registration lives in this object, which is
///   neither copyable nor movable.
template <class F>
class [[nodiscard]] cancellation_callback : private detail::cancellation_node {
  static_assert(std::is_invocable_v<F>, "a cancellation_callback's callable takes no arguments");

 public:
  template <class G>
  requires std::constructible_from<F, G> cancellation_callback(const cancellation_token& token,
                                                               G&& f)
  noexcept(std::is_nothrow_constructible_v<F, G>)
      : cancellation_node(&run, /*run_locked=*/false), f_(std::forward<G>(f)) {
    detail::cancellation_state* s = token.state();
    if (s == nullptr) return;  // never cancelled
    s->ref();
    if (s->link(*this)) {
      state_ = s;
      return;
    }
    s->unref();  // already cancelled: run now, keep nothing
    run(*this);
  }
  cancellation_callback(const cancellation_callback&) = delete;
  cancellation_callback& operator=(const cancellation_callback&) = delete;
  ~cancellation_callback() {
    if (state_ == nullptr) return;
    state_->withdraw(*this);
    state_->unref();
  }

 private:
  static void run(cancellation_node& n) noexcept {
    std::invoke(std::move(static_cast<cancellation_callback&>(n).f_));
  }
  F f_;
  detail::cancellation_state* state_ = nullptr;  // counted while registered
};

template <class F>
cancellation_callback(const cancellation_token&, F) -> cancellation_callback<F>;

/// A std::stop_token whose stop is requested when `t` is cancelled (for APIs
/// that take one: std::jthread, std::condition_variable_any). The
/// std::stop_source behind it is made on the first call for a state and kept
/// in it, so it can be requested only while the state lives (while a source,
/// token or registration of it does; as with std::stop_source, afterwards
/// stop_possible() turns false). A token from from_stop_token gives back the
/// std::stop_token it watches. A token that can never be cancelled gives a
/// stop_token without state.
std::stop_token to_stop_token(const cancellation_token& t);

/// A cancellation_token cancelled when stop is requested on `st` (at once if
/// it already is). The std::stop_callback that bridges the two lives as long
/// as the token's state. A stop_token without state gives a token that can
/// never be cancelled.
cancellation_token from_stop_token(std::stop_token st);

namespace detail {
/// Test and diagnostic accessor: how many registrations (callbacks, waiting
/// awaiters, live children) are linked in `t`'s state; 0 without a state.
std::size_t cancellation_registrations(const cancellation_token& t) noexcept;
}  // namespace detail

}  // namespace weft
