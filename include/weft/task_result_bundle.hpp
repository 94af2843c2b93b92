// weft/task_result_bundle.hpp — weft::task_result_bundle<T>: many fallible
// tasks, joined together or one by one, cancelled together.
//
//   weft::task_result_bundle<int> bundle(weft::signals::shutdown_token());
//   for (auto& job : jobs) bundle.spawn(work, job);  // each: task<int> or task<result<int>>
//   weft::result<std::vector<int>> all = co_await bundle.join_all();
//   // all values in spawn order, or the first failure (the others cancelled)
//
//   while (auto done = co_await bundle.join_next()) {   // as they finish
//     use(done->index, done->value);                    // value: result<int>
//   }
//
// THE DROP RULE (read this first)
// -------------------------------
// Destroying a bundle does NOT cancel its tasks. A spawned task is a critical
// section (the reference spec's rule, the same as dropping a join_handle):
// the tasks run to completion and their results are discarded. The shared
// state is reference counted by the bundle, by every task and by every join
// awaiter, so nothing leaks and nothing dangles. To stop the tasks, call
// cancel() (or cancel the parent token) before dropping the bundle; the
// parent token keeps cancelling them after the drop.
//
// What the bundle is
// ------------------
// - A bundle owns a child cancellation_source of the parent token given to
//   its constructor (cancelling the parent cancels the bundle; cancelling the
//   bundle never cancels the parent).
// - spawn(f, args...) / spawn(awaitable) starts a task on the current runtime
//   (weft::spawn semantics: outside a runtime it throws errc::no_runtime)
//   that awaits the work under the bundle's token through
//   weft::with_cancellation: once the bundle is cancelled, whatever the work
//   is waiting on ends — the work's coroutine is destroyed (its destructors
//   run, I/O is cancelled in the kernel first) — and the task ends with
//   errc::operation_canceled. Work that is not awaitable (a plain function)
//   runs to completion; if the bundle is already cancelled when the task
//   starts, the work is not started at all (operation_canceled).
// - The work produces T or weft::result<T> (T may be void: void or
//   result<void>). A task FAILS if it throws, or if it produces a result<T>
//   holding an error (or is cancelled: operation_canceled).
// - spawn returns the task's index: 0, 1, 2, … in spawn order over the
//   bundle's whole life.
//
// Joining — one joiner at a time
// ------------------------------
// At most one join (join_all, join_next, try_join_next) may be in progress
// on a bundle. Awaiting a join while another one is pending — from two tasks
// at once, or from one task while its own earlier join awaiter is still
// alive — throws std::logic_error (misuse) saying so.
//
// Each finished task's result is delivered once: by join_next /
// try_join_next (in completion order) or by join_all (the results not taken
// yet, in spawn order).
//
// `co_await bundle.join_all()` → result<std::vector<T>> (T = void:
// result<void>)
// - completes with: once no task of the bundle is running, the values of
//   every finished task not yet taken by join_next, in spawn (index) order.
//   If any of them failed: the FIRST failure — its error code, or its
//   exception rethrown. "First" is completion order, except that a failure
//   with operation_canceled produced because the bundle's token fired (the
//   task was cancelled) never masks a real failure; it is reported only if
//   no task failed otherwise. The other results are discarded.
// - fail fast: a failure seen while join_all is in progress (already
//   finished when join_all starts, or finishing while it waits) cancels the
//   bundle's token, so every other task ends at its next wait; join_all still
//   waits until every task has ended, so nothing of any task's work (no
//   frame, no destructor, no code after an await, no moved-from value) is
//   left when join_all returns — only the bundle's own bookkeeping (dropping
//   a reference, ending the spawned task) may still be finishing.
//   The bundle stays cancelled afterwards: tasks spawned later end with
//   operation_canceled at once. A failure with no join_all in progress
//   cancels nothing (a server's connections are independent until it joins
//   them all).
// - tasks spawned while join_all waits are waited for too, if they were
//   spawned before the last running task finished.
// - no tasks: completes at once with an empty vector.
//
// `co_await bundle.join_next()` → std::optional<joined>, where
// `joined{std::size_t index; result<T> value;}`
// - completes with: the next finished result, in completion order: its
//   index and the value or error (an errc::operation_canceled error for a
//   task the bundle's token cancelled); std::nullopt when no task is running
//   and every result has been taken. A task that threw: its exception is
//   rethrown from join_next (that result is then consumed).
// - never cancels anything.
//
// `bundle.try_join_next()` → std::optional<joined>: the same without waiting
// (std::nullopt if no result is ready yet). For a server's accept loop,
// which reaps finished connections between accepts.
//
// For both awaitables (join_all() and join_next() return awaiter objects;
// one may be moved only before it is awaited, e.g. into with_cancellation or
// weft::timeout):
// - cancellation: destroying the joining coroutine while it waits
//   (weft::timeout, with_cancellation, runtime shutdown) withdraws its wait;
//   the tasks keep running and keep their results (a result that had just
//   been handed to the destroyed waiter goes back to the bundle). A failure
//   already seen by a withdrawn join_all has cancelled the bundle.
// - resumes on: the runtime of the awaiting task (its worker, or its
//   block_on thread) via its waker — never inline on the thread where the
//   last task finished. A ready join counts against the cooperative budget.
// - runtime shutdown: a task whose frame is destroyed by shutdown before it
//   finished counts as failed with errc::task_destroyed (a result, not an
//   exception; it cancels nothing). A joiner destroyed by shutdown withdraws.
// - allocation: waiting allocates nothing (the awaiter is the intrusive
//   wait-list node). Per bundle: one shared state plus one cancellation
//   state (the child source). Per spawn: one spawned task (header + frame),
//   the bundle's two small wrapper coroutine frames, with_cancellation's
//   driver frame and its two branch cells, besides the work's own coroutine
//   frame — all from weft's frame allocator. Result storage: one list node per
//   finished task (from the heap) until its result is joined; nodes move
//   between the bundle and a joiner by splicing, so no result is moved,
//   copied or destroyed under the bundle's lock. join_all's vector.
//
// Other members: cancel() cancels every task through the child token
// (idempotent); token() is that token (give it to work that should also stop
// on it: child sources, callbacks); size() counts running tasks; empty() is
// true when no task is running and no result waits to be joined (join_next
// would return nullopt at once); join_pending() tells whether a join is in
// progress (diagnostics, tests).
//
// Thread safety: every member may be called from any thread; the state is
// guarded by one mutex.
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/context.hpp>
#include <weft/detail/runtime_api.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/waiter_list.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>
#include <weft/waker.hpp>
#include <weft/with_cancellation.hpp>

