// uring_accept — the ring's half of a listener's accept queue: submitting
// its arm, completing the arm's CQEs, stopping and re-arming it, cancelling
// it (the protocol and the state diagram: accept_queue.hpp).
#include "io/accept_queue.hpp"
#include "io/uring_driver.hpp"

#include <weft/detail/io_op.hpp>
#include <weft/detail/test_point.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <mutex>

namespace weft::detail {
namespace {

// An accept flag no kernel knows (tests: forces the -EINVAL that kernels
// before 5.19 give IORING_ACCEPT_MULTISHOT).
constexpr std::uint16_t unknown_accept_flag = 1u << 15;

}  // namespace

void uring_driver::arm_accepts(accept_queue& q) {
  io_uring_sqe* sqe = acquire_sqe();  // before the queue's lock: may reap its CQEs
  io_op* arm = q.begin_arm(*this);
  if (arm == nullptr) {
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, cancel_tag);  // a completion nobody waits for
    return;
  }
  // No peer address: the accepted socket's getpeername() gives it.
  if ((arm->flags & accept_queue::arm_multishot) != 0) {
    io_uring_prep_multishot_accept(sqe, arm->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (uring_accept_refusal_forced()) sqe->ioprio |= unknown_accept_flag;
  } else {
    io_uring_prep_accept(sqe, arm->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  }
  io_uring_sqe_set_data(sqe, arm);
  arm->submit_epoch = drive_epoch_;
  flight_push_in_flight(*arm);
  WEFT_TEST_POINT("uring_driver.op_started");  // an op on the ring, as start_op's
}

void uring_driver::complete_arm(io_op& arm, const io_completion& c) noexcept {
  accept_queue& q = *arm.accept_from;
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
  if (q.on_arm_cqe(c.result, more)) accept_work_.push_back(&q);
  if (!more) q.release();  // the arm's reference (`arm` may be gone after)
}

void uring_driver::run_accept_work() {
  while (!accept_work_.empty()) {
    accept_queue* q = accept_work_.back();
    accept_work_.pop_back();
    q->run_work(*this, quiescing_);
  }
}

void uring_driver::cancel_arm(io_op& arm) noexcept {
  if (current_io_driver() != this) {
    (void)cancel_op_remote(arm);  // the owner sends it at its next poll/park
    return;
  }
  if (cancel_op_local(arm)) return;  // already ended
  // Hand the cancel to the kernel now and run the completions it produces
  // (with DEFER_TASKRUN they run only on a GETEVENTS enter): the request
  // drops its hold on the listener's socket, so the port is free when the
  // listener's close() returns. The CQEs wait in the ring for the next drain.
  submit_now();
}

void uring_driver::release(io_op& op) noexcept {
  if (op.accept_from != nullptr) release_accept_waiter(op);
}

}  // namespace weft::detail
