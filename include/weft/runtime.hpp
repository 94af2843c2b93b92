// weft/runtime.hpp — the runtime, its builder, spawn, yield_now, spawn_blocking.
//
//   auto rt = weft::runtime_builder{}.worker_threads(4).build();
//   int v = rt.block_on(compute());                       // from plain code
//   auto h = rt.spawn([]() -> weft::task<> { co_return; });  // from any thread
//
// Inside a task, weft::spawn(...) starts a sibling on the same runtime.
//
// Flavours: multi_thread (worker threads with work stealing, the default) and
// current_thread (no threads of its own: tasks run inside block_on on the
// calling thread; concurrent block_on calls take turns).
//
// Shutdown: rt.shutdown(timeout), or the destructor with the builder's
// shutdown_timeout (default 1 s), stops accepting work from outside the
// runtime, waits up to the timeout for every task to finish (tasks may still
// spawn while it waits), stops the workers, then destroys the tasks that are
// left: their coroutine frames are destroyed, so their destructors run.
// Before that, the runtime's dispatchers (weft/dispatcher.hpp) are shut down
// and its scheduler-role groups stop (see docs/dispatchers.md).
#pragma once

#include <weft/block_on.hpp>
#include <weft/detail/context.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/runtime_api.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>
#include <weft/join_handle.hpp>
#include <weft/task.hpp>
#include <weft/waker.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

class runtime;

/// A scheduler role: a named group of worker threads of a runtime, declared
/// with runtime_builder::scheduler_role and chosen by a dispatcher with
/// dispatcher_builder::scheduler_role (weft/dispatcher.hpp). A role has its
/// own workers (named ROLE-N), timers, I/O drivers and blocking pool, so its
/// tasks can sleep and do I/O; it is started by build() and shut down with
/// the runtime, after its dispatchers (docs/dispatchers.md).
struct role_options {
  /// Worker threads of the role. 1…64.
  std::size_t threads = 1;
  /// Called on each of the role's threads (workers, blocking-pool threads,
  /// and the thread of an allow_thread_blocking dispatcher on the role) as
  /// it starts / before it exits:
  /// where to set a priority, a nice value or a CPU affinity. These replace
  /// the runtime's own on_thread_start/on_thread_stop on the role's threads.
  std::function<void()> on_thread_start;
  std::function<void()> on_thread_stop;
};


/// Builds a runtime. Each setter validates its argument at once and throws
/// std::system_error(errc::invalid_builder_setting) with a message naming the
/// setting; build() checks the combination.
class runtime_builder {
 public:
  runtime_builder() = default;

  /// Worker threads (multi_thread; for simulation, the virtual workers,
  /// default 2). Default: one per CPU. 1…1024.
  runtime_builder& worker_threads(std::size_t n);
  /// Thread names are PREFIX-N (Linux keeps 15 characters).
  runtime_builder& thread_name_prefix(std::string prefix);
  /// multi_thread (default), current_thread, or simulation: the
  /// multi-thread scheduler's code with virtual workers taking turns on the
  /// block_on caller in the order rng_seed picks, on virtual time, sockets
  /// on an in-memory network with seeded latency and faults (no real I/O) —
  /// a failing order replays from its seed (weft/simulation.hpp).
  runtime_builder& flavor(runtime_flavor f);
  /// Upper bound of the elastic blocking pool (spawn_blocking). 1…65536; default 512.
  runtime_builder& max_blocking_threads(std::size_t n);
  /// How long an idle blocking thread waits for work before it exits. Default 10 s.
  /// Any unit; one past the clock's range (hours::max()) means forever.
  template <class Rep, class Period>
  runtime_builder& blocking_keep_alive(std::chrono::duration<Rep, Period> d) {
    return set_blocking_keep_alive(detail::saturating_ceil<std::chrono::nanoseconds>(d));
  }
  /// How long the destructor waits for tasks before destroying them. Default 1 s.
  /// Any unit; one past the clock's range (hours::max()) means no limit.
  template <class Rep, class Period>
  runtime_builder& shutdown_timeout(std::chrono::duration<Rep, Period> d) {
    return set_shutdown_timeout(detail::saturating_ceil<std::chrono::nanoseconds>(d));
  }
  /// Scheduler ticks between checks of the global queue and the timers. Default 61.
  runtime_builder& event_interval(std::uint32_t ticks);
  /// Seed of the workers' random choice of steal victims (a fixed default,
  /// so runs are reproducible; vary it to explore other interleavings). On a
  /// simulation runtime it seeds every choice: the same seed replays the run.
  runtime_builder& rng_seed(std::uint64_t seed);
  /// Virtual time for tests (current_thread flavour only): the clock stands
  /// still while tasks run and, when every task is waiting, jumps to the next
  /// timer — so a test that sleeps an hour finishes at once, deterministically.
  /// Read it with weft::now(). It jumps even while a spawn_blocking job or a
  /// foreign thread is about to wake a task (as tokio's paused time does).
  runtime_builder& start_paused(bool paused);
  /// The I/O backend (see weft::io_backend_choice). Overrides WEFT_IO_BACKEND.
  /// A forced io_uring the kernel refuses makes build() throw.
  runtime_builder& io_backend(io_backend_choice choice);
  /// flavor(simulation) only: the in-memory network's latency and faults
  /// (weft::simulated_network). Throws errc::invalid_builder_setting for a
  /// value out of its range.
  runtime_builder& simulated_network(const weft::simulated_network& network);
  /// flavor(simulation) only: the in-memory file system's latency and faults
  /// (weft::simulated_files). Throws errc::invalid_builder_setting for a
  /// value out of its range.
  runtime_builder& simulated_files(const weft::simulated_files& files);
  /// Called on every worker and blocking thread as it starts / before it exits.
  runtime_builder& on_thread_start(std::function<void()> fn);
  runtime_builder& on_thread_stop(std::function<void()> fn);
  /// Declare the scheduler role `name` (see role_options): a group of
  /// `options.threads` workers of its own, started by build(). Dispatchers
  /// choose it by name. Throws errc::invalid_builder_setting for an empty or
  /// duplicate name, or a thread count outside 1…64.
  runtime_builder& scheduler_role(std::string name, role_options options);

