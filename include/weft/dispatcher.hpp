// weft/dispatcher.hpp — dispatchers: named scheduling contexts on a runtime.
//
//   auto d = weft::dispatcher_builder{}
//                .name("device")
//                .shutdown_observer([](weft::dispatcher_ref) { /* all work ended */ })
//                .create();                       // on the current task's runtime
//   d.post_task([](weft::status s) { if (s.ok()) poke(); });
//   d.spawn_task(serve(std::move(conn)));         // a task<void> whose steps run on d
//   // ~dispatcher: asynchronous shutdown; queued callbacks get canceled
//
// A dispatcher runs callbacks (post_task) and the steps of coroutine tasks
// (spawn_task) on a runtime's workers, under one of three threading options:
//
//   synchronized (default)  no two of its callbacks or task steps ever run at
//                           the same time, and they run in the order they were
//                           posted or woken (like a strand), on any worker;
//   unsynchronized()        they may run in parallel on the workers of its
//                           group (a single task still never runs two steps
//                           at once);
//   allow_thread_blocking() synchronized, on a worker thread of its own, so a
//                           callback may block (a lock, a blocking call)
//                           without stalling the runtime's async workers.
//
// scheduler_role(name) picks the worker group: "" (the default) is the
// runtime's own workers, any other name a group declared with
// runtime_builder::scheduler_role (weft/runtime.hpp).
//
// Mechanism (docs/dispatchers.md): a dispatcher is a FIFO queue drained by
// *pump* tasks spawned on its group — one for a synchronized dispatcher, one
// per worker of the group for an unsynchronized one. A pump runs one item at
// a time inside its own step (so timers and I/O a task step registers land on
// the pump's worker and work), yields after a batch so it cannot starve other
// tasks, and waits without a thread when the queue is empty.
//
// Shutdown (the owning weft::dispatcher is destroyed, shutdown() is called,
// or the runtime shuts down): asynchronous. From its start, post_task and
// spawn_task return errc::dispatcher_shut_down. The pumps stop taking work;
// the last one out calls every queued callback with status::canceled_status(),
// destroys every task spawned on the dispatcher that has not finished (never
// resuming it again — a task whose I/O the kernel still owns is destroyed
// when that completes), and then calls the shutdown observer once, with a
// dispatcher_ref, on that pump's worker thread. Every callback is called
// exactly once, ok or canceled, even when runtime shutdown destroys the pumps
// (then the rest happens on the thread that shuts the runtime down).
//
// Callbacks and the observer must not throw (an exception escaping one
// terminates the program, as from a std::thread body). An exception escaping
// a spawned task ends that task; it is dropped, as for a detached
// weft::spawn.
#pragma once

#include <weft/error.hpp>
#include <weft/status.hpp>
#include <weft/task.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weft {

class runtime;
class dispatcher;
class dispatcher_ref;

namespace detail {

class dispatcher_state;

/// A queue entry of a dispatcher: a posted callback, or a task woken on it.
struct dispatch_item {
  dispatch_item* next_item = nullptr;  // owned by whoever holds the item queued
  bool is_task = false;
};

/// A posted callback, type-erased. call_and_delete(s, true) calls it with `s`
/// and frees it; call_and_delete(s, false) frees it without calling it.
struct dispatch_callback : dispatch_item {
  void (*call_and_delete)(dispatch_callback* self, status s, bool call) noexcept = nullptr;
};

template <class F>
struct dispatch_callback_impl final : dispatch_callback {
  F fn;
  template <class G>
  explicit dispatch_callback_impl(G&& g) : fn(std::forward<G>(g)) {
    call_and_delete = &run;
  }
  static void run(dispatch_callback* self, status s, bool call) noexcept {
    auto* me = static_cast<dispatch_callback_impl*>(self);
    struct deleter {
      dispatch_callback_impl* p;
      ~deleter() { delete p; }
    } guard{me};
    if (call) me->fn(s);  // noexcept: a throwing callback terminates
  }
};

/// Queue `cb` on `s` (nullptr: a moved-from handle). On refusal `cb` is
/// freed without being called and errc::dispatcher_shut_down returned.
std::error_code dispatcher_post(dispatcher_state* s, dispatch_callback* cb) noexcept;

}  // namespace detail

