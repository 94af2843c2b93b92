// weft/net/socket.hpp — what every weft socket shares: the descriptor, the
// awaiters its operations return, and the byte-stream operations of TCP and
// Unix stream sockets.
//
// Every operation that can wait returns an awaiter (no allocation: the
// operation lives in the awaiter, in the awaiting coroutine's frame) or, for
// loops over several operations (read_exact, write_all), a task. Results are
// weft::result<T>: a value or a std::error_code (system_category errnos;
// weft::errc::operation_canceled for a cancelled operation).
//
// For every awaitable here:
// - completion: when the kernel finishes the operation (io_uring), or when
//   the socket is ready and the non-blocking call succeeds or fails (epoll).
// - cancellation: destroying the awaiting coroutine — weft::timeout losing
//   the race, runtime shutdown — cancels the operation; with io_uring the
//   coroutine is destroyed only after the kernel has returned the buffer. A
//   read cancelled on io_uring may have consumed bytes that are then lost (as
//   with any completion-based I/O) — except read_buffered(), and read() on a
//   stream that has used read_buffered(), which wait in the stream's queue
//   and consume nothing while they wait; on epoll a cancelled read consumed
//   none. On every backend, a read that had completed when its task was
//   cancelled, before the task resumed, takes its bytes with it.
//   A cancelled write may have sent part of its buffer or all of it (a send
//   that completed just before the cancellation took effect).
// - read_exact / write_all are loops of reads / writes: an error or a
//   cancellation (weft::timeout, weft::with_cancellation, a losing
//   weft::when_any branch, shutdown) can end them after some bytes moved,
//   and the result then carries only the error code. To learn how many, use
//   the overloads with `std::size_t& transferred`: it is set to 0 when the
//   call is made and grows as each read or write completes, in the caller's
//   memory, so it is exact also when the loop is cancelled and its frame
//   destroyed — once the awaiting expression has finished (the cancelling
//   timeout / with_cancellation / when_any has returned), the counter is
//   final and no part of the loop runs any more. After a cancelled or failed
//   write_all, exactly the first `transferred` bytes of the buffer were
//   handed to the kernel (they will reach the peer unless the connection
//   fails) and none after them: a retry resumes at buf.subspan(transferred).
//   After a cancelled or failed read_exact, the first `transferred` bytes of
//   the buffer hold data read from the stream, on both backends (also a read
//   that completed on io_uring just as it was cancelled), and the stream is
//   positioned right after them. `transferred` must outlive the operation.
// - resumes on: a worker of the runtime the awaiting task runs on.
// - runtime shutdown: operations in flight are cancelled and their tasks
//   destroyed, never resumed.
// - allocation: none per operation (read_exact/write_all: one task frame;
//   read_buffered on epoll, or without provided buffers: its 16 KiB block).
// Do not close a socket while another task awaits an operation on it.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/net/recv_buffer.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace weft::net {

namespace detail {

/// An operation whose raw result (>= 0, or -errno) becomes result<T>.
template <class T>
class io_result_awaiter : public weft::detail::io_awaiter {
 public:
  result<T> await_resume() noexcept {
    const std::int32_t r = io_awaiter::await_resume();
    if (r < 0) return weft::detail::io_error(r);
    return static_cast<T>(r);
  }
};

/// A result<void> from a raw result.
class io_void_awaiter : public weft::detail::io_awaiter {
 public:
  result<void> await_resume() noexcept {
    const std::int32_t r = io_awaiter::await_resume();
    if (r < 0) return weft::detail::io_error(r);
    return {};
  }
};

/// Set up an awaiter's operation on `h`.
template <class A>
A make_op(weft::detail::io_handle& h, weft::detail::io_opcode code, void* buf,
          std::size_t len, int flags = 0) {
  A a;
  weft::detail::io_op& op = a.op();
  op.code = code;
  op.handle = &h;
  op.fd = h.fd;
  op.buf = buf;
  op.len = static_cast<std::uint32_t>(len > 0x7fff'f000 ? 0x7fff'f000 : len);  // as read(2) caps it
  op.flags = flags;
  return a;
}

/// sendmsg/recvmsg: the msghdr lives in the awaiter and is pointed at when
/// the await starts (the awaiter may move before that).
template <class T>
class msg_awaiter : public io_result_awaiter<T> {
 public:
  /// A refused operation (see refuse) completes at once, with no system
  /// call and without going through the ring.
  bool await_ready() const noexcept { return refused_; }
  bool await_suspend(std::coroutine_handle<> h) {
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov_count;
    if (has_name) {
      msg.msg_name = &name;
      msg.msg_namelen = name_len;
    }
    this->op().buf = &msg;
    return io_result_awaiter<T>::await_suspend(h);
  }
  msghdr msg{};
  sockaddr_storage name{};
  socklen_t name_len = sizeof(sockaddr_storage);
  bool has_name = false;
  std::array<iovec, 8> iov{};
  std::size_t iov_count = 0;