#include <algorithm>
#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <list>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

template <class T>
class task_result_bundle;

namespace detail {

/// One finished task's outcome, kept by the bundle until joined.
template <class T>
struct bundle_entry {
  bundle_entry(std::size_t i, result<T> v, std::exception_ptr e, bool by_token)
      : index(i), value(std::move(v)), exception(std::move(e)), cancelled_by_token(by_token) {}

  std::size_t index;
  result<T> value;               // unused (an error) when `exception` is set
  std::exception_ptr exception;  // the task threw
  bool cancelled_by_token;       // ended with operation_canceled because the token fired

  [[nodiscard]] bool failed() const noexcept { return exception != nullptr || !value.has_value(); }
};

enum class bundle_join_mode : unsigned char { none, next, all };

/// The part of a join awaiter that a finishing task writes into (under the
/// state's mutex, together with unlinking the node).
template <class T>
struct bundle_waiter : waiter_node {
  std::list<bundle_entry<T>> got;  // handed over: join_all every result, join_next one
  bool end = false;                // join_next: nothing left (nullopt)
  bool handed = false;             // an outcome is here, not yet consumed
};

[[noreturn]] inline void bundle_misuse(const char* what) {
  throw std::logic_error(what);
}

/// The state shared by a bundle, its tasks and its join awaiters.
template <class T>
class bundle_state {
 public:
  using entry = bundle_entry<T>;

  explicit bundle_state(const cancellation_token& parent) : source_(parent.child()) {}
  bundle_state(const bundle_state&) = delete;
  bundle_state& operator=(const bundle_state&) = delete;

