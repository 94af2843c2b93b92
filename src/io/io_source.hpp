// io_source — a socket's registration with a worker's epoll (the epoll
// backend's half of io_op.hpp).
//
// Design
// ------
// One io_source per socket, made when a task first starts an operation on
// it, registered edge-triggered (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI |
// EPOLLET)
// with the epoll of the worker that task runs on, data.ptr = the source.
// Two FIFO lists of waiting ops: readers (read, recv, recvmsg, accept) and
// writers (write, send, sendmsg, connect).
//
// An op on a source (io_op::state; all under the source's lock mu_ except
// the last store):
//
//   start ── try the syscall (none of its direction waits) ─ done ─► completed
//     │ EAGAIN
//     ▼
//   in_flight, linked on readers_/writers_
//     ├─ edge (owner thread): performed, unlinked ─► completing ─┐
//     ├─ retire() (close): unlinked, -ECANCELED ──► completing ─┤ lock dropped:
//     │                                                          └► completed, task woken
//     └─ try_cancel (any thread): unlinked, -ECANCELED ──────────► completed
//
// Starting an op (start(), the task's thread): under the source's lock, if
// no op of its direction waits, try the syscall non-blocking; anything but
// EAGAIN completes it at once. Otherwise link the op and suspend. Because the
// try and the link happen under the lock that the event side takes too, an
// edge that arrives after the EAGAIN finds the op linked: no lost wake-up.
//
// One readiness bit, read_drained_ (under the lock): a read of a TCP
// socket that returned fewer bytes than it asked for (but more than none)
// emptied the receive queue, so the next read would only draw EAGAIN. Until
// a read-direction event comes, a read (read, a plain recv, recv_buffered)
// is linked without trying: one recv(2) fewer per message (an echo of 4 KiB
// messages made two, tokio one). No wake-up is lost: the bit is set under
// the lock right after the recv, so bytes that arrive after it raise an edge (EPOLLET: every arrival wakes the socket's wait queue)
// whose on_event clears the bit and runs the linked read; an event that was
// pending from before only clears it early (one EAGAIN, as without the bit).
// Only TCP: a short read of an AF_UNIX stream can stop before queued bytes
// (at an SCM_RIGHTS message, a change of credentials), SCTP streams return
// a message per read, a datagram leaves the next one queued — and none of
// them raises an edge for what stayed. TCP's own early stop, at the urgent
// mark, is announced by EPOLLPRI (registered), which turns the bit off for
// good like a close. With SO_RCVLOWAT set, a read after a short one waits
// for the low-water mark (or the end), as epoll itself would. Not after 0
// (the end of the stream, which a read must see again at once), nor once
// an event has reported the peer's close, a hang-up or an error
// (read_closed_, sticky): a short read then leaves the end or the error to
// be read, and no edge will announce it again (a read of a TCP stream whose
// last bytes and FIN were reported together waited for ever; found by
// StreamProgress.CancelledWriteAllOnTcp... on epoll).
//
//   read_drained_:  false ── short read of TCP ──► true
//                     ▲                                │
//                     └── event with IN/RDHUP/HUP/ ◄───┘
//                         ERR/PRI (on_event)
//
// An event (on_event(), the epoll owner's thread): under the lock, perform
// the waiting ops of the ready direction(s) in order until one gets EAGAIN;
// each finished op is unlinked and marked `completing`. After the lock is
// released each is marked `completed` (release) and its task woken.
//
// Cancelling (epoll_driver::cancel → try_cancel(), any thread, the op's
// coroutine is being destroyed): the op names its source (io_op::source; the
// handle's pointer is nulled by a close in progress). Under the driver's
// retired-list lock the op's state is checked: not `completed` means
// retire() has not yet handed the source to the driver (it completes every
// op first), so the source cannot be freed while the lock is held. Then,
// under the source's lock, a linked op is unlinked; an op the owner or
// retire() is finishing (`completing`) is waited for after both locks are
// dropped — a few instructions, no blocking call. Lock order: the driver's
// retired-list lock, then the source's; nothing takes them the other way.
//
// Teardown (retire(), io_handle::close): EPOLL_CTL_DEL, then every op still
// linked completes with -ECANCELED, then the fd is closed and the source is
// handed to its driver, which frees it at the start of its next wait — an
// epoll_wait that collected the source's event before the DEL has finished
// by then (same thread), and a later one cannot return it.
//
// Lifetime: the source holds a reference on its runtime (the scheduler) until
// it is retired, so its driver outlives it even when a socket outlives the
// runtime object; a retired source is freed by the driver, at its next wait
// or when the driver is destroyed.
#pragma once

#include <weft/detail/io_op.hpp>

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>
#include "io/io_op_list.hpp"

#include <cstdint>

namespace weft::detail {

class epoll_driver;

class io_source {
 public:
  /// Registers `fd` with `driver`'s epoll. Throws std::system_error.
  io_source(int fd, epoll_driver& driver, scheduler& runtime);
  io_source(const io_source&) = delete;
  io_source& operator=(const io_source&) = delete;

  /// The task's thread: try `op`, or link it (see the header). Returns false
  /// if it completed at once; true after linking (the waker is stored).
  bool start(io_op& op, std::coroutine_handle<> h);
  /// The epoll owner's thread: the fd reported `events`.
  void on_event(std::uint32_t events) noexcept;
  /// Any thread, under the driver's retired-list lock (epoll_driver::cancel):
  /// unlink `op` and complete it with -ECANCELED if it still waits here.
  /// False if the event side or retire() is finishing it (`completing`) or
  /// has finished it: the caller waits for `completed` without the source.
  bool try_cancel(io_op& op) noexcept;
  /// io_handle::close: deregister, cancel what waits, close the fd, hand
  /// the source to the driver to free. `this` is gone after.
  void retire() noexcept;

  [[nodiscard]] epoll_driver& driver() const noexcept { return *driver_; }

  // Freed by the driver (epoll_driver::free_retired).
  static void destroy(io_source* s) noexcept;
  io_source* retired_next_ = nullptr;

 private:
  ~io_source();
  using op_list = io_op_list;
  static bool is_reader(const io_op& op) noexcept;
  /// Run the ops of `list` until one would block; finished ones are moved to
  /// `done` (linked through next).
  void run_list(op_list& list, io_op*& done) noexcept;

  /// Whether `fd` is a TCP socket (the only kind read_drained_ concerns).
  static bool is_tcp(int fd) noexcept;
  /// A read that read_drained_ concerns (see the header).
  [[nodiscard]] bool drain_tracked(const io_op& op) const noexcept;
  /// Under mu_: note a tracked read's result `r`.
  void note_read(const io_op& op, std::int32_t r) noexcept;

  int fd_;
  epoll_driver* driver_;
  scheduler* runtime_;
  bool tcp_ = false;  // a TCP socket (set once, before the source is shared)
  sync::spin_mutex mu_;
  bool read_drained_ = false;  // under mu_: see the header
  bool read_closed_ = false;   // under mu_: RDHUP, HUP, ERR or PRI reported (sticky)
  op_list readers_;
  op_list writers_;
};

/// One non-blocking attempt of `op` (epoll backend and the fast path).
/// `first`: the op's first attempt (connect issues connect(2); later
/// attempts read its outcome). Returns the result or -EAGAIN.
std::int32_t io_perform(io_op& op, bool first) noexcept;

}  // namespace weft::detail
