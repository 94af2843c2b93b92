// epoll_driver — a worker parks in epoll_wait; the fallback when io_uring is
// refused (see io_backend.hpp).
//
// Design
// ------
// One epoll instance and one eventfd_parker (eventfd_parker.hpp: the unpark
// protocol both I/O drivers share) per driver. The parker's eventfd is
// registered level-triggered for EPOLLIN with data.u64 == eventfd_tag.
// Level-triggered because a missed drain then costs one spurious wake-up
// instead of a lost one; the owner drains the eventfd (one non-blocking read
// takes the whole count) every time epoll reports it, so the level is low
// again before the next wait.
//
// Who touches what
//   - epoll_fd_, use_pwait2_, sink_: the owner only (the one worker thread
//     that parks). The constructing thread only creates them.
//   - parker_ (its token and counters): any thread (atomics).
//
// As an I/O driver (io_driver.hpp): start() registers the socket on first
// use (io_source, owned through io_handle::source) and tries the system call
// at once; cancel() unlinks a waiting op synchronously, so it always returns
// true; file operations are not the driver's (caps().file_ops is false):
// weft::fs runs them on the blocking pool.
//
// Timeouts: epoll_pwait2(2) (Linux 5.11, glibc 2.35) takes a timespec, so the
// wait is as long as asked. Where it is missing (ENOSYS, or EPERM from a
// seccomp policy that does not know it) the driver falls back for good to
// epoll_wait(2) with the timeout in milliseconds rounded UP — rounding down
// would wake early, and a sub-millisecond timeout would become a busy poll.
// Either way park() loops until the deadline has really passed.
//
// Readiness I/O: sockets register on epoll_fd() through io_source (data.ptr =
// the source); their events go to io_source::on_event on the owner thread,
// or to a readiness_sink if a test set one. Retired sources (closed sockets)
// are freed by the owner at the start of its next wait (io_source.hpp says
// why that is late enough); retire() may be called from any thread.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "io/eventfd_parker.hpp"
#include "io/io_driver.hpp"
#include "scheduler/park_driver.hpp"

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

class io_source;
struct io_op;

/// Receives, on the owner thread, each epoll event that is not the driver's.
using readiness_sink = void (*)(void* context, const epoll_event& event);

class epoll_driver final : public park_driver, public io_driver {
 public:
  /// data.u64 the driver keeps for its eventfd.
  static constexpr std::uint64_t eventfd_tag = ~std::uint64_t{0} - 1;

  /// Throws std::system_error with the errno if a descriptor cannot be made.
  /// `owner`: the runtime whose worker parks here; each socket registered
  /// holds a reference on it (io_source.hpp, "Lifetime"). Null for a driver
  /// used only to park (tests): start() then refuses.
  explicit epoll_driver(scheduler* owner = nullptr);
  ~epoll_driver() override;
  epoll_driver(const epoll_driver&) = delete;
  epoll_driver& operator=(const epoll_driver&) = delete;

  /// Owner thread only. A timeout <= 0 polls without blocking.
  void park(std::optional<std::chrono::nanoseconds> timeout) override;
  void unpark() noexcept override;

  /// How many times unpark() wrote the eventfd. Relaxed: a statistic.
  std::uint64_t eventfd_writes() const noexcept;
  /// Whether the owner is between "about to park" and waking. Diagnostics and tests.
  bool parked() const noexcept;

  /// Owner thread only: where events of the owner's registered fds go.
  void set_readiness_sink(readiness_sink sink, void* context) noexcept;
  int epoll_fd() const noexcept { return epoll_fd_; }

  /// Owner thread: deliver ready events without waiting. True if any.
  bool poll() override;
  /// Any thread: free `s` (deregistered) once no wait can report it.
  void retire(io_source* s) noexcept;
  // ---- io_driver ----
  /// Owner thread: an op on a socket (op.handle set); any other op
  /// completes at once with -EOPNOTSUPP (file operations go to the blocking
  /// pool on this backend).
  bool start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) override;
  /// Any thread: cancel `op`, waiting on one of this driver's sources
  /// (io_source.hpp, "Cancelling"). Returns (true) once `op` is completed —
  /// with -ECANCELED, or with the result or -ECANCELED that the event side
  /// or a closing socket's retire() gave it first. Exactly one of them
  /// completes it.
  bool cancel(io_op& op) noexcept override;
  /// Never needed (cancel completes the op); waits for `completed`.
  void wait_completed(io_op& op) noexcept override;
  [[nodiscard]] io_capabilities caps() const noexcept override { return {}; }

 private:
  /// One epoll wait (null: unbounded, zero: poll). True if an event that is
  /// not the eventfd's was delivered.
  bool wait_once(std::optional<std::chrono::nanoseconds> timeout);
  void free_retired() noexcept;
  /// The socket's registration, made on first use (a CAS on io_handle::source).
  io_source* source_for(io_handle& h);

  scheduler* owner_ = nullptr;
  eventfd_parker parker_{/*nonblocking=*/true};
  int epoll_fd_ = -1;
  bool use_pwait2_ = true;
  readiness_sink sink_ = nullptr;
  void* sink_context_ = nullptr;
  sync::spin_mutex retired_mu_;
  io_source* retired_ = nullptr;  // under retired_mu_
};

}  // namespace weft::detail
