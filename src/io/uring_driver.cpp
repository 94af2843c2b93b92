// uring_driver — implementation. The protocol and the thread rules are in
// uring_driver.hpp; this file adds how each liburing call's errors are read.
#include "io/uring_driver.hpp"

#include "support/fault_injection.hpp"

#include <weft/detail/test_point.hpp>

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>

namespace weft::detail {
namespace {
// Tests only (park_in_ring_for_test): every park waits in the ring.
sync::atomic<bool> park_in_ring{false};
}  // namespace

namespace {

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

// Errors after which the same call can simply be made again: -ETIME (the
// wait timed out), -EINTR (a signal), -EBUSY (io_uring_enter(2): CQEs in
// overflow could not all be flushed — reap, then retry), -EAGAIN (the kernel
// was short of memory for a request).
bool transient(int res) noexcept {
  return res == -ETIME || res == -EINTR || res == -EBUSY || res == -EAGAIN;
}

// The liburing calls that enter the kernel (io_uring_enter(2)), each behind
// the uring_enter fault site, and io_uring_get_sqe behind uring_get_sqe. Each
// counts one enter in `enters` (the owner's counter, uring_driver::enters()).
int ring_submit(io_uring* ring, std::uint64_t& enters) {
  ++enters;
  return fault::or_negative(fault::site::uring_enter, [ring] { return io_uring_submit(ring); });
}
int ring_submit_and_get_events(io_uring* ring, std::uint64_t& enters) {
  ++enters;
  return fault::or_negative(fault::site::uring_enter,
                            [ring] { return io_uring_submit_and_get_events(ring); });
}
int ring_get_events(io_uring* ring, std::uint64_t& enters) {
  ++enters;
  return fault::or_negative(fault::site::uring_enter, [ring] { return io_uring_get_events(ring); });
}
int ring_submit_and_wait_timeout(io_uring* ring, io_uring_cqe** cqe, __kernel_timespec* ts,
                                 std::uint64_t& enters) {
  ++enters;
  return fault::or_negative(fault::site::uring_enter, [&] {
    return io_uring_submit_and_wait_timeout(ring, cqe, 1, ts, nullptr);
  });
}
io_uring_sqe* ring_get_sqe(io_uring* ring) {
  if (fault::inject(fault::site::uring_get_sqe) != 0) return nullptr;  // as if the SQ were full
  return io_uring_get_sqe(ring);
}
// io_uring_setup(2), then the mmap of the rings (either fails with -errno).
int ring_init(unsigned entries, io_uring* ring, io_uring_params* params) {
  if (const int err = fault::inject(fault::site::uring_setup)) return -err;
  if (const int err = fault::inject(fault::site::mmap)) return -err;
  return io_uring_queue_init_params(entries, ring, params);
}

// Creates `ring` owned by a single issuer that enables it later; falls back to
// a plain ring when the kernel predates those flags (EINVAL: before 6.1).
// Returns whether the ring starts disabled (and defers task work).
bool setup_ring(io_uring& ring, unsigned entries, bool single_issuer) {
  io_uring_params params{};
  int res = -EINVAL;
  if (single_issuer) {
    params.flags =
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
    res = ring_init(entries, &ring, &params);
    if (res == 0) return true;
  }
  if (res == -EINVAL) {
    params = io_uring_params{};
    res = ring_init(entries, &ring, &params);
    if (res == 0) return false;
  }
  throw_errno(-res, "io_uring_setup");
}

}  // namespace

uring_driver::uring_driver(unsigned entries, bool single_issuer, bool inline_send)
    : inline_send_(inline_send) {
  for (io_flight_link* l : {&in_flight_list_, &cancel_sent_list_, &orphan_list_}) {
    l->flight_next = l->flight_prev = l;
  }
  defer_taskrun_ = setup_ring(ring_, entries, single_issuer);
  enabled_ = !defer_taskrun_;
}

uring_driver::~uring_driver() {
  // Drops what the multishot lists hold (a driver never quiesced: tests)
  // and detaches the provided buffers while the ring is still open.
  drop_multishot_work();
  // A SEND_ZC whose notification has not come (a peer that never read): the
  // kernel may still send from its buffer, which must therefore never be
  // reused (zero_copy_send.hpp).
  quarantine_pending();
  // Closing the ring cancels the armed read before eventfd_value_ goes away
  // (see "Teardown" in the header).
  io_uring_queue_exit(&ring_);
  if (hook_fd_ >= 0) ::close(hook_fd_);
}

namespace {
// A number no other thread of this process ever had: std::thread::id is the
// pthread_t, which glibc hands to a new thread once the old one is gone, so a
// thread started after the last driver exited would look like that driver.
// ORDERING: relaxed: only uniqueness matters.
std::atomic<std::uint64_t> next_thread_serial{1};
std::uint64_t this_thread_serial() noexcept {
  thread_local const std::uint64_t serial =
      next_thread_serial.fetch_add(1, std::memory_order_relaxed);
  return serial;
}
}  // namespace

void uring_driver::note_driving_thread() noexcept {
  const std::uint64_t self = this_thread_serial();
  if (self == driving_thread_) return;
  driving_thread_ = self;
  ++drive_epoch_;
}

void uring_driver::ensure_enabled() {
  note_driving_thread();
  if (enabled_) return;
  // SAFETY: the ring was created with IORING_SETUP_R_DISABLED and this is the
  // owner's first call, so the owner becomes the ring's single issuer.
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
      0) {
    throw_errno(errno, "io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
  }
  enabled_ = true;
}

io_uring_sqe* uring_driver::acquire_sqe() {
  ensure_enabled();
  for (;;) {
    if (io_uring_sqe* sqe = ring_get_sqe(&ring_)) return sqe;
    // SQ ring full: hand the queued entries to the kernel to make room.
    const int res = ring_submit(&ring_, enters_);
    if (res > 0) continue;
    if (res < 0 && !transient(res)) throw_errno(-res, "io_uring_submit");
    // Nothing was taken: the kernel wants completions reaped first. One of
    // them may wake a task on this thread, which does not unpark it: a park
    // that gets here must not wait afterwards (reaped_in_acquire_).
    if (drain()) reaped_in_acquire_ = true;
  }
}

void uring_driver::arm_eventfd_read() {
  io_uring_sqe* sqe = acquire_sqe();
  // SAFETY: eventfd_value_ is the kernel's until the read's CQE is reaped
  // (armed_ goes false in dispatch) or the ring is closed.
  io_uring_prep_read(sqe, parker_.fd(), &eventfd_value_, sizeof eventfd_value_, 0);
  io_uring_sqe_set_data64(sqe, eventfd_tag);
  armed_ = true;
}

bool uring_driver::dispatch(const io_completion& c) {
  if (c.user_data == eventfd_tag) {
    // Whatever the result (a count, or -ECANCELED/-EINTR), the read is no
    // longer in flight; the next wait re-arms it.
    armed_ = false;
    return false;
  }
  if (c.user_data == cancel_all_tag) {
    if (c.result == -EINVAL) note_cancel_all_refused();
    return false;
  }
  if (c.user_data == liburing_timeout_tag || c.user_data == cancel_tag) return false;
  if (sink_ != nullptr) {
    sink_(sink_context_, c);
  } else {
    complete_op(c);
  }
  return true;
}

bool uring_driver::drain() {
  constexpr unsigned batch_size = 32;
  bool delivered = false;
  for (;;) {
    std::array<io_uring_cqe*, batch_size> cqes{};
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes.data(), batch_size);
    if (n == 0) {
      if (!io_uring_cq_has_overflow(&ring_)) return delivered;
      // The kernel holds CQEs that did not fit; GETEVENTS moves them in.
      const int res = ring_get_events(&ring_, enters_);
      if (res < 0 && !transient(res)) throw_errno(-res, "io_uring_get_events");
      continue;
    }
    // Copy, then release the slots before handing on: a sink may submit, and
    // the kernel may reuse the slots at once.
    std::array<io_completion, batch_size> batch{};
    for (unsigned i = 0; i < n; ++i) {
      batch[i] = io_completion{cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    }
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) delivered = dispatch(batch[i]) || delivered;
  }
}

