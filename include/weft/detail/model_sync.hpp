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
//   model/execution.hpp  baton-passing threads, choice points, the search
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
//   - Sequential consistency: each atomic has one current value and every
//     load returns it.
//   - Deadlock (all unfinished threads blocked), livelock (more than
//     options::max_steps operations in one execution), an exception escaping
//     a model thread, a failed model::require, a mutex unlocked by a
//     non-owner, a model thread destroyed unjoined, and any access to a model
//     atomic after its destructor ran (use after free).
//   - An assert() failing in the code under test aborts the process; a
//     SIGABRT handler first prints the steps and replay choices so far.
//
// WHAT IS NOT MODELED (a passing check says nothing about these)
//   - Weak memory orders. memory_order arguments are ignored: a relaxed or
//     acquire load always returns the latest store in the schedule's total
//     order; there are no store buffers and no reordering. So an ORDERING
//     comment that names too weak an order is NOT caught here (ThreadSanitizer
//     and review are what check those). Fences and load_after_full_barrier
//     are SC operations.
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

/// Under the model every access is sequentially consistent, so the full
/// barrier is implied: this is one SC load.
template <class T>
T load_after_full_barrier(model::atomic<T>& a) {
  return a.load(std::memory_order_seq_cst);
}

/// Four slots: full, wrapped and half-stolen states in a few pushes.
inline constexpr std::size_t local_queue_capacity = 4;

}  // namespace weft::detail::sync
