// weft/sync/shared_mutex.hpp — weft::shared_mutex, a fair reader-writer lock.
//
//   weft::shared_mutex rw;
//   { weft::shared_guard r = co_await rw.lock_shared(); ... }  // many readers at once
//   { weft::unique_guard w = co_await rw.lock(); ... }         // one writer, alone
//
// Fair like tokio's RwLock: readers and writers queue in one FIFO. A reader
// gets in at once only while no writer holds the lock and nobody waits; a
// queued writer therefore blocks every reader that comes after it, so a
// stream of readers cannot starve a writer, and a writer cannot starve the
// readers queued before it. Releases grant the queue from its head: one
// writer, or every reader up to the next writer.
//
// It is a detail::fifo_permits (weft/sync/fifo_permits.hpp) holding
// max_readers permits: a reader takes 1, a writer takes all of them.
#pragma once

#include <weft/sync/fifo_permits.hpp>

#include <coroutine>
#include <cstddef>
#include <optional>

namespace weft {

class shared_mutex;

namespace detail {
/// Test and diagnostic accessor: how many tasks (readers and writers) wait.
std::size_t waiter_count(const shared_mutex& m) noexcept;
}  // namespace detail

/// Owns the exclusive (writer) lock of a shared_mutex; releases it on
/// destruction. Move-only.
class [[nodiscard]] unique_guard {
 public:
  unique_guard() noexcept = default;
  unique_guard(unique_guard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  unique_guard& operator=(unique_guard&& o) noexcept;
  unique_guard(const unique_guard&) = delete;
  unique_guard& operator=(const unique_guard&) = delete;
  ~unique_guard();

  /// Release now. Any thread. Throws std::system_error
  /// (std::errc::operation_not_permitted) if the guard owns no lock.
  void unlock();
  [[nodiscard]] bool owns_lock() const noexcept { return m_ != nullptr; }

 private:
  friend class shared_mutex;
  friend class shared_mutex_lock_awaiter;
  explicit unique_guard(shared_mutex& m) noexcept : m_(&m) {}
  shared_mutex* m_ = nullptr;
};

/// Owns one shared (reader) lock of a shared_mutex; releases it on
/// destruction. Move-only.
class [[nodiscard]] shared_guard {
 public:
  shared_guard() noexcept = default;
  shared_guard(shared_guard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  shared_guard& operator=(shared_guard&& o) noexcept;
  shared_guard(const shared_guard&) = delete;
  shared_guard& operator=(const shared_guard&) = delete;
  ~shared_guard();

  /// Release now. Any thread. Throws std::system_error
  /// (std::errc::operation_not_permitted) if the guard owns no lock.
  void unlock();
  [[nodiscard]] bool owns_lock() const noexcept { return m_ != nullptr; }

 private:
  friend class shared_mutex;
  friend class shared_mutex_lock_shared_awaiter;
  explicit shared_guard(shared_mutex& m) noexcept : m_(&m) {}
  shared_mutex* m_ = nullptr;
};

/// The awaitables returned by shared_mutex::lock() and lock_shared().
///
/// - completes with: a unique_guard (lock) or a shared_guard (lock_shared).
///   At once when the lock is compatible and nobody waits; else when a
///   release grants this waiter, in FIFO order (see the file comment).
/// - budget: a lock taken at once counts against the cooperative budget;
///   when it is spent the lock is kept and the task yields first.
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) is safe at any point: a queued
///   waiter leaves the queue (and the waiters behind it are granted if they
///   now fit: a cancelled writer lets the readers behind it in); a waiter
///   granted but never resumed releases its lock to the next waiters.
/// - resumes on: the awaiting task's runtime, never inline in the releasing
///   thread.
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the shared_mutex must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited; awaiting it a second time, or
///   after it was moved from, throws std::logic_error (in every build).
class [[nodiscard]] shared_mutex_lock_awaiter {
 public:
  explicit shared_mutex_lock_awaiter(shared_mutex& m) noexcept;
  shared_mutex_lock_awaiter(shared_mutex_lock_awaiter&&) noexcept = default;
  bool await_ready() { return acq_.ready(); }  // throws std::logic_error if awaited twice
  bool await_suspend(std::coroutine_handle<> h) { return acq_.suspend(h); }
  unique_guard await_resume() noexcept {
    acq_.take();
    return unique_guard{*m_};
  }

