// uring_driver — a worker parks in its own io_uring.
//
// Design
// ------
// One io_uring and one eventfd per driver. The driver keeps a read SQE on the
// eventfd in flight ("armed"), tagged eventfd_tag. park() submits whatever
// SQEs are pending and waits in io_uring_enter for at least one CQE or the
// timeout; unpark() from another thread writes the eventfd, which completes
// the armed read and so ends the wait. The read is re-armed after each of its
// completions, before the next wait.
//
// Who touches what
//   - ring_, armed_, enabled_, eventfd_value_, sink_: the owner only (the one
//     worker thread that parks). The constructing thread only creates them.
//   - token_, eventfd_writes_: any thread (atomics).
//   - eventfd_value_ belongs to the kernel while armed_ is true: the armed read
//     may write it until its CQE is reaped or the ring is torn down.
//
// Unpark protocol: park_token's (scheduler/park_token.hpp); unpark writes
// the eventfd only if the owner was PARKED. A write can land after the owner already left its wait (it timed out or got
// I/O in the meantime): the read then completes during a later park, which
// sees no NOTIFIED token, re-arms and waits again — one extra round trip, no
// spurious return.
//
// Ring created on one thread, used on another (IORING_SETUP_SINGLE_ISSUER)
//   io_uring_setup(2): with SINGLE_ISSUER "the submission task is either the
//   task that created the ring, or if IORING_SETUP_R_DISABLED is specified
//   then it is the task that enables the ring through io_uring_register(2).
//   The kernel enforces this rule, failing requests with -EEXIST".
//   DEFER_TASKRUN "requires the IORING_SETUP_SINGLE_ISSUER flag to be set, and
//   also enforces that the call to io_uring_enter(2) is called from the same
//   thread that submitted requests"; completions are only delivered while that
//   thread waits with IORING_ENTER_GETEVENTS — which is exactly what park() is.
//   So the ring is created with SINGLE_ISSUER | DEFER_TASKRUN | R_DISABLED and
//   the owner enables it (IORING_REGISTER_ENABLE_RINGS) on its first park() or
//   acquire_sqe(); the constructing thread never submits. If the kernel
//   refuses these flags (EINVAL: before 6.1) the ring is created plainly,
//   usable from any single thread at a time.
//   liburing 2.3 declares io_uring_enable_rings() but its shared library does
//   not export it, so the enable is the raw io_uring_register(2) call.
//
// Completion queue overflow (io_uring_queue_init(3)): when the CQ ring is
// full the kernel keeps further CQEs (IORING_FEAT_NODROP) and sets
// IORING_SQ_CQ_OVERFLOW; drain() flushes them with io_uring_get_events(3)
// until io_uring_cq_has_overflow(3) is false. SQ full: acquire_sqe() submits
// and retries (io_uring_get_sqe(3): "the SQ ring is currently full and
// entries must be submitted ... before new ones can get allocated").
//
// Teardown: the destructor runs on any thread once nobody parks or unparks.
// io_uring_queue_exit closes the ring, and ring release cancels the armed
// read; if the owner thread exited first, its exit already cancelled it.
//
// Hook for the I/O ops (next step): acquire_sqe() gives the owner an SQE; every
// CQE whose user_data is not one of the driver's reserved tags goes to the
// completion_sink, on the owner thread, during park().
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "scheduler/park_driver.hpp"
#include "scheduler/park_token.hpp"

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

/// One completion, copied out of the CQ ring before it is handed on.
struct io_completion {
  std::uint64_t user_data;
  std::int32_t result;
  std::uint32_t flags;
};

/// Receives, on the owner thread, each completion that is not the driver's.
using completion_sink = void (*)(void* context, const io_completion& completion);

class uring_driver final : public park_driver {
 public:
  /// user_data values the driver keeps for itself: its eventfd read, and the
  /// timeout liburing adds on kernels without IORING_FEAT_EXT_ARG.
  static constexpr std::uint64_t eventfd_tag = ~std::uint64_t{0} - 1;
  static constexpr std::uint64_t liburing_timeout_tag = LIBURING_UDATA_TIMEOUT;

  /// Creates the ring (`entries` SQEs, a power of two) and the eventfd.
  /// Throws std::system_error with the errno if either fails.
  /// `single_issuer`: the ring will be driven by one thread for its whole
  /// life (a multi-thread runtime's worker): SINGLE_ISSUER | DEFER_TASKRUN.
  /// False for a current-thread runtime, whose driving thread is whichever
  /// thread calls block_on: a plain ring.
  explicit uring_driver(unsigned entries = 256, bool single_issuer = true);
  ~uring_driver() override;
  uring_driver(const uring_driver&) = delete;
  uring_driver& operator=(const uring_driver&) = delete;

  /// Owner thread only. Returns at once on a pending unpark token or a
  /// timeout <= 0 (after submitting and reaping without waiting).
  void park(std::optional<std::chrono::nanoseconds> timeout) override;
  void unpark() noexcept override;

  /// How many times unpark() wrote the eventfd. Relaxed: a statistic.
  std::uint64_t eventfd_writes() const noexcept;
  /// Whether the owner is between "about to park" and waking. Diagnostics and tests.
  bool parked() const noexcept;
  /// Whether the kernel accepted SINGLE_ISSUER | DEFER_TASKRUN for this ring.
  bool defer_taskrun() const noexcept { return defer_taskrun_; }
  /// Whether CQEs are waiting in the kernel for room in the CQ ring.
  bool cq_has_overflow() const noexcept;

  /// Owner thread only: where completions of the owner's own SQEs go.
  void set_completion_sink(completion_sink sink, void* context) noexcept;
  /// Owner thread only: a free SQE, submitting queued ones while the SQ ring
  /// is full. Never null; throws std::system_error if submission fails. The
  /// caller must set user_data outside the reserved tags. May run the sink.
  io_uring_sqe* acquire_sqe();

  /// Creates, enables and uses (one NOP) a ring on the calling thread, then
  /// closes it. Throws std::system_error with the errno of the failing step.
  static void probe();

 private:
  void ensure_enabled();
  void arm_eventfd_read();
  /// Hands every visible CQE on, flushing overflow. True if any was not ours.
  bool drain();
  bool dispatch(const io_completion& c);
  /// Submit pending SQEs and reap without blocking (IORING_ENTER_GETEVENTS
  /// runs deferred completions). True if an I/O completion was delivered.
  bool poll_nonblocking();
  /// One wait in the kernel; null timeout: unbounded.
  bool wait_once(__kernel_timespec* timeout);


  io_uring ring_{};
  int eventfd_ = -1;
  bool defer_taskrun_ = false;
  bool enabled_ = false;
  bool armed_ = false;
  std::uint64_t eventfd_value_ = 0;
  completion_sink sink_ = nullptr;
  void* sink_context_ = nullptr;
  park_token token_;
  sync::atomic<std::uint64_t> eventfd_writes_{0};
};

}  // namespace weft::detail