void uring_driver::check_park_enter(int res, const char* what) {
  if (res >= 0 || transient(res)) {
    hard_enter_failures_ = 0;
    return;
  }
  // Nothing was consumed: the next park or poll submits the same SQEs.
  if (++hard_enter_failures_ < max_hard_enter_failures) return;
  hard_enter_failures_ = 0;
  throw_errno(-res, what);
}

void uring_driver::submit_now() noexcept { (void)ring_submit_and_get_events(&ring_, enters_); }

bool uring_driver::poll_nonblocking() {
  // Nothing queued, no operation in flight, no notification to come: no
  // completion of ours can be waiting, so no system call (a scheduler polls every 61 ticks; a worker
  // running only computation would otherwise enter the kernel that often).
  // A stale completion of the eventfd read (an unpark that raced a wake-up)
  // stays in the ring until the next park that waits there.
  if (idle_in_kernel()) return false;
  // Submits what is queued and, with DEFER_TASKRUN, runs deferred
  // completions so they become visible.
  check_park_enter(ring_submit_and_get_events(&ring_, enters_), "io_uring_enter");
  return drain();
}

bool uring_driver::wait_once(__kernel_timespec* timeout) {
  if (!armed_) {
    try {
      arm_eventfd_read();
      if (reaped_in_acquire_) {
        // Getting the SQE delivered completions (it woke tasks here): hand
        // the read to the kernel without waiting (found by review).
        poll_nonblocking();
        return true;
      }
    } catch (const std::system_error& e) {
      // The SQ was full and the enter that makes room failed hard: it took
      // nothing. Counted as a failed park enter (thrown after
      // max_hard_enter_failures in a row); this park returns without
      // waiting — a spurious return, after which the worker parks again.
      check_park_enter(-e.code().value(), "io_uring_submit");
      return drain();
    }
  }
  io_uring_cqe* cqe = nullptr;
  // Submits the pending SQEs (the re-armed read among them) and waits for one
  // CQE or the relative timeout, in one io_uring_enter(2) on kernels with
  // IORING_FEAT_EXT_ARG (5.11+).
  check_park_enter(ring_submit_and_wait_timeout(&ring_, &cqe, timeout, enters_), "io_uring_enter");
  return drain();
}