  /// Make the await complete at once with -`negative_errno`'s error (misuse
  /// found before anything was started).
  void refuse(std::int32_t negative_errno) noexcept {
    refused_ = true;
    this->op().result = negative_errno;
  }

 private:
  bool refused_ = false;
};

/// accept: the peer's address lands in the awaiter; the result is a Stream
/// adopting the new descriptor.
template <class Stream>
class accept_awaiter : public weft::detail::io_awaiter {
 public:
  bool await_suspend(std::coroutine_handle<> h) {
    addr_len_ = sizeof addr_;
    op().addr = &addr_;
    op().addrlen = &addr_len_;
    return io_awaiter::await_suspend(h);
  }
  result<Stream> await_resume() noexcept {
    const std::int32_t r = io_awaiter::await_resume();
    if (r < 0) return weft::detail::io_error(r);
    return Stream(r);
  }

 private:
  sockaddr_storage addr_{};
  socklen_t addr_len_ = sizeof(sockaddr_storage);
};

/// stream_socket::read_buffered: the bytes come in a recv_buffer.
class buffered_read_awaiter : public weft::detail::io_awaiter {
 public:
  result<recv_buffer> await_resume() noexcept {
    const std::int32_t r = io_awaiter::await_resume();
    weft::detail::io_op& o = op();
    if (r < 0) return weft::detail::io_error(r);  // an owned block is freed with the op
    recv_buffer b;
    if (o.provided != nullptr) {
      b.ring_ = std::exchange(o.provided, nullptr);
      b.id_ = o.buffer_id;
      b.data_ = weft::detail::provided_data(b.ring_, b.id_) + o.buffer_offset;
      b.size_ = static_cast<std::size_t>(r);
    } else if (o.owns_buf && r > 0) {
      o.owns_buf = false;
      b.data_ = static_cast<std::byte*>(o.buf);
      b.size_ = static_cast<std::size_t>(r);
      b.owned_ = true;
    }
    return b;
  }
};

/// connect(2) on `h` to the address in `addr` (which must outlive the await).
task<result<void>> connect_socket(weft::detail::io_handle& h, const sockaddr_storage& addr,
                                  socklen_t len);

/// A new non-blocking, close-on-exec socket.
result<int> open_socket(int family, int type) noexcept;

}  // namespace detail

/// A socket descriptor owned by a weft socket object. Move-only; the
/// destructor closes it.
class socket_base {
 public:
  socket_base() noexcept = default;
  explicit socket_base(int fd) noexcept : h_(fd) {}
  socket_base(socket_base&&) noexcept = default;
  socket_base& operator=(socket_base&&) noexcept = default;

  /// The descriptor (still owned by this object).
  [[nodiscard]] int native_handle() const noexcept { return h_.fd; }
  [[nodiscard]] bool is_open() const noexcept { return h_.fd >= 0; }
  /// Close now (the destructor does it too).
  void close() noexcept { h_.close(); }

  /// setsockopt(2) / getsockopt(2) of an int option.
  result<void> set_option(int level, int name, int value) noexcept;
  result<int> get_option(int level, int name) const noexcept;

 protected:
  weft::detail::io_handle h_;
};

/// The operations of a connected byte stream (TCP, Unix stream).
class stream_socket : public socket_base {
 public:
  using socket_base::socket_base;

  /// Read up to buf.size() bytes; 0 means the peer closed its side (end of
  /// stream). A partial read is normal.
  detail::io_result_awaiter<std::size_t> read(std::span<std::byte> buf) {
    return detail::make_op<detail::io_result_awaiter<std::size_t>>(
        h_, weft::detail::io_opcode::recv, buf.data(), buf.size());
  }
  /// Write up to buf.size() bytes; returns how many went. A partial write is
  /// normal; see write_all. A peer that reset the connection gives
  /// ECONNRESET or EPIPE (never SIGPIPE).
  detail::io_result_awaiter<std::size_t> write(std::span<const std::byte> buf) {
    return detail::make_op<detail::io_result_awaiter<std::size_t>>(
        h_, weft::detail::io_opcode::send, const_cast<std::byte*>(buf.data()), buf.size());
  }
  /// Write several buffers with one system call. Returns the bytes written
  /// in total. More than 8 buffers complete at once with
  /// std::errc::invalid_argument, before any system call: nothing is written.
  detail::msg_awaiter<std::size_t> write_vectored(std::span<const std::span<const std::byte>> bufs);