  [[nodiscard]] runtime build() const;

 private:
  // Durations arrive converted with saturation, so hours::max() cannot wrap.
  runtime_builder& set_blocking_keep_alive(std::chrono::nanoseconds d);
  runtime_builder& set_shutdown_timeout(std::chrono::nanoseconds d);

  detail::runtime_config cfg_;
  std::vector<detail::role_spec> roles_;
  bool worker_threads_set_ = false;
};

class runtime {
 public:
  /// A multi_thread runtime with default settings.
  runtime();
  runtime(runtime&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  runtime& operator=(runtime&& o) noexcept;
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  /// shutdown(shutdown_timeout) if not done yet. On one of the runtime's own
  /// threads (the last owner is one of its tasks, blocking jobs, dispatcher
  /// callbacks or role threads) the destructor returns at once and the
  /// shutdown runs on a thread of its own ("reaper"), which waits for the
  /// current step to return; the process waits for reapers at exit.
  ~runtime();

  /// Run `a` on this runtime and wait for it on the calling thread.
  /// Returns its result or rethrows its exception. Throws errc::nested_runtime
  /// on a worker thread or inside another block_on, errc::runtime_shut_down
  /// after shutdown. An lvalue awaitable is referred to, an rvalue moved in.
  template <class A>
    requires detail::awaitable<A>
  decltype(auto) block_on(A&& a);

  /// Start a task on this runtime, from any thread. `f` and `args` are moved
  /// into the task and `f(args...)` is called there (a coroutine's result is
  /// awaited). Also accepts a task<T> (or any awaitable) alone.
  template <class F, class... Args>
  auto spawn(F&& f, Args&&... args);

  /// Run `f(args...)` on the blocking pool; returns a join_handle.
  template <class F, class... Args>
  auto spawn_blocking(F&& f, Args&&... args);

  /// Stop accepting work, wait up to `timeout` for tasks, destroy the rest.
  /// Idempotent. From one of this runtime's tasks, blocking jobs, dispatcher
  /// callbacks or role threads it throws errc::nested_runtime (it would wait
  /// for itself).
  /// Any unit; one past the clock's range (hours::max()) means no limit.
  template <class Rep, class Period>
  void shutdown(std::chrono::duration<Rep, Period> timeout) {
    shutdown_for(detail::saturating_timeout<std::chrono::nanoseconds>(timeout));
  }

  [[nodiscard]] runtime_flavor flavor() const noexcept;
  [[nodiscard]] std::size_t worker_count() const noexcept;
  /// The I/O backend the workers run on (also printed to stderr when
  /// WEFT_LOG=debug).
  [[nodiscard]] weft::io_backend io_backend() const noexcept;

  /// For the implementation.
  explicit runtime(detail::runtime_core* core) noexcept : core_(core) {}
  [[nodiscard]] detail::runtime_core* core() const noexcept { return core_; }

 private:
  void check_alive() const;
  void shutdown_for(std::chrono::nanoseconds timeout);
  detail::runtime_core* core_ = nullptr;
};

namespace detail {

template <class F, class... Args>
auto make_spawn_cell(F&& f, Args&&... args) {
  if constexpr (sizeof...(Args) == 0 && awaitable<F> && !std::is_invocable_v<F&>) {
    using R = await_result_t<F>;
    return check_created(make_await_cell<R, F>(std::forward<F>(f)));
  } else {
    using R = call_result_t<std::decay_t<F>, std::decay_t<Args>...>;
    return check_created(make_cell<R, F, Args...>(std::forward<F>(f), std::forward<Args>(args)...));
  }
}

template <class R>
join_handle<R> spawn_on(runtime_core* rt, cell<R> c) {
  // The creator's reference becomes the handle's; the runtime adds its own.
  c.header->prepare_unpublished(task_header::join_interest, 0);
  join_handle<R> h{c.header};
  runtime_spawn(rt, c.header);
  return h;
}

template <class R>
join_handle<R> spawn_blocking_on(runtime_core* rt, cell<R> c) {
  c.header->prepare_unpublished(task_header::join_interest, 0);
  join_handle<R> h{c.header};
  runtime_spawn_blocking(rt, c.header);
  return h;
}

}  // namespace detail

/// Start a task on the runtime of the calling worker (see runtime::spawn).
/// Outside a runtime it throws errc::no_runtime; use runtime::spawn there.
///
/// The returned handle joins; dropping it detaches (never cancels).
/// Allocation: one cell (header + frame) from the frame allocator.
template <class F, class... Args>
auto spawn(F&& f, Args&&... args) {
  detail::runtime_core& rt = detail::runtime_for("weft::spawn");
  return detail::spawn_on(&rt,
                          detail::make_spawn_cell(std::forward<F>(f), std::forward<Args>(args)...));
}

/// Run blocking or CPU-heavy `f(args...)` on the runtime's elastic blocking
/// pool (threads are started on demand up to max_blocking_threads and exit
/// after blocking_keep_alive idle). co_await the handle for the result.
///
/// - completes with: f's result or its exception.
/// - cancellation: none once started (a thread cannot be interrupted); a job
///   still queued at shutdown is destroyed without running.
/// - resumes on: the awaiting task's runtime.
/// - allocation: one cell per call.
template <class F, class... Args>
auto spawn_blocking(F&& f, Args&&... args) {
  detail::runtime_core& rt = detail::runtime_for("weft::spawn_blocking");
  using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>;
  static_assert(!detail::awaitable<R>,
                "spawn_blocking runs a plain function on a blocking thread; spawn coroutines "
                "with weft::spawn");
  return detail::spawn_blocking_on(
      &rt, detail::check_created(
               detail::make_cell<R, F, Args...>(std::forward<F>(f), std::forward<Args>(args)...)));
}

/// Let other tasks run: the task goes to the back of its worker's queue.
///
/// - completes with: nothing, after at least one other ready task had a turn
///   (if there is one).
/// - cancellation: destroying the coroutine while it is queued is fine.
/// - resumes on: a worker of the same runtime (maybe another, by stealing).
/// - allocation: none.
struct [[nodiscard]] yield_awaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    detail::suspend_current_and_reschedule(h);  // re-queued when this step ends
  }
  void await_resume() const noexcept {}
};
inline yield_awaiter yield_now() noexcept { return {}; }