 private:
  shared_mutex* m_;
  detail::permit_acquire acq_;
};

/// See shared_mutex_lock_awaiter.
class [[nodiscard]] shared_mutex_lock_shared_awaiter {
 public:
  explicit shared_mutex_lock_shared_awaiter(shared_mutex& m) noexcept;
  shared_mutex_lock_shared_awaiter(shared_mutex_lock_shared_awaiter&&) noexcept = default;
  bool await_ready() { return acq_.ready(); }  // throws std::logic_error if awaited twice
  bool await_suspend(std::coroutine_handle<> h) { return acq_.suspend(h); }
  shared_guard await_resume() noexcept {
    acq_.take();
    return shared_guard{*m_};
  }

 private:
  shared_mutex* m_;
  detail::permit_acquire acq_;
};

class shared_mutex {
 public:
  /// More readers than this cannot hold the lock at once (never reached in
  /// practice: about 2^61).
  static constexpr std::size_t max_readers = detail::fifo_permits::max_permits;

  shared_mutex() noexcept = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;
  /// Aborts with a message if the lock is held or tasks wait for it.
  ~shared_mutex();

  /// Wait for the exclusive lock (see shared_mutex_lock_awaiter).
  shared_mutex_lock_awaiter lock() noexcept { return shared_mutex_lock_awaiter{*this}; }
  /// Wait for a shared lock (see shared_mutex_lock_awaiter).
  shared_mutex_lock_shared_awaiter lock_shared() noexcept {
    return shared_mutex_lock_shared_awaiter{*this};
  }

  /// The exclusive lock if nobody holds or waits for the lock; else nullopt.
  [[nodiscard]] std::optional<unique_guard> try_lock() noexcept {
    if (!core_.try_acquire(max_readers)) return std::nullopt;
    return unique_guard{*this};
  }
  /// A shared lock if no writer holds the lock and nobody waits; else nullopt.
  [[nodiscard]] std::optional<shared_guard> try_lock_shared() noexcept {
    if (!core_.try_acquire(1)) return std::nullopt;
    return shared_guard{*this};
  }

 private:
  friend class unique_guard;
  friend class shared_guard;
  friend class shared_mutex_lock_awaiter;
  friend class shared_mutex_lock_shared_awaiter;
  friend std::size_t detail::waiter_count(const shared_mutex& m) noexcept;
  detail::fifo_permits core_{max_readers};
};

inline shared_mutex_lock_awaiter::shared_mutex_lock_awaiter(shared_mutex& m) noexcept
    : m_(&m), acq_(m.core_, shared_mutex::max_readers) {}
inline shared_mutex_lock_shared_awaiter::shared_mutex_lock_shared_awaiter(shared_mutex& m) noexcept
    : m_(&m), acq_(m.core_, 1) {}

inline unique_guard::~unique_guard() {
  if (m_ != nullptr) m_->core_.release(shared_mutex::max_readers);
}
inline unique_guard& unique_guard::operator=(unique_guard&& o) noexcept {
  if (this != &o) {
    if (m_ != nullptr) m_->core_.release(shared_mutex::max_readers);
    m_ = o.m_;
    o.m_ = nullptr;
  }
  return *this;
}

inline shared_guard::~shared_guard() {
  if (m_ != nullptr) m_->core_.release(1);
}
inline shared_guard& shared_guard::operator=(shared_guard&& o) noexcept {
  if (this != &o) {
    if (m_ != nullptr) m_->core_.release(1);
    m_ = o.m_;
    o.m_ = nullptr;
  }
  return *this;
}

inline std::size_t detail::waiter_count(const shared_mutex& m) noexcept {
  return m.core_.waiters();
}

}  // namespace weft
