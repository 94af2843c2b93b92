// uring_ops — I/O operations on a worker's ring: start, complete, cancel,
// quiesce. The protocol is described in uring_driver.hpp and io_op.hpp.
#include "io/uring_driver.hpp"
#include "io/multishot_queue.hpp"
#include "io/io_source.hpp"  // io_perform: an orphaned connect's outcome
#include "io/uring_prep.hpp"

#include <weft/detail/zero_copy_send.hpp>
#include "support/fault_injection.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/test_point.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace weft::detail {
namespace {

// "Use the file position" for read/write on io_uring (io_uring_prep_read(3)).
constexpr std::uint64_t current_position = ~std::uint64_t{0};

}  // namespace

void uring_prep(io_uring_sqe* sqe, io_op& op) {
  const std::uint64_t off = op.has_offset ? op.offset : current_position;
  switch (op.code) {
    case io_opcode::read:
      io_uring_prep_read(sqe, op.fd, op.buf, op.len, off);
      break;
    case io_opcode::write:
      io_uring_prep_write(sqe, op.fd, op.buf, op.len, off);
      break;
    case io_opcode::readv:
      io_uring_prep_readv(sqe, op.fd, static_cast<const iovec*>(op.buf), op.len, off);
      break;
    case io_opcode::writev:
      io_uring_prep_writev(sqe, op.fd, static_cast<const iovec*>(op.buf), op.len, off);
      break;
    case io_opcode::recv:
      io_uring_prep_recv(sqe, op.fd, op.buf, op.len, op.flags);
      break;
    case io_opcode::send:
      io_uring_prep_send(sqe, op.fd, op.buf, op.len, op.flags | MSG_NOSIGNAL);
      break;
    case io_opcode::send_zc:
      // MSG_WAITALL: a stream socket's SEND_ZC sends the whole buffer (the
      // kernel retries a partial send), so one notification covers it.
      if (static_cast<zero_copy_record&>(op).copy) {
        io_uring_prep_send(sqe, op.fd, op.buf, op.len, op.flags | MSG_NOSIGNAL);
      } else {
        io_uring_prep_send_zc(sqe, op.fd, op.buf, op.len, op.flags | MSG_NOSIGNAL | MSG_WAITALL,
                              0);
      }
      break;
    case io_opcode::recvmsg:
      io_uring_prep_recvmsg(sqe, op.fd, static_cast<msghdr*>(op.buf),
                            static_cast<unsigned>(op.flags));
      break;
    case io_opcode::sendmsg:
      io_uring_prep_sendmsg(sqe, op.fd, static_cast<const msghdr*>(op.buf),
                            static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
      break;
    case io_opcode::accept:
      io_uring_prep_accept(sqe, op.fd, static_cast<sockaddr*>(op.addr), op.addrlen,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
      break;
    case io_opcode::connect:
      io_uring_prep_connect(sqe, op.fd, static_cast<const sockaddr*>(op.addr), op.addr_size);
      break;
    case io_opcode::fsync:
      io_uring_prep_fsync(sqe, op.fd, static_cast<unsigned>(op.flags));
      break;
    case io_opcode::openat:
      io_uring_prep_openat(sqe, AT_FDCWD, static_cast<const char*>(op.buf), op.flags, op.mode);
      break;
    case io_opcode::statx:
      io_uring_prep_statx(sqe, op.fd, static_cast<const char*>(op.addr), op.flags, op.mode,
                          static_cast<struct statx*>(op.buf));
      break;
    case io_opcode::unlinkat:
      io_uring_prep_unlinkat(sqe, AT_FDCWD, static_cast<const char*>(op.buf), op.flags);
      break;
    case io_opcode::renameat:
      io_uring_prep_renameat(sqe, AT_FDCWD, static_cast<const char*>(op.buf), AT_FDCWD,
                             static_cast<const char*>(op.addr), static_cast<unsigned>(op.flags));
      break;
    case io_opcode::mkdirat:
      io_uring_prep_mkdirat(sqe, AT_FDCWD, static_cast<const char*>(op.buf), op.mode);
      break;
    case io_opcode::poll:
      io_uring_prep_poll_add(sqe, op.fd, static_cast<unsigned>(op.flags));
      break;
    case io_opcode::ftruncate:  // never: start refuses it
      io_uring_prep_nop(sqe);
      break;
    case io_opcode::recv_buffered:
      // Never an SQE of its own: a multishot queue's arm (uring_multishot.cpp)
      // or, without provided buffers, a recv into an owned block.
      io_uring_prep_nop(sqe);
      break;
  }
}

void uring_flight_push(io_flight_link& list, io_flight_link& l) noexcept {
  l.flight_prev = list.flight_prev;
  l.flight_next = &list;
  list.flight_prev->flight_next = &l;
  list.flight_prev = &l;
}

void uring_flight_unlink(io_flight_link& l) noexcept {
  l.flight_prev->flight_next = l.flight_next;
  l.flight_next->flight_prev = l.flight_prev;
  l.flight_next = l.flight_prev = nullptr;
}

namespace {

// Process-wide: a kernel that refused IORING_ASYNC_CANCEL_ANY once refuses it
// for every ring. ORDERING: relaxed, both: each is a hint read by the owner
// thread of a ring; no other data is published through them.
sync::atomic<bool> cancel_all_refused_flag{false};
sync::atomic<bool> force_cancel_all_refusal{false};

// A cancel flag no kernel knows (tests: forces the -EINVAL of kernels
// before 5.19).
constexpr unsigned unknown_cancel_flag = 1u << 31;

void unlink_cancel(io_op*& head, io_op& op) noexcept {
  if (op.prev != nullptr) {
    op.prev->next = op.next;
  } else {
    head = op.next;
  }
  if (op.next != nullptr) op.next->prev = op.prev;
  op.next = op.prev = nullptr;
  op.queued = false;
}

}  // namespace

void uring_driver::flight_push_in_flight(io_op& op) noexcept {
  uring_flight_push(in_flight_list_, op);
  ++in_flight_;
}

void uring_driver::flight_unlink_op(io_op& op) noexcept { uring_flight_unlink(op); }

void uring_driver::unlink_remote_cancel(io_op& op) noexcept { unlink_cancel(cancel_list_, op); }

bool uring_driver::start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) {
  if (op.code == io_opcode::ftruncate) {  // no opcode in liburing 2.3 (caps().truncate_op)
    op.result = -EOPNOTSUPP;
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  if (op.handle != nullptr) {
    // A socket fed by a multishot request: take from its queue.
    if (op.code == io_opcode::accept) {
      return multishot_queue::of(*op.handle, multishot_kind::accept).start(op, h, *this);
    }
    if (op.code == io_opcode::recv_buffered) {
      if (provided() != nullptr) {
        return multishot_queue::of(*op.handle, multishot_kind::recv).start(op, h, *this);
      }
      io_use_owned_block(op);  // no provided buffers here: a one-shot recv
    }
    // ORDERING: acquire: pairs with the CAS that published the queue.
    if (op.code == io_opcode::recv) {
      if (multishot_queue* q = op.handle->queue.load(std::memory_order_acquire)) {
        // Buffered reads armed a receive: a read() takes its bytes from the
        // same queue (copied), so the stream's order holds. This worker may
        // have to arm it: with its own provided buffers (a receive armed on
        // a ring without them answers -ENOBUFS for ever; found by review).
        if (provided() == nullptr) {
          op.result = -ENOBUFS;  // this worker could not register any
          // ORDERING: relaxed: the op never left this thread.
          op.state.store(io_op::completed, std::memory_order_relaxed);
          return false;
        }
        return q->start(op, h, *this);
      }
    }
  }
  // A zero-copy write goes as SEND_ZC, or as a plain send (a copy) where
  // that is not to be had (uring_zero_copy.cpp).
  const bool zero_copy =
      op.code == io_opcode::send_zc && choose_zero_copy(static_cast<zero_copy_record&>(op));
  const bool plain_send = op.code == io_opcode::send || op.code == io_opcode::sendmsg ||
                          (op.code == io_opcode::send_zc && !zero_copy);
  if (plain_send && op.handle != nullptr && inline_send_) {
    // A send on a socket usually finds room in the socket buffer: try it as
    // a non-blocking system call first (as a readiness runtime would) and go
    // through the ring only if it would block. sendmsg too (write_vectored,
    // a datagram's send_to): through the ring, an echo of 1 MiB messages in
    // 64 KiB vectored writes cost about 10 % more CPU than one of single
    // sends in a sweep; tried first, the two are even (docs/benchmarks.md).
    const std::int32_t r = io_perform(op, /*first=*/true);
    if (r != -EAGAIN) {
      op.result = r;
      // ORDERING: relaxed: the op never left this thread.
      op.state.store(io_op::completed, std::memory_order_relaxed);
      return false;
    }
  }
  start_op(op);  // before the task is marked suspended; throws if the SQ cannot take it
  op.wake_on_done = weft::suspend_current(h);
  // The CQE is reaped on this thread only, so the task cannot have been
  // resumed elsewhere in between. begin_suspend cleared the hook.
  current_task()->cancel_hook_ = hook;
  return true;
}

bool uring_driver::cancel(io_op& op) noexcept {
  if (op.is_completed()) return true;
  if (op.from_queue != nullptr) {
    op.from_queue->cancel(op);  // a waiter in a socket's queue: synchronous
    return true;
  }
  if (current_io_driver() == this) return cancel_op_local(op);
  return cancel_op_remote(op);
}

void uring_driver::wait_completed(io_op& op) noexcept {
  const bool owner = current_io_driver() == this;
  while (!op.is_completed()) {
    if (owner) {
      try {
        (void)poll();
      } catch (...) {
      }
    } else {
      std::this_thread::yield();
    }
  }
}

void uring_driver::start_op(io_op& op) {
  io_uring_sqe* sqe = acquire_sqe();
  uring_prep(sqe, op);
  io_uring_sqe_set_data(sqe, &op);
  op.submit_epoch = drive_epoch_;
  op.driver = this;
  // ORDERING: relaxed: the op is not visible to any other thread yet; the
  // task's suspension (begin_suspend's release) publishes it to a canceller.
  op.state.store(io_op::in_flight, std::memory_order_relaxed);
  uring_flight_push(in_flight_list_, op);
  ++in_flight_;
  if (op.code == io_opcode::send_zc && !static_cast<zero_copy_record&>(op).copy) {
    pending_push(static_cast<zero_copy_record&>(op));  // the kernel's reference
  }
  WEFT_TEST_POINT("uring_driver.op_started");  // tests count it
}

bool uring_driver::orphaned(io_op& op, const io_completion& c) const noexcept {
  // ORDERING: acquire: pairs with cancel_op_remote's CAS; a remote cancel
  // seen here keeps the -ECANCELED (and one racing after it is handled by
  // resubmit_orphans, which looks again).
  return c.result == -ECANCELED && !quiescing_ && !op.cancel_sent &&
         op.submit_epoch != drive_epoch_ &&
         op.state.load(std::memory_order_acquire) == io_op::in_flight;
}

void uring_driver::complete_op(const io_completion& c) noexcept {
  auto* op = reinterpret_cast<io_op*>(static_cast<std::uintptr_t>(c.user_data));
  if (op->from_queue != nullptr) {
    complete_arm(*op, c);  // of a queue's ops only its arm is ever submitted
    return;
  }
  if (op->code == io_opcode::send_zc && zero_copy_event(static_cast<zero_copy_record&>(*op), c)) {
    return;
  }
  uring_flight_unlink(*op);  // before the wake: the op may be gone after it
  if (orphaned(*op, c)) {
    uring_flight_push(orphan_list_, *op);  // still in flight for its task and in_flight_
    WEFT_TEST_POINT("uring_driver.orphan_queued");
    return;
  }
  std::int32_t result = c.result;
  if (op->connect_as_poll && result >= 0) {
    // The socket's connect was issued before: POLLOUT says it has an outcome.
    result = io_perform(*op, /*first=*/false);
    if (result == -EAGAIN) {
      uring_flight_push(orphan_list_, *op);  // not connected yet: poll again
      return;
    }
  }
  if (op->code == io_opcode::accept && result >= 0) {
    // Fault site: the accept fails as the kernel reports it (the connection
    // it took is closed: its client sees the connection end).
    if (const int err = fault::inject(fault::site::accept)) {
      ::close(result);
      result = -err;
    }
  }
  finish_op(*op, result);
}

void uring_driver::finish_op(io_op& op_ref, std::int32_t result) noexcept {
  io_op* const op = &op_ref;
  op->result = result;
  waker w = std::move(op->wake_on_done);
  std::uint32_t expected = io_op::in_flight;
  // ORDERING: acq_rel on success: release publishes `result` to whoever
  // acquires `completed` (the resumed task, a canceller); acquire on
  // failure pairs with cancel_op_remote's CAS to cancel_queued.
  if (!op->state.compare_exchange_strong(expected, io_op::completed, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
    // cancel_queued: it may still be on the cancel list.
    std::lock_guard<sync::spin_mutex> lock(cancel_mu_);
    if (op->queued) unlink_cancel(cancel_list_, *op);
    // ORDERING: release: as above.
    op->state.store(io_op::completed, std::memory_order_release);
  }
  --in_flight_;
  w.wake();  // the op may be gone now; `w` holds the task's header
}

bool uring_driver::cancel_op_local(io_op& op) noexcept {
  io_uring_sqe* sqe = nullptr;
  try {
    sqe = acquire_sqe();  // may complete ops (it reaps when the SQ is full)
  } catch (...) {
    std::fputs("weft: io_uring refused a cancel request; cannot continue safely\n", stderr);
    std::abort();
  }
  // Looked at after acquire_sqe, whose reaping may have brought a zero-copy
  // op its result (found by review: looked at before, the cancel was lost
  // until the peer read).
  if (!op.is_completed() && zero_copy_waits_for_notification(op)) {
    // Sent: nothing is left to cancel in the kernel; the op ends now and its
    // record waits for the notification (uring_zero_copy.cpp).
    finish_zero_copy_early(static_cast<zero_copy_record&>(op));
  }
  if (op.is_completed()) {
    io_uring_prep_nop(sqe);
  } else {
    op.cancel_sent = true;  // its -ECANCELED is ours, not an orphan's
    io_uring_prep_cancel(sqe, &op, 0);
  }
  io_uring_sqe_set_data64(sqe, cancel_tag);
  return op.is_completed();
}

bool uring_driver::cancel_op_remote(io_op& op) noexcept {
  {
    std::lock_guard<sync::spin_mutex> lock(cancel_mu_);
    std::uint32_t expected = io_op::in_flight;
    // ORDERING: acq_rel: acquire on failure sees `completed` and the result;
    // the lock orders the link against complete_op's unlink.
    if (!op.state.compare_exchange_strong(expected, io_op::cancel_queued,
                                          std::memory_order_acq_rel, std::memory_order_acquire)) {
      return expected == io_op::completed;  // already queued: still pending
    }
    op.prev = nullptr;
    op.next = cancel_list_;
    if (cancel_list_ != nullptr) cancel_list_->prev = &op;
    cancel_list_ = &op;
    op.queued = true;
  }
  // ORDERING: release: pairs with the owner's acquire exchange in
  // process_remote_cancels (the list itself is under the lock).
  cancel_requested_.store(true, std::memory_order_release);
  unpark();
  return false;
}

bool uring_driver::process_remote_cancels() {
  // ORDERING: acquire: pairs with cancel_op_remote's release store.
  if (!cancel_requested_.exchange(false, std::memory_order_acquire)) return false;
  bool completed = false;
  for (;;) {
    // The SQE first: getting one may reap completions, which unlink ops from
    // the list; an op still on it afterwards has not completed.
    io_uring_sqe* sqe = acquire_sqe();
    io_op* at_once = nullptr;
    {
      std::lock_guard<sync::spin_mutex> lock(cancel_mu_);
      io_op* op = cancel_list_;
      if (op == nullptr) {
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, cancel_tag);
        return completed;
      }
      unlink_cancel(cancel_list_, *op);  // stays cancel_queued until its CQE
      if (zero_copy_waits_for_notification(*op)) {
        at_once = op;  // sent: nothing to cancel in the kernel; it ends now
        io_uring_prep_nop(sqe);
      } else {
        io_uring_prep_cancel(sqe, op, 0);
      }
      io_uring_sqe_set_data64(sqe, cancel_tag);
    }
    // Outside the lock: finishing a cancel_queued op takes it.
    if (at_once != nullptr) {
      finish_zero_copy_early(static_cast<zero_copy_record&>(*at_once));
      completed = true;
    }
  }
}

bool uring_driver::resubmit_orphans() {
  bool completed = false;
  while (orphan_list_.flight_next != &orphan_list_) {
    // The SQE first: getting one may reap completions, which can only add
    // orphans (none of them has a CQE outstanding to take it off the list).
    io_uring_sqe* sqe = acquire_sqe();
    auto* op = static_cast<io_op*>(orphan_list_.flight_next);
    uring_flight_unlink(*op);
    // ORDERING: acquire: pairs with cancel_op_remote's CAS (cancel_queued).
    if (quiescing_ || op->cancel_sent ||
        op->state.load(std::memory_order_acquire) != io_op::in_flight) {
      // Cancelled while not in the kernel (its ASYNC_CANCEL found nothing),
      // or shutting down: it ends here, once.
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, cancel_tag);
      uring_flight_push(in_flight_list_, *op);  // complete_op unlinks it
      complete_op(io_completion{reinterpret_cast<std::uintptr_t>(op), -ECANCELED, 0});
      completed = true;
      continue;
    }
    if (op->code == io_opcode::connect) {
      op->connect_as_poll = true;
      io_uring_prep_poll_add(sqe, op->fd, POLLOUT);
    } else {
      uring_prep(sqe, *op);
    }
    io_uring_sqe_set_data(sqe, op);
    op->submit_epoch = drive_epoch_;
    uring_flight_push(in_flight_list_, *op);
  }
  return completed;
}

bool uring_driver::poll() {
  ++turns_;
  ensure_enabled();
  const bool cancelled = process_remote_cancels();
  run_multishot_work();
  const bool completed = resubmit_orphans() || cancelled;
  return poll_nonblocking() || completed;
}

bool uring_driver::cancel_all_refused() noexcept {
  // ORDERING: relaxed: see cancel_all_refused_flag.
  return cancel_all_refused_flag.load(std::memory_order_relaxed);
}

void uring_driver::note_cancel_all_refused() noexcept {
  // ORDERING: relaxed: see cancel_all_refused_flag.
  cancel_all_refused_flag.store(true, std::memory_order_relaxed);
}

void uring_driver::force_cancel_all_refusal_for_test(bool on) noexcept {
  // ORDERING: relaxed, both: see cancel_all_refused_flag; a test switches
  // it while no runtime quiesces.
  force_cancel_all_refusal.store(on, std::memory_order_relaxed);
  cancel_all_refused_flag.store(false, std::memory_order_relaxed);
}

void uring_driver::cancel_each_in_flight() {
  for (;;) {
    // The SQE first: getting one may reap completions, which unlink ops; an
    // op still on the list afterwards has not completed.
    io_uring_sqe* sqe = acquire_sqe();
    io_flight_link* l = in_flight_list_.flight_next;
    if (l == &in_flight_list_) {
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, cancel_tag);
      return;
    }
    uring_flight_unlink(*l);
    uring_flight_push(cancel_sent_list_, *l);
    io_uring_prep_cancel(sqe, static_cast<io_op*>(l), 0);
    io_uring_sqe_set_data64(sqe, cancel_tag);
  }
}

