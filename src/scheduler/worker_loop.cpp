// The worker loop: one pass is step(); a worker thread calls it until
// shutdown, parking in between; the current-thread loop
// (current_thread_loop.cpp) and the simulation (simulation.cpp) call the same
// step() and park halves. See runtime_core.hpp for the design.
//
// A worker's states, as the loop moves it (the simulation drives the same
// transitions one at a time, in a seeded order):
//
//   RUNNING --step() found nothing--> WANTS_PARK
//   WANTS_PARK --park_enter(): local work appeared--> RUNNING
//   WANTS_PARK --park_enter(): listed as a sleeper in idle--> PARKED
//   PARKED --driver wakes it (unpark, timer due, I/O)--> PARKED_AWAKE
//   PARKED_AWAKE --park_after_wake(): notified, or its own timers/I/O
//                  produced work--> RUNNING
//   PARKED_AWAKE --park_after_wake(): spurious--> PARKED
//
// The window between WANTS_PARK and PARKED is where a wake from elsewhere
// can be lost: a task pushed to the inject queue after this worker's search
// found it empty, while this worker still counts as searching (so the pusher
// unparks nobody). park_enter closes it: the last searcher to park looks at
// every queue again (notify_if_work_pending).
#include "scheduler/runtime_core.hpp"

#include <weft/detail/deadline.hpp>
#include <weft/detail/planted_bug.hpp>

#include <pthread.h>
#include <algorithm>
#include <csignal>

