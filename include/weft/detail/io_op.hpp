// weft/detail/io_op.hpp — one I/O operation, and the awaiter every I/O call
// returns.
//
// Design
// ------
// weft's I/O is completion-based on both backends: an operation is described
// once (io_op: opcode, fd, buffer, flags), started, and completes exactly once
// with a result — a byte count or new fd (>= 0) or a negated errno, as the
// kernel gives it. The awaiter holds the io_op, so a wait costs no allocation.
//
// io_uring: the op is an SQE on the ring of the worker the task runs on
// (user_data = &op); the completion is delivered on that worker while it
// polls or parks, which wakes the task. A socket send (or sendmsg) is first tried as a
// non-blocking system call (a socket with room takes it at once, with no
// ring round trip); only a send that would block becomes an SQE. The kernel owns the buffer until the
// CQE arrives, so an op is never freed in flight:
//   - cancelling (a lost timeout) goes through the task's cancel hook: it
//     submits IORING_OP_ASYNC_CANCEL (directly on the owning worker, or by
//     handing the op to that worker's cancel list and unparking it), and the
//     task is destroyed only when the op's own CQE has come back;
//   - runtime shutdown quiesces every ring (cancel all, reap all) before any
//     task is destroyed;
//   - an op that completed after its task was cancelled and produced an fd
//     (accept, open) has that fd closed by the awaiter's destructor.
//
// epoll: the fd is registered once (edge-triggered) with the epoll of the
// worker that first used it (io_source). Starting an op tries the syscall at
// once (non-blocking); on EAGAIN the op joins the source's read or write
// list, and the worker owning the epoll performs it when the fd becomes
// ready, then wakes the task. Cancelling unlinks it under the source's lock,
// synchronously, from any thread, through the op's own record of its
// source (a close in progress has already taken the handle's): under the
// driver's retired-list lock, an op not yet completed has a source that
// retire() has not handed to the driver, so it cannot be freed meanwhile.
//
// Backends: an op reaches its backend only through the worker's I/O driver
// (src/io/io_driver.hpp: start, cancel, wait_completed, caps), recorded in
// io_op::driver when the op is started; nothing here knows which backend it is.
//
// State (io_op::state), one atomic per op:
//
//   idle ─start─┬─ finished at once, or refused (errno as result) ──────────────► completed
//               └─ SQE queued (io_uring) / linked on its source (epoll) ─► in_flight
//   in_flight ─┬─ CQE reaped (io_uring, owner) ─────────────────────────────────► completed
//              ├─ performed on an edge (epoll, owner, under the source's lock)
//              │    ─► completing ─ lock dropped ───────────────────────────────► completed
//              ├─ try_cancel (epoll, any thread, under the lock; -ECANCELED) ───► completed
//              └─ cancel from another thread (io_uring): CAS ─► cancel_queued
//   cancel_queued ─ the owner sends ASYNC_CANCEL; the op's own CQE ─────────────► completed
//
// `completed` is stored with release after `result` is written and the waker
// taken out of the op; whoever reads `result` loads it with acquire. Only the
// awaiter's own thread leaves `idle`; exactly one party stores `completed`.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>
#include <weft/waker.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace weft::detail {

class io_source;
class io_driver;
class multishot_queue;
class buffer_ring;

/// A socket's descriptor and, on the epoll backend, its registration (made
/// on first use by the worker the using task runs on); on io_uring, the
/// queue its multishot requests feed (src/io/multishot_queue.hpp: a
/// listener's accepts, a stream's buffered receives). Owned by the socket
/// object; close() retires both before closing
/// the fd.
struct io_handle {
  int fd = -1;
  sync::atomic<io_source*> source{nullptr};
  sync::atomic<multishot_queue*> queue{nullptr};
  /// io_uring: the kernel refused a SEND_ZC on this socket (EOPNOTSUPP: not
  /// TCP), so zero-copy writes on it go as plain sends. ORDERING: relaxed,
  /// both sides: a hint; either answer is correct, one only costs a refusal.
  sync::atomic<bool> zero_copy_refused{false};

  io_handle() noexcept = default;
  explicit io_handle(int f) noexcept : fd(f) {}
  io_handle(io_handle&& o) noexcept
      : fd(o.fd),
        source(o.take_source()),
        queue(o.take_queue()),
        // ORDERING: relaxed: see zero_copy_refused.
        zero_copy_refused(o.zero_copy_refused.load(std::memory_order_relaxed)) {
    o.fd = -1;
  }
  io_handle& operator=(io_handle&& o) noexcept {
    if (this != &o) {
      close();
      fd = o.fd;
      o.fd = -1;
      // ORDERING: relaxed: a move happens while no operation uses either
      // handle (the caller owns both).
      source.store(o.take_source(), std::memory_order_relaxed);
      queue.store(o.take_queue(), std::memory_order_relaxed);  // ORDERING: as above
      zero_copy_refused.store(o.zero_copy_refused.load(std::memory_order_relaxed),
                              std::memory_order_relaxed);  // ORDERING: as above
    }
    return *this;
  }
  ~io_handle() { close(); }