void uring_driver::quiesce() noexcept {
  try {
    if (!enabled_ && in_flight_ == 0) return;  // never used by its owner
    quiescing_ = true;  // every -ECANCELED from here on is ours
    process_remote_cancels();
    run_multishot_work();  // quiescing: drops the references, arms nothing
    resubmit_orphans();  // completes them
    finish_zero_copy_waiting();  // sent: they end without their notifications
    if (in_flight_ == 0) {
      run_multishot_work();
      quiescing_ = false;
      return;
    }
    bool cancelled_each = false;
    if (!cancel_all_refused()) {
      io_uring_sqe* sqe = acquire_sqe();
      // ORDERING: relaxed: see force_cancel_all_refusal.
      const unsigned test_flag =
          force_cancel_all_refusal.load(std::memory_order_relaxed) ? unknown_cancel_flag : 0;
      io_uring_prep_cancel64(sqe, 0,
                             IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL | test_flag);
      io_uring_sqe_set_data64(sqe, cancel_all_tag);  // -EINVAL: before 5.19 (dispatch)
    }
    while (in_flight_ > 0) {
      if (!cancelled_each && cancel_all_refused()) {
        cancel_each_in_flight();
        cancelled_each = true;
      }
      __kernel_timespec ts{};
      ts.tv_nsec = 100'000'000;  // re-check: an op the kernel could not cancel finishes on its own
      (void)wait_once(&ts);
      process_remote_cancels();
      resubmit_orphans();  // completes them
      run_multishot_work();
    }
    quiescing_ = false;
  } catch (...) {
    std::fputs("weft: io_uring failed while cancelling operations at shutdown\n", stderr);
    std::abort();
  }
}

}  // namespace weft::detail
