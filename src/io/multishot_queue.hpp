// multishot_queue — one armed multishot request per socket on io_uring
// feeding a queue that the socket's operations take from: a listener's
// accepts (IORING_ACCEPT_MULTISHOT), a stream's receives (IORING_RECV_MULTISHOT
// with a provided-buffer ring, buffer_ring.hpp).
//
// Design
// ------
// Made the first time a task awaits accept() on a listener, or
// read_buffered() on a stream, on an io_uring worker; owned through
// io_handle::queue. It holds
//   - the arm: one io_op (arm_), the multishot request on the ring of the
//     worker that armed it; each result is one CQE with IORING_CQE_F_MORE,
//     the last CQE (no F_MORE) ends the request;
//   - results_: what the arm produced that no waiter took yet — accept: a
//     new fd or a negated errno; recv: a provided buffer (or, from the
//     dry-ring fallback, an owned block) holding bytes (and how much of it a
//     read() already copied out), 0 for end of stream, or a negated errno;
//   - waiters_: operations that found results_ empty (linked through
//     io_op::next/prev), served first come, first served.
//
// The arm (under mu_; `armed_` says whether it is in the kernel):
//
//   unarmed ──arm(): an operation found it unarmed, or the owner's work
//      ▲        re-arms it for waiters ──────────────────────────────────► armed
//      │    armed ── CQE with F_MORE: result to the first waiter, else results_
//      │          ── results_ reaches high_water(): stop wanted; the owner's
//      │             work sends ASYNC_CANCEL ─────────────────────► armed (stopping)
//      └── final CQE (no F_MORE): armed_ = false; its result is delivered
//          like any other unless it is -ECANCELED (a stop, a close, shutdown,
//          or its submitting thread exited) or -ENOBUFS (recv: the ring ran
//          dry; the bytes stay in the socket); if waiters remain and the queue
//          is open, the ring's owner re-arms at its next poll/park
//
// A recv arm is one of two requests, chosen by the owner as it arms: while
// its ring has buffers, a receive into them (multishot); while the ring is
// dry, a one-shot POLL_ADD(POLLIN) — the dry-ring fallback:
//
//   armed (poll) ── its CQE, the socket readable ──┬─ no waiter, or the ring
//                                                  │  has buffers again: nothing
//                                                  │  read (re-armed for waiters)
//                                                  └─ else one recv(2) into an
//          owned block (owned_block_size, alloc_owned_block), under mu_, by the
//          owner: the bytes are a result like a buffer's; EAGAIN: none, and
//          the next arm while the ring is dry is a one-shot IORING_OP_RECV
//          into an owned block instead of a poll (arm_block: its bytes,
//          end of stream or error are a result, queued if no read waits)
//
// The poll is level-triggered: a socket whose error queue is not empty (a TX
// timestamp, a MSG_ZEROCOPY notice) reports POLLERR for ever while recv(2)
// says EAGAIN, and poll after poll would spin the owner (found by outside
// review: 15,000 polls in 100 ms). The block receive after an empty poll
// waits in the kernel instead; it holds its block until bytes come.
//
// so a reader never waits for buffers that other connections hold (the
// HTTP example's bug 31: 16 streams whose tasks stopped reading held a
// worker's 256 buffers, and every other connection of that worker got
// nothing until its idle timeout), and a connection waiting through a
// shortage holds no block: only one that has bytes gets one.
//
// A waiter (io_op::state):
//   in_flight (linked) ── a result: unlinked under mu_, `completing` ──►
//       mu_ dropped, `completed` (release), task woken ───────────────► completed
//   in_flight ── cancel (any thread, under mu_): unlinked, -ECANCELED ─► completed
//   in_flight ── close(): every waiter as a result, -ECANCELED ─────────► completed
// Cancelling is synchronous (no cancel hook): a waiter is never in the kernel,
// and a receive cancelled while it waits has consumed nothing (one that had
// been handed its bytes and is destroyed before its task resumes gives its
// buffer back: those bytes are lost, as with any completed read).
//
// Buffer ownership (recv): a CQE hands its buffer to the queue; taking it
// hands it to the waiter's op (io_op::provided/buffer_id), and the awaiter to
// a weft::net::recv_buffer, whose destruction gives it back to its ring (on
// the ring's owner thread at once, from another thread through the ring's
// return list). A plain read() into the caller's buffer copies out of the
// front buffer and gives it back once it is empty. Whatever the queue still
// holds when it closes goes back to its ring; an op whose awaiter goes
// without taking its buffer gives it back (io_driver::release). A block the
// dry-ring fallback read into goes the same way as an owned block: to the
// op (io_op::buf, owns_buf), then to a recv_buffer, or freed by whoever
// drops it (the queue's dispose, io_abandon, recv_buffer::reset).
//
// Back-pressure: past high_water() queued results the arm is stopped, so
// further connections wait in the kernel's listen backlog, and further bytes
// in the socket buffer, not in weft's memory; the next operation that finds
// the queue unarmed arms it again once half the queue is taken.
//
// Fallback: a kernel that refuses the multishot flag answers -EINVAL
// (accept before 5.19, recv before 6.0). The first -EINVAL of a multishot
// arm, before this process has seen that kind work, is not delivered: the
// arm is retried once as a one-shot request. If that one-shot succeeds (or
// fails otherwise) the refusal is remembered for the process and every later
// arm of that kind is one-shot; if it fails with -EINVAL too, the socket
// itself is invalid and the error is delivered.
//
// Lifetime: a reference count — the handle's (dropped by close()), one while
// the arm is in the kernel, one per entry on a ring owner's work list, one per
// waiter until its awaiter goes (io_driver::release). A waiter's canceller
// therefore always finds the queue alive.
//
// Closing (io_handle::close, any thread, before the descriptor is closed):
// under mu_ the queue is marked closed, waiters complete -ECANCELED, what it
// holds is released (fds closed, buffers given back), and the arm is
// cancelled through its ring — on the ring's owner thread handed to the
// kernel at once (a listener's port is free when close returns). From
// another thread the owner cancels it only at its next poll or park, so the
// socket is shut down at once (a listener: SHUT_RD, it stops listening; a
// stream: SHUT_RDWR, its peer sees the end — also for any duplicate of the
// descriptor) and the queue keeps the descriptor until the arm has ended, so
// its number is not reused while a stale SQE may still name it.
//
// A waiter linked just as the arm ended (its last result went to an earlier
// waiter) has the queue re-armed by its own worker at its next poll or park.
// An accept on a worker whose ring does not hold the arm first tries
// accept4(2) itself: the arm's ring may be busy, or belong to a runtime that
// nobody drives now. Left: a waiter of another runtime whose arm's runtime
// shuts down waits until a connection comes through another accept.
// Back-pressure is applied when the owner reaps: a burst that arrives while
// it does not (a current-thread runtime between block_on calls) is taken
// up to the CQ ring's size.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/detail/sync_shim.hpp>