  /// Retire the registration, close the fd. Operations still waiting on it
  /// complete with operation_canceled (epoll); do not close a socket while
  /// another task awaits an io_uring operation on it.
  void close() noexcept;

 private:
  io_source* take_source() noexcept {
    // ORDERING: relaxed: see operator=.
    return source.exchange(nullptr, std::memory_order_relaxed);
  }
  multishot_queue* take_queue() noexcept {
    // ORDERING: relaxed: see operator=.
    return queue.exchange(nullptr, std::memory_order_relaxed);
  }
};

enum class io_opcode : std::uint8_t {
  read,      // read(fd, buf, len) — or pread at offset when has_offset
  write,     // write(fd, buf, len) — or pwrite at offset
  readv,     // readv/preadv(fd, iov, iovcnt)
  writev,    // writev/pwritev
  recv,      // recv(fd, buf, len, flags)
  send,      // send(fd, buf, len, flags | MSG_NOSIGNAL)
  recvmsg,   // recvmsg(fd, msg, flags)
  sendmsg,   // sendmsg(fd, msg, flags | MSG_NOSIGNAL)
  accept,    // accept4(fd, addr, addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK) → new fd
  connect,   // connect(fd, addr, addrlen) → 0
  fsync,     // fsync / fdatasync (flags: IORING_FSYNC_DATASYNC) — io_uring only
  openat,    // openat(AT_FDCWD, path, flags, mode) → new fd — io_uring only
  statx,     // statx(AT_FDCWD, path or fd, ...) — io_uring only
  unlinkat,  // io_uring only
  renameat,  // io_uring only
  mkdirat,   // io_uring only
  poll,      // poll for `flags` events (POLLIN/POLLOUT) → revents
  send_zc,   // send from a zero_copy_record (zero_copy_send.hpp): IORING_OP_SEND_ZC,
             // or a plain send where zero copy is not to be had
  ftruncate,  // ftruncate(fd, offset) — the simulation's file system only
             // (io_capabilities::truncate_op); io_uring refuses it
  recv_buffered,  // recv into a buffer the driver provides (io_op::provided),
                  // or a block the op owns (io_op::owns_buf; epoll allocates it
                  // only once the socket is readable) → bytes, 0 at end of stream
};

/// What to do: set before the op starts, copied when an awaiter moves.
struct io_params {
  io_opcode code = io_opcode::read;
  bool has_offset = false;
  int fd = -1;
  int flags = 0;
  std::uint32_t len = 0;
  std::uint64_t offset = 0;
  void* buf = nullptr;      // or iovec* / msghdr* / path / statx*
  void* addr = nullptr;     // sockaddr* (accept, connect) or second path
  socklen_t* addrlen = nullptr;
  socklen_t addr_size = 0;  // connect's address length
  unsigned mode = 0;        // openat/mkdirat mode, statx mask
  io_handle* handle = nullptr;  // sockets: the fd and its epoll registration
};

/// A link in an io_uring driver's list of its in-flight ops (owner thread
/// only; circular, so an op unlinks itself without knowing the list).
struct io_flight_link {
  io_flight_link* flight_next = nullptr;
  io_flight_link* flight_prev = nullptr;
};

/// The operation as the kernel sees it, plus its completion state.
struct io_op : io_params, io_flight_link {
  enum state_t : std::uint32_t { idle, in_flight, cancel_queued, completing, completed };

  // ---- completion ----
  std::int32_t result = 0;
  sync::atomic<std::uint32_t> state{idle};
  waker wake_on_done;
  io_driver* driver = nullptr;  // the driver the op was started on (set by its start)
  // epoll: the registration the op waits on, set when it is linked. The
  // cancel path uses this, never op.handle->source: io_handle::close nulls
  // that before retire() has completed the waiting ops.
  io_source* source = nullptr;
  // Intrusive links: the io_source's waiter lists (epoll), the driver's
  // cancel list (io_uring).
  io_op* next = nullptr;
  io_op* prev = nullptr;
  bool queued = false;  // on a driver's cancel list (under its lock)
  // io_uring, owner thread only: weft asked the kernel to cancel this op
  // (owner-side ASYNC_CANCEL); the ring-driving epoch it was last submitted
  // in; a connect whose first submission was lost, now waited for as a poll
  // (see uring_driver.hpp, "Ops orphaned by an exited thread").
  bool cancel_sent = false;
  bool connect_as_poll = false;
  std::uint32_t submit_epoch = 0;
  // io_uring: the socket's multishot queue this op waits in (a waiter), or
  // whose armed request it is (the arm). needs_release: the driver holds
  // something for this op until its awaiter goes (io_driver::release).
  bool needs_release = false;
  multishot_queue* from_queue = nullptr;
  // recv_buffered: the bytes are in buffer `buffer_id` of `provided` from
  // `buffer_offset` on (io_uring's provided buffers), or in `buf`, a block
  // the op owns (owns_buf: new std::byte[len]); the awaiter takes either.
  bool owns_buf = false;
  std::uint16_t buffer_id = 0;
  std::uint32_t buffer_offset = 0;
  buffer_ring* provided = nullptr;

