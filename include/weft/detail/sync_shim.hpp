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
#include <pthread.h>
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

/// Spin-loop hint for the few places that spin briefly (a thief finishing a
/// steal). Under a model checker this becomes a yield point.
inline void spin_hint() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

/// A mutex for short critical sections that several threads hit at once (the
/// inject queue, owned-task shards, timer shards): glibc's adaptive mutex,
/// which spins briefly before sleeping in the kernel. The default mutex goes
/// to sleep on the first contention, and a sleep/wake pair costs far more
/// than these critical sections.
class spin_mutex {
 public:
  spin_mutex() noexcept {
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&m_, &attr);
    pthread_mutexattr_destroy(&attr);
#else
    pthread_mutex_init(&m_, nullptr);
#endif
  }
  spin_mutex(const spin_mutex&) = delete;
  spin_mutex& operator=(const spin_mutex&) = delete;
  ~spin_mutex() { pthread_mutex_destroy(&m_); }
  void lock() noexcept { pthread_mutex_lock(&m_); }
  bool try_lock() noexcept { return pthread_mutex_trylock(&m_) == 0; }
  void unlock() noexcept { pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t m_;
};

/// A test-and-test-and-set spinlock for critical sections of a few
/// instructions that are rarely contended (an owned-task shard: link or unlink
/// one node). Uncontended, lock is one exchange and unlock one store, with no
/// call into the C library. A waiter that spins too long yields its core, so
/// a preempted holder is not starved.
class spinlock {
 public:
  void lock() noexcept {
    // ORDERING: acquire: pairs with unlock's release; the holder sees the
    // previous holder's writes.
    while (locked_.exchange(true, std::memory_order_acquire)) {
      int spins = 0;
      // ORDERING: relaxed: only a hint to retry the exchange.
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          spin_hint();
        } else {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  bool try_lock() noexcept {
    // ORDERING: acquire, as lock.
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept {
    // ORDERING: release: publishes the critical section to the next holder.
    locked_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<bool> locked_{false};
};

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

/// Read `a` after a full store-load barrier: the reader's half of the Dekker
/// pattern ("publish work, then look whether anyone sleeps"). A seq_cst fence
/// then a relaxed load keeps the cache line shared between cores. Under
/// ThreadSanitizer, which does not model fences (GCC refuses them there), it
/// is the equivalent seq_cst read-modify-write of `a` instead.
template <class T>
T load_after_full_barrier(std::atomic<T>& a) noexcept {
#if defined(WEFT_TSAN)
  return a.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return a.load(std::memory_order_relaxed);
#endif
}

// Slots in a worker's local run queue. A power of two.
inline constexpr std::size_t local_queue_capacity = 256;

#endif

}  // namespace weft::detail::sync