namespace weft::detail {
namespace {
std::uint64_t next_random(std::uint64_t& s) noexcept {
  // xorshift64: victim choice only needs to be cheap and spread out.
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}
}  // namespace

void runtime_core::worker_main(worker& w) {
#if defined(WEFT_TSAN)
  // TSan runs a signal handler only inside a call it intercepts, and a worker
  // parks in raw io_uring_enter: a SIGINT/SIGTERM that the kernel hands to a
  // parked worker would never reach weft's signal driver. Under TSan only,
  // workers leave those two to other threads (futex_parker.hpp has the other
  // half: block_on waits in an intercepted call there).
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
#endif
  worker_scope scope(this, &w);
  if (cfg_.on_thread_start) cfg_.on_thread_start();
  while (!is_shutting_down()) {
    if (step(w) == step_outcome::idle) park_worker(w);
  }
  // Before this thread goes: end the I/O it started (the kernel would cancel
  // it at thread exit, but the ops' completions must still be reaped).
  w.driver->quiesce();
  if (cfg_.on_thread_stop) cfg_.on_thread_stop();
}

runtime_core::step_outcome runtime_core::step(worker& w) {
  if (task_header* t = next_task(w)) {
    run_task(w, t);
    return step_outcome::progressed;
  }
  if (fire_timers(w)) return step_outcome::progressed;
  // Before running our own yielders again, help with others' work: a
  // worker whose only tasks yield would otherwise spin on them while
  // another worker's queue waits.
  if (task_header* t = steal_work(w)) {
    run_task(w, t);
    return step_outcome::progressed;
  }
  if (flush_deferred(w)) {
    end_search(w);
    return step_outcome::progressed;
  }
  return step_outcome::idle;
}

task_header* runtime_core::next_task(worker& w) {
  if (--w.ticks_to_event == 0) {
    w.ticks_to_event = cfg_.event_interval;
    // Fairness: the inject queue, the timers and I/O get a turn even when
    // local work never runs out. poll() also hands the I/O queued since the
    // last park to the kernel.
    fire_timers(w);
    (void)w.driver->poll();
    if (task_header* t = inject_.pop()) return t;
  }
  if (w.lifo != nullptr) {
    // The cap keeps a pair of tasks waking each other through the slot from
    // starving the local queue and the tasks that yielded here. With both
    // empty there is nothing to starve (the inject queue and timers get
    // their turn every event_interval ticks regardless), and queueing the
    // task would only offer a lone chain of spawns to a thief.
    const bool queue_empty = !w.queue.has_tasks();
    if (w.lifo_polls < cfg_.max_lifo_polls || (queue_empty && w.deferred.empty())) {
      ++w.lifo_polls;
      return std::exchange(w.lifo, nullptr);
    }
    // The slot ran max_lifo_polls times in a row: queue it behind the rest —
    // behind the yielded tasks too, which otherwise wait for an empty queue
    // that a chain running through the slot never leaves (found by review:
    // a yielder waited 3 s behind a chain of 4 million spawns).
    if (queue_empty) {
      (void)flush_deferred(w);
      // No other worker is woken for a lone task: this one pops its queue
      // next, and a wake here would hand a chain of spawns back and forth
      // between workers, one unpark system call every max_lifo_polls links.
      enqueue_local(w, std::exchange(w.lifo, nullptr));
    } else {
      push_local(w, std::exchange(w.lifo, nullptr));  // more work than this worker: share it
    }
  }
  w.lifo_polls = 0;
  if (task_header* t = w.queue.pop()) return t;
  // Its own queue ran dry: it no longer spawns faster than it runs.
  // ORDERING: relaxed: a hint read by thieves (steal_from_spawner).
  if (w.overflowing.load(std::memory_order_relaxed)) {
    w.overflowing.store(false, std::memory_order_relaxed);  // ORDERING: as above
  }
  // A worker whose queue overflows spawns faster than it runs: take half of
  // its queue — its newest work, still in cache — before the inject queue's
  // backlog (queued earliest, cold by now). Otherwise the backlog grows while
  // this worker runs the coldest tasks, and at a million spawned tasks every
  // task is a cache miss (docs/design.md, "The scheduler at scale").
  if (task_header* t = steal_from_spawner(w)) return t;
  // Refill from the global queue: one to run, up to half a queue to keep.
  task_header* first = nullptr;
  bool rest_requeued = false;
  inject_.pop_n(
      w.queue.remaining_slots() / 2 + 1,
      [&](task_header* t) {
        if (first == nullptr) {
          first = t;
        } else {
          enqueue_local(w, t);
        }
      },
      &rest_requeued);
  // While pop_n held the list, the inject queue looked empty: a worker that
  // went to sleep then is woken now, as a push would have.
  if (rest_requeued) notify_parked();
  return first;
}

task_header* runtime_core::steal_from_spawner(worker& w) {
  if (current_thread_) return nullptr;
  for (auto& vp : workers_) {
    worker& victim = *vp;
    // ORDERING: relaxed: a hint; the steal itself synchronises with the
    // victim's pushes.
    if (&victim == &w || !victim.overflowing.load(std::memory_order_relaxed)) continue;
    if (task_header* t = victim.queue.steal_into(w.queue)) {
      // A batch: there may be enough for a sleeping worker too.
      if (w.queue.has_tasks()) notify_parked();
      return t;
    }
  }
  return nullptr;
}

task_header* runtime_core::steal_work(worker& w) {
  if (current_thread_) return inject_.pop();
  if (!w.searching) {
    if (!idle_.transition_worker_to_searching()) return nullptr;
    w.searching = true;
  }
  const std::size_t n = workers_.size();
  const std::size_t start = static_cast<std::size_t>(next_random(w.rng) % n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t victim = (start + i) % n;
    if (victim == w.index) continue;
    if (task_header* t = workers_[victim]->queue.steal_into(w.queue)) return t;
  }
  return inject_.pop();
}

void runtime_core::end_search(worker& w) {
  if (!w.searching) return;
  // Found work: stop searching. If we were the last searcher, wake another
  // worker to look for more (there may be more where this came from).
  w.searching = false;
  if (idle_.transition_worker_from_searching()) notify_parked();
}

void runtime_core::run_task(worker& w, task_header* t) {
  end_search(w);
  if (!t->transition_to_running()) return;
  budget() = initial_budget;
  if (run_step(t) == step_result::notified) {
    // Woken during its own step (yield_now, or a wake that raced its
    // suspension): it runs again once the queues here are empty.
    w.deferred.push(t);
  }
}

bool runtime_core::flush_deferred(worker& w) {
  if (w.deferred.empty()) return false;
  // As many as the local queue has room for (at least one, so the worker
  // makes progress even while a thief holds slots); the rest wait in order.
  const std::size_t n = std::max<std::size_t>(1, std::min(w.deferred.size(), w.queue.remaining_slots()));
  for (std::size_t i = 0; i < n; ++i) enqueue_local(w, w.deferred.pop_front());
  // One task we pop at once; only a batch leaves work for others to steal.
  if (n > 1) notify_parked();
  return true;
}

bool runtime_core::fire_timers(worker& w) {
  if (w.timers.due_hint == timer_shard::no_timer) return false;  // no clock read, no lock
  const std::uint64_t now = clock_.now_tick();
  if (now < w.timers.due_hint) return false;
  return w.timers.fire_due(now) > 0;
}

std::optional<std::chrono::nanoseconds> runtime_core::timeout_for_next_timer(worker& w) {
  auto next = w.timers.next_expiration();
  if (!next) return std::nullopt;
  return time_left(clock_.time_of(*next), clock_.now());
}

// ---- parking (multi-thread and simulation) ---------------------------------------

bool runtime_core::park_enter(worker& w) {
  if (has_local_work(w)) return false;
  const bool was_searching = std::exchange(w.searching, false);
  if (idle_.transition_worker_to_parked(w.index, was_searching) &&
      !planted(planted_bug::skip_last_searcher_recheck)) {
    // We were the last searcher: work pushed while we decided to park would
    // otherwise wait for the next push to be noticed.
    notify_if_work_pending();
  }
  return true;
}

bool runtime_core::park_after_wake(worker& w) {
  const bool io_done = has_local_work(w);  // completions delivered in park woke tasks here
  const bool fired = fire_timers(w);
  if (idle_.was_notified(w.index)) {
    w.searching = true;  // the notifier counted us as searching
    return true;
  }
  if ((fired || io_done) && has_local_work(w)) {
    // Our own timers or I/O produced work: leave the parked set ourselves.
    if (!idle_.unpark_worker_by_id(w.index)) w.searching = true;
    return true;
  }
  return false;
}

void runtime_core::park_worker(worker& w) {
  if (!park_enter(w)) return;
  for (;;) {
    if (is_shutting_down()) {
      (void)idle_.unpark_worker_by_id(w.index);
      return;
    }
    w.driver->park(timeout_for_next_timer(w));
    if (park_after_wake(w)) return;
  }
}

}  // namespace weft::detail