bool uring_driver::wait_in_hook(std::optional<std::chrono::nanoseconds> left) {
  if (hook_fd_ < 0) {
    // Registered as the ring's completion eventfd: the kernel signals it for
    // every CQE — with DEFER_TASKRUN too, where the ring's own descriptor is
    // not woken until the owner enters the kernel — so a hook can watch it.
    const int fd = fault::or_errno(fault::site::eventfd,
                                   [] { return ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); });
    if (fd < 0) throw_errno(errno, "eventfd");
    const int res = io_uring_register_eventfd(&ring_, fd);
    if (res < 0) {
      ::close(fd);
      throw_errno(-res, "io_uring_register_eventfd");
    }
    hook_fd_ = fd;
  }
  // Reset the signal, then reap: a completion after the reset signals it
  // again, so the hook's block cannot sleep through one.
  std::uint64_t count = 0;
  (void)!::read(hook_fd_, &count, sizeof count);
  if (poll_nonblocking()) return true;
  hooks.block(park_request{left, hook_fd_});
  (void)poll_nonblocking();
  // The park ends after every block: the hook may have dispatched callbacks
  // that woke weft tasks on this thread, and a wake from the owner's own
  // thread does not unpark it — waiting again would sleep with a task
  // ready (bug 23: a GLib timeout that fired inside the hook after the
  // runtime's last timer hung its task). The runner looks at its queues and
  // parks again if there is nothing to do.
  return true;
}

void uring_driver::park(std::optional<std::chrono::nanoseconds> timeout) {
  ++turns_;
  ensure_enabled();
  reaped_in_acquire_ = false;
  const bool cancelled = process_remote_cancels();
  run_multishot_work();
  if (resubmit_orphans() || cancelled || reaped_in_acquire_) {
    // It woke a task (an orphan cancelled while out of the kernel, a sent
    // zero-copy op ended by a cancel from another thread, a completion
    // reaped while an SQE was got). A wake from the owner's own thread does
    // not unpark it: do not wait (found by the zero-copy cancel test on a
    // multi-thread runtime under TSan: the owner woke the writer, then slept
    // until the test's 30 s deadline).
    (void)poll_nonblocking();
    return;
  }
  parker_.token().park_with(
      timeout,
      [this] {
        // A pending unpark: no wait. Only a syscall if the owner queued SQEs.
        if (io_uring_sq_ready(&ring_) > 0) check_park_enter(ring_submit(&ring_, enters_), "io_uring_submit");
        drain();
      },
      [this] { poll_nonblocking(); },
      [this](std::optional<std::chrono::nanoseconds> left) {
        // The token says PARKED from here on: an unpark now must wake the
        // wait below (a test holds the owner here to force that order).
        WEFT_TEST_POINT("uring_driver.parked");
        if (hooks.active()) return wait_in_hook(left);
        // ORDERING: relaxed: a test switch, set while no runtime parks.
        if (idle_in_kernel() && !park_in_ring.load(std::memory_order_relaxed)) {
          // Nothing of ours can complete: sleep on the token's word. An
          // unpark is then one futex wake instead of an eventfd write whose
          // completion wakes the ring (a third of the cost of handing an
          // idle runtime one task). The choice holds for the whole park:
          // what idle_in_kernel() reads changes only on this thread.
          parker_.sleep_on_word(left);
          return false;
        }
        __kernel_timespec ts{};
        if (left) {
          ts.tv_sec = left->count() / 1'000'000'000;
          ts.tv_nsec = left->count() % 1'000'000'000;
        }
        // True if I/O completions were delivered: work to do.
        return wait_once(left ? &ts : nullptr);
      });
}

