// io_op — starting, cancelling and abandoning an I/O operation through the
// current worker's I/O driver (the protocol: include/weft/detail/io_op.hpp;
// the driver interface: io/io_driver.hpp). Nothing here knows the backend.
#include <weft/detail/context.hpp>
#include <weft/detail/io_op.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/error.hpp>

#include "io/multishot_queue.hpp"
#include "io/io_driver.hpp"
#include "io/io_source.hpp"
#include "io/sim_sockets.hpp"

#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace weft::detail {
namespace {

// An op that completed at once (the driver's system call finished, or the
// system refused to start it) spends the cooperative budget: a task whose I/O
// is always ready, or whose start keeps failing, still lets others run.
// False if the task goes on (await_suspend returns false).
bool completed_at_once(std::coroutine_handle<> h) {
  if (consume_budget()) return false;
  suspend_current_and_reschedule(h);
  return true;
}

}  // namespace

bool io_start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) {
  if (current_task() == nullptr) {
    throw_error(errc::not_in_task,
                "weft I/O was awaited outside a weft task: run it with runtime::block_on or "
                "weft::spawn");
  }
  io_driver* d = current_io_driver();
  if (d == nullptr) {
    throw_error(errc::no_runtime,
                "weft I/O needs a runtime: await it in a task on a weft::runtime (runtime::block_on, "
                "weft::spawn, WEFT_MAIN), not under the standalone weft::block_on");
  }
  try {
    if (d->start(op, h, hook)) return true;
  } catch (const std::system_error& e) {
    // The system refused to start `op` (epoll_ctl could not register its
    // descriptor; io_uring_enter failed hard while making room in a full
    // SQ): the op completes at once with that errno, which its awaiter
    // returns as the operation's error. Nothing was queued and the task
    // never suspended. Anything else (a misuse error) propagates.
    if (e.code().category() != std::system_category() || e.code().value() <= 0) throw;
    op.result = -e.code().value();
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
  }
  return completed_at_once(h);
}

bool io_request_cancel(io_op& op) noexcept {
  if (op.is_completed()) return true;
  return op.driver->cancel(op);
}

void io_abandon(io_op& op, bool result_taken) noexcept {
  // The coroutine is destroyed without the cancel protocol having run (a
  // path that should not exist: shutdown quiesces first, a timeout waits).
  // Do not free memory the kernel may still write: cancel, then wait.
  if (!op.is_completed() && !io_request_cancel(op)) op.driver->wait_completed(op);
  if (op.needs_release) op.driver->release(op);
  if (op.owns_buf) {
    free_owned_block(static_cast<std::byte*>(op.buf));  // a buffered read nobody took
    op.owns_buf = false;
  }
  // An fd the op created that nobody took (the task was cancelled after the
  // accept or open had already succeeded) is closed, not leaked.
  if (!result_taken && op.result >= 0 &&
      (op.code == io_opcode::accept || op.code == io_opcode::openat)) {
    close_fd(op.result);  // a simulated socket's network hears of it
  }
}

std::size_t io_take_ready_buffers(io_handle& h, ready_buffer* out, std::size_t n) noexcept {
  // ORDERING: acquire: pairs with the release of the CAS that published the
  // queue (multishot_queue::of).
  multishot_queue* q = h.queue.load(std::memory_order_acquire);
  return q == nullptr ? 0 : q->take_ready(out, n);
}

void io_use_owned_block(io_op& op) {
  std::byte* block = alloc_owned_block();
  if (block == nullptr) throw std::bad_alloc();
  op.buf = block;
  op.len = owned_block_size;
  op.owns_buf = true;
  op.code = io_opcode::recv;
}

std::error_code io_error(std::int32_t negative_errno) noexcept {
  if (negative_errno == -ECANCELED) return make_error_code(errc::operation_canceled);
  return {-negative_errno, std::system_category()};
}

void io_handle::close() noexcept {
  // ORDERING: acquire: see epoll_driver::source_for.
  if (io_source* s = source.exchange(nullptr, std::memory_order_acquire)) {
    // A canceller of an op waiting on `s` no longer finds it through the
    // handle; it goes through io_op::source (epoll_driver::cancel).
    WEFT_TEST_POINT("io_handle.close.before_retire");
    s->retire();
  }
  // ORDERING: acquire: pairs with the release of the CAS that published it
  // (multishot_queue::of).
  bool fd_taken = false;
  if (multishot_queue* q = queue.exchange(nullptr, std::memory_order_acquire)) {
    fd_taken = close_multishot_queue(q);  // before the fd goes: its armed request is cancelled
  }
  if (fd >= 0 && !fd_taken) close_fd(fd);  // ::close, or the simulation's too
  fd = -1;
}

}  // namespace weft::detail
