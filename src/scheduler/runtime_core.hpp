// runtime_core — the shared state of one runtime and its work-stealing loop.
//
// Design
// ------
// Workers. N workers (threads for multi_thread; the block_on caller for
// current_thread, N = 1; virtual workers taking turns on the block_on caller
// for simulation, see simulation.hpp). Each (worker.hpp) has:
//   * a LIFO slot: the task most recently woken or spawned by the task running
//     on this worker runs next (message-passing locality: the receiver runs
//     while the message is hot). Not stealable; at most max_lifo_polls runs
//     in a row, then the slot's task goes to the back of the local queue, so a
//     pair of tasks ping-ponging through the slot cannot starve the queue;
//   * a local queue (256 slots, lock-free; the owner pushes and pops, thieves
//     steal half); overflow moves half of it to the inject queue;
//   * a timer shard and a park driver.
// The inject queue takes work from outside the runtime (rt.spawn, wakes from
// foreign threads) and overflow; every event_interval (61) ticks a worker
// looks there first, so it is never starved by local work.
//
// The loop, per worker (worker_loop.cpp; one pass is step(), which worker
// threads, the current-thread loop and the simulation all call):
//   1. next task: inject (every 61st tick), the LIFO slot (capped), the local
//      queue, then the inject queue;
//   2. none: fire due timers; then search — at most half the workers at once
//      (idle.hpp) — stealing half of a random victim's queue, then the inject
//      queue; then requeue the tasks that yielded here (they wait until
//      everything else ready had its turn);
//   3. still none: park in the driver until unparked or the next timer is due.
//
// Waking work (schedule): on one of this runtime's workers, into its LIFO
// slot; from anywhere else, into the inject queue. Either way, if no worker is
// searching and one is parked, exactly one is unparked (targeted, never all).
//
// Where the code is: worker_loop.cpp (step, search, park), current_thread_
// loop.cpp (the loop of block_on, the current-thread flavour and shutdown's
// drain), shutdown.cpp (the protocol below), simulation.cpp (the seeded
// driver of virtual workers), this file's .cpp (construction, spawn, wakes).
//
// Shutdown of a whole runtime (shutdown_tree()): the attached extension's
// begin_shutdown (the dispatchers, runtime_extension.hpp), then the child
// cores (child_cores.hpp), then this core:
// Shutdown of one core (shutdown()):
//   1. refuse work from outside (rt.spawn, block_on);
//   2. wait up to the timeout for the owned-task list to empty — tasks still
//      run, and may spawn, meanwhile;
//   3. close the owned list (spawn now fails everywhere), set shutting_down_,
//      unpark every worker, join the worker threads;
//   4. close the inject queue and forget every queued entry (queues hold no
//      references: every queued task is also owned);
//   5. destroy each owned task: mark it COMPLETE|CANCELLED, destroy its frame
//      (destructors run; wakes they cause are dropped), drop the owned
//      reference;
//   6. stop the blocking pool: destroy queued jobs, wait (up to what is left
//      of the timeout) for running ones.
// The core itself is reference counted (the runtime object, every task header,
// every blocking thread) and freed by its last holder.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/runtime_api.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>

#include "io/io_backend.hpp"
#include "scheduler/blocking_pool.hpp"
#include "scheduler/child_cores.hpp"
#include "scheduler/idle.hpp"
#include "scheduler/inject_queue.hpp"
#include "scheduler/owned_tasks.hpp"
#include "scheduler/park_driver.hpp"
#include "scheduler/runtime_extension.hpp"
#include "scheduler/worker.hpp"
#include "time/time_driver.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace weft::detail {

class simulation;

/// The runtime this thread is a worker of; nullptr off a worker.
scheduler* current_worker_runtime() noexcept;

class runtime_core final : public scheduler {
 public:
  /// A root runtime, or (with `root`) a child core of `root` (child_cores.hpp),
  /// which keeps a counted reference to it.
  explicit runtime_core(const runtime_config& cfg, runtime_core* root = nullptr);
  runtime_core(const runtime_core&) = delete;
  runtime_core& operator=(const runtime_core&) = delete;

  // scheduler
  void schedule(task_header* t) noexcept override;
  bool on_complete(task_header* t) noexcept override;
  void retain() noexcept override;
  void release() noexcept override;

  void start();
  /// The root of this core's tree: itself, or the runtime a child belongs to.
  [[nodiscard]] runtime_core* root() noexcept { return root_ != nullptr ? root_ : this; }
  [[nodiscard]] const runtime_core* root() const noexcept { return root_ != nullptr ? root_ : this; }
  /// The root's role cores and dedicated cores.
  [[nodiscard]] child_cores& children() noexcept { return children_; }
  /// The extension attached to this (root) runtime, made by `make` on the
  /// first call; nullptr if none was attached before shutdown began.
  std::shared_ptr<runtime_extension> attach_extension(
      const std::function<std::shared_ptr<runtime_extension>()>& make);
  /// The whole runtime's shutdown: the extension's turn, the child cores,
  /// then this core (shutdown()). Root only.
  void shutdown_tree(std::chrono::nanoseconds timeout) noexcept;
  void spawn(task_header* t);
  void spawn_blocking(task_header* t);
  void run_until_complete(task_header* root);
  void shutdown(std::chrono::nanoseconds timeout) noexcept;
  bool wait_idle(std::chrono::nanoseconds timeout) noexcept {
    return owned_.wait_idle(timeout);
  }

