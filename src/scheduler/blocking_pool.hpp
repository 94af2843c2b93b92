// blocking_pool — where spawn_blocking runs: an elastic set of threads.
//
// Design
// ------
// A FIFO of cells under one mutex and condition variable. submit() queues a
// job and wakes an idle thread; if none is idle and fewer than max_threads
// exist, it starts one. A thread that has waited keep_alive with nothing to do
// exits (its std::thread is parked in exited_ and joined by the next submit or
// by shutdown). Each job is a cell that runs to completion in one step; its
// joiner is woken on the joiner's own runtime.
//
// Blocking jobs are not in the runtime's owned-task list: a running one cannot
// be destroyed under the thread running it. Shutdown (shutdown()) refuses new
// jobs, destroys the queued ones, and waits up to the deadline for running
// ones; threads still busy after it are detached and finish on their own
// (each holds a reference to the runtime core, so nothing they touch is
// freed).
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
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
  };

  /// `owner` is retained by every thread and every job's header.
  blocking_pool(scheduler& owner, config cfg);
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;
  ~blocking_pool();

  /// Queue a fresh cell (it gets the pool as its scheduler). False if shut down.
  [[nodiscard]] bool submit(task_header* t);

  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  // scheduler: a blocking job is only ever scheduled once, by submit.
  void schedule(task_header* t) noexcept override;
  bool on_complete(task_header* t) noexcept override;
  void retain() noexcept override { owner_.retain(); }
  void release() noexcept override { owner_.release(); }

 private:
  void thread_main();

  scheduler& owner_;
  const config cfg_;
  sync::mutex mu_;
  sync::condition_variable work_cv_;  // jobs queued / shutdown
  sync::condition_variable done_cv_;  // a thread exited
  std::deque<task_header*> queue_;    // guarded by mu_
  std::vector<std::thread> threads_;  // guarded by mu_ (joinable ones)
  std::size_t num_threads_ = 0;       // live threads; guarded by mu_
  std::size_t idle_threads_ = 0;      // waiting for work; guarded by mu_
  std::size_t next_name_ = 0;         // guarded by mu_
  bool shutdown_ = false;             // guarded by mu_
};

}  // namespace weft::detail
