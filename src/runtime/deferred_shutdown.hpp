// Deferred shutdown — a runtime destroyed on one of its own threads.
//
// The last owner of a runtime can be one of the runtime's tasks (a task that
// holds a shared_ptr<runtime>), a blocking job, a dispatcher callback or a
// role's task. Shutting down there would wait for the thread it runs on: a
// worker would join itself (std::thread::join throws EDEADLK inside a
// noexcept destructor), a current-thread runtime would wait for its own
// block_on. So ~runtime hands the core to a reaper thread that runs the usual
// shutdown (dispatchers, roles, tasks, drivers, blocking pool) and releases
// the core, while the destroying thread returns to its task at once.
//
// Reaper threads: each one is kept in a process-wide list and joined by the
// next deferral once it has finished, and at process exit (an atexit
// handler; the list itself is never destroyed, so a reaper left running by an
// exit on a runtime thread still finds it), so no thread object or stack
// outlives its work for long. A
// reaper still running at exit is waited for: its shutdown is bounded by the
// runtime's shutdown_timeout.
#pragma once

#include <cstddef>

namespace weft::detail {

class runtime_core;

/// Shut `core` down (with its dispatchers and roles) and release it on a
/// reaper thread. Never blocks on `core`. If no thread can be started, writes
/// a message to stderr and leaks the runtime instead of terminating.
void shut_down_on_reaper_thread(runtime_core* core) noexcept;

/// Reaper threads not yet joined (tests check that they do not pile up).
std::size_t reaper_threads_for_test();

}  // namespace weft::detail
