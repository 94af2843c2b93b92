// multishot_queue — implementation; the protocol is in multishot_queue.hpp.
#include "io/multishot_queue.hpp"
#include "io/sim_sockets.hpp"

#include "io/buffer_ring.hpp"
#include "io/uring_driver.hpp"
#include "support/fault_injection.hpp"

#include <weft/detail/test_point.hpp>
#include <weft/waker.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

namespace weft::detail {
namespace {

// What this process knows of each kind's multishot flag. ORDERING: relaxed,
// all: hints read by ring owners; nothing else is published through them.
enum : int { multishot_unknown, multishot_works, multishot_refused_here };
sync::atomic<int> multishot_state[2] = {multishot_unknown, multishot_unknown};
sync::atomic<bool> force_refusal[2] = {false, false};

std::size_t index_of(multishot_kind k) noexcept { return k == multishot_kind::accept ? 0 : 1; }

}  // namespace

bool multishot_queue::multishot_refused(multishot_kind kind) noexcept {
  // ORDERING: relaxed: see multishot_state.
  return multishot_state[index_of(kind)].load(std::memory_order_relaxed) == multishot_refused_here;
}

void multishot_queue::force_multishot_refusal_for_test(multishot_kind kind, bool on) noexcept {
  // ORDERING: relaxed, both: see multishot_state; a test switches it while
  // no socket of that kind is armed.
  force_refusal[index_of(kind)].store(on, std::memory_order_relaxed);
  multishot_state[index_of(kind)].store(multishot_unknown, std::memory_order_relaxed);
}

bool multishot_queue::multishot_refusal_forced(multishot_kind kind) noexcept {
  // ORDERING: relaxed: see force_refusal.
  return force_refusal[index_of(kind)].load(std::memory_order_relaxed);
}

multishot_queue::multishot_queue(int fd, multishot_kind kind) noexcept : fd_(fd), kind_(kind) {
  arm_.code = kind == multishot_kind::accept ? io_opcode::accept : io_opcode::recv_buffered;
  arm_.fd = fd;
  arm_.from_queue = this;
}

multishot_queue& multishot_queue::of(io_handle& h, multishot_kind kind) {
  // ORDERING: acquire: pairs with the release of the CAS that published it.
  multishot_queue* q = h.queue.load(std::memory_order_acquire);
  if (q != nullptr) return *q;
  auto* fresh = new multishot_queue(h.fd, kind);
  // ORDERING: acq_rel: release publishes the new queue; acquire on failure
  // sees the winner's.
  if (h.queue.compare_exchange_strong(q, fresh, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
    return *fresh;
  }
  fresh->release();  // another task made it first (on another worker)
  return *q;
}

void multishot_queue::retain() noexcept {
  // ORDERING: relaxed: the caller already holds a reference.
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void multishot_queue::release() noexcept {
  // ORDERING: acq_rel: the release publishes this holder's last use; the
  // acquire on the final decrement sees every other holder's before delete.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (const item& it : results_) dispose(it);
  if (owns_fd_) close_fd(fd_);  // see close()
  delete this;
}

void multishot_queue::dispose(const item& it) noexcept {
  if (kind_ == multishot_kind::accept) {
    if (it.result >= 0) close_fd(it.result);
  } else if (it.ring != nullptr) {
    give_back_provided(it.ring, it.buffer);
  } else if (it.block != nullptr) {
    free_owned_block(it.block);
  }
}

std::size_t multishot_queue::high_water() const noexcept {
  return kind_ == multishot_kind::accept ? accept_high_water : recv_high_water;
}

bool multishot_queue::arm_wanted() const noexcept {
  if (armed_ || closed_) return false;
  // Hysteresis: after a stop, wait until half the queue is taken.
  return !waiters_.empty() || results_.size() <= high_water() / 2;
}

io_op* multishot_queue::begin_arm(uring_driver& d, bool ring_dry) noexcept {
  std::lock_guard<sync::spin_mutex> lock(mu_);
  if (!arm_wanted()) return nullptr;
  // A dry ring and results to take: the read starting now takes them, and
  // a poll armed for nobody would only come back empty.
  if (kind_ == multishot_kind::recv && ring_dry && !results_.empty()) return nullptr;
  std::byte* block = nullptr;
  if (kind_ == multishot_kind::recv && ring_dry && poll_found_nothing_) {
    block = alloc_owned_block();  // none: a poll again (memory is short anyway)
  }
  armed_ = true;
  // ORDERING: relaxed: a hint; start() re-checks under mu_.
  armed_hint_.store(true, std::memory_order_relaxed);
  stop_wanted_ = stop_sent_ = false;
  arm_ring_ = &d;
  arm_.fd = fd_;
  if (block != nullptr) {
    arm_.code = io_opcode::recv;  // after a poll that found nothing (see the diagram)
    arm_.flags = arm_block;
    arm_.buf = block;
    arm_.len = owned_block_size;
  } else if (kind_ == multishot_kind::recv && ring_dry) {
    arm_.code = io_opcode::poll;  // the dry-ring fallback (see the diagram)
    arm_.flags = arm_poll;
  } else {
    arm_.code = kind_ == multishot_kind::accept ? io_opcode::accept : io_opcode::recv_buffered;
    arm_.flags = (try_oneshot_ || multishot_refused(kind_)) ? 0 : arm_multishot;
  }
  arm_.result = 0;
  arm_.cancel_sent = false;
  arm_.driver = &d;
  // ORDERING: relaxed: published by mu_ to close(), which reads it under mu_
  // before cancelling; the ring owner's own thread submits it.
  arm_.state.store(io_op::in_flight, std::memory_order_relaxed);
  retain();  // the arm's reference, dropped after its final CQE
  WEFT_TEST_POINT("multishot_queue.armed");  // tests count arms; never hold it (mu_ is held)
  return &arm_;
}

bool multishot_queue::take(io_op& op, item& it) noexcept {
  const bool has_bytes = (it.ring != nullptr || it.block != nullptr) && it.result > 0;
  if (op.code != io_opcode::recv || !has_bytes) {
    // accept, read_buffered, or a result with no bytes: the whole item.
    op.result = it.result;
    if (op.code == io_opcode::recv_buffered && it.ring != nullptr) {
      op.provided = it.ring;
      op.buffer_id = it.buffer;
      op.buffer_offset = it.offset;
      op.result = it.result - static_cast<std::int32_t>(it.offset);
      op.needs_release = true;  // given back by the awaiter, or by release()
    } else if (op.code == io_opcode::recv_buffered && it.block != nullptr) {
      // The op owns the block from here (a recv_buffer frees it from its
      // start: what a read() took goes).
      const std::uint32_t left = static_cast<std::uint32_t>(it.result) - it.offset;
      if (it.offset != 0) std::memmove(it.block, it.block + it.offset, left);
      op.buf = it.block;
      op.len = owned_block_size;
      op.owns_buf = true;
      op.result = static_cast<std::int32_t>(left);
      it.block = nullptr;
    }
    return true;
  }
  // A read() into the caller's buffer: copy out of the buffer or block.
  const std::byte* from = it.ring != nullptr ? it.ring->buffer(it.buffer).data() : it.block;
  const std::uint32_t left = static_cast<std::uint32_t>(it.result) - it.offset;
  const std::uint32_t n = std::min(left, op.len);
  std::memcpy(op.buf, from + it.offset, n);
  op.result = static_cast<std::int32_t>(n);
  it.offset += n;
  if (it.offset < static_cast<std::uint32_t>(it.result)) return false;
  if (it.ring != nullptr) {  // used up: the buffer back to its ring, or the block freed
    give_back_provided(it.ring, it.buffer);
  } else {
    free_owned_block(it.block);
  }
  return true;
}

bool multishot_queue::start(io_op& op, std::coroutine_handle<> h, uring_driver& d) {
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
    // Before anything is linked: a failure here (no SQE) fails this op.
    if (wanted) d.arm(*this);
  }
  // Between the hint and the lock: the arm may end here (a test holds a
  // thread at this point to force that order).
  WEFT_TEST_POINT("multishot_queue.before_link");
  std::lock_guard<sync::spin_mutex> lock(mu_);
  op.driver = &d;  // release() goes through it (a provided buffer taken)
  if (!results_.empty()) {
    if (take(op, results_.front())) results_.pop_front();
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  if (closed_) {
    op.result = -EBADF;  // closed while this op started: a misuse, answered
    op.state.store(io_op::completed, std::memory_order_relaxed);  // ORDERING: as above
    return false;
  }
  if (kind_ == multishot_kind::accept && armed_ && arm_ring_ != &d) {
    // The arm is on another worker's (or runtime's) ring, which may be busy
    // or no longer driven: try the listener once here too. Connections have
    // no order, so taking one beside the arm is safe.
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      op.result = fd >= 0 ? fd : -errno;
      op.state.store(io_op::completed, std::memory_order_relaxed);  // ORDERING: as above
      return false;
    }
  }
  retain();  // the waiter's, dropped by release_waiter when its awaiter goes
  op.from_queue = this;
  op.needs_release = true;
  op.wake_on_done = weft::suspend_current(h);
  // ORDERING: relaxed: mu_ publishes it to the arm's ring and to cancel().
  op.state.store(io_op::in_flight, std::memory_order_relaxed);
  waiters_.push(op);
  WEFT_TEST_POINT("multishot_queue.waiter_linked");  // tests count it; never hold it
  if (!armed_) {
    // The arm ended between the hint and this lock (its last result went to
    // an earlier waiter, found by outside review: the new waiter waited with
    // nothing in the kernel). This worker arms it at its next poll or park,
    // which the suspension now under way reaches.
    retain();  // the work list's
    d.schedule_multishot_work(*this);
  }
  return true;
}

std::size_t multishot_queue::take_ready(ready_buffer* out, std::size_t n) noexcept {
  if (kind_ != multishot_kind::recv) return 0;
  std::lock_guard<sync::spin_mutex> lock(mu_);
  std::size_t taken = 0;
  while (taken < n && !results_.empty()) {
    const item& it = results_.front();
    // The end of stream, an error or a fallback's block: the next read's.
    if (it.ring == nullptr || it.result <= 0) break;
    out[taken++] = ready_buffer{it.ring, it.buffer, it.offset,
                                static_cast<std::uint32_t>(it.result) - it.offset};
    results_.pop_front();
  }
  return taken;
}

void multishot_queue::cancel(io_op& op) noexcept {
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

void multishot_queue::release_waiter(io_op& op) noexcept {
  op.from_queue = nullptr;
  release();
}

void multishot_queue::deliver(item it, io_op*& done) noexcept {
  while (io_op* w = waiters_.head) {
    waiters_.remove(*w);
    const bool used_up = take(*w, it);
    // ORDERING: relaxed: under mu_; cancel() reads it under mu_.
    w->state.store(io_op::completing, std::memory_order_relaxed);
    w->next = done;
    done = w;
    if (used_up) return;  // else the next waiter reads on from it.offset
  }
  results_.push_back(it);
  WEFT_TEST_POINT("multishot_queue.queued");  // tests count it; never hold it (mu_ is held)
}

multishot_queue::next multishot_queue::on_arm_cqe(std::int32_t result, bool more, buffer_ring* ring,
                                                  std::uint16_t buffer) noexcept {
  io_op* done = nullptr;
  next what = next::nothing;
  const std::size_t k = index_of(kind_);
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    const bool multishot = (arm_.flags & arm_multishot) != 0;
    if (multishot && (more || result >= 0)) {
      // ORDERING: relaxed: see multishot_state.
      multishot_state[k].store(multishot_works, std::memory_order_relaxed);
    }
    if (!more) {
      WEFT_TEST_POINT("multishot_queue.arm_ended");  // tests count it; never hold it
      armed_ = false;
      // ORDERING: relaxed: a hint (see begin_arm).
      armed_hint_.store(false, std::memory_order_relaxed);
    }
    item it{result, buffer, 0, ring};
    if (result == -ECANCELED || result == -ENOBUFS) {
      // A stop, a close, shutdown, the submitting thread exited, or the
      // ring ran dry (the bytes wait in the socket): no answer to anyone.
      dispose(it);
    } else if (closed_) {
      dispose(it);
    } else if (!more && multishot && result == -EINVAL &&
               // ORDERING: relaxed: see multishot_state.
               multishot_state[k].load(std::memory_order_relaxed) == multishot_unknown) {
      try_oneshot_ = true;  // an older kernel, or an invalid socket: see "Fallback"
    } else {
      if (try_oneshot_ && !multishot) {
        try_oneshot_ = false;
        // ORDERING: relaxed: see multishot_state.
        if (result != -EINVAL) multishot_state[k].store(multishot_refused_here, std::memory_order_relaxed);
      }
      if (kind_ == multishot_kind::accept && result >= 0) {
        // Fault site: the accept fails as the kernel reports it (the
        // connection it took is closed: its client sees the connection end).
        if (const int err = fault::inject(fault::site::accept)) {
          close_fd(result);
          it.result = -err;
        }
      }
      deliver(it, done);
    }
    if (more && !stop_wanted_ && results_.size() >= high_water()) {
      stop_wanted_ = true;
      what = next::work;
    }
    // Re-arm for them (after -ENOBUFS the owner's ring is dry: a poll).
    if (!more && !closed_ && !waiters_.empty()) what = next::work;
    if (what != next::nothing) retain();  // the driver's list's reference
  }
  finish_completing(done);
  return what;
}

multishot_queue::next multishot_queue::on_poll_cqe(std::int32_t result,
                                                   bool ring_has_buffers) noexcept {
  io_op* done = nullptr;
  next what = next::nothing;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    armed_ = false;
    // ORDERING: relaxed: a hint (see begin_arm).
    armed_hint_.store(false, std::memory_order_relaxed);
    // Waiters imply an empty results_ (a read takes from it before linking),
    // so bytes read here come after everything queued. Not closed: close()
    // marks the queue under mu_ before the descriptor is closed, so fd_ is
    // still this socket for the recv below.
    if (!closed_ && !waiters_.empty()) {
      if (result < 0 && result != -ECANCELED) {
        deliver(item{result}, done);  // the poll itself failed (EBADF, ...)
      } else if (result >= 0 && !ring_has_buffers) {
        std::byte* block = alloc_owned_block();
        if (block == nullptr) {
          deliver(item{-ENOMEM}, done);
        } else {
          const ssize_t n = ::recv(fd_, block, owned_block_size, MSG_DONTWAIT);
          const int err = errno;
          if (n > 0) {
            WEFT_TEST_POINT("multishot_queue.read_own_block");  // tests count it; never hold it
            deliver(item{static_cast<std::int32_t>(n), 0, 0, nullptr, block}, done);
          } else {
            free_owned_block(block);
            if (n == 0) {
              deliver(item{0}, done);  // end of stream
            } else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
              deliver(item{-err}, done);
            } else {
              // Readable, yet nothing to read: POLLERR from a non-empty
              // error queue, or another reader of the descriptor. Polling
              // again would come back at once: receive next time.
              poll_found_nothing_ = true;
            }
          }
        }
      }
    }
    if (!closed_ && !waiters_.empty()) {
      what = next::work;  // re-armed: into the ring if it has buffers, else a poll
      retain();           // the driver's list's reference
    }
  }
  finish_completing(done);
  return what;
}