// ---- runtime templates --------------------------------------------------------

template <class A>
  requires detail::awaitable<A>
decltype(auto) runtime::block_on(A&& a) {
  check_alive();
  if (detail::in_runner()) {
    throw_error(errc::nested_runtime,
                "runtime::block_on called on a thread that already runs a weft runner (a worker "
                "thread or another block_on): nested event loops deadlock; co_await the "
                "operation instead, or call block_on from a plain thread");
  }
  using R = detail::await_result_t<A>;
  auto h = detail::spawn_on(core_, detail::check_created(detail::make_ref_await_cell<R, A>(a)));
  if (flavor() != runtime_flavor::multi_thread) {
    // This thread drives the runtime: one worker (current_thread), or every
    // virtual worker in the seed's order (simulation).
    detail::runtime_run_until_complete(core_, h.header());
    return h.take_ready();
  }
  return weft::block_on(std::move(h));
}

template <class F, class... Args>
auto runtime::spawn(F&& f, Args&&... args) {
  check_alive();
  return detail::spawn_on(core_,
                          detail::make_spawn_cell(std::forward<F>(f), std::forward<Args>(args)...));
}

template <class F, class... Args>
auto runtime::spawn_blocking(F&& f, Args&&... args) {
  check_alive();
  using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>;
  static_assert(!detail::awaitable<R>,
                "spawn_blocking runs a plain function on a blocking thread; spawn coroutines "
                "with runtime::spawn");
  return detail::spawn_blocking_on(
      core_, detail::check_created(
                 detail::make_cell<R, F, Args...>(std::forward<F>(f), std::forward<Args>(args)...)));
}

}  // namespace weft
