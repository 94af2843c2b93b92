// weft/sync/mutex.hpp — weft::mutex, a fair asynchronous mutex.
//
//   weft::mutex m;
//   {
//     weft::mutex_guard g = co_await m.lock();   // waits without blocking a thread
//     ...                                        // critical section; may co_await
//   }                                            // unlocked here
//
// Fair (FIFO): lockers get the lock in the order they started waiting. An
// unlock with waiters hands the lock directly to the oldest one — nobody
// barges in between, not even try_lock (which fails while anyone waits). It is
// a one-permit detail::fifo_permits (weft/sync/fifo_permits.hpp).
//
// Unlike std::mutex, the lock is not tied to a thread: a guard may be moved to
// and released by another task, or a plain thread.
#pragma once

#include <weft/sync/fifo_permits.hpp>

#include <coroutine>
#include <cstddef>
#include <optional>

namespace weft {

class mutex;
class mutex_lock_awaiter;

namespace detail {
/// Test and diagnostic accessor: how many tasks wait for `m` right now.
std::size_t waiter_count(const mutex& m) noexcept;
}  // namespace detail

/// Owns a locked weft::mutex; unlocks it on destruction (move-only RAII).
/// Unlocking hands the lock to the oldest waiter, if any, and wakes it.
class [[nodiscard]] mutex_guard {
 public:
  /// A guard that owns nothing.
  mutex_guard() noexcept = default;
  mutex_guard(mutex_guard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  /// Unlocks what this guard held, then takes over `o`'s lock.
  mutex_guard& operator=(mutex_guard&& o) noexcept;
  mutex_guard(const mutex_guard&) = delete;
  mutex_guard& operator=(const mutex_guard&) = delete;
  ~mutex_guard();

  /// Unlock now. Any thread. Throws std::system_error
  /// (std::errc::operation_not_permitted) if the guard owns no lock (moved
  /// from, default-constructed, or already unlocked).
  void unlock();

  [[nodiscard]] bool owns_lock() const noexcept { return m_ != nullptr; }

 private:
  friend class mutex;
  friend class mutex_lock_awaiter;
  explicit mutex_guard(mutex& m) noexcept : m_(&m) {}
  mutex* m_ = nullptr;
};

/// The awaitable returned by mutex::lock().
///
/// - completes with: a mutex_guard owning the lock. At once (no suspension)
///   when the mutex is free and nobody waits; else after the lock was handed
///   to this waiter by an unlock, in FIFO order.
/// - budget: a lock taken at once counts against the task's cooperative
///   budget; when it is spent the lock is kept and the task yields first, so
///   a hot loop on a free mutex still lets other tasks run.
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) at any point is safe: before it
///   queued nothing happened; while queued it leaves the queue; if the lock
///   was already handed to it (or taken while yielding) but it never resumed,
///   the lock passes on to the next waiter (or is freed). Nothing leaks.
/// - resumes on: the awaiting task's runtime (a worker, or its block_on
///   thread), never inline in the unlocking thread.
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the mutex must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited (with_cancellation moves it in);
///   awaiting it a second time, or after it was moved from, throws
///   std::logic_error (in every build).
class [[nodiscard]] mutex_lock_awaiter {
 public:
  explicit mutex_lock_awaiter(mutex& m) noexcept;
  mutex_lock_awaiter(mutex_lock_awaiter&&) noexcept = default;

  bool await_ready() { return acq_.ready(); }  // throws std::logic_error if awaited twice
  bool await_suspend(std::coroutine_handle<> h) { return acq_.suspend(h); }
  mutex_guard await_resume() noexcept {
    acq_.take();
    return mutex_guard{*m_};
  }

 private:
  mutex* m_;
  detail::permit_acquire acq_;
};

class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;
  /// Aborts with a message if the mutex is locked or tasks wait for it: their
  /// guards or queue nodes would point into freed memory.
  ~mutex();

  /// Wait for the lock: `auto g = co_await m.lock();` (see mutex_lock_awaiter).
  mutex_lock_awaiter lock() noexcept { return mutex_lock_awaiter{*this}; }

  /// The lock if it is free and nobody waits for it; else nullopt. Any thread.
  [[nodiscard]] std::optional<mutex_guard> try_lock() noexcept {
    if (!core_.try_acquire(1)) return std::nullopt;
    return mutex_guard{*this};
  }

 private:
  friend class mutex_guard;
  friend class mutex_lock_awaiter;
  friend std::size_t detail::waiter_count(const mutex& m) noexcept;
  detail::fifo_permits core_{1};
};

inline mutex_lock_awaiter::mutex_lock_awaiter(mutex& m) noexcept : m_(&m), acq_(m.core_, 1) {}

inline mutex_guard::~mutex_guard() {
  if (m_ != nullptr) m_->core_.release(1);
}

inline mutex_guard& mutex_guard::operator=(mutex_guard&& o) noexcept {
  if (this != &o) {
    if (m_ != nullptr) m_->core_.release(1);
    m_ = o.m_;
    o.m_ = nullptr;
  }
  return *this;
}

inline std::size_t detail::waiter_count(const mutex& m) noexcept { return m.core_.waiters(); }

}  // namespace weft
