// accept_queue — implementation; the protocol is in accept_queue.hpp.
#include "io/accept_queue.hpp"

#include "io/uring_driver.hpp"
#include "support/fault_injection.hpp"

#include <weft/detail/test_point.hpp>
#include <weft/waker.hpp>

#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>
#include <utility>

namespace weft::detail {
namespace {

// What this process knows of IORING_ACCEPT_MULTISHOT. ORDERING: relaxed, all
// three: hints read by ring owners; nothing else is published through them.
enum : int { multishot_unknown, multishot_works, multishot_refused_here };
sync::atomic<int> multishot_state{multishot_unknown};
sync::atomic<bool> force_refusal{false};

}  // namespace

bool accept_queue::multishot_refused() noexcept {
  // ORDERING: relaxed: see multishot_state.
  return multishot_state.load(std::memory_order_relaxed) == multishot_refused_here;
}

void accept_queue::force_multishot_refusal_for_test(bool on) noexcept {
  // ORDERING: relaxed, both: see multishot_state; a test switches it while
  // no listener is armed.
  force_refusal.store(on, std::memory_order_relaxed);
  multishot_state.store(multishot_unknown, std::memory_order_relaxed);
}

bool uring_accept_refusal_forced() noexcept {
  // ORDERING: relaxed: see force_refusal.
  return force_refusal.load(std::memory_order_relaxed);
}

accept_queue::accept_queue(int fd) noexcept : fd_(fd) {
  arm_.code = io_opcode::accept;
  arm_.fd = fd;
  arm_.accept_from = this;
}

accept_queue& accept_queue::of(io_handle& h) {
  // ORDERING: acquire: pairs with the release of the CAS that published it.
  accept_queue* q = h.accepts.load(std::memory_order_acquire);
  if (q != nullptr) return *q;
  auto* fresh = new accept_queue(h.fd);
  // ORDERING: acq_rel: release publishes the new queue; acquire on failure
  // sees the winner's.
  if (h.accepts.compare_exchange_strong(q, fresh, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    return *fresh;
  }
  fresh->release();  // another task made it first (on another worker)
  return *q;
}

void accept_queue::retain() noexcept {
  // ORDERING: relaxed: the caller already holds a reference.
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void accept_queue::release() noexcept {
  // ORDERING: acq_rel: the release publishes this holder's last use; the
  // acquire on the final decrement sees every other holder's before delete.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (const std::int32_t r : results_) {
    if (r >= 0) ::close(r);
  }
  delete this;
}

bool accept_queue::arm_wanted() const noexcept {
  if (armed_ || closed_) return false;
  // Hysteresis: after a stop, wait until half the queue is taken.
  return !waiters_.empty() || results_.size() <= high_water / 2;
}

io_op* accept_queue::begin_arm(uring_driver& d) noexcept {
  std::lock_guard<sync::spin_mutex> lock(mu_);
  if (!arm_wanted()) return nullptr;
  armed_ = true;
  // ORDERING: relaxed: a hint; start() re-checks under mu_.
  armed_hint_.store(true, std::memory_order_relaxed);
  stop_wanted_ = stop_sent_ = false;
  arm_ring_ = &d;
  arm_.fd = fd_;
  arm_.flags = (try_oneshot_ || multishot_refused()) ? 0 : arm_multishot;
  arm_.result = 0;
  arm_.cancel_sent = false;
  arm_.driver = &d;
  // ORDERING: relaxed: published by mu_ to close(), which reads it under mu_
  // before cancelling; the ring owner's own thread submits it.
  arm_.state.store(io_op::in_flight, std::memory_order_relaxed);
  retain();  // the arm's reference, dropped after its final CQE
  WEFT_TEST_POINT("accept_queue.armed");  // tests count arms; never hold it (mu_ is held)
  return &arm_;
}

bool accept_queue::start(io_op& op, std::coroutine_handle<> h, uring_driver& d) {
  if (fd_ < 0) {
    op.result = -EBADF;
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  // ORDERING: relaxed: a hint; begin_arm decides under mu_.
  if (!armed_hint_.load(std::memory_order_relaxed)) {
    bool wanted = false;
    {
      std::lock_guard<sync::spin_mutex> lock(mu_);
      wanted = arm_wanted();
    }
    // Before anything is linked: a failure here (no SQE) fails this accept.
    if (wanted) d.arm_accepts(*this);
  }
  std::lock_guard<sync::spin_mutex> lock(mu_);
  if (!results_.empty()) {
    op.result = results_.front();
    results_.pop_front();
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  if (closed_) {
    op.result = -EBADF;  // closed while this accept started: a misuse, answered
    op.state.store(io_op::completed, std::memory_order_relaxed);  // ORDERING: as above
    return false;
  }
  retain();  // the waiter's, dropped by release_waiter when its awaiter goes
  op.accept_from = this;
  op.needs_release = true;
  op.driver = &d;
  op.wake_on_done = weft::suspend_current(h);
  // ORDERING: relaxed: mu_ publishes it to the arm's ring and to cancel().
  op.state.store(io_op::in_flight, std::memory_order_relaxed);
  waiters_.push(op);
  WEFT_TEST_POINT("accept_queue.waiter_linked");  // tests count it; never hold it
  return true;
}

void accept_queue::cancel(io_op& op) noexcept {
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    // ORDERING: relaxed: under mu_, which orders it with deliver and close.
    if (op.state.load(std::memory_order_relaxed) == io_op::in_flight) {
      waiters_.remove(op);
      op.wake_on_done = waker{};
      op.result = -ECANCELED;
      // ORDERING: release: pairs with the acquire of io_op::is_completed.
      op.state.store(io_op::completed, std::memory_order_release);
      return;
    }
  }
  // `completing`: the deliverer publishes it next, with no blocking call in
  // between; the queue is not touched again.
  while (!op.is_completed()) std::this_thread::yield();
}

void accept_queue::release_waiter(io_op& op) noexcept {
  op.accept_from = nullptr;
  op.needs_release = false;
  release();
}

void accept_queue::deliver(std::int32_t r, io_op*& done) noexcept {
  io_op* w = waiters_.head;
  if (w == nullptr) {
    results_.push_back(r);
    WEFT_TEST_POINT("accept_queue.queued");  // tests count it; never hold it (mu_ is held)
    return;
  }
  waiters_.remove(*w);
  w->result = r;
  // ORDERING: relaxed: under mu_; cancel() reads it under mu_.
  w->state.store(io_op::completing, std::memory_order_relaxed);
  w->next = done;
  done = w;
}

bool accept_queue::on_arm_cqe(std::int32_t result, bool more) noexcept {
  io_op* done = nullptr;
  bool work = false;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    const bool multishot = (arm_.flags & arm_multishot) != 0;
    if (multishot && (more || result >= 0)) {
      // ORDERING: relaxed: see multishot_state.
      multishot_state.store(multishot_works, std::memory_order_relaxed);
    }
    if (!more) {
      WEFT_TEST_POINT("accept_queue.arm_ended");  // tests count it; never hold it
      armed_ = false;
      // ORDERING: relaxed: a hint (see begin_arm).
      armed_hint_.store(false, std::memory_order_relaxed);
    }
    if (result == -ECANCELED) {
      // A stop, a close, shutdown, or the submitting thread exited: not an
      // answer to any accept().
    } else if (closed_) {
      if (result >= 0) ::close(result);
    } else if (!more && multishot && result == -EINVAL &&
               // ORDERING: relaxed: see multishot_state.
               multishot_state.load(std::memory_order_relaxed) == multishot_unknown) {
      try_oneshot_ = true;  // a kernel before 5.19, or an invalid listener: see "Fallback"
    } else {
      if (try_oneshot_ && !multishot) {
        try_oneshot_ = false;
        // ORDERING: relaxed: see multishot_state.
        if (result != -EINVAL) multishot_state.store(multishot_refused_here, std::memory_order_relaxed);
      }
      if (result >= 0) {
        // Fault site: the accept fails as the kernel reports it (the
        // connection it took is closed: its client sees the connection end).
        if (const int err = fault::inject(fault::site::accept)) {
          ::close(result);
          result = -err;
        }
      }
      deliver(result, done);
    }
    if (more && !stop_wanted_ && results_.size() >= high_water) {
      stop_wanted_ = true;
      work = true;
    }
    if (!more && !closed_ && !waiters_.empty()) work = true;  // re-arm for them
    if (work) retain();  // the accept-work list's reference
  }
  finish_completing(done);
  return work;
}

void accept_queue::run_work(uring_driver& d, bool quiescing) {
  bool stop = false;
  bool rearm = false;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    if (armed_ && stop_wanted_ && !stop_sent_ && arm_ring_ == &d) {
      stop = true;
      stop_sent_ = true;
    }
    rearm = !quiescing && arm_wanted() && !waiters_.empty();
  }
  if (stop) {
    WEFT_TEST_POINT("accept_queue.stop_sent");
    (void)d.cancel_op_local(arm_);  // its final CQE comes back -ECANCELED
  } else if (rearm) {
    try {
      d.arm_accepts(*this);
    } catch (...) {
      release();  // the list's reference; the error ends the park or poll
      throw;
    }
  }
  release();
}

void accept_queue::close() noexcept {
  io_op* done = nullptr;
  std::deque<std::int32_t> queued;
  uring_driver* ring = nullptr;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    closed_ = true;
    while (io_op* w = waiters_.head) {
      waiters_.remove(*w);
      w->result = -ECANCELED;
      // ORDERING: relaxed: under mu_ (see deliver).
      w->state.store(io_op::completing, std::memory_order_relaxed);
      w->next = done;
      done = w;
    }
    queued.swap(results_);
    if (armed_) ring = arm_ring_;
  }
  finish_completing(done);
  for (const std::int32_t r : queued) {
    if (r >= 0) ::close(r);
  }
  // The arm holds its own reference until its final CQE, so arm_ outlives
  // this call even if that CQE is reaped meanwhile.
  if (ring != nullptr) ring->cancel_arm(arm_);
  release();  // the handle's
}

void close_accept_queue(accept_queue* q) noexcept { q->close(); }

void release_accept_waiter(io_op& op) noexcept { op.accept_from->release_waiter(op); }

}  // namespace weft::detail