  void ref() noexcept {
    // ORDERING: relaxed: a new reference is made from an existing one, which
    // keeps the state alive; counting publishes nothing (as shared_ptr).
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void unref() noexcept {
    // ORDERING: acq_rel: the release half publishes this holder's writes to
    // the thread that frees; the acquire half, on the thread that takes the
    // count to zero, pairs with every other holder's release so their writes
    // happen before the destructor.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // ---- the task side ------------------------------------------------------

  /// A task of this bundle ended with `*out` (taken and reset here).
  /// `may_cancel`: a failure may trigger join_all's fail-fast cancel (not for
  /// frames destroyed by runtime shutdown). The entry is moved into a list
  /// node before the lock is taken (the moved-from shell dies at once) and
  /// spliced in under it, so when a joiner can see the result, nothing of
  /// the task's outcome is left to destroy on this thread: nothing of the
  /// task runs after a join has returned.
  void complete(std::optional<entry>& out, bool may_cancel) noexcept {
    bool cancel_now = false;
    wake_batch batch;       // declared first: wakes last, after the lock is released
    std::list<entry> node;  // bad_alloc here terminates (noexcept)
    node.push_back(std::move(*out));
    out.reset();
    const bool failed = node.front().failed();
    {
      sync::lock_guard<sync::mutex> lock(mu_);
      --running_;
      if (failed && may_cancel && mode_ == bundle_join_mode::all) cancel_now = true;
      if (!detached_) {
        if (failed) ++failures_;
        done_.splice(done_.end(), node);
      }
      hand_to_waiting_joiner_locked(batch);
    }
    if (cancel_now) source_.cancel();
    // A dropped bundle's result (left in `node`) is destroyed here.
  }

  /// A spawn that failed after counting its task (the task never existed).
  void uncount() noexcept {
    wake_batch batch;
    sync::lock_guard<sync::mutex> lock(mu_);
    --running_;
    hand_to_waiting_joiner_locked(batch);
  }

  // ---- the joiner side (all under mu_ unless said) ---------------------------

  /// Claim the bundle for a join in `mode`; throws std::logic_error if a join
  /// is in progress. Returns whether join_all must cancel (a failure is
  /// already waiting).
  bool claim_locked(bundle_join_mode mode) {
    if (mode_ != bundle_join_mode::none) {
      bundle_misuse(
          "weft::task_result_bundle: join_all/join_next/try_join_next called while another "
          "join on the same bundle is in progress (from another task, or an earlier join "
          "awaiter still alive); only one task may join a bundle at a time");
    }
    mode_ = mode;
    return mode == bundle_join_mode::all && failures_ != 0;
  }

  void release_claim_locked() noexcept { mode_ = bundle_join_mode::none; }

  /// Give `w` its outcome now if there is one for `mode`.
  bool take_locked(bundle_waiter<T>& w, bundle_join_mode mode) noexcept {
    if (mode == bundle_join_mode::all) {
      if (running_ != 0) return false;
      w.got.splice(w.got.end(), done_);
      failures_ = 0;
    } else if (!done_.empty()) {
      if (done_.front().failed()) --failures_;
      w.got.splice(w.got.end(), done_, done_.begin());
    } else if (running_ == 0) {
      w.end = true;
    } else {
      return false;
    }
    w.handed = true;
    return true;
  }

  /// Put back an outcome handed to a waiter that will never consume it (its
  /// coroutine was destroyed between the hand-over and its resumption), in
  /// front of the newer ones. If the bundle was dropped, the entries go to
  /// `drop` (destroyed by the caller after the lock).
  void give_back_locked(bundle_waiter<T>& w, std::list<entry>& drop) noexcept {
    if (detached_) {
      drop.splice(drop.end(), w.got);
    } else {
      for (const entry& e : w.got) failures_ += e.failed() ? 1 : 0;
      done_.splice(done_.begin(), w.got);
    }
    w.handed = false;
    w.end = false;
  }

  sync::mutex mu_;
  // Guarded by mu_:
  std::list<entry> done_;     // finished, not yet joined, in completion order
  std::size_t failures_ = 0;  // failed entries in done_
  std::size_t running_ = 0;
  std::size_t next_index_ = 0;
  waiter_list joiners_;                             // at most one node: the waiting joiner
  bundle_join_mode mode_ = bundle_join_mode::none;  // a join is in progress
  bool detached_ = false;                           // the bundle was dropped: results are discarded

  cancellation_source source_;  // const after construction (its own state is thread-safe)

 private:
  ~bundle_state() = default;  // only unref() deletes

  void hand_to_waiting_joiner_locked(wake_batch& batch) noexcept {
    waiter_node* n = joiners_.front();
    if (n == nullptr) return;
    auto& w = static_cast<bundle_waiter<T>&>(*n);
    if (!take_locked(w, mode_)) return;
    joiners_.remove(w);
    batch.take(w);
  }

  // ORDERING: see ref()/unref().
  sync::atomic<std::size_t> refs_{1};
};

/// A spawned task's stake in the bundle: one state reference and its index.
/// If it is destroyed before the task reported (the task's frame was
/// destroyed by runtime shutdown, or never started), it reports
/// errc::task_destroyed. Move-only; a moved-from ticket is inert.
template <class T>
class bundle_ticket {
 public:
  bundle_ticket(bundle_state<T>* st, std::size_t index) noexcept : st_(st), index_(index) {
    st_->ref();
  }
  bundle_ticket(bundle_ticket&& o) noexcept
      : st_(std::exchange(o.st_, nullptr)), index_(o.index_) {}
  bundle_ticket& operator=(bundle_ticket&&) = delete;
  ~bundle_ticket() {
    if (st_ == nullptr) return;
    if (!reported_) {
      std::optional<bundle_entry<T>> e(
          std::in_place, index_, result<T>{make_error_code(errc::task_destroyed)}, nullptr, false);
      st_->complete(e, /*may_cancel=*/false);
    }
    st_->unref();
  }

  /// Forget a task that was never made: undo its count, report nothing.
  void dismiss() noexcept {
    if (st_ == nullptr) return;
    st_->uncount();
    std::exchange(st_, nullptr)->unref();
  }

  [[nodiscard]] bundle_state<T>& state() const noexcept { return *st_; }
  [[nodiscard]] std::size_t index() const noexcept { return index_; }

  void report(std::optional<bundle_entry<T>>& e) noexcept {
    reported_ = true;
    st_->complete(e, /*may_cancel=*/true);
  }

 private:
  bundle_state<T>* st_;
  std::size_t index_;
  bool reported_ = false;
};

/// What the work's result R becomes.
template <class T, class R>
inline constexpr bool bundle_result_ok = std::is_same_v<R, result<T>> ||
                                         (std::is_void_v<T> ? std::is_void_v<R>
                                                            : std::is_convertible_v<R, T>);

/// An entry from with_cancellation's result<R> (an outer error is always the
/// token firing).
template <class T, class R>
bundle_entry<T> bundle_entry_from(std::size_t index, result<R>&& r) {
  static_assert(bundle_result_ok<T, R>,
                "a task_result_bundle<T> task must produce T or weft::result<T>");
  if (!r) return bundle_entry<T>(index, result<T>{r.error()}, nullptr, true);
  if constexpr (std::is_same_v<R, result<T>>) {
    return bundle_entry<T>(index, std::move(*r), nullptr, false);
  } else if constexpr (std::is_void_v<T>) {
    return bundle_entry<T>(index, result<void>{}, nullptr, false);
  } else {
    return bundle_entry<T>(index, result<T>{T(std::move(*r))}, nullptr, false);
  }
}

/// The work of one task, started under the bundle's token.
template <class T, class A>
task<bundle_entry<T>> bundle_await(cancellation_token token, std::size_t index, A& a) {
  using R = await_result_t<A>;
  result<R> r = co_await with_cancellation(std::move(token), std::move(a));
  co_return bundle_entry_from<T, R>(index, std::move(r));
}

/// The bundle's task around `spawn(awaitable)`. `work` is reset before the
/// result is reported, so nothing of the work outlives the report.
template <class T, class A>
task<void> bundle_run_awaitable(bundle_ticket<T> ticket, std::optional<A> work) {
  std::optional<bundle_entry<T>> e;
  try {
    e.emplace(co_await bundle_await<T>(ticket.state().source_.token(), ticket.index(), *work));
  } catch (...) {
    e.emplace(ticket.index(), result<T>{make_error_code(errc::operation_canceled)},
              std::current_exception(), false);
  }
  work.reset();
  ticket.report(e);
}

/// The bundle's task around `spawn(f, args...)`.
template <class T, class F, class... Args>
task<void> bundle_run_call(bundle_ticket<T> ticket, std::optional<std::tuple<F, Args...>> pack) {
  std::optional<bundle_entry<T>> e;
  try {
    using call_t = std::invoke_result_t<F&, Args&&...>;
    auto call = [&]() -> call_t {
      // `f` stays in `pack` (an lvalue, as weft::spawn calls it), so a
      // coroutine lambda's captures live until the work is over.
      return std::apply(
          [&](F& f, Args&... args) -> call_t { return std::invoke(f, std::move(args)...); }, *pack);
    };
    if constexpr (awaitable<call_t>) {
      auto work = call();
      e.emplace(co_await bundle_await<T>(ticket.state().source_.token(), ticket.index(), work));
    } else if (ticket.state().source_.is_cancelled()) {
      e.emplace(ticket.index(), result<T>{make_error_code(errc::operation_canceled)}, nullptr,
                true);
    } else if constexpr (std::is_void_v<call_t>) {
      call();
      e.emplace(bundle_entry_from<T, void>(ticket.index(), result<void>{}));
    } else {
      e.emplace(bundle_entry_from<T, call_t>(ticket.index(), result<call_t>{call()}));
    }
  } catch (...) {
    e.emplace(ticket.index(), result<T>{make_error_code(errc::operation_canceled)},
              std::current_exception(), false);
  }
  pack.reset();
  ticket.report(e);
}

/// Common half of the two join awaiters.
template <class T>
class bundle_join_awaiter : protected bundle_waiter<T> {
 public:
  /// Only before it is awaited (so it can be handed to with_cancellation,
  /// timeout, spawn).
  bundle_join_awaiter(bundle_join_awaiter&& o) noexcept : st_(o.st_), mode_(o.mode_) {
    assert(!o.claimed_);  // INVARIANT: an awaiter is moved only before its await
    st_->ref();
  }
  bundle_join_awaiter& operator=(bundle_join_awaiter&&) = delete;
  ~bundle_join_awaiter() {
    if (claimed_) {
      std::list<bundle_entry<T>> drop;  // destroyed after the lock
      sync::lock_guard<sync::mutex> lock(st_->mu_);
      if (this->linked) {
        st_->joiners_.remove(*this);  // destroyed while waiting: withdraw
      } else if (this->handed) {
        st_->give_back_locked(*this, drop);  // handed over, never resumed
      }
      st_->release_claim_locked();
    }
    st_->unref();
  }

  bool await_ready() {
    bool cancel_now = false;
    bool ready = false;
    {
      sync::lock_guard<sync::mutex> lock(st_->mu_);
      cancel_now = st_->claim_locked(mode_);
      claimed_ = true;
      ready = st_->take_locked(*this, mode_);
    }
    if (cancel_now) st_->source_.cancel();
    if (!ready) return false;
    // Ready: go on unless this step's budget is spent.
    yield_ = !consume_budget();
    return !yield_;
  }

  bool await_suspend(std::coroutine_handle<> h) {
    if (yield_) {
      suspend_current_and_reschedule(h);  // budget spent: run again after others
      return true;
    }
    waker w = suspend_current(h);  // destroyed after the lock if not handed over
    sync::lock_guard<sync::mutex> lock(st_->mu_);
    if (st_->take_locked(*this, mode_)) return false;  // finished meanwhile: go on
    this->wake = std::move(w);
    st_->joiners_.push_back(*this);
    return true;
  }

 protected:
  bundle_join_awaiter(bundle_state<T>* st, bundle_join_mode mode) noexcept : st_(st), mode_(mode) {
    st_->ref();
  }

  /// await_resume's first step: the outcome is ours; end the claim.
  void end_claim() noexcept {
    sync::lock_guard<sync::mutex> lock(st_->mu_);
    st_->release_claim_locked();
    claimed_ = false;
    this->handed = false;
  }

 private:
  bundle_state<T>* st_;  // counted
  bundle_join_mode mode_;
  bool claimed_ = false;
  bool yield_ = false;
};

}  // namespace detail

template <class T>
class task_result_bundle {
  using state = detail::bundle_state<T>;
  using entry = detail::bundle_entry<T>;

