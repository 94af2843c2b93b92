// uring_multishot — the ring's half of a socket's multishot queue:
// submitting its arm (an accept, or a receive into the worker's provided
// buffers), completing the arm's CQEs, stopping and re-arming it, cancelling
// it (the protocol and the state diagram: multishot_queue.hpp).
#include "io/buffer_ring.hpp"
#include "io/multishot_queue.hpp"
#include "io/uring_driver.hpp"

#include <weft/detail/io_op.hpp>
#include <weft/detail/test_point.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cstdint>
#include <mutex>
#include <system_error>

namespace weft::detail {
namespace {

// A flag no kernel knows in the SQE's ioprio, where both accept and recv
// take their flags (tests: forces the -EINVAL that older kernels give the
// multishot flag).
constexpr std::uint16_t unknown_ioprio_flag = 1u << 15;

// Provided buffers: a ring per worker, made at its first buffered receive.
constexpr std::uint16_t provided_group = 0;
constexpr unsigned provided_count = 256;
constexpr unsigned provided_size = owned_block_size;  // see io_op.hpp

// ORDERING: relaxed, both: hints; nothing else is published through them.
sync::atomic<bool> provided_refused_flag{false};
sync::atomic<bool> force_provided_refusal{false};

}  // namespace

bool uring_driver::provided_buffers_refused() noexcept {
  // ORDERING: relaxed: see provided_refused_flag.
  return provided_refused_flag.load(std::memory_order_relaxed);
}

void uring_driver::force_provided_buffer_refusal_for_test(bool on) noexcept {
  // ORDERING: relaxed, both: see provided_refused_flag; set while no runtime runs.
  force_provided_refusal.store(on, std::memory_order_relaxed);
  provided_refused_flag.store(false, std::memory_order_relaxed);
}

buffer_ring* uring_driver::provided() noexcept {
  if (pbuf_ != nullptr) return pbuf_;
  if (provided_buffers_refused()) return nullptr;
  try {
    ensure_enabled();  // a single-issuer ring registers from its owner only
    // ORDERING: relaxed: see force_provided_refusal.
    if (force_provided_refusal.load(std::memory_order_relaxed)) {
      throw std::system_error(EINVAL, std::system_category(), "forced");
    }
    pbuf_ = new buffer_ring(ring_, provided_group, provided_count, provided_size,
                            static_cast<io_driver*>(this));
  } catch (const std::system_error&) {
    // A kernel before 5.19 (or a registration refused for lack of memory):
    // buffered receives use owned blocks from now on (io_use_owned_block).
    // ORDERING: relaxed: see provided_refused_flag.
    provided_refused_flag.store(true, std::memory_order_relaxed);
  }
  return pbuf_;
}

void uring_driver::arm(multishot_queue& q) {
  io_uring_sqe* sqe = acquire_sqe();  // before the queue's lock: may reap its CQEs
  // A ring with no buffer left: the receive is armed as a poll (the dry-ring
  // fallback, multishot_queue.hpp), so no reader waits for buffers that
  // other connections hold.
  const bool dry = q.kind() == multishot_kind::recv && ring_dry();
  io_op* arm = q.begin_arm(*this, dry);
  if (arm == nullptr) {
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, cancel_tag);  // a completion nobody waits for
    return;
  }
  const bool multishot = (arm->flags & multishot_queue::arm_multishot) != 0;
  if ((arm->flags & multishot_queue::arm_poll) != 0) {
    io_uring_prep_poll_add(sqe, arm->fd, POLLIN);
    WEFT_TEST_POINT("uring_driver.receive_polls");  // tests count it; never hold it
  } else if ((arm->flags & multishot_queue::arm_block) != 0) {
    io_uring_prep_recv(sqe, arm->fd, arm->buf, arm->len, 0);
    WEFT_TEST_POINT("uring_driver.receive_into_block");  // tests count it; never hold it
  } else if (q.kind() == multishot_kind::accept) {
    // No peer address: the accepted socket's getpeername() gives it.
    if (multishot) {
      io_uring_prep_multishot_accept(sqe, arm->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    } else {
      io_uring_prep_accept(sqe, arm->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    }
  } else {
    // The kernel picks a buffer of this worker's ring (start() made it).
    io_uring_prep_recv(sqe, arm->fd, nullptr, 0, 0);
    if (multishot) sqe->ioprio |= IORING_RECV_MULTISHOT;
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = provided_group;
  }
  if (multishot && multishot_queue::multishot_refusal_forced(q.kind())) {
    sqe->ioprio |= unknown_ioprio_flag;
  }
  io_uring_sqe_set_data(sqe, arm);
  arm->submit_epoch = drive_epoch_;
  flight_push_in_flight(*arm);
  WEFT_TEST_POINT("uring_driver.op_started");  // an op on the ring, as start_op's
}

void uring_driver::complete_arm(io_op& arm, const io_completion& c) noexcept {
  multishot_queue& q = *arm.from_queue;
  const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    // The request has ended: the same bookkeeping as complete_op.
    flight_unlink_op(arm);
    --in_flight_;
    std::uint32_t expected = io_op::in_flight;
    // ORDERING: acq_rel on success / acquire on failure: as complete_op
    // (pairs with cancel_op_remote's CAS to cancel_queued).
    if (!arm.state.compare_exchange_strong(expected, io_op::completed, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
      std::lock_guard<sync::spin_mutex> lock(cancel_mu_);
      if (arm.queued) unlink_remote_cancel(arm);
      // ORDERING: release: as above.
      arm.state.store(io_op::completed, std::memory_order_release);
    }
  }
  multishot_queue::next what = multishot_queue::next::nothing;
  if ((arm.flags & multishot_queue::arm_poll) != 0) {
    what = q.on_poll_cqe(c.result, !ring_dry());
  } else if ((arm.flags & multishot_queue::arm_block) != 0) {
    what = q.on_block_cqe(c.result);
  } else {
    buffer_ring* ring = nullptr;
    std::uint16_t buffer = 0;
    if ((c.flags & IORING_CQE_F_BUFFER) != 0 && pbuf_ != nullptr) {
      ring = pbuf_;
      buffer = static_cast<std::uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT);
      ring->note_taken(buffer);
    }
    what = q.on_arm_cqe(c.result, more, ring, buffer);
  }
  if (what == multishot_queue::next::work) multishot_work_.push_back(&q);
  if (!more) q.release();  // the arm's reference (`arm` may be gone after)
}

bool uring_driver::ring_dry() noexcept {
  if (pbuf_ == nullptr) return false;
  (void)pbuf_->collect_returns();  // what other threads gave back counts
  return pbuf_->in_ring() == 0;
}

void uring_driver::run_multishot_work() {
  if (pbuf_ != nullptr) (void)pbuf_->collect_returns();
  while (!multishot_work_.empty()) {
    multishot_queue* q = multishot_work_.back();
    multishot_work_.pop_back();
    q->run_work(*this, quiescing_);
  }
}

void uring_driver::drop_multishot_work() noexcept {
  quiescing_ = true;
  try {
    run_multishot_work();
  } catch (...) {
  }
  if (pbuf_ != nullptr) {
    pbuf_->detach();  // unregistered while the ring is open; freed with its last buffer
    pbuf_ = nullptr;
  }
}

void uring_driver::cancel_arm(io_op& arm) noexcept {
  if (!is_current()) {
    (void)cancel_op_remote(arm);  // the owner sends it at its next poll/park
    return;
  }
  if (cancel_op_local(arm)) return;  // already ended
  // Hand the cancel to the kernel now and run the completions it produces
  // (with DEFER_TASKRUN they run only on a GETEVENTS enter): the request
  // drops its hold on the socket, so a listener's port is free when its
  // close() returns. The CQEs wait in the ring for the next drain.
  submit_now();
}

void uring_driver::release(io_op& op) noexcept {
  if (op.provided != nullptr) {
    give_back_provided(op.provided, op.buffer_id);  // nobody took the bytes
    op.provided = nullptr;
  }
  if (op.from_queue != nullptr) release_multishot_waiter(op);
  op.needs_release = false;
}

}  // namespace weft::detail