#include "io/io_op_list.hpp"

#include <coroutine>
#include <cstdint>
#include <deque>

namespace weft::detail {

class uring_driver;
class buffer_ring;

enum class multishot_kind : std::uint8_t { accept, recv };

class multishot_queue {
 public:
  /// io_op::flags of an arm: multishot (else one-shot); a recv arm that is
  /// a POLL_ADD while its ring is dry (see the diagram).
  static constexpr int arm_multishot = 1;
  static constexpr int arm_poll = 2;
  static constexpr int arm_block = 4;  // a one-shot recv into arm_.buf, an owned block
  /// Queued results past which an arm is stopped (see "Back-pressure").
  static constexpr std::size_t accept_high_water = 128;
  static constexpr std::size_t recv_high_water = 16;

  /// The queue of `h`, made on first use (a CAS on io_handle::queue).
  static multishot_queue& of(io_handle& h, multishot_kind kind);

  /// Owner thread of `d`: take a result, or link `op` as a waiter (arming
  /// on `d` first if unarmed). False if it completed at once.
  bool start(io_op& op, std::coroutine_handle<> h, uring_driver& d);
  /// Any thread: unlink a waiter (-ECANCELED). Returns once `op` is completed.
  void cancel(io_op& op) noexcept;
  /// recv, any thread: move up to `n` received buffers at the front of the
  /// queue (bytes, not the end of stream or an error, which stay for the
  /// next read) into `out`, without waiting; how many. What a read() copied
  /// out of the front buffer is not in it again.
  std::size_t take_ready(ready_buffer* out, std::size_t n) noexcept;
  /// The awaiter of a waiter goes: drop its reference.
  void release_waiter(io_op& op) noexcept;

