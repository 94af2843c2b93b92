// The current-thread loop: one worker driven by the calling thread. It serves
// runtime::block_on on a current-thread runtime and the drain in shutdown
// (step 2) of a current-thread runtime: the same step() as every worker
// (worker_loop.cpp), then park in the worker's driver — or, with virtual
// time (start_paused), jump the clock to the next timer when every task
// waits.
#include "scheduler/runtime_core.hpp"
#include "scheduler/simulation.hpp"

#include <weft/detail/deadline.hpp>

namespace weft::detail {

void runtime_core::current_thread_loop(
    worker& w, task_header* until, std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    // Until the root completes (block_on), or until every owned task is
    // done or the deadline passes (shutdown's drain).
    if (until != nullptr ? until->is_complete() : owned_.all_empty()) return;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return;
    if (step(w) == step_outcome::progressed) continue;
    park_current_thread(w, until, deadline);
  }
}

void runtime_core::park_current_thread(
    worker& w, task_header* until, std::optional<std::chrono::steady_clock::time_point> deadline) {
  // One worker: nobody to coordinate with. Remote wakes unpark us directly.
  if (has_local_work(w)) return;
  if (until != nullptr && until->is_complete()) return;
  if (!inject_.is_empty()) return;
  std::optional<std::chrono::nanoseconds> timeout;
  if (clock_.paused()) {
    // Every task waits: jump virtual time to the next timer (the loop fires
    // it). With no timer, wait for a wake from outside.
    if (auto next = w.timers.next_expiration()) {
      clock_.advance_to(clock_.time_of(*next));
      return;
    }
  } else {
    timeout = timeout_for_next_timer(w);
  }
  if (deadline) {
    const auto left = time_left(*deadline, std::chrono::steady_clock::now());
    timeout = timeout ? std::min(*timeout, left) : left;
  }
  w.driver->park(timeout);
}

void runtime_core::run_until_complete(task_header* root) {
  if (simulated_) {
    check_simulation_thread("block_on");
    // One driver at a time: a shutdown on another thread (a runtime
    // destroyed in one of its tasks is shut down by a reaper thread) waits
    // until this block_on returns.
    drive_simulation([&] { sim_->run_until(root); });
    return;
  }
  sync::lock_guard<sync::mutex> lock(driver_mu_);
  worker_scope scope(this, workers_[0].get());
  // Tasks may install a park hook for this block_on (weft/park_hook.hpp):
  // the driver then parks in it. It goes when block_on returns.
  park_hook_scope hooks(&workers_[0]->driver->hooks);
  current_thread_loop(*workers_[0], root, std::nullopt);
}

}  // namespace weft::detail
