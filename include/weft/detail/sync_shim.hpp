// weft/detail/sync_shim.hpp — the one place the scheduler gets its atomics,
// mutexes and threads from.
//
// Why a shim: every concurrency primitive the scheduler, the queues and the
// timer driver use is named through here, so a model checker or a
// deterministic scheduler can stand in for std:: by swapping this one header
// (build with WEFT_MODEL_CHECK and provide weft/detail/model_sync.hpp). Under
// that mode the queue capacities shrink (see local_queue_capacity) so the
// interesting states — full, wrapped, half-stolen — are reached in a handful
// of steps.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#if defined(WEFT_MODEL_CHECK)
#include <weft/detail/model_sync.hpp>
#endif

namespace weft::detail::sync {

#if !defined(WEFT_MODEL_CHECK)
template <class T>
using atomic = std::atomic<T>;
using mutex = std::mutex;
using condition_variable = std::condition_variable;
using thread = std::thread;
template <class M>
using unique_lock = std::unique_lock<M>;
template <class M>
using lock_guard = std::lock_guard<M>;

// Slots in a worker's local run queue. A power of two.
inline constexpr std::size_t local_queue_capacity = 256;

/// Spin-loop hint for the few places that spin briefly (a thief finishing a
/// steal). Under a model checker this becomes a yield point.
inline void spin_hint() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
#endif

}  // namespace weft::detail::sync
