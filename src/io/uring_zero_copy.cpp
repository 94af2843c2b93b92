// uring_zero_copy — zero-copy sends on a worker's ring: SEND_ZC, its
// notification, and the early end of a cancelled one. The record, its two
// owners and its state diagram are in include/weft/detail/zero_copy_send.hpp;
// the ring's protocol in uring_driver.hpp. Owner thread of the ring, except
// the process-wide probe.
//
// The CQEs of one SEND_ZC, as io_uring_prep_send_zc(3) gives them (Linux
// 6.0+): first the send's result; IORING_CQE_F_MORE on it means a second
// CQE, with the same user_data and IORING_CQE_F_NOTIF, will say when the
// kernel has let go of the buffer. A first CQE without F_MORE is the last
// (the send failed before it took the buffer). Since Linux 6.1 a failed
// SEND_ZC may carry F_MORE as well; either way F_MORE decides.
#include "io/uring_driver.hpp"
#include "io/uring_prep.hpp"

#include <weft/detail/test_point.hpp>
#include <weft/detail/zero_copy_send.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace weft::detail {
namespace {

// ORDERING: relaxed: a test switches it while no runtime sends.
sync::atomic<bool> force_refusal{false};

bool kernel_has_send_zc() noexcept {
  io_uring_probe* p = io_uring_get_probe();  // a throwaway ring's probe
  if (p == nullptr) return false;
  const bool has = io_uring_opcode_supported(p, IORING_OP_SEND_ZC) != 0;
  io_uring_free_probe(p);
  return has;
}

}  // namespace

bool uring_driver::zero_copy_available() noexcept {
  static const bool has = kernel_has_send_zc();  // once per process
  // ORDERING: relaxed: see force_refusal.
  return has && !force_refusal.load(std::memory_order_relaxed);
}

void uring_driver::force_zero_copy_refusal_for_test(bool on) noexcept {
  force_refusal.store(on, std::memory_order_relaxed);  // ORDERING: see force_refusal
}

bool uring_driver::choose_zero_copy(zero_copy_record& r) noexcept {
  // ORDERING: relaxed: see io_handle::zero_copy_refused.
  r.copy = r.handle == nullptr || !zero_copy_available() ||
           r.handle->zero_copy_refused.load(std::memory_order_relaxed);
  if (r.copy) zero_copy_count_send(false);  // a SEND_ZC is counted by pending_push
  return !r.copy;
}

void uring_driver::pending_push(zero_copy_record& r) noexcept {
  if (r.pending_prev != nullptr || r.pending_next != nullptr || zc_pending_ == &r) {
    // A record waits for at most one notification at a time (an op never
    // completes while one is outstanding); linking it twice would corrupt
    // the list.
    std::fputs("weft: a zero-copy record was sent again before its notification\n", stderr);
    std::abort();
  }
  zero_copy_count_send(true);
  // ORDERING: relaxed: a new reference taken by a party that already holds
  // one (the writer's, on this thread); nothing is published by it.
  r.refs.fetch_add(1, std::memory_order_relaxed);
  r.pending_prev = nullptr;
  r.pending_next = zc_pending_;
  if (zc_pending_ != nullptr) zc_pending_->pending_prev = &r;
  zc_pending_ = &r;
  ++zc_pending_count_;
}

void uring_driver::pending_unlink(zero_copy_record& r) noexcept {
  if (r.pending_prev != nullptr) {
    r.pending_prev->pending_next = r.pending_next;
  } else {
    zc_pending_ = r.pending_next;
  }
  if (r.pending_next != nullptr) r.pending_next->pending_prev = r.pending_prev;
  r.pending_next = r.pending_prev = nullptr;
  --zc_pending_count_;
}

bool uring_driver::zero_copy_waits_for_notification(const io_op& op) noexcept {
  if (op.code != io_opcode::send_zc) return false;
  const auto& r = static_cast<const zero_copy_record&>(op);
  return r.awaiting_notification || r.resend_at_notification;
}