/// An unowned, copyable reference to a dispatcher. Dropping it never shuts
/// the dispatcher down; it keeps the dispatcher's shared state alive (a
/// reference count), so it never dangles: on a dispatcher that has shut down
/// its operations just return errc::dispatcher_shut_down.
class dispatcher_ref {
 public:
  /// Queue `callback` (called as callback(weft::status)) to run on the
  /// dispatcher. From any thread, including the dispatcher's own callbacks.
  ///
  /// - returns: an empty error_code, or errc::dispatcher_shut_down if the
  ///   dispatcher's shutdown has begun: then `callback` is destroyed without
  ///   being called.
  /// - completion: the callback is called exactly once: with
  ///   status::ok_status() when the dispatcher runs it (in posting order;
  ///   never together with another item of a synchronized dispatcher), or
  ///   with status::canceled_status() if shutdown begins before it ran.
  /// - runs on: a worker of the dispatcher's group (its own thread for
  ///   allow_thread_blocking), never inline in post_task. A canceled call
  ///   runs on the pump that finishes the shutdown, or — when runtime
  ///   shutdown destroyed the pumps — on the thread shutting the runtime
  ///   down.
  /// - runtime shutdown: shuts the dispatcher down first (canceled as above).
  /// - allocation: one per call (the callable is moved into a queue node).
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, status > std::error_code post_task(F&& callback) const {
    auto* node = new detail::dispatch_callback_impl<std::decay_t<F>>(std::forward<F>(callback));
    return detail::dispatcher_post(state_.get(), node);
  }

  /// Run `t` as a task of this dispatcher: each of its steps runs on the
  /// dispatcher like a posted callback (serialized with its other items when
  /// synchronized). Inside a step, weft::sleep, I/O and channels work as in
  /// any task and wake it on the dispatcher; weft::spawn starts a plain task
  /// on the runtime (or role group) the dispatcher runs on.
  ///
  /// - returns: an empty error_code, or errc::dispatcher_shut_down if the
  ///   dispatcher's shutdown has begun (then `t` is destroyed, never run).
  /// - completion: nothing to join; an exception escaping `t` is dropped.
  /// - cancellation: dispatcher shutdown destroys the task if it has not
  ///   finished: it is never resumed again (a queued or waiting task is
  ///   destroyed at once; one suspended in io_uring I/O when its completion
  ///   comes; one running when its step ends). Its destructors run on the
  ///   pump that finishes the shutdown.
  /// - resumes on: a worker of the dispatcher's group.
  /// - runtime shutdown: shuts the dispatcher down first (destroyed as above).
  /// - allocation: the task's cell (its frame and header) and one small
  ///   scheduling record.
  std::error_code spawn_task(task<void> t) const;

  /// Begin the dispatcher's shutdown (see the header comment). Any thread,
  /// idempotent, asynchronous: it returns at once; the observer is the
  /// signal that the shutdown has completed. No allocation.
  void shutdown() const noexcept;

  /// The name given to the builder.
  [[nodiscard]] const std::string& name() const noexcept;
  /// The scheduler role it runs on ("" for the runtime's own workers).
  [[nodiscard]] const std::string& scheduler_role() const noexcept;
  [[nodiscard]] bool is_unsynchronized() const noexcept;
  [[nodiscard]] bool allows_thread_blocking() const noexcept;
  /// True once its shutdown has begun.
  [[nodiscard]] bool is_shut_down() const noexcept;

  /// Both refer to the same dispatcher.
  friend bool operator==(const dispatcher_ref& a, const dispatcher_ref& b) noexcept {
    return a.state_ == b.state_;
  }

  /// For the implementation.
  explicit dispatcher_ref(std::shared_ptr<detail::dispatcher_state> s) noexcept
      : state_(std::move(s)) {}

 private:
  friend class dispatcher;
  std::shared_ptr<detail::dispatcher_state> state_;
};

/// An owned dispatcher: move-only; destroying it starts the dispatcher's
/// asynchronous shutdown (it does not wait). release() gives up ownership.
/// A moved-from dispatcher owns nothing: its operations return
/// errc::dispatcher_shut_down, its queries return empty/false.
class dispatcher {
 public:
  dispatcher(dispatcher&& o) noexcept : ref_(std::move(o.ref_)) {}
  /// Shuts down what this one owned, then takes over `o`'s dispatcher.
  dispatcher& operator=(dispatcher&& o) noexcept {
    if (this != &o) {
      dispatcher dying(std::move(*this));
      ref_ = std::move(o.ref_);
    }
    return *this;
  }
  dispatcher(const dispatcher&) = delete;
  dispatcher& operator=(const dispatcher&) = delete;
  /// shutdown(); does not wait for it.
  ~dispatcher() { ref_.shutdown(); }