multishot_queue::next multishot_queue::on_block_cqe(std::int32_t result) noexcept {
  io_op* done = nullptr;
  next what = next::nothing;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    armed_ = false;
    // ORDERING: relaxed: a hint (see begin_arm).
    armed_hint_.store(false, std::memory_order_relaxed);
    poll_found_nothing_ = false;
    item it{result};
    if (result > 0) it.block = static_cast<std::byte*>(arm_.buf);
    if (result <= 0) free_owned_block(static_cast<std::byte*>(arm_.buf));
    arm_.buf = nullptr;
    if (result == -ECANCELED || closed_) {
      dispose(it);
    } else {
      // The bytes left the socket: a result even if no read waits now
      // (waiters imply an empty results_, so they come after what is queued).
      if (result > 0) WEFT_TEST_POINT("multishot_queue.read_own_block");  // tests count it
      deliver(it, done);
    }
    if (!closed_ && !waiters_.empty()) {
      what = next::work;
      retain();  // the driver's list's reference
    }
  }
  finish_completing(done);
  return what;
}

void multishot_queue::run_work(uring_driver& d, bool quiescing) {
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
    WEFT_TEST_POINT("multishot_queue.stop_sent");
    (void)d.cancel_op_local(arm_);  // its final CQE comes back -ECANCELED
  } else if (rearm) {
    try {
      d.arm(*this);
    } catch (...) {
      release();  // the list's reference; the error ends the park or poll
      throw;
    }
  }
  release();
}