void uring_driver::finish_zero_copy_early(zero_copy_record& r) noexcept {
  r.awaiting_notification = false;
  r.resend_at_notification = false;
  uring_flight_unlink(r);
  // The record stays on the pending list with the kernel's reference; the
  // writer's frame may go as soon as the task is woken or destroyed.
  finish_op(r, -ECANCELED);
}

void uring_driver::finish_zero_copy_waiting() noexcept {
  for (zero_copy_record* r = zc_pending_; r != nullptr; r = r->pending_next) {
    if (zero_copy_waits_for_notification(*r)) finish_zero_copy_early(*r);  // the list is unchanged
  }
}

bool uring_driver::zero_copy_event(zero_copy_record& r, const io_completion& c) noexcept {
  if ((c.flags & IORING_CQE_F_NOTIF) != 0) {
    // The kernel has let go of the buffer of one SEND_ZC of `r`.
    zero_copy_count_notification();
    WEFT_TEST_POINT("uring_driver.zc_notified");
    pending_unlink(r);
    if (r.awaiting_notification) {
      // The writer holds a reference until its op completes, so this one is
      // not the last; then the op completes with the send's result.
      r.awaiting_notification = false;
      zero_copy_unref(r);
      uring_flight_unlink(r);
      finish_op(r, r.result);
    } else if (r.resend_at_notification) {
      // A refused or orphaned SEND_ZC (below): its copy goes now, with no
      // notification of this record left to come.
      r.resend_at_notification = false;
      zero_copy_unref(r);  // the writer's remains
      uring_flight_unlink(r);
      uring_flight_push(orphan_list_, r);  // resubmitted at the next poll or park
    } else {
      zero_copy_unref(r);  // the op ended before (cancelled): maybe the last
    }
    return true;
  }
  if (r.copy) return false;  // a plain send's result
  // The first CQE of a SEND_ZC.
  const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
  if (more) {
    zero_copy_count_result_before_notification();
  } else {
    pending_unlink(r);
    zero_copy_unref(r);  // no notification follows; the writer's reference remains
  }
  if (c.result == -EOPNOTSUPP || orphaned(r, c)) {
    // Not a TCP socket (a Unix socket refuses SEND_ZC), or cancelled with
    // the thread that submitted it (nothing was sent): send it again as a
    // copy — at the next poll or park, or, if a notification of the refused
    // SEND_ZC is to come, once it has: an op never completes while its
    // record still waits for one (the writer would find the kernel's
    // reference, and a next SEND_ZC of the record would be linked twice;
    // found by review, on a current-thread runtime whose block_on thread
    // exited with a SEND_ZC in the kernel).
    // ORDERING: relaxed: see io_handle::zero_copy_refused.
    if (c.result == -EOPNOTSUPP) r.handle->zero_copy_refused.store(true, std::memory_order_relaxed);
    r.copy = true;
    zero_copy_count_send(false);
    if (more) {
      r.resend_at_notification = true;  // stays in flight until then
    } else {
      uring_flight_unlink(r);
      uring_flight_push(orphan_list_, r);
    }
    return true;
  }
  if (!more) return false;  // completes with its error, as any op
  // ORDERING: acquire: pairs with cancel_op_remote's CAS to cancel_queued.
  if (quiescing_ || r.cancel_sent ||
      r.state.load(std::memory_order_acquire) == io_op::cancel_queued) {
    // Its task is being cancelled (or the runtime is shutting down): end the
    // op now rather than wait for a peer that may never read.
    uring_flight_unlink(r);
    finish_op(r, -ECANCELED);
    return true;
  }
  r.result = c.result;  // kept for the notification
  r.awaiting_notification = true;
  WEFT_TEST_POINT("uring_driver.zc_sent");
  return true;
}

void uring_driver::quarantine_pending() noexcept {
  while (zero_copy_record* r = zc_pending_) {
    pending_unlink(*r);
    zero_copy_quarantine(*r);  // the kernel's reference is never dropped
  }
}

}  // namespace weft::detail
