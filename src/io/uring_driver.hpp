// uring_driver — a worker parks in its own io_uring, and its tasks' I/O
// operations are SQEs on that ring.
//
// Design
// ------
// One io_uring and one eventfd_parker (eventfd_parker.hpp: the unpark
// protocol both I/O drivers share) per driver. The driver keeps a read SQE on
// the parker's eventfd in flight ("armed"), tagged eventfd_tag. park()
// submits whatever SQEs are pending and waits in io_uring_enter for at least
// one CQE or the timeout; unpark() from another thread writes the eventfd,
// which completes the armed read and so ends the wait. The read is re-armed
// after each of its completions, before the next wait. An owner with no
// operation in flight, nothing queued and no zero-copy notification to come
// (idle_in_kernel) sleeps on the token's word instead
// (PARKED_FUTEX; the choice holds for a whole park): nothing of the ring's can
// complete meanwhile, and a futex wake is cheaper than an eventfd write whose
// completion must wake the ring.
//
// Who touches what
//   - ring_, armed_, enabled_, eventfd_value_, sink_: the owner only (the one
//     worker thread that parks). The constructing thread only creates them.
//   - parker_ (its token and counters): any thread (atomics).
//   - eventfd_value_ belongs to the kernel while armed_ is true: the armed read
//     may write it until its CQE is reaped or the ring is torn down.
//
// The submission path (owner thread), for one op:
//
//   start(op) ── send on a socket? ── try send(2) MSG_DONTWAIT ── done ──► completed (no SQE)
//        │                                   │ EAGAIN
//        ▼                                   ▼
//   acquire_sqe ── SQ full? submit queued SQEs (one io_uring_enter) and retry
//        │
//        ▼
//   prep + user_data=&op, state in_flight, linked on in_flight_list_
//        │   (the SQE waits in the SQ: every SQE queued during a scheduler
//        │    tick goes to the kernel in the one io_uring_enter of the next
//        │    poll() or park())
//        ▼
//   CQE reaped in drain() ──► complete_op: result, waker out, `completed`
//                              (release), task woken on this thread
//
// A listener's accept() and a stream's read_buffered() submit no SQE of
// their own: one multishot request per socket feeds a queue they take from
// (multishot_queue.hpp, with its state diagram); receives land in the
// worker's provided buffers (buffer_ring.hpp, made at the first one).
//
// As an I/O driver (io_driver.hpp): caps().file_ops is true (open, statx,
// fsync… are SQEs); cancel() is asynchronous (ASYNC_CANCEL; the op's own CQE
// completes it), so start() sets the task's cancel hook and a destroyed
// awaiter waits for the CQE (wait_completed: the owner reaps, another thread
// yields).
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
// Errors of io_uring_enter: EINTR, EAGAIN, EBUSY (and ETIME from a wait) are
// retried as they come. Any other error from the enter that park or poll
// makes to submit and reap consumed no SQE (a partial submission returns its
// count), so the queued SQEs go in at the next call: such an error is retried
// too, up to max_hard_enter_failures calls in a row, and then thrown (the
// ring is unusable; a worker ends the process with the message). The enter
// that makes room in a full SQ while an operation starts is not retried: its
// error fails that operation (io_start).
//
// Teardown: the destructor runs on any thread once nobody parks or unparks.
// io_uring_queue_exit closes the ring, and ring release cancels the armed
// read; if the owner thread exited first, its exit already cancelled it.
//
// I/O operations (io_op.hpp; implemented in uring_ops.cpp): start_op()
// queues an SQE with user_data = &op; the SQEs go to the kernel in one
// io_uring_enter at the next poll() or park(). Each CQE that is not one of
// the driver's reserved tags completes its op: result written, waker taken
// out, state `completed` stored with release, then the task woken. A test
// can instead route those CQEs to a completion_sink (for its own raw SQEs:
// an op from start_op must reach complete_op, which unlinks it).
//
// Cancelling an op (a lost timeout): on the owner thread, cancel_op_local()
// queues IORING_OP_ASYNC_CANCEL at once. From another thread,
// cancel_op_remote() moves the op from in_flight to cancel_queued and links
// it on cancel_list_ under cancel_mu_, then unparks the owner, which queues
// the ASYNC_CANCEL at the start of its next park() or poll(). Either way the
// op's own CQE still arrives (with -ECANCELED, or its result if it won the
// race) and completes it; only then may its memory go. complete_op unlinks a
// cancel_queued op from the list under the same lock, so the list never
// holds a completed op. quiesce() (before a worker exits, and before
// shutdown destroys tasks) cancels everything and reaps until no op is in
// flight.
//
// Ops orphaned by an exited thread: the kernel ties a request to the thread
// that submitted it (io_uring_enter's caller). When that thread exits, its
// requests still waiting (a socket read armed on poll, work queued for its
// io-wq) come back -ECANCELED — for a poll-armed read, when data arrives. A
// current-thread runtime's ring is plain (no SINGLE_ISSUER) and is driven
// by whichever thread runs block_on, so a task can be left waiting on an op
// submitted by a thread that has gone (probed on Linux 6.x: a recv
// submitted by a thread that exits completes -ECANCELED when another thread
// later sends). The driver counts driving epochs: a new one each time a
// different thread than the last enters park/poll/acquire_sqe (told apart by
// a per-thread serial number: a thread started after the last driver exited
// usually gets its std::thread::id), and each op
// records the epoch it was submitted in. An -ECANCELED that weft did not ask
// for (not quiescing, no owner-side cancel sent, state still in_flight: no
// remote cancel) on an op of an earlier epoch is an orphan: the op moves to
// orphan_list_ and the next poll()/park() submits it again from the thread
// that drives the ring now. A connect is not issued twice (the socket's
// connect is already under way): it is resubmitted as a poll for POLLOUT and
// its outcome read as epoll reads it (io_perform, a later attempt). Orphans
// a cancel reached meanwhile (its ASYNC_CANCEL found nothing in the kernel),
// or found at quiesce, complete -ECANCELED there, once; a park that
// completed one that way returns without waiting, because a wake from the
// owner's own thread does not unpark it. At
// most one resubmission per op per change of driving thread, so a genuine
// -ECANCELED cannot loop.
//
// Cancelling everything at quiesce: one IORING_OP_ASYNC_CANCEL with
// IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL (Linux 5.19+). Older
// kernels answer that request with -EINVAL (unknown cancel flags) and cancel
// nothing; the first such answer is remembered for the process
// (cancel_all_refused()) and quiesce then cancels op by op: the driver keeps
// every started op on a circular list (io_flight_link, owner only: linked by
// start_op, unlinked by complete_op) and queues one ASYNC_CANCEL by
// user_data for each, moving it to a second list so that completions reaped
// while SQEs are acquired never leave the walk on a freed link. Once the
// refusal is known, later quiesces go op by op at once.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "io/eventfd_parker.hpp"
#include "io/io_driver.hpp"
#include "scheduler/park_driver.hpp"