  /// Read what arrives next into a buffer the runtime owns (see
  /// weft/net/recv_buffer.hpp): an empty recv_buffer at end of stream. On
  /// io_uring a connection waiting here pins no buffer, and a read_buffered
  /// cancelled while it waits consumed nothing. Mixing it with read() on one stream is
  /// allowed: the bytes come in order, whichever takes them.
  detail::buffered_read_awaiter read_buffered() {
    return detail::make_op<detail::buffered_read_awaiter>(
        h_, weft::detail::io_opcode::recv_buffered, nullptr, 0);
  }

  /// What read_buffered() would return next, without waiting: the buffers
  /// this stream's receive has already queued (io_uring, once read_buffered()
  /// has been used on the stream), in order, as many as fit in `out`. Returns
  /// how many it moved into `out` — 0 if none is queued, on epoll, or where
  /// the next result is the end of stream or an error (left for
  /// read_buffered() to return). A large message arrives in several 16 KiB
  /// buffers: a server takes the first with read_buffered(), the rest with
  /// this, and writes them all with one write_all_vectored().
  /// It never waits and never restarts the stream's receive (which stops
  /// when its queue is full or the worker's buffers run out): after a 0,
  /// call read_buffered(), which does. Buffers taken are held until the
  /// recv_buffers go: a connection holding many while its peer does not read
  /// leaves fewer of the worker's 256 for the others.
  std::size_t read_buffered_ready(std::span<recv_buffer> out) noexcept;

  /// Read exactly buf.size() bytes. errc::end_of_stream if the peer closes first.
  task<result<void>> read_exact(std::span<std::byte> buf);
  /// read_exact that also reports how many bytes of buf it filled (set to 0
  /// now, updated as each read completes; exact after an error, end of
  /// stream or cancellation — see the top of this file).
  task<result<void>> read_exact(std::span<std::byte> buf, std::size_t& transferred);
  /// Write all of buf, however many writes it takes.
  task<result<void>> write_all(std::span<const std::byte> buf);
  /// write_all that also reports how many bytes of buf went to the kernel
  /// (set to 0 now, updated as each write completes; exact after an error or
  /// cancellation — see the top of this file).
  task<result<void>> write_all(std::span<const std::byte> buf, std::size_t& transferred);

  /// Write all of several buffers, in order, however many writes it takes
  /// (each a sendmsg(2) of up to 8 of them). The spans, and the bytes they
  /// view, must outlive the call. Errors and cancellation as write_all's
  /// (how many bytes went is not reported).
  task<result<void>> write_all_vectored(std::span<const std::span<const std::byte>> bufs);

  /// Write all of `data` with zero copy where the kernel offers it: on
  /// io_uring (Linux 6.0+) and a TCP socket, each send is an
  /// IORING_OP_SEND_ZC, which pins `data`'s pages instead of copying them;
  /// elsewhere (epoll, a Unix socket, an older kernel) the bytes are copied
  /// by plain sends, with the same result. On success the buffer comes back,
  /// unchanged, once the kernel no longer reads it (on loopback: once the
  /// peer has read it all), so it can be refilled and sent again without an
  /// allocation. Worth it only for large writes to a real network: on
  /// loopback the kernel copies at the receiver anyway and zero copy is
  /// slower at every size (docs/benchmarks.md).
  /// - completion: every byte handed to the kernel and, for each SEND_ZC,
  ///   its notification reaped; or the first error.
  /// - cancellation (a timeout, a token, shutdown): ends the call at once,
  ///   even while the kernel still holds the buffer (a peer that stopped
  ///   reading). The buffer then stays with the runtime until the kernel lets
  ///   it go, and is freed there; if the runtime shuts down first, it is kept
  ///   until the process exits (its bytes may still be sent). Bytes sent
  ///   before the cancellation reach the peer; how many is not reported.
  /// - errors: the error of the failing send; the buffer is not returned.
  /// - resumes on: a worker of the runtime the awaiting task runs on.
  /// - allocation: the call's task frame and one record holding `data`.
  task<result<std::vector<std::byte>>> write_all_zero_copy(std::vector<std::byte> data);

  /// shutdown(2): SHUT_WR sends FIN (the peer reads end of stream),
  /// SHUT_RD, SHUT_RDWR.
  result<void> shutdown(int how = SHUT_WR) noexcept;
};

}  // namespace weft::net