  // ---- the ring's side (uring_driver, owner thread of the arm's ring) ----
  [[nodiscard]] multishot_kind kind() const noexcept { return kind_; }
  /// uring_driver::arm, holding a free SQE: whether to arm now (not armed,
  /// not closed, waiters or room in the queue). If so the arm is marked
  /// armed on `d` (state in_flight, one reference) and returned for the
  /// caller to prepare; else null. `ring_dry`: recv, the owner's ring has no
  /// buffer left, so the arm is a poll (arm_poll), or after a poll that
  /// found nothing a receive into an owned block (arm_block).
  io_op* begin_arm(uring_driver& d, bool ring_dry) noexcept;
  /// One CQE of the arm, after the driver's own bookkeeping. `more`:
  /// IORING_CQE_F_MORE; `ring`/`buffer`: recv, the provided buffer holding
  /// the bytes (ring null if none). What the owner must do next:
  enum class next { nothing, work };
  /// work takes a reference for the driver's list.
  next on_arm_cqe(std::int32_t result, bool more, buffer_ring* ring, std::uint16_t buffer) noexcept;
  /// The CQE of a poll arm (its result: the events, or a negated errno);
  /// `ring_has_buffers`: the owner's ring has some again (then nothing is
  /// read here: the waiters get a receive into the ring).
  next on_poll_cqe(std::int32_t result, bool ring_has_buffers) noexcept;
  /// The CQE of a block arm: bytes in arm_.buf, 0 at end of stream, or a
  /// negated errno.
  next on_block_cqe(std::int32_t result) noexcept;
  /// The owner's work for this queue (a reference taken when it was
  /// scheduled, dropped here): send a stop, or re-arm for waiters.
  void run_work(uring_driver& d, bool quiescing);

  /// io_handle::close. True if the queue took the descriptor over (it
  /// closes it once its arm has ended; see "Closing").
  bool close() noexcept;

  /// Whether this process has seen the kernel refuse the multishot flag of
  /// `kind` (every arm of that kind is then one-shot).
  [[nodiscard]] static bool multishot_refused(multishot_kind kind) noexcept;
  /// Tests only: while on, a multishot arm of `kind` carries a flag this
  /// kernel does not know, so it refuses it with -EINVAL as an older kernel
  /// refuses the real one; switching it (either way) forgets what was learnt.
  static void force_multishot_refusal_for_test(multishot_kind kind, bool on) noexcept;
  [[nodiscard]] static bool multishot_refusal_forced(multishot_kind kind) noexcept;

  void retain() noexcept;
  void release() noexcept;

 private:
  struct item {
    std::int32_t result;          // see results_
    std::uint16_t buffer = 0;     // recv: which buffer of `ring` holds the bytes
    std::uint32_t offset = 0;     // recv: bytes of it a read() already took
    buffer_ring* ring = nullptr;  // recv: null if no buffer
    std::byte* block = nullptr;   // recv: the owned block the dry-ring fallback read into
  };
  multishot_queue(int fd, multishot_kind kind) noexcept;
  [[nodiscard]] std::size_t high_water() const noexcept;
  /// Under mu_: whether an arm is wanted (see begin_arm).
  [[nodiscard]] bool arm_wanted() const noexcept;
  /// Under mu_: `op` takes (part of) `it`; true if `it` is used up.
  static bool take(io_op& op, item& it) noexcept;
  /// Under mu_: hand `it` to the first waiter (unlinked, `completing`, onto
  /// `done`) or queue it.
  void deliver(item it, io_op*& done) noexcept;
  /// Close the fd or give back the buffer of an item nobody will take.
  void dispose(const item& it) noexcept;

  int fd_;
  multishot_kind kind_;
  sync::spin_mutex mu_;
  io_op arm_;            // the request in the kernel (state in_flight while armed_)
  uring_driver* arm_ring_ = nullptr;  // under mu_: the ring the arm was submitted on
  bool armed_ = false;   // under mu_
  bool stop_wanted_ = false;
  bool stop_sent_ = false;
  bool closed_ = false;
  bool try_oneshot_ = false;  // a multishot arm came back -EINVAL: see "Fallback"
  bool poll_found_nothing_ = false;  // under mu_: the next dry arm is arm_block
  bool owns_fd_ = false;      // under mu_: close() handed the descriptor over
  io_op_list waiters_;
  std::deque<item> results_;
  sync::atomic<bool> armed_hint_{false};  // armed_, readable without mu_
  sync::atomic<std::uint32_t> refs_{1};   // the handle's
};

/// io_handle::close: close the socket's queue (see "Closing"); true if the
/// queue took the descriptor over.
bool close_multishot_queue(multishot_queue* q) noexcept;
/// uring_driver::release: a waiter's awaiter goes.
void release_multishot_waiter(io_op& op) noexcept;

}  // namespace weft::detail
