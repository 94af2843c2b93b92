// Shutdown: the numbered protocol of runtime_core.hpp, in one place.
//
//   1. refuse work from outside;
//   2. let the tasks finish, up to the timeout (a current-thread runtime is
//      driven here by the current-thread loop, a simulation by its seeded
//      loop; worker threads keep running on their own);
//   3. close the owned list, stop and join the workers (each quiesces its
//      I/O driver before its thread exits);
//   4. quiesce the current-thread driver, forget queued entries;
//   5. destroy the tasks left;
//   6. stop the blocking pool.
#include "scheduler/runtime_core.hpp"
#include "scheduler/simulation.hpp"

#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>

namespace weft::detail {

void runtime_core::shutdown(std::chrono::nanoseconds timeout) noexcept {
  // ORDERING: acq_rel: the first caller does the work; later calls return.
  if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  // Saturating: shutdown(nanoseconds::max()) waits for the tasks, unbounded.
  const auto deadline = steady_deadline_after(timeout);
  // 1. Refuse work from outside.
  // ORDERING: release: pairs with the acquire in spawn.
  closed_to_remote_.store(true, std::memory_order_release);
  // 2. Let tasks finish. A current-thread runtime runs only inside block_on,
  //    so drive it here meanwhile.
  if (simulated_) {
    // Virtual workers run only when driven: drive them here, in the seeded
    // order, until every task is done, nothing can run or the timeout has
    // passed in virtual time (tasks left are destroyed below). A block_on
    // driving it on another thread finishes first.
    drive_simulation([&] { sim_->drain(timeout); });
  } else if (current_thread_) {
    sync::lock_guard<sync::mutex> lock(driver_mu_);
    worker_scope scope(this, workers_[0].get());
    current_thread_loop(*workers_[0], nullptr, deadline);
  } else {
    (void)owned_.wait_idle(timeout);
  }
  // 3. No more spawns; stop the workers.
  owned_.close();
  // ORDERING: release: workers acquire it in is_shutting_down.
  shutting_down_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->driver->unpark();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  sync::unique_lock<sync::mutex> driver_lock(driver_mu_);  // a current-thread block_on ends first
  // The current-thread runtime's driver: end its I/O before tasks go.
  if (current_thread_) {
    worker_scope scope(this, workers_[0].get());
    workers_[0]->driver->quiesce();
  }
  // 4. Forget queued entries (each is also owned).
  inject_.close();
  inject_.drain([](task_header*) {});
  for (auto& w : workers_) {
    w->lifo = nullptr;
    w->deferred.clear();
    while (w->queue.pop() != nullptr) {
    }
  }
  // 5. Destroy what is left.
  while (task_header* t = owned_.pop()) {
    cell_cancel(t);
    t->unref();  // the owned reference
  }
  // Destructors may have woken tasks: those entries are dropped too.
  inject_.drain([](task_header*) {});
  // 6. The blocking pool.
  blocking_.shutdown(deadline);
}


}  // namespace weft::detail
