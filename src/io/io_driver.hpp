// io_driver — what an I/O operation sees of the backend its worker runs.
//
// Design
// ------
// Every worker has one I/O driver, made with its park driver by the factory
// the runtime chose (io_backend.hpp). The scheduler keeps it without looking
// inside; an operation (io_op.cpp) and weft::fs's primitives (fs/backend.cpp)
// reach the backend only through this interface, never by its concrete type:
//
//   start(op, h, hook)   the task's thread, which is the driver's owner. Start
//                        `op` for the running task. Returns false if it
//                        completed at once (result set, state `completed`,
//                        no suspension); true once the task is suspended
//                        with op.wake_on_done holding its waker, op.driver
//                        == this, and — if the op cannot be unlinked
//                        synchronously from another thread — `hook` set as
//                        the task's cancel hook. A start the system refuses
//                        throws std::system_error with the errno; io_start
//                        turns that into the op's result.
//   cancel(op)           any thread, op.driver == this. True if `op` has
//                        completed (already, or by this call); false if its
//                        cancellation is under way and its completion will
//                        come through the normal path (the task is woken).
//   wait_completed(op)   any thread, after cancel returned false, when the
//                        op's coroutine is being destroyed without waiting
//                        for its wake: returns once `op` is `completed`, so
//                        its memory may go.
//   caps()               what the backend does itself (constant for the
//                        driver's life).
//   release(op)          any thread, once the op is completed and its
//                        awaiter goes, if the driver set op.needs_release.
//
// Implementations: uring_driver (completion-based: an SQE per op, the CQE
// completes it), epoll_driver (readiness: io_source tries the system call
// and waits for the edge), sim_network (a simulation's in-memory network and
// file system: sockets connect and move bytes in memory, files are read and
// written in memory, on virtual time).
//
// Arrows: this header depends on nothing above the I/O layer; the scheduler
// includes it to hold a worker's driver and defines current_io_driver().
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/detail/task_header.hpp>

#include <coroutine>

namespace weft::detail {

/// What a backend does itself, so its callers can choose a path.
struct io_capabilities {
  /// File operations (open, read/write at an offset, statx, fsync, rename…)
  /// are operations of the driver; without them weft::fs runs the system
  /// call on the blocking pool.
  bool file_ops = false;
  /// ftruncate is an operation of the driver too (io_opcode::ftruncate: the
  /// simulation's file system; liburing 2.3 has no truncate opcode, so
  /// io_uring runs it on the blocking pool).
  bool truncate_op = false;
  /// A simulation's virtual worker: no real I/O (its sockets and files are
  /// in memory).
  bool simulated = false;
};

class io_driver {
 public:
  virtual ~io_driver() = default;

  /// See the header. Owner thread.
  virtual bool start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) = 0;
  /// See the header. Any thread.
  virtual bool cancel(io_op& op) noexcept = 0;
  /// See the header. Any thread; only after cancel(op) returned false.
  virtual void wait_completed(io_op& op) noexcept = 0;
  [[nodiscard]] virtual io_capabilities caps() const noexcept = 0;
  /// Any thread: the awaiter of a completed op that has needs_release set is
  /// going away; the driver drops what it kept for the op (a listener's
  /// accept queue keeps itself alive for its waiters).
  virtual void release(io_op& /*op*/) noexcept {}
  /// The task's thread: the socket `h` has just been bound and made to
  /// listen (tcp_listener::bind, unix_listener::bind). The simulation's
  /// network records it as a listener a connect can reach; the kernel
  /// backends need nothing.
  virtual void on_listen(io_handle& /*h*/) noexcept {}
  /// The task's thread: `a` and `b` are a fresh connected pair of Unix
  /// stream sockets (unix_stream::pair); the simulation's network connects
  /// them in memory.
  virtual void on_socket_pair(int /*a*/, int /*b*/) noexcept {}
};

/// The I/O driver of the worker this thread is (of any runtime); nullptr off
/// a worker. Defined by the scheduler, which knows which worker a thread is.
io_driver* current_io_driver() noexcept;

}  // namespace weft::detail