#include <weft/detail/io_op.hpp>

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace weft::detail {

/// One completion, copied out of the CQ ring before it is handed on.
struct io_completion {
  std::uint64_t user_data;
  std::int32_t result;
  std::uint32_t flags;
};

/// Receives, on the owner thread, each completion that is not the driver's.
using completion_sink = void (*)(void* context, const io_completion& completion);

class buffer_ring;
class multishot_queue;
struct zero_copy_record;

class uring_driver final : public park_driver, public io_driver {
 public:
  /// user_data values the driver keeps for itself: its eventfd read, and the
  /// timeout liburing adds on kernels without IORING_FEAT_EXT_ARG.
  static constexpr std::uint64_t eventfd_tag = ~std::uint64_t{0} - 1;
  static constexpr std::uint64_t liburing_timeout_tag = LIBURING_UDATA_TIMEOUT;
  /// The CQEs of the driver's own ASYNC_CANCEL requests.
  static constexpr std::uint64_t cancel_tag = ~std::uint64_t{0} - 2;
  /// The CQE of quiesce's cancel-everything request (its -EINVAL is read).
  static constexpr std::uint64_t cancel_all_tag = ~std::uint64_t{0} - 3;

  /// Creates the ring (`entries` SQEs, a power of two) and the eventfd.
  /// Throws std::system_error with the errno if either fails.
  /// `single_issuer`: the ring will be driven by one thread for its whole
  /// life (a multi-thread runtime's worker): SINGLE_ISSUER | DEFER_TASKRUN.
  /// False for a current-thread runtime, whose driving thread is whichever
  /// thread calls block_on: a plain ring.
  /// `inline_send`: a send or sendmsg on a socket tries the system call
  /// first and takes an SQE only if it would block (false: every send is an
  /// SQE; WEFT_URING_SEND, io_backend.cpp).
  explicit uring_driver(unsigned entries = 256, bool single_issuer = true, bool inline_send = true);
  ~uring_driver() override;
  uring_driver(const uring_driver&) = delete;
  uring_driver& operator=(const uring_driver&) = delete;

  /// Owner thread only. Returns at once on a pending unpark token or a
  /// timeout <= 0 (after submitting and reaping without waiting).
  void park(std::optional<std::chrono::nanoseconds> timeout) override;
  void unpark() noexcept override;

  /// How many times unpark() wrote the eventfd (the owner parked in the
  /// ring, with I/O in flight). Relaxed: a statistic.
  std::uint64_t eventfd_writes() const noexcept;
  /// Whether the owner is between "about to park" and waking. Diagnostics and tests.
  bool parked() const noexcept;
  /// Whether the owner is parked asleep on its token's word (no I/O in
  /// flight), so an unpark now is a futex wake. Tests.
  bool parked_on_futex() const noexcept { return parker_.parked_on_word(); }
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

  // ---- io_driver (uring_ops.cpp) ----
  /// Owner thread: a send or sendmsg on a socket is tried as a system call
  /// first; otherwise start_op, suspend, and `hook` becomes the task's
  /// cancel hook.
  bool start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) override;
  /// Any thread: cancel_op_local on the owner, cancel_op_remote elsewhere.
  bool cancel(io_op& op) noexcept override;
  /// Any thread: the owner reaps until `op` completes; another thread yields.
  void wait_completed(io_op& op) noexcept override;
  [[nodiscard]] io_capabilities caps() const noexcept override {
    io_capabilities c;
    c.file_ops = true;
    return c;
  }
  /// A listener's accept waiter goes: drop its hold on the accept queue.
  void release(io_op& op) noexcept override;

  // ---- multishot requests (multishot_queue.hpp; uring_multishot.cpp) ----
  /// Owner thread: submit `q`'s arm on this ring if it wants one (the SQE is
  /// taken before the queue's lock; a NOP if not). Throws std::system_error
  /// if no SQE can be had.
  void arm(multishot_queue& q);
  /// Owner thread: run `q`'s work at the next poll or park (the caller
  /// took a reference for the list).
  void schedule_multishot_work(multishot_queue& q) { multishot_work_.push_back(&q); }
  /// Whether the calling thread is this driver's worker.
  [[nodiscard]] bool is_current() const noexcept { return current_io_driver() == this; }
  /// Owner thread: this worker's provided buffers, registered at the first
  /// call; null where the kernel refuses them (remembered for the process).
  buffer_ring* provided() noexcept;
  /// Whether a kernel refused provided-buffer rings in this process.
  [[nodiscard]] static bool provided_buffers_refused() noexcept;
  /// Tests only: while on, registering provided buffers fails as on a kernel
  /// before 5.19; switching it (either way) forgets a refusal seen before.
  static void force_provided_buffer_refusal_for_test(bool on) noexcept;
  /// Any thread: cancel an arm submitted on this ring; on the owner the
  /// cancel is handed to the kernel at once, so the listener's socket is
  /// released without waiting for the next park.
  void cancel_arm(io_op& arm) noexcept;

  // ---- operations (uring_ops.cpp) ----
  /// Owner thread: queue `op` (in_flight). Throws std::system_error if the
  /// SQ cannot be made room in. A zero-copy op goes as choose_zero_copy
  /// decided.
  void start_op(io_op& op);
  /// Owner thread: queue an ASYNC_CANCEL for `op`. True if `op` has already
  /// completed (nothing to cancel).
  bool cancel_op_local(io_op& op) noexcept;
  /// Any other thread: have the owner cancel `op`. True if `op` has already
  /// completed.
  bool cancel_op_remote(io_op& op) noexcept;
  /// Owner thread: submit queued SQEs and complete what is ready, without
  /// waiting. True if an operation completed.
  bool poll() override;
  /// Owner thread: cancel every op in flight and reap until none is.
  void quiesce() noexcept override;
  /// Owner thread: ops started and not yet completed.
  [[nodiscard]] std::size_t ops_in_flight() const noexcept { return in_flight_; }
  /// Whether a kernel refused IORING_ASYNC_CANCEL_ANY | ALL in this process
  /// (before 5.19), so quiesce cancels op by op.
  [[nodiscard]] static bool cancel_all_refused() noexcept;
  /// Tests only: while on, quiesce's cancel-everything request carries an
  /// unknown flag, so this kernel refuses it with -EINVAL as a 5.11–5.18
  /// kernel refuses the real one; switching it (either way) forgets a
  /// refusal seen before.
  static void force_cancel_all_refusal_for_test(bool on) noexcept;
  /// For tests: park in the ring even with no operation in flight (no futex
  /// sleep), so a fault test reaches io_uring_enter from an idle park. Set
  /// while no runtime parks.
  static void park_in_ring_for_test(bool on) noexcept;
  /// How many times unpark() woke an owner asleep on its token's word
  /// (no I/O in flight). Relaxed: a statistic.
  std::uint64_t futex_wakes() const noexcept;
  /// Owner thread (tests, diagnostics): calls into io_uring_enter(2) so far
  /// — every submit, wait and get-events, counted whether or not liburing
  /// skipped the system call — and turns of the scheduler at this driver
  /// (park() and poll() calls). Batching keeps enters() ≤ turns() while the
  /// operations started between two turns fit in the SQ ring (256 entries):
  /// an operation queues its SQE and the turn's one enter submits them all.
  std::uint64_t enters() const noexcept { return enters_; }
  std::uint64_t turns() const noexcept { return turns_; }

  /// Creates, enables and uses (one NOP) a ring on the calling thread, checks
  /// that the kernel has every opcode weft submits (Linux 5.15), then closes
  /// it. Throws std::system_error with the errno of the failing step (ENOSYS
  /// and the opcode's name when one is missing).
  static void probe();
  /// Tests only: the probe treats `op` (an IORING_OP_*) as missing; -1 undoes.
  static void pretend_opcode_missing_for_test(int op) noexcept;

  // ---- zero-copy sends (zero_copy_send.hpp; uring_zero_copy.cpp) ----
  /// Whether this kernel has IORING_OP_SEND_ZC (Linux 6.0; probed once per
  /// process) and no test has switched it off.
  [[nodiscard]] static bool zero_copy_available() noexcept;
  /// Tests only: while on, zero_copy_available() is false, as on a kernel
  /// before 6.0. Set while no runtime sends.
  static void force_zero_copy_refusal_for_test(bool on) noexcept;
  /// Owner thread, before start_op of a zero-copy op: whether it goes as
  /// SEND_ZC (the kernel has it, the socket has not refused it); else it is
  /// marked to go as a plain send (r.copy). Counts the choice.
  bool choose_zero_copy(zero_copy_record& r) noexcept;
  /// Owner thread: records whose notification has not come.
  [[nodiscard]] std::size_t zero_copy_pending() const noexcept { return zc_pending_count_; }

 private:
  void ensure_enabled();
  void arm_eventfd_read();
  /// Hands every visible CQE on, flushing overflow. True if any was not ours.
  bool drain();
  bool dispatch(const io_completion& c);
  void complete_op(const io_completion& c) noexcept;
  /// Owner: the end of an op that was in flight: result, waker out,
  /// `completed` (release; under cancel_mu_ if a remote cancel queued it),
  /// the task woken. The caller has unlinked it from its flight list.
  void finish_op(io_op& op, std::int32_t result) noexcept;
  /// Owner (start_op): a SEND_ZC of `r` was queued: the kernel's reference,
  /// and `r` on the list of records waiting for a notification.
  void pending_push(zero_copy_record& r) noexcept;
  void pending_unlink(zero_copy_record& r) noexcept;
  /// complete_op for a zero-copy op's CQE: true if handled here; false if
  /// the op completes as any other (a plain send, or a SEND_ZC that failed
  /// with no notification to follow).
  bool zero_copy_event(zero_copy_record& r, const io_completion& c) noexcept;
  /// Owner: whether `op` is a sent SEND_ZC whose task waits for its
  /// notification (a cancel then ends it at once: nothing is left to cancel).
  [[nodiscard]] static bool zero_copy_waits_for_notification(const io_op& op) noexcept;
  /// Owner: end such an op now with -ECANCELED; the record stays on the
  /// pending list until its notification.
  void finish_zero_copy_early(zero_copy_record& r) noexcept;
  /// quiesce: finish_zero_copy_early for every op waiting for a notification.
  void finish_zero_copy_waiting() noexcept;
  /// The destructor: records still waiting go to the quarantine.
  void quarantine_pending() noexcept;
  /// Owner: link a just-prepared op on in_flight_list_ and count it.
  void flight_push_in_flight(io_op& op) noexcept;
  /// Owner: unlink an op from whichever flight list holds it.
  static void flight_unlink_op(io_op& op) noexcept;
  /// Under cancel_mu_: take `op` off cancel_list_.
  void unlink_remote_cancel(io_op& op) noexcept;
  /// Owner: submit what is queued and run deferred completions now, without
  /// reaping (errors are left to the next poll/park, which meets them too).
  void submit_now() noexcept;
  /// complete_op for an accept queue's arm (multishot: F_MORE CQEs too).
  void complete_arm(io_op& arm, const io_completion& c) noexcept;
  /// poll/park/quiesce: take back buffers freed elsewhere, then stop or
  /// re-arm the queues whose CQEs asked for it.
  void run_multishot_work();
  /// Owner: whether this worker's provided-buffer ring exists and has no
  /// buffer left (after taking back those freed elsewhere).
  bool ring_dry() noexcept;
  /// The destructor: drop what the lists hold and detach the buffers.
  void drop_multishot_work() noexcept;
  /// Queue the cancels other threads asked for. True if it completed an op
  /// (a sent zero-copy op ends at once): a task was woken from this thread,
  /// so park must not wait.
  bool process_remote_cancels();
  /// quiesce on a kernel without IORING_ASYNC_CANCEL_ANY: one ASYNC_CANCEL
  /// per op on in_flight_list_, each moved to cancel_sent_list_.
  void cancel_each_in_flight();
  /// poll/park/quiesce: submit again the ops whose submitting thread exited
  /// (or complete them -ECANCELED if cancelled meanwhile or quiescing). True
  /// if it completed one (a task was woken: park must not wait).
  bool resubmit_orphans();
  /// An -ECANCELED for `op` that weft did not ask for, from an earlier epoch.
  [[nodiscard]] bool orphaned(io_op& op, const io_completion& c) const noexcept;
  /// ensure_enabled: start a new epoch when another thread drives the ring.
  void note_driving_thread() noexcept;
  /// dispatch: the cancel-everything request came back -EINVAL.
  static void note_cancel_all_refused() noexcept;
  /// Owner: no op in flight, no SQE queued and no SEND_ZC notification to
  /// come (a cancelled zero-copy op is no longer in flight, but its record
  /// waits for one): no CQE of ours can arrive.
  [[nodiscard]] bool idle_in_kernel() const noexcept {
    return in_flight_ == 0 && zc_pending_count_ == 0 && io_uring_sq_ready(&ring_) == 0;
  }
  /// Submit pending SQEs and reap without blocking (IORING_ENTER_GETEVENTS
  /// runs deferred completions). True if an I/O completion was delivered.
  bool poll_nonblocking();
  /// One wait in the kernel; null timeout: unbounded.
  bool wait_once(__kernel_timespec* timeout);
  /// The result of an io_uring_enter made by park or poll (see "Errors of
  /// io_uring_enter" above): returns on success and transient errors;
  /// throws std::system_error after max_hard_enter_failures hard ones in a
  /// row.
  void check_park_enter(int res, const char* what);
  static constexpr unsigned max_hard_enter_failures = 8;
  /// One wait in the runner's park hook, which also watches hook_fd_.
  bool wait_in_hook(std::optional<std::chrono::nanoseconds> left);


  eventfd_parker parker_{/*nonblocking=*/false};  // a read of it is armed on the ring
  io_uring ring_{};
  int hook_fd_ = -1;  // the ring's completion eventfd, made at the first park in a hook
  bool inline_send_ = true;  // see the constructor
  bool defer_taskrun_ = false;
  bool enabled_ = false;
  bool armed_ = false;
  std::uint64_t eventfd_value_ = 0;
  completion_sink sink_ = nullptr;
  void* sink_context_ = nullptr;
  std::size_t in_flight_ = 0;  // owner only
  // Sentinels of the owner's lists of started, not completed ops (circular).
  io_flight_link in_flight_list_;
  io_flight_link cancel_sent_list_;
  io_flight_link orphan_list_;  // completed -ECANCELED by an exited submitter
  bool quiescing_ = false;
  // Multishot queues whose arm must be stopped or re-armed (owner only; each
  // entry holds a reference on its queue).
  std::vector<multishot_queue*> multishot_work_;
  buffer_ring* pbuf_ = nullptr;  // owner only; made by provided()
  // Records with a SEND_ZC notification outstanding (owner only; doubly
  // linked through zero_copy_record::pending_next/prev).
  zero_copy_record* zc_pending_ = nullptr;
  std::size_t zc_pending_count_ = 0;
  unsigned hard_enter_failures_ = 0;  // owner only: in a row, see check_park_enter
  // Owner only: acquire_sqe reaped completions (the SQ was full and its
  // submit took nothing) since park() began; park then does not wait.
  bool reaped_in_acquire_ = false;
  std::uint64_t enters_ = 0;  // owner only: see enters()
  std::uint64_t turns_ = 0;   // owner only: see turns()
  // The thread that last drove the ring and its epoch (owner only: the
  // runtime lets one thread at a time drive a current-thread runtime).
  std::uint64_t driving_thread_ = 0;  // this_thread_serial() of the last driver (never 0)
  std::uint32_t drive_epoch_ = 0;
  // Ops other threads asked to cancel: under cancel_mu_; cancel_requested_
  // lets the owner skip the lock when the list is empty.
  sync::spin_mutex cancel_mu_;
  io_op* cancel_list_ = nullptr;
  sync::atomic<bool> cancel_requested_{false};
};

}  // namespace weft::detail