bool multishot_queue::close() noexcept {
  io_op* done = nullptr;
  std::deque<item> queued;
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
  for (const item& it : queued) dispose(it);
  bool keeps_fd = false;
  if (ring != nullptr && !ring->is_current()) {
    // The arm is on another thread's ring, which cancels it only at its next
    // poll or park — or never, if nobody drives it now. Meanwhile the request
    // holds the socket, and its SQE may not even have reached the kernel:
    //  - shut the socket down now: a listener stops listening (its port is
    //    free, new clients are refused), a stream's peer sees the end;
    //  - keep the descriptor open until the arm has ended (the last
    //    reference closes it), so its number cannot be reused by another
    //    socket while a stale SQE still names it.
    // Found by outside review (a rebind failing with EADDRINUSE after close;
    // an arm issued on a reused number taking another listener's clients).
    (void)::shutdown(fd_, kind_ == multishot_kind::accept ? SHUT_RD : SHUT_RDWR);
    {
      std::lock_guard<sync::spin_mutex> lock(mu_);
      keeps_fd = armed_;
      owns_fd_ = keeps_fd;
    }
  }
  // The arm holds its own reference until its final CQE, so arm_ outlives
  // this call even if that CQE is reaped meanwhile.
  if (ring != nullptr) ring->cancel_arm(arm_);
  release();  // the handle's
  return keeps_fd;
}

bool close_multishot_queue(multishot_queue* q) noexcept { return q->close(); }

void release_multishot_waiter(io_op& op) noexcept { op.from_queue->release_waiter(op); }

}  // namespace weft::detail