 public:
  using value_type = T;

  /// One result from join_next / try_join_next: the task's index (spawn
  /// order) and its value or error.
  struct joined {
    std::size_t index;
    result<T> value;
  };

  /// The result of join_all: all values in spawn order, or the first failure.
  using all_result = std::conditional_t<std::is_void_v<T>, result<void>, result<std::vector<T>>>;

  /// A bundle whose tasks are cancelled when `parent` is (a default token:
  /// never, except by cancel()). Allocates the shared state and the child
  /// cancellation source.
  explicit task_result_bundle(cancellation_token parent = {}) : st_(new state(parent)) {}

  task_result_bundle(task_result_bundle&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  task_result_bundle& operator=(task_result_bundle&& o) noexcept {
    if (this != &o) {
      release();
      st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
  }
  task_result_bundle(const task_result_bundle&) = delete;
  task_result_bundle& operator=(const task_result_bundle&) = delete;

  /// Detaches: the running tasks are NOT cancelled; they run to completion
  /// and their results (and those not yet joined) are discarded. See the
  /// file comment ("the drop rule").
  ~task_result_bundle() { release(); }

  /// Start `f(args...)` (moved into the task) — or, with one awaitable
  /// argument, await it — as a task of this bundle on the current runtime,
  /// under the bundle's token. Returns the task's index. Throws as
  /// weft::spawn does (errc::no_runtime outside a runtime;
  /// errc::runtime_shut_down, in which case the index is reported as
  /// failed with errc::task_destroyed).
  template <class F, class... Args>
  std::size_t spawn(F&& f, Args&&... args) {
    check("spawn");
    detail::runtime_core& rt = detail::runtime_for("weft::task_result_bundle::spawn");
    std::size_t index = 0;
    {
      detail::sync::lock_guard<detail::sync::mutex> lock(st_->mu_);
      index = st_->next_index_++;
      ++st_->running_;
    }
    detail::bundle_ticket<T> ticket(st_, index);
    std::optional<task<void>> work;
    try {
      if constexpr (sizeof...(Args) == 0 && detail::awaitable<F> && !std::is_invocable_v<F&>) {
        work.emplace(detail::bundle_run_awaitable<T, std::decay_t<F>>(
            std::move(ticket), std::optional<std::decay_t<F>>(std::forward<F>(f))));
      } else {
        work.emplace(detail::bundle_run_call<T, std::decay_t<F>, std::decay_t<Args>...>(
            std::move(ticket),
            std::optional<std::tuple<std::decay_t<F>, std::decay_t<Args>...>>(
                std::in_place, std::forward<F>(f), std::forward<Args>(args)...)));
      }
    } catch (...) {
      // Copying the work or allocating the wrapper failed: unless the
      // wrapper already owns the ticket, the task never existed.
      ticket.dismiss();
      throw;
    }
    // From here the ticket is in the wrapper's frame: if the runtime refuses
    // the task, destroying the wrapper reports errc::task_destroyed.
    (void)detail::spawn_on(&rt, detail::make_spawn_cell(std::move(*work)));
    return index;
  }

  class [[nodiscard]] join_all_awaiter : public detail::bundle_join_awaiter<T> {
   public:
    explicit join_all_awaiter(state* st) noexcept
        : detail::bundle_join_awaiter<T>(st, detail::bundle_join_mode::all) {}
    join_all_awaiter(join_all_awaiter&&) noexcept = default;  // only before the await
    using detail::bundle_join_awaiter<T>::await_ready;
    using detail::bundle_join_awaiter<T>::await_suspend;

    all_result await_resume() {
      this->end_claim();
      std::list<entry> es;
      es.swap(this->got);
      // The first real failure in completion order; else the first failure.
      const entry* failure = nullptr;
      for (const entry& e : es) {
        if (!e.failed()) continue;
        if (!e.cancelled_by_token) {
          failure = &e;
          break;
        }
        if (failure == nullptr) failure = &e;
      }
      if (failure != nullptr) {
        if (failure->exception) std::rethrow_exception(failure->exception);
        return failure->value.error();
      }
      if constexpr (std::is_void_v<T>) {
        return {};
      } else {
        // Sort pointers, not entries: T need only be move-constructible.
        std::vector<entry*> order;
        order.reserve(es.size());
        for (entry& e : es) order.push_back(&e);
        std::sort(order.begin(), order.end(),
                  [](const entry* a, const entry* b) { return a->index < b->index; });
        std::vector<T> values;
        values.reserve(order.size());
        for (entry* e : order) values.push_back(std::move(*e->value));
        return values;
      }
    }
  };

  class [[nodiscard]] join_next_awaiter : public detail::bundle_join_awaiter<T> {
   public:
    explicit join_next_awaiter(state* st) noexcept
        : detail::bundle_join_awaiter<T>(st, detail::bundle_join_mode::next) {}
    join_next_awaiter(join_next_awaiter&&) noexcept = default;  // only before the await
    using detail::bundle_join_awaiter<T>::await_ready;
    using detail::bundle_join_awaiter<T>::await_suspend;

    std::optional<joined> await_resume() {
      this->end_claim();
      this->end = false;
      if (this->got.empty()) return std::nullopt;
      std::list<entry> one;
      one.swap(this->got);
      entry& e = one.front();
      if (e.exception) std::rethrow_exception(std::move(e.exception));
      return joined{e.index, std::move(e.value)};
    }
  };

  /// Wait for every task; see the file comment. Misuse (another join in
  /// progress) throws std::logic_error from the co_await.
  join_all_awaiter join_all() {
    check("join_all");
    return join_all_awaiter{st_};
  }

  /// The next finished result, or nullopt when none is left; see the file
  /// comment.
  join_next_awaiter join_next() {
    check("join_next");
    return join_next_awaiter{st_};
  }

  /// A finished result if one is ready (else nullopt); never waits. A task
  /// that threw has its exception rethrown. Throws std::logic_error while
  /// another join is in progress.
  std::optional<joined> try_join_next() {
    check("try_join_next");
    std::list<entry> one;  // destroyed after the lock
    {
      detail::sync::lock_guard<detail::sync::mutex> lock(st_->mu_);
      (void)st_->claim_locked(detail::bundle_join_mode::next);
      st_->release_claim_locked();
      if (st_->done_.empty()) return std::nullopt;
      if (st_->done_.front().failed()) --st_->failures_;
      one.splice(one.end(), st_->done_, st_->done_.begin());
    }
    entry& e = one.front();
    if (e.exception) std::rethrow_exception(std::move(e.exception));
    return joined{e.index, std::move(e.value)};
  }

  /// Cancel every task through the bundle's token. Idempotent; true if this
  /// call cancelled. Callbacks registered on the token run on this thread.
  bool cancel() noexcept { return st_ != nullptr && st_->source_.cancel(); }

  /// The bundle's token (a child of the parent token).
  [[nodiscard]] cancellation_token token() const {
    check("token");
    return st_->source_.token();
  }

  /// Tasks still running.
  [[nodiscard]] std::size_t size() const {
    check("size");
    detail::sync::lock_guard<detail::sync::mutex> lock(st_->mu_);
    return st_->running_;
  }

  /// No task running and no result waiting to be joined.
  [[nodiscard]] bool empty() const {
    check("empty");
    detail::sync::lock_guard<detail::sync::mutex> lock(st_->mu_);
    return st_->running_ == 0 && st_->done_.empty();
  }

  /// A join (join_all or join_next) is in progress. For diagnostics and tests.
  [[nodiscard]] bool join_pending() const {
    check("join_pending");
    detail::sync::lock_guard<detail::sync::mutex> lock(st_->mu_);
    return st_->mode_ != detail::bundle_join_mode::none;
  }

 private:
  void check(const char*) const {
    if (st_ == nullptr) {
      detail::bundle_misuse("weft::task_result_bundle: used after being moved from");
    }
  }

  void release() noexcept {
    if (st_ == nullptr) return;
    std::list<entry> drop;  // destroyed after the lock
    {
      detail::sync::lock_guard<detail::sync::mutex> lock(st_->mu_);
      st_->detached_ = true;
      drop.swap(st_->done_);
      st_->failures_ = 0;
    }
    std::exchange(st_, nullptr)->unref();
  }

  state* st_;
};

}  // namespace weft
