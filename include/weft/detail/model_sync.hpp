// weft/detail/model_sync.hpp — the model-checking backend of the sync shim
// (included by sync_shim.hpp when WEFT_MODEL_CHECK is defined).
//
// What it is: a small stateless model checker in the style of CHESS and of
// tokio's loom. A test calls weft::detail::model::check(body, options); the
// body makes model threads (sync::thread) and uses code written against
// weft::detail::sync. check() runs the body again and again, each time under a
// different interleaving of the model threads' operations, and stops at the
// first failure with the schedule that produced it.
//
//   model/execution.hpp  baton-passing threads, choice points, clocks
//   model/check.hpp      the search over executions (check), require
//   model/worker_pool.hpp real threads reused across executions
//   model/atomic.hpp     atomic<T>, with use-after-destroy detection
//   model/mutex.hpp      mutex, condition_variable, thread, spin_hint
//
// WHAT IS MODELED
//   - Every interleaving, at the granularity of model operations (each atomic
//     access, lock, unlock, try_lock, wait, notify, spawn, join, thread exit,
//     spin_hint), of up to 8 threads — in exhaustive mode, every interleaving
//     with at most options::preemption_bound preemptions (default 2), which
//     includes every interleaving without forced preemptions (switches at
//     blocking, exiting and spin_hint are free). Plain (non-atomic) memory is
//     only touched by the one running thread, so it is seen consistently.
//   - Atomics, with a bounded weak-memory model (options::weak_memory, on by
//     default). Each atomic keeps its modification order (its last
//     options::history stores, default 4) and every thread a vector clock.
//     Happens-before comes from release stores / RMWs read by acquire loads
//     or RMWs (with release sequences continued by RMWs), mutex unlock→lock,
//     spawn→body and body→join. A load that is not seq_cst may read any
//     retained store not older than one that an access happening-before it
//     (including its own earlier accesses) already saw or wrote — C++'s
//     four coherence rules — and a read of an older store is a choice point
//     (exhaustive mode explores at most options::stale_read_bound such stale
//     reads per schedule, default 1). An acquire load joins the clock the
//     store released. RMWs always read the latest store.
//   - Deadlock (all unfinished threads blocked), livelock (more than
//     options::max_steps operations in one execution), an exception escaping
//     a model thread, a failed model::require, a mutex unlocked by a
//     non-owner, a model thread destroyed unjoined, and any access to a model
//     atomic after its destructor ran (use after free).
//   - An assert() failing in the code under test aborts the process; a
//     SIGABRT handler first prints the steps and replay choices so far.
//
// WHAT IS NOT MODELED (a passing check says nothing about these)
//   - Parts of the C++ memory model: seq_cst's single total order
//     beyond "a seq_cst load reads the latest store" (stronger than C++, so
//     an algorithm that needs only what seq_cst guarantees is not explored in
//     all its allowed outcomes); stand-alone fences (there are none under the
//     model: load_after_full_barrier is a seq_cst load); a failed CAS reading
//     a stale value (it reads the latest); stores older than the history;
//     loads reading stores that come later in the schedule (load buffering,
//     out-of-thin-air); more stale reads than the bound. Plain (non-atomic)
//     memory is not versioned: it always has its latest value, so a missing
//     release/acquire that only plain data depends on is NOT caught here
//     (ThreadSanitizer checks that); one that atomic data depends on is.
//   - compare_exchange_weak's spurious failure (it behaves as strong).
//   - Spurious condition-variable wake-ups and timed waits.
//   - Preemptions between the operations of non-model code (plain memory
//     races are neither detected nor interleaved: the model assumes the
//     protocol under test guards its plain fields with the atomics it uses).
//   - Schedules beyond the preemption bound, and in random mode anything not
//     drawn.
//   - spin_mutex and spinlock are a plain model mutex (their internal spin is
//     not explored).
#pragma once

#include <weft/detail/model/atomic.hpp>
#include <weft/detail/model/check.hpp>
#include <weft/detail/model/execution.hpp>
#include <weft/detail/model/mutex.hpp>

#include <cstddef>
#include <mutex>

namespace weft::detail::sync {

template <class T>
using atomic = model::atomic<T>;
using mutex = model::mutex;
using condition_variable = model::condition_variable;
using thread = model::thread;
template <class M>
using unique_lock = std::unique_lock<M>;
template <class M>
using lock_guard = std::lock_guard<M>;

/// A yield that lets another thread run (see model/execution.hpp).
inline void spin_hint() { model::spin_hint(); }

/// Modeled as the plain model mutex (the short spin is not explored).
class spin_mutex : public model::mutex {};
class spinlock : public model::mutex {};

/// Under the model a seq_cst load reads the latest store, which is what the
/// barrier-then-load pattern relies on.
template <class T>
T load_after_full_barrier(model::atomic<T>& a) {
  return a.load(std::memory_order_seq_cst);
}

/// Four slots: full, wrapped and half-stolen states in a few pushes.
inline constexpr std::size_t local_queue_capacity = 4;

}  // namespace weft::detail::sync