void uring_driver::unpark() noexcept { parker_.unpark(hooks); }

std::uint64_t uring_driver::eventfd_writes() const noexcept { return parker_.eventfd_writes(); }

std::uint64_t uring_driver::futex_wakes() const noexcept { return parker_.futex_wakes(); }

void uring_driver::park_in_ring_for_test(bool on) noexcept {
  // ORDERING: relaxed: see park_in_ring.
  park_in_ring.store(on, std::memory_order_relaxed);
}

bool uring_driver::parked() const noexcept { return parker_.parked(); }

bool uring_driver::cq_has_overflow() const noexcept { return io_uring_cq_has_overflow(&ring_); }

void uring_driver::set_completion_sink(completion_sink sink, void* context) noexcept {
  sink_ = sink;
  sink_context_ = context;
}

namespace {

// Every opcode weft submits, with the kernel that added it. The ring is used
// only if the kernel has them all; otherwise automatic selection runs on
// epoll (whose paths need none of them), and a forced io_uring is refused
// with the first one missing named.
struct required_opcode {
  int op;
  const char* name;
  const char* since;
};
constexpr required_opcode required_opcodes[] = {
    {IORING_OP_NOP, "NOP", "5.1"},
    {IORING_OP_READV, "READV", "5.1"},
    {IORING_OP_WRITEV, "WRITEV", "5.1"},
    {IORING_OP_FSYNC, "FSYNC", "5.1"},
    {IORING_OP_POLL_ADD, "POLL_ADD", "5.1"},
    {IORING_OP_SENDMSG, "SENDMSG", "5.3"},
    {IORING_OP_RECVMSG, "RECVMSG", "5.3"},
    {IORING_OP_ACCEPT, "ACCEPT", "5.5"},
    {IORING_OP_CONNECT, "CONNECT", "5.5"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL", "5.5"},
    {IORING_OP_READ, "READ", "5.6"},
    {IORING_OP_WRITE, "WRITE", "5.6"},
    {IORING_OP_SEND, "SEND", "5.6"},
    {IORING_OP_RECV, "RECV", "5.6"},
    {IORING_OP_OPENAT, "OPENAT", "5.6"},
    {IORING_OP_STATX, "STATX", "5.6"},
    {IORING_OP_UNLINKAT, "UNLINKAT", "5.11"},
    {IORING_OP_RENAMEAT, "RENAMEAT", "5.11"},
    {IORING_OP_MKDIRAT, "MKDIRAT", "5.15"},
};

// Tests only: an opcode the probe treats as missing (-1: none).
// ORDERING: relaxed: a test sets it before it builds a runtime on the same thread.
sync::atomic<int> pretend_missing_opcode{-1};

}  // namespace

void uring_driver::pretend_opcode_missing_for_test(int op) noexcept {
  pretend_missing_opcode.store(op, std::memory_order_relaxed);
}

void uring_driver::probe() {
  uring_driver driver(2);
  {
    // IORING_REGISTER_PROBE itself arrived in 5.6: a kernel without it is
    // too old for READ/WRITE anyway.
    io_uring_probe* const p = io_uring_get_probe_ring(&driver.ring_);
    if (p == nullptr) {
      throw_errno(ENOSYS, "io_uring probe: the kernel cannot list its opcodes (needs Linux 5.6)");
    }
    const int pretend = pretend_missing_opcode.load(std::memory_order_relaxed);
    for (const required_opcode& r : required_opcodes) {
      if (r.op == pretend || !io_uring_opcode_supported(p, r.op)) {
        io_uring_free_probe(p);
        const std::string what = std::string("io_uring probe: the kernel lacks IORING_OP_") +
                                 r.name + " (Linux " + r.since +
                                 "); weft's io_uring backend needs Linux 5.15";
        throw_errno(ENOSYS, what.c_str());
      }
    }
    io_uring_free_probe(p);
  }
  unsigned completed = 0;
  driver.set_completion_sink(
      [](void* context, const io_completion&) { ++*static_cast<unsigned*>(context); }, &completed);
  io_uring_sqe* sqe = driver.acquire_sqe();  // enables the ring on this thread
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, 1);
  driver.park(std::chrono::nanoseconds{0});  // submit + reap, no wait
  if (completed != 1) throw_errno(EIO, "io_uring probe: NOP did not complete");
}

}  // namespace weft::detail
