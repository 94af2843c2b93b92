// weft/detail/context.hpp — what is running on this thread.
//
// Two thread-local facts: the task header being resumed right now (set by
// every runner around each step: workers, block_on, branch groups) and the
// runtime whose worker this thread is (set for the life of a worker thread, and
// for the duration of a current-thread runtime's block_on).
#pragma once

#include <weft/detail/task_header.hpp>

namespace weft::detail {

class runtime_core;

/// The header being resumed on this thread, or nullptr.
task_header*& current_task() noexcept;

/// The runtime this thread is a worker of, or nullptr.
runtime_core*& current_runtime() noexcept;

/// True while this thread runs a runner loop (a worker, any block_on):
/// starting another one here is refused as a nested event loop.
bool& in_runner() noexcept;

/// The scheduler whose blocking pool this thread belongs to, or nullptr: set
/// for the life of a blocking-pool thread, so that a runtime destroyed or shut
/// down from a blocking job knows it runs on one of its own threads.
const scheduler*& blocking_pool_owner() noexcept;

/// Run one step of `t`, which the caller moved to RUNNING. Sets and restores
/// current_task around the resume; on return the step has ended.
enum class step_result {
  finished,  // the body completed; the joiner was woken, on_complete called
  idle,      // suspended; a waker will schedule it
  notified,  // suspended and already woken: the caller re-queues it
};
step_result run_step(task_header* t) noexcept;

/// The cooperative budget of the step running on this thread.
/// An awaitable that completes without suspending calls consume_budget(); once
/// it returns false the awaitable suspends and reschedules itself instead, so a
/// task whose awaits are always ready still lets others run.
inline constexpr int initial_budget = 128;
int& budget() noexcept;
inline bool consume_budget() noexcept {
  int& b = budget();
  if (b <= 0) return false;
  --b;
  return true;
}

}  // namespace weft::detail