  [[nodiscard]] bool is_completed() const noexcept {
    // ORDERING: acquire: pairs with the release store of `completed` by the
    // completing thread, so `result` is visible.
    return state.load(std::memory_order_acquire) == completed;
  }
};

/// Start `op` for the task running on this thread, resuming at `h` when it
/// completes. Returns false if it completed at once (result set, no
/// suspension), true if the task is suspended; then, if the op cannot be
/// abandoned synchronously (io_uring), `hook` is set as the task's cancel
/// hook. A start the system refuses (epoll_ctl cannot register the
/// descriptor, io_uring_enter fails hard while the SQ is full) completes the
/// op at once with that errno. Throws std::system_error (errc::no_runtime)
/// outside a runtime worker, errc::not_in_task outside a task.
bool io_start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook);

/// The cancel hook of an in-flight op (see task_header.hpp): true once the
/// op has completed, else starts its cancellation.
bool io_request_cancel(io_op& op) noexcept;

/// The awaiter of `op` is going away. If the op is still in flight (only
/// possible when its coroutine is destroyed without the cancel protocol),
/// cancel it and wait for its completion. Closes an fd the op produced that
/// nobody took.
void io_abandon(io_op& op, bool result_taken) noexcept;

/// The size of a block a buffered read owns (epoll; io_uring without
/// provided buffers), as of a provided buffer: a 4 KiB block split a 4 KiB
/// echo into several writes and cost two thirds of its throughput (measured).
inline constexpr std::uint32_t owned_block_size = 16384;
/// An owned block (owned_block_size bytes): from the calling thread's cache
/// of free blocks, else new[]; nullptr when memory is out. Any thread may
/// free a block, into its own cache (src/io/owned_blocks.cpp).
std::byte* alloc_owned_block() noexcept;
void free_owned_block(std::byte* block) noexcept;
/// recv_buffered on io_uring without provided buffers: the op becomes a recv
/// into a block it owns (owns_buf), freed by whoever ends up with it.
void io_use_owned_block(io_op& op);
/// A received buffer taken from a stream's queue without waiting
/// (io_take_ready_buffers): bytes [offset, offset + size) of provided buffer
/// `id` of `ring`, now the taker's to give back.
struct ready_buffer {
  buffer_ring* ring = nullptr;
  std::uint16_t id = 0;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};
/// Any thread: up to `n` buffers that `h`'s multishot receive has already
/// queued (io_uring, after a read_buffered()), in order; 0 if none or if
/// the socket has no such queue (epoll, no provided buffers, not yet read).
std::size_t io_take_ready_buffers(io_handle& h, ready_buffer* out, std::size_t n) noexcept;
/// Give provided buffer `id` back to `ring` (any thread).
void give_back_provided(buffer_ring* ring, std::uint16_t id) noexcept;
/// The first byte of provided buffer `id` of `ring`.
std::byte* provided_data(buffer_ring* ring, std::uint16_t id) noexcept;

/// The result as an error_code: -ECANCELED becomes weft::errc::operation_canceled.
std::error_code io_error(std::int32_t negative_errno) noexcept;

/// The awaiter of one operation. Movable until it is awaited.
class io_awaiter : private cancel_hook {
 public:
  io_awaiter() noexcept : cancel_hook{&cancel_op} {}
  io_awaiter(io_awaiter&& other) noexcept : cancel_hook{&cancel_op} { copy_params(other); }
  io_awaiter& operator=(io_awaiter&&) = delete;
  ~io_awaiter() {
    // ORDERING: relaxed: only the awaiter's own thread ever leaves `idle`.
    if (op_.state.load(std::memory_order_relaxed) != io_op::idle) io_abandon(op_, taken_);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return io_start(op_, h, this); }
  /// The raw result: >= 0 on success, a negated errno on failure.
  std::int32_t await_resume() noexcept {
    taken_ = true;
    return op_.result;
  }

  io_op& op() noexcept { return op_; }

 private:
  static bool cancel_op(cancel_hook* self) noexcept {
    return io_request_cancel(static_cast<io_awaiter*>(self)->op_);
  }
  void copy_params(const io_awaiter& o) noexcept {
    static_cast<io_params&>(op_) = static_cast<const io_params&>(o.op_);
  }

  io_op op_;
  bool taken_ = false;
};

}  // namespace weft::detail
