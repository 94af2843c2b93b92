// weft/sync/semaphore.hpp — weft::semaphore, a fair counting semaphore.
//
//   weft::semaphore slots(4);                         // at most 4 at once
//   weft::semaphore_permit p = co_await slots.acquire();
//   ...                                               // returned when p is destroyed
//
// Fair (FIFO): acquirers are served in the order they started waiting, and a
// large request at the head of the queue is not overtaken by later small ones
// (the permits released meanwhile are reserved for it). try_acquire fails
// while anyone waits. It is a detail::fifo_permits
// (weft/sync/fifo_permits.hpp).
#pragma once

#include <weft/sync/fifo_permits.hpp>

#include <coroutine>
#include <cstddef>
#include <optional>

namespace weft {

class semaphore;

namespace detail {
/// Test and diagnostic accessor: how many tasks wait for permits right now.
std::size_t waiter_count(const semaphore& s) noexcept;
}  // namespace detail

/// Permits taken from a semaphore; gives them back on destruction (move-only
/// RAII). Giving back grants the waiters at the head of the queue that fit.
class [[nodiscard]] semaphore_permit {
 public:
  /// Holds no permits.
  semaphore_permit() noexcept = default;
  semaphore_permit(semaphore_permit&& o) noexcept : s_(o.s_), n_(o.n_) {
    o.s_ = nullptr;
    o.n_ = 0;
  }
  /// Gives back what this held, then takes over `o`'s permits.
  semaphore_permit& operator=(semaphore_permit&& o) noexcept;
  semaphore_permit(const semaphore_permit&) = delete;
  semaphore_permit& operator=(const semaphore_permit&) = delete;
  ~semaphore_permit();

  /// Drop the permits without giving them back: the semaphore has that many
  /// fewer for good.
  void forget() noexcept {
    s_ = nullptr;
    n_ = 0;
  }
  /// How many permits this holds.
  [[nodiscard]] std::size_t count() const noexcept { return n_; }

 private:
  friend class semaphore;
  friend class semaphore_acquire_awaiter;
  semaphore_permit(semaphore& s, std::size_t n) noexcept : s_(&s), n_(n) {}
  semaphore* s_ = nullptr;
  std::size_t n_ = 0;
};

/// The awaitable returned by semaphore::acquire(n).
///
/// - completes with: a semaphore_permit holding n permits. At once when
///   nobody waits and n are free; else when releases have granted this
///   waiter, in FIFO order. acquire(0) completes once every earlier waiter
///   was served.
/// - budget: permits taken at once count against the cooperative budget;
///   when it is spent the permits are kept and the task yields first.
/// - cancellation: destroying the awaiting coroutine (weft::timeout,
///   with_cancellation, runtime shutdown) is safe at any point: a queued
///   waiter leaves the queue (if it was the head, the waiters behind it are
///   granted if they now fit); permits granted to a waiter that never resumed
///   go to the next waiters (or back to the free count). None is lost.
/// - resumes on: the awaiting task's runtime, never inline in the releasing
///   thread.
/// - runtime shutdown: a waiting task destroyed by shutdown cancels as above;
///   the semaphore must outlive every task that may wait on it.
/// - allocation: none; the awaiter is the queue node.
/// - movable only before it is awaited; awaiting it a second time, or
///   after it was moved from, throws std::logic_error (in every build).
class [[nodiscard]] semaphore_acquire_awaiter {
 public:
  semaphore_acquire_awaiter(semaphore& s, std::size_t n) noexcept;
  semaphore_acquire_awaiter(semaphore_acquire_awaiter&&) noexcept = default;
  bool await_ready() { return acq_.ready(); }  // throws std::logic_error if awaited twice
  bool await_suspend(std::coroutine_handle<> h) { return acq_.suspend(h); }
  semaphore_permit await_resume() noexcept {
    acq_.take();
    return semaphore_permit{*s_, acq_.wanted()};
  }

 private:
  semaphore* s_;
  detail::permit_acquire acq_;
};

class semaphore {
 public:
  /// The most permits a semaphore can hold, and the largest single request
  /// (about 2^61).
  static constexpr std::size_t max_permits = detail::fifo_permits::max_permits;

  /// Throws std::invalid_argument if permits > max_permits.
  explicit semaphore(std::size_t permits);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;
  /// Aborts with a message if tasks wait on it. (Outstanding permits must be
  /// destroyed or forgotten first: they give back into the semaphore.)
  ~semaphore();

  /// Wait for n permits (see semaphore_acquire_awaiter). Throws
  /// std::invalid_argument if n > max_permits (it could never be granted).
  semaphore_acquire_awaiter acquire(std::size_t n = 1) {
    check_request(n, "weft::semaphore::acquire");
    return semaphore_acquire_awaiter{*this, n};
  }

  /// n permits if nobody waits and n are free; else nullopt. Any thread.
  /// Throws std::invalid_argument if n > max_permits.
  [[nodiscard]] std::optional<semaphore_permit> try_acquire(std::size_t n = 1) {
    check_request(n, "weft::semaphore::try_acquire");
    if (!core_.try_acquire(n)) return std::nullopt;
    return semaphore_permit{*this, n};
  }

  /// Add n permits (wakes the waiters that now fit, oldest first). Any
  /// thread. Throws std::overflow_error, adding nothing, if the free count
  /// would exceed max_permits.
  void release(std::size_t n);

  /// Free permits. While a waiter is queued they are reserved for the head
  /// of the queue (try_acquire fails).
  [[nodiscard]] std::size_t available() const noexcept { return core_.available(); }

 private:
  friend class semaphore_permit;
  friend class semaphore_acquire_awaiter;
  friend std::size_t detail::waiter_count(const semaphore& s) noexcept;
  static void check_request(std::size_t n, const char* who);
  detail::fifo_permits core_;
};

inline semaphore_acquire_awaiter::semaphore_acquire_awaiter(semaphore& s, std::size_t n) noexcept
    : s_(&s), acq_(s.core_, n) {}

inline semaphore_permit::~semaphore_permit() {
  if (s_ != nullptr && n_ != 0) s_->core_.release(n_);
}

inline semaphore_permit& semaphore_permit::operator=(semaphore_permit&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr && n_ != 0) s_->core_.release(n_);
    s_ = o.s_;
    n_ = o.n_;
    o.s_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

inline std::size_t detail::waiter_count(const semaphore& s) noexcept { return s.core_.waiters(); }

}  // namespace weft