  /// See dispatcher_ref::post_task.
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, status > std::error_code post_task(F&& callback) const {
    return ref_.post_task(std::forward<F>(callback));
  }
  /// See dispatcher_ref::spawn_task.
  std::error_code spawn_task(task<void> t) const { return ref_.spawn_task(std::move(t)); }

  /// Begin the asynchronous shutdown now (idempotent, any thread).
  void shutdown() const noexcept { ref_.shutdown(); }

  /// Give up ownership (as unique_ptr::release): the dispatcher is no longer
  /// shut down when this object goes; it is at runtime shutdown, or by a
  /// ref's shutdown(). This object is left owning nothing.
  [[nodiscard]] dispatcher_ref release() noexcept { return std::move(ref_); }
  /// An unowned reference to this dispatcher.
  [[nodiscard]] dispatcher_ref as_ref() const noexcept { return ref_; }

  [[nodiscard]] const std::string& name() const noexcept { return ref_.name(); }
  [[nodiscard]] const std::string& scheduler_role() const noexcept { return ref_.scheduler_role(); }
  [[nodiscard]] bool is_unsynchronized() const noexcept { return ref_.is_unsynchronized(); }
  [[nodiscard]] bool allows_thread_blocking() const noexcept {
    return ref_.allows_thread_blocking();
  }
  [[nodiscard]] bool is_shut_down() const noexcept { return ref_.is_shut_down(); }

  /// For the implementation.
  explicit dispatcher(dispatcher_ref r) noexcept : ref_(std::move(r)) {}

 private:
  dispatcher_ref ref_;
};

/// Configures and creates dispatchers. Setters validate at the call and
/// throw std::system_error(errc::invalid_builder_setting) with a message
/// saying what to do.
class dispatcher_builder {
 public:
  dispatcher_builder() = default;

  /// A descriptive name (diagnostics; names the worker thread of an
  /// allow_thread_blocking dispatcher).
  dispatcher_builder& name(std::string n);
  /// Items may run in parallel. Refused after allow_thread_blocking().
  dispatcher_builder& unsynchronized();
  /// Items run on a worker thread of the dispatcher's own, where blocking is
  /// allowed. Refused after unsynchronized().
  dispatcher_builder& allow_thread_blocking();
  /// The worker group: "" (the runtime's workers, the default) or a role
  /// declared with runtime_builder::scheduler_role. Checked by create().
  /// With allow_thread_blocking, the dedicated thread runs the role's
  /// on_thread_start/on_thread_stop hooks.
  dispatcher_builder& scheduler_role(std::string role);
  /// Called exactly once, after the dispatcher's shutdown has ended all its
  /// work (see the header comment). It may post to other dispatchers and
  /// create new ones (while the runtime is not shutting down).
  dispatcher_builder& shutdown_observer(std::function<void(dispatcher_ref)> fn);

  [[nodiscard]] bool is_unsynchronized() const noexcept { return unsynchronized_; }
  [[nodiscard]] bool allows_thread_blocking() const noexcept { return allow_blocking_; }

  /// Create an owned dispatcher on the runtime of the calling task (a worker
  /// of the runtime or of one of its groups — a role, a blocking
  /// dispatcher's thread — or a current-thread runtime's block_on).
  ///
  /// - returns: the dispatcher, ready for work at once (its pumps are
  ///   spawned on its group before create returns).
  /// - throws: errc::no_runtime elsewhere (use create(runtime&));
  ///   errc::unknown_scheduler_role for a role the runtime did not declare
  ///   (the message names it); errc::runtime_shut_down once the runtime's
  ///   shutdown has begun (also from an observer running then).
  /// - runs on: the calling thread; nothing of the dispatcher runs inline.
  /// - runtime shutdown: shuts the dispatcher down (docs/dispatchers.md).
  /// - allocation: the shared state and one cell per pump;
  ///   allow_thread_blocking also starts a one-worker group (a thread).
  [[nodiscard]] dispatcher create() const;
  /// The same on `rt`, from any thread.
  [[nodiscard]] dispatcher create(runtime& rt) const;
  /// create(), released at once: it lives until shut down through a ref or
  /// by runtime shutdown.
  [[nodiscard]] dispatcher_ref create_released() const;
  [[nodiscard]] dispatcher_ref create_released(runtime& rt) const;

 private:
  std::string name_;
  std::string role_;
  std::function<void(dispatcher_ref)> observer_;
  bool unsynchronized_ = false;
  bool allow_blocking_ = false;
};

}  // namespace weft
