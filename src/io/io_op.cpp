// io_op — starting, cancelling and abandoning an I/O operation on whichever
// backend the current worker runs (the protocol: include/weft/detail/io_op.hpp).
#include <weft/detail/context.hpp>
#include <weft/detail/io_op.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/error.hpp>

#include "io/epoll_driver.hpp"
#include "io/io_source.hpp"
#include "io/uring_driver.hpp"
#include "scheduler/runtime_core.hpp"

#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

namespace weft::detail {
namespace {

io_source* source_for(io_op& op, worker_io& io) {
  io_handle& h = *op.handle;
  // ORDERING: acquire: pairs with the release of the CAS that published the
  // source (its registration is complete).
  io_source* s = h.source.load(std::memory_order_acquire);
  if (s != nullptr) return s;
  auto* fresh = new io_source(h.fd, *io.epoll, *current_worker_runtime());
  // ORDERING: acq_rel: release publishes the new source; acquire on failure
  // sees the winner's.
  if (h.source.compare_exchange_strong(s, fresh, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
    return fresh;
  }
  fresh->retire();  // another task registered it first (on another worker)
  return s;
}

// A send on a socket usually finds room in the socket buffer: try it as a
// non-blocking system call first (as a readiness runtime would) and go
// through the ring only if it would block. True if the op completed (sent,
// partly sent, or failed).
bool try_send_inline(io_op& op) noexcept {
  const std::int32_t r = io_perform(op, /*first=*/true);
  if (r == -EAGAIN) return false;
  op.result = r;
  // ORDERING: relaxed: the op never left this thread.
  op.state.store(io_op::completed, std::memory_order_relaxed);
  return true;
}

// The system refused to start `op` (epoll_ctl could not register its
// descriptor; io_uring_enter failed hard while making room in a full SQ): the
// op completes at once with that errno, which its awaiter returns as the
// operation's error, as it would a failure the kernel reported for the op
// itself. Nothing was queued, and the task never suspended.
// Like any op completed at once, it spends the cooperative budget: a task
// retrying a start that keeps failing still lets others run.
bool fail_at_start(io_op& op, std::coroutine_handle<> h, const std::system_error& e) {
  if (e.code().category() != std::system_category() || e.code().value() <= 0) throw;
  op.result = -e.code().value();
  // ORDERING: relaxed: the op never left this thread.
  op.state.store(io_op::completed, std::memory_order_relaxed);
  if (!consume_budget()) {
    suspend_current_and_reschedule(h);
    return true;
  }
  return false;
}

}  // namespace

bool io_start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) {
  task_header* t = current_task();
  if (t == nullptr) {
    throw_error(errc::not_in_task,
                "weft I/O was awaited outside a weft task: run it with runtime::block_on or "
                "weft::spawn");
  }
  worker_io* io = current_worker_io();
  if (io != nullptr && io->simulated) {
    throw_error(errc::not_supported_in_simulation,
                "weft I/O (sockets, pipes, files) was awaited on a simulation runtime, which has "
                "no real I/O yet: run it on a multi_thread or current_thread runtime");
  }
  if (io == nullptr || (io->uring == nullptr && io->epoll == nullptr)) {
    throw_error(errc::no_runtime,
                "weft I/O needs a runtime: await it in a task on a weft::runtime (runtime::block_on, "
                "weft::spawn, WEFT_MAIN), not under the standalone weft::block_on");
  }
  if (io->uring != nullptr) {
    if (op.code == io_opcode::send && op.handle != nullptr && try_send_inline(op)) {
      // Sent at once into a socket with room: no ring round trip. A task whose
      // sends always go through still yields now and then (the budget).
      if (consume_budget()) return false;
      suspend_current_and_reschedule(h);
      return true;
    }
    try {
      io->uring->start_op(op);  // before the task is marked suspended
    } catch (const std::system_error& e) {
      return fail_at_start(op, h, e);
    }
    op.on_uring = true;
    op.wake_on_done = suspend_current(h);
    t->cancel_hook_ = hook;  // begin_suspend cleared it
    return true;
  }
  if (op.handle == nullptr) {
    // File-system ops never reach here on epoll (weft::fs uses the blocking
    // pool there); refuse rather than block a worker.
    op.result = -EOPNOTSUPP;
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  io_source* s = nullptr;
  try {
    s = source_for(op, *io);  // registers the descriptor with epoll the first time
  } catch (const std::system_error& e) {
    return fail_at_start(op, h, e);
  }
  if (s->start(op, h)) return true;
  // Completed at once. A task whose I/O is always ready still yields now and
  // then (the cooperative budget).
  if (!consume_budget()) {
    suspend_current_and_reschedule(h);
    return true;
  }
  return false;
}

bool io_request_cancel(io_op& op) noexcept {
  if (op.is_completed()) return true;
  if (!op.on_uring) {
    // Through the op's own source, not op.handle->source: a close in
    // progress has nulled that and is about to complete the op itself.
    static_cast<epoll_driver*>(op.driver)->cancel(op);
    return true;
  }
  auto* d = static_cast<uring_driver*>(op.driver);
  worker_io* io = current_worker_io();
  if (io != nullptr && io->uring == d) return d->cancel_op_local(op);
  return d->cancel_op_remote(op);
}

void io_abandon(io_op& op, bool result_taken) noexcept {
  if (!op.is_completed()) {
    // The coroutine is destroyed without the cancel protocol having run (a
    // path that should not exist: shutdown quiesces first, a timeout waits).
    // Do not free memory the kernel may still write: cancel, then wait.
    if (!io_request_cancel(op)) {
      auto* d = static_cast<uring_driver*>(op.driver);
      worker_io* io = current_worker_io();
      while (!op.is_completed()) {
        if (io != nullptr && io->uring == d) {
          try {
            (void)d->poll();
          } catch (...) {
          }
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  // An fd the op created that nobody took (the task was cancelled after the
  // accept or open had already succeeded) is closed, not leaked.
  if (!result_taken && op.result >= 0 &&
      (op.code == io_opcode::accept || op.code == io_opcode::openat)) {
    ::close(op.result);
  }
}

std::error_code io_error(std::int32_t negative_errno) noexcept {
  if (negative_errno == -ECANCELED) return make_error_code(errc::operation_canceled);
  return {-negative_errno, std::system_category()};
}

void io_handle::close() noexcept {
  // ORDERING: acquire: see source_for.
  if (io_source* s = source.exchange(nullptr, std::memory_order_acquire)) {
    // A canceller of an op waiting on `s` no longer finds it through the
    // handle; it goes through io_op::source (epoll_driver::cancel).
    WEFT_TEST_POINT("io_handle.close.before_retire");
    s->retire();
  }
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace weft::detail
