// accept_queue — a listener's accepts on io_uring: one armed multishot
// accept per listener feeds a queue of accepted connections, and accept()
// takes from that queue.
//
// Design
// ------
// Made the first time a task awaits accept() on a listener on an io_uring
// worker, and owned through io_handle::accepts. It holds
//   - the arm: one io_op (arm_), an IORING_OP_ACCEPT with
//     IORING_ACCEPT_MULTISHOT on the ring of the worker that armed it; each
//     connection the kernel accepts is one CQE with IORING_CQE_F_MORE, the
//     last CQE (no F_MORE) ends the request;
//   - results_: what the arm produced that no waiter took yet (new fds, or a
//     negated errno, which the next accept() returns as one-shot accept
//     would);
//   - waiters_: accept() ops that found results_ empty (linked through
//     io_op::next/prev), served first come, first served.
//
// The arm (under mu_; `armed_` says whether it is in the kernel):
//
//   unarmed ──arm_accepts(): accept() found it unarmed, or the
//      ▲        owner's accept work re-arms it for waiters ──────────────► armed
//      │    armed ── CQE with F_MORE: result to the first waiter, else results_
//      │          ── results_ reaches high_water: stop wanted; the owner's
//      │             accept work sends ASYNC_CANCEL ──────────────► armed (stopping)
//      └── final CQE (no F_MORE): armed_ = false; its result is delivered
//          like any other unless it is -ECANCELED (a stop, a close, shutdown,
//          or its submitting thread exited); if waiters remain and the queue
//          is open, the ring's owner re-arms at its next poll/park
//
// A waiter (io_op::state):
//   in_flight (linked) ── a result: unlinked under mu_, `completing` ──►
//       mu_ dropped, `completed` (release), task woken ───────────────► completed
//   in_flight ── cancel (any thread, under mu_): unlinked, -ECANCELED ─► completed
//   in_flight ── close(): every waiter as a result, -ECANCELED ─────────► completed
// Cancelling is synchronous (no cancel hook): a waiter is never in the kernel.
//
// Back-pressure: past high_water queued results the arm is stopped, so
// further connections wait in the kernel's listen backlog (where the
// listen(2) backlog bounds them), not in weft's memory; the next accept()
// that finds the queue unarmed arms it again.
//
// Fallback: kernels before 5.19 refuse IORING_ACCEPT_MULTISHOT with -EINVAL.
// The first -EINVAL of a multishot arm, before this process has seen a
// multishot accept work, is not delivered: the arm is retried once as a
// one-shot accept. If that one-shot succeeds (or fails otherwise) the
// refusal is remembered for the process and every later arm is one-shot (one
// SQE per connection, re-armed while waiters or room remain); if it fails
// with -EINVAL too, the listener itself is invalid and the error is
// delivered.
//
// Lifetime: a reference count — the handle's (dropped by close()), one while
// the arm is in the kernel, one per entry on a ring owner's accept-work list,
// one per waiter until its awaiter goes (io_driver::release). A waiter's
// canceller therefore always finds the queue alive.
//
// Closing (io_handle::close, any thread): under mu_ the queue is marked
// closed, waiters complete -ECANCELED, queued fds are closed; the listener is
// shut down (SHUT_RD: the kernel stops listening at once, so the port is free
// when close returns even while the arm's final CQE is still to come) and the
// arm cancelled through its ring.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/detail/sync_shim.hpp>

#include "io/io_op_list.hpp"

#include <coroutine>
#include <cstdint>
#include <deque>

namespace weft::detail {

class uring_driver;

class accept_queue {
 public:
  /// Queued results past which the arm is stopped (see "Back-pressure").
  static constexpr std::size_t high_water = 128;
  /// io_op::flags of an arm: multishot (else one-shot).
  static constexpr int arm_multishot = 1;

  /// The queue of `h`, made on first use (a CAS on io_handle::accepts).
  static accept_queue& of(io_handle& h);

  /// Owner thread of `d`: take a result, or link `op` as a waiter (arming
  /// on `d` first if unarmed). False if it completed at once.
  bool start(io_op& op, std::coroutine_handle<> h, uring_driver& d);
  /// Any thread: unlink a waiter (-ECANCELED). Returns once `op` is completed.
  void cancel(io_op& op) noexcept;
  /// The awaiter of a waiter goes: drop its reference.
  void release_waiter(io_op& op) noexcept;

  // ---- the ring's side (uring_driver, owner thread of the arm's ring) ----
  /// uring_driver::arm_accepts, holding a free SQE: whether to arm now (not
  /// armed, not closed, waiters or room in the queue). If so the arm is
  /// marked armed on `d` (state in_flight, one reference) and returned for
  /// the caller to prepare; else null.
  io_op* begin_arm(uring_driver& d) noexcept;
  /// One CQE of the arm, after the driver's own bookkeeping. `more`:
  /// IORING_CQE_F_MORE. True if the owner must run this queue's work at its
  /// next poll/park (a reference was taken for it).
  bool on_arm_cqe(std::int32_t result, bool more) noexcept;
  /// The owner's accept work for this queue (a reference taken when it was
  /// scheduled, dropped here): send a stop, or re-arm for waiters.
  void run_work(uring_driver& d, bool quiescing);

  /// io_handle::close (any thread, before the descriptor is closed).
  void close() noexcept;

  /// Whether this process has seen the kernel refuse IORING_ACCEPT_MULTISHOT
  /// (every arm is then one-shot).
  [[nodiscard]] static bool multishot_refused() noexcept;
  /// Tests only: while on, a multishot arm carries a flag this kernel does
  /// not know, so it refuses it with -EINVAL as a kernel before 5.19 refuses
  /// the real one; switching it (either way) forgets what was learnt.
  static void force_multishot_refusal_for_test(bool on) noexcept;

  void retain() noexcept;
  void release() noexcept;


 private:
  explicit accept_queue(int fd) noexcept;
  /// Under mu_: whether an arm is wanted (see begin_arm).
  [[nodiscard]] bool arm_wanted() const noexcept;
  /// Under mu_: hand `r` to the first waiter (unlinked, `completing`, onto
  /// `done`) or queue it.
  void deliver(std::int32_t r, io_op*& done) noexcept;

  int fd_;
  sync::spin_mutex mu_;
  io_op arm_;            // the request in the kernel (state in_flight while armed_)
  uring_driver* arm_ring_ = nullptr;  // under mu_: the ring the arm was submitted on
  bool armed_ = false;   // under mu_
  bool stop_wanted_ = false;
  bool stop_sent_ = false;
  bool closed_ = false;
  bool try_oneshot_ = false;  // a multishot arm came back -EINVAL: see "Fallback"
  io_op_list waiters_;
  std::deque<std::int32_t> results_;
  sync::atomic<bool> armed_hint_{false};  // armed_, readable without mu_
  sync::atomic<std::uint32_t> refs_{1};   // the handle's
};

/// io_handle::close: close the listener's queue (see "Closing").
void close_accept_queue(accept_queue* q) noexcept;
/// uring_driver::release: a waiter's awaiter goes.
void release_accept_waiter(io_op& op) noexcept;
/// The test switch of force_multishot_refusal_for_test (the SQE's prep reads it).
bool uring_accept_refusal_forced() noexcept;

}  // namespace weft::detail
