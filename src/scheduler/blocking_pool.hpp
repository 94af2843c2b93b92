// blocking_pool — where spawn_blocking runs: an elastic set of threads.
//
// Design
// ------
// A FIFO of cells under one mutex and condition variable. submit() queues a
// job and wakes an idle thread; if none is idle and fewer than max_threads
// exist, it starts one. A thread that has waited keep_alive with nothing to do
// exits: under the lock it moves its own std::thread from threads_ to exited_
// (it cannot join itself), and the next submit or shutdown joins what is in
// exited_ — outside the lock, never the calling thread's own object (a thread
// found there is detached instead). So the std::thread objects held stay at
// most the live threads plus those that exited since the last submit, and
// exited threads' stacks are released.
//
// Thread lifecycle (each step under mu_ unless noted):
//   submit: num_threads_++, std::thread created into threads_
//     -> RUNNING/IDLE (thread_main loop)
//     -> keep_alive idle, or shutdown with nothing queued: num_threads_--,
//        stopping_threads_++ (shutdown waits for both to drain)
//     -> (no lock) on_thread_stop
//     -> stopping_threads_--, own std::thread spliced threads_ -> exited_
//        (after the hook, so a
//        submit, which may run on a runtime worker, never waits for a
//        user's hook in its join)
//     -> (no lock) owner release, return
//     -> joined by the next submit or by shutdown (or detached by shutdown
//        past its deadline / when the caller is that very thread)
// Each job is a cell that runs to completion in one step; its joiner is woken
// on the joiner's own runtime.
//
// Blocking jobs are not in the runtime's owned-task list: a running one cannot
// be destroyed under the thread running it. Shutdown (shutdown()) refuses new
// jobs, destroys the queued ones, and waits up to the deadline for running
// ones; threads still busy after it are detached and finish on their own
// (each holds a reference to the runtime core, so nothing they touch is
// freed). Shutdown called on a pool thread (a job that ended the runtime)
// waits for the other threads only and detaches its own std::thread.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <thread>
#include <vector>

namespace weft::detail {

class blocking_pool final : public scheduler {
 public:
  struct config {
    std::size_t max_threads;
    std::chrono::nanoseconds keep_alive;
    std::string thread_name;
    std::function<void()> on_thread_start;
    std::function<void()> on_thread_stop;
    // A simulation's pool: submit only queues, and the simulation runs each
    // job on its own thread with run_one_here(), in its seeded order.
    bool threadless = false;
  };

  /// `owner` is retained by every thread and every job's header.
  blocking_pool(scheduler& owner, config cfg);
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;
  ~blocking_pool();

  /// Queue a fresh cell (it gets the pool as its scheduler). False if shut down.
  [[nodiscard]] bool submit(task_header* t);

  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  /// Threadless pools (a simulation): whether a job is queued, and run the
  /// oldest one here, as a pool thread would (the calling thread counts as
  /// one of the pool's for the job's duration). False if none was queued.
  [[nodiscard]] bool has_queued();
  bool run_one_here();

  /// For tests: std::thread objects held (live threads, plus exited ones not
  /// yet joined).
  [[nodiscard]] std::size_t thread_objects_held();

  // scheduler: a blocking job is only ever scheduled once, by submit.
  void schedule(task_header* t) noexcept override;
  bool on_complete(task_header* t) noexcept override;
  void retain() noexcept override { owner_.retain(); }
  void release() noexcept override { owner_.release(); }

 private:
  using thread_list = std::list<std::thread>;
  void thread_main(thread_list::iterator self);
  /// Join (outside mu_) threads that exited; the caller's own is detached.
  static void join_exited(thread_list& exited) noexcept;

  scheduler& owner_;
  const config cfg_;
  sync::mutex mu_;
  sync::condition_variable work_cv_;  // jobs queued / shutdown
  sync::condition_variable done_cv_;  // a thread exited
  std::deque<task_header*> queue_;    // guarded by mu_
  thread_list threads_;               // guarded by mu_: threads not yet exited
  thread_list exited_;                // guarded by mu_: exited, to be joined
  std::size_t num_threads_ = 0;       // live threads; guarded by mu_
  std::size_t stopping_threads_ = 0;  // left the loop, hook not done; guarded by mu_
  std::size_t idle_threads_ = 0;      // waiting for work; guarded by mu_
  std::size_t next_name_ = 0;         // guarded by mu_
  bool shutdown_ = false;             // guarded by mu_
};

}  // namespace weft::detail