  bool timer_register(timer_node& n, timer_shard*& shard);
  [[nodiscard]] std::chrono::steady_clock::time_point now() const noexcept { return clock_.now(); }
  [[nodiscard]] std::uint64_t tick_for(std::chrono::steady_clock::time_point tp) const {
    return clock_.tick_for(tp);
  }

  [[nodiscard]] const runtime_config& config() const noexcept { return cfg_; }
  [[nodiscard]] io_backend backend() const noexcept { return backend_; }
  [[nodiscard]] std::size_t worker_count() const noexcept { return workers_.size(); }
  /// For tests: the blocking pool (its thread bookkeeping).
  [[nodiscard]] blocking_pool& blocking_for_tests() noexcept { return blocking_; }

 private:
  friend class simulation;
  enum class step_outcome { progressed, idle };

  ~runtime_core();
  worker* this_worker() const noexcept;

  // worker_loop.cpp
  step_outcome step(worker& w);
  void worker_main(worker& w);
  task_header* next_task(worker& w);
  task_header* steal_work(worker& w);
  task_header* steal_from_spawner(worker& w);
  void run_task(worker& w, task_header* t);
  void end_search(worker& w);
  bool park_enter(worker& w);
  bool park_after_wake(worker& w);
  void park_worker(worker& w);
  bool fire_timers(worker& w);
  bool flush_deferred(worker& w);
  std::optional<std::chrono::nanoseconds> timeout_for_next_timer(worker& w);

  // current_thread_loop.cpp
  void current_thread_loop(worker& w, task_header* until,
                           std::optional<std::chrono::steady_clock::time_point> deadline);
  void park_current_thread(worker& w, task_header* until,
                           std::optional<std::chrono::steady_clock::time_point> deadline);

  // runtime_core.cpp
  void enqueue_local(worker& w, task_header* t);  // no notify
  void push_local(worker& w, task_header* t);     // enqueue, then notify a sleeper
  void push_remote(task_header* t);
  void notify_parked();
  void notify_if_work_pending();
  void check_simulation_thread(const char* what) const;
  [[nodiscard]] bool simulation_driven_here() const noexcept {
    // ORDERING: relaxed: only this thread's own store can make it equal.
    return sim_driver_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }
  /// Drive the simulation on this thread (under driver_mu_, unless this
  /// thread drives it already: a blocking job's block_on).
  template <class F>
  void drive_simulation(F&& run);
  [[nodiscard]] bool has_local_work(const worker& w) const noexcept {
    return w.lifo != nullptr || w.queue.has_tasks() || !w.deferred.empty();
  }
  [[nodiscard]] bool is_shutting_down() const noexcept {
    // ORDERING: acquire: pairs with shutdown's release store.
    return shutting_down_.load(std::memory_order_acquire);
  }

  const runtime_config cfg_;
  runtime_core* const root_;  // counted; nullptr for a root
  const bool current_thread_;
  const bool simulated_;
  io_backend backend_ = io_backend::simulated;
  std::vector<std::unique_ptr<worker>> workers_;
  inject_queue<task_header> inject_;
  idle idle_;
  owned_tasks owned_;
  tick_clock clock_;
  blocking_pool blocking_;
  child_cores children_{*this};              // a root's role and dedicated cores
  sync::mutex extension_mu_;
  std::shared_ptr<runtime_extension> extension_;  // guarded by extension_mu_
  bool extension_closed_ = false;                 // guarded by extension_mu_
  std::unique_ptr<simulation> sim_;          // simulation flavour only
  std::thread::id sim_thread_;               // simulation: the thread that built it
  // simulation: the thread driving it now (block_on, or shutdown's drain),
  // under driver_mu_; default-constructed when none does.
  sync::atomic<std::thread::id> sim_driver_{};
  sync::mutex driver_mu_;                    // current_thread: one block_on at a time
  sync::atomic<bool> closed_to_remote_{false};
  sync::atomic<bool> shutting_down_{false};
  sync::atomic<bool> shut_down_{false};
  // Changed on every spawn and task free: on its own cache line, away from the
  // flags every worker reads on every loop iteration.
  alignas(64) sync::atomic<std::size_t> refs_{1};  // the runtime object's
};

template <class F>
void runtime_core::drive_simulation(F&& run) {
  if (simulation_driven_here()) {
    run();  // nested: a blocking job run by this very drive
    return;
  }
  sync::lock_guard<sync::mutex> lock(driver_mu_);
  // ORDERING: relaxed: read by this thread (simulation_driven_here) and by
  // check_simulation_thread on others, where only equality to the reader's
  // own id matters.
  sim_driver_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  struct reset {
    sync::atomic<std::thread::id>& d;
    ~reset() { d.store(std::thread::id{}, std::memory_order_relaxed); }  // ORDERING: as above
  } r{sim_driver_};
  run();
}

/// Makes this thread a worker of `rt` (worker `w`) for the guard's lifetime:
/// a worker thread for its life, a block_on for its call, a simulation for
/// one step of one virtual worker.
class worker_scope {
 public:
  worker_scope(runtime_core* rt, worker* w) noexcept;
  worker_scope(const worker_scope&) = delete;
  worker_scope& operator=(const worker_scope&) = delete;
  ~worker_scope();

 private:
  worker* prev_worker_;
  runtime_core* prev_rt_;
  runtime_core* prev_current_;
  bool prev_in_runner_;
};

}  // namespace weft::detail
