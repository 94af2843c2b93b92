// io_source — implementation; the protocol is in io_source.hpp.
#include "io/io_source.hpp"

#include "io/epoll_driver.hpp"
#include "support/fault_injection.hpp"

#include <weft/detail/test_point.hpp>

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <new>
#include <system_error>

namespace weft::detail {

std::int32_t io_perform(io_op& op, bool first) noexcept {
  ssize_t n = -1;
  for (;;) {
    switch (op.code) {
      case io_opcode::read:
        n = op.has_offset ? ::pread(op.fd, op.buf, op.len, static_cast<off_t>(op.offset))
                          : ::read(op.fd, op.buf, op.len);
        break;
      case io_opcode::write:
        n = op.has_offset ? ::pwrite(op.fd, op.buf, op.len, static_cast<off_t>(op.offset))
                          : ::write(op.fd, op.buf, op.len);
        break;
      case io_opcode::readv:
        n = ::readv(op.fd, static_cast<const iovec*>(op.buf), static_cast<int>(op.len));
        break;
      case io_opcode::writev:
        n = ::writev(op.fd, static_cast<const iovec*>(op.buf), static_cast<int>(op.len));
        break;
      case io_opcode::recv:
        n = ::recv(op.fd, op.buf, op.len, op.flags | MSG_DONTWAIT);
        break;
      case io_opcode::recv_buffered: {
        // The block is made only for bytes that are there: a connection
        // waiting for data holds none (an EAGAIN costs one allocation).
        std::byte* block = alloc_owned_block();  // the thread's cache, else new[]
        if (block == nullptr) return -ENOMEM;
        n = ::recv(op.fd, block, owned_block_size, MSG_DONTWAIT);
        if (n > 0) {
          op.buf = block;
          op.len = owned_block_size;
          op.owns_buf = true;
        } else {
          free_owned_block(block);
        }
        break;
      }
      case io_opcode::send:
      case io_opcode::send_zc:  // a zero-copy write where it is not to be had: a copy
        n = ::send(op.fd, op.buf, op.len, op.flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
      case io_opcode::recvmsg:
        n = ::recvmsg(op.fd, static_cast<msghdr*>(op.buf), op.flags | MSG_DONTWAIT);
        break;
      case io_opcode::sendmsg:
        n = ::sendmsg(op.fd, static_cast<const msghdr*>(op.buf),
                      op.flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
      case io_opcode::accept:
        n = fault::or_errno(fault::site::accept, [&op] {
          return ::accept4(op.fd, static_cast<sockaddr*>(op.addr), op.addrlen,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
        });
        break;
      case io_opcode::connect:
        if (first) {
          n = ::connect(op.fd, static_cast<const sockaddr*>(op.addr), op.addr_size);
          if (n < 0 && errno == EINPROGRESS) return -EAGAIN;
        } else {
          int err = 0;
          socklen_t len = sizeof err;
          if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
          if (err != 0) return -err;
          // Writable with no error can also mean "not connected yet" (an
          // unconnected socket reports EPOLLOUT|EPOLLHUP when registered).
          sockaddr_storage peer{};
          socklen_t plen = sizeof peer;
          if (::getpeername(op.fd, reinterpret_cast<sockaddr*>(&peer), &plen) < 0) {
            return errno == ENOTCONN ? -EAGAIN : -errno;
          }
          return 0;
        }
        break;
      default:
        return -EOPNOTSUPP;  // file-system ops never go through epoll
    }
    if (n >= 0) return static_cast<std::int32_t>(n);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return -EAGAIN;
    return -errno;
  }
}

// ---- io_source -------------------------------------------------------------------

io_source::io_source(int fd, epoll_driver& driver, scheduler& runtime)
    : fd_(fd), driver_(&driver), runtime_(&runtime) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.ptr = this;
  if (fault::or_errno(fault::site::epoll_ctl, [&] {
        return ::epoll_ctl(driver.epoll_fd(), EPOLL_CTL_ADD, fd, &ev);
      }) < 0) {
    throw std::system_error(errno, std::system_category(), "epoll_ctl(EPOLL_CTL_ADD)");
  }
  tcp_ = is_tcp(fd);
  runtime_->retain();
}

io_source::~io_source() = default;

void io_source::destroy(io_source* s) noexcept { delete s; }

bool io_source::is_reader(const io_op& op) noexcept { return is_read_op(op.code); }

bool io_source::is_tcp(int fd) noexcept {
  // Only TCP: a short read of an AF_UNIX stream can stop before bytes still
  // queued (at an SCM_RIGHTS message, a change of credentials, an OOB
  // byte), and other SOCK_STREAM protocols (SCTP one-to-one) return one
  // message per read — none of them raises an edge for what stays behind.
  // IPPROTO_TCP is a stream of AF_INET or AF_INET6 only: one system call
  // per registration says it all (a descriptor that is no socket: ENOTSOCK).
  int protocol = 0;
  socklen_t len = sizeof protocol;
  return ::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 && protocol == IPPROTO_TCP;
}

bool io_source::drain_tracked(const io_op& op) const noexcept {
  if (!tcp_) return false;
  switch (op.code) {
    case io_opcode::read:
      return !op.has_offset;
    case io_opcode::recv:
      // Plain reads only: a peek leaves the bytes queued, MSG_OOB and
      // MSG_ERRQUEUE read other queues.
      return (op.flags & ~(MSG_WAITALL | MSG_NOSIGNAL)) == 0;
    case io_opcode::recv_buffered:
      return true;
    default:
      return false;
  }
}

void io_source::note_read(const io_op& op, std::int32_t r) noexcept {
  // recv_buffered asks for a whole block (io_perform set op.len to it).
  const std::uint32_t asked = op.code == io_opcode::recv_buffered ? owned_block_size : op.len;
  // Once the end of the stream or an error has been reported, a short read
  // proves nothing: the end (or the error) is still to be read, and its
  // edge has come already.
  if (r > 0 && static_cast<std::uint32_t>(r) < asked && !read_closed_ && drain_tracked(op)) {
    read_drained_ = true;
  }
}

bool io_source::start(io_op& op, std::coroutine_handle<> h) {
  op_list& list = is_reader(op) ? readers_ : writers_;
  std::unique_lock<sync::spin_mutex> lock(mu_);
  if (list.head == nullptr && read_drained_ && drain_tracked(op)) {
    // The last read emptied the socket and no edge has come since: wait for it.
    WEFT_TEST_POINT("io_source.read_waits_drained");  // tests count it; never hold it (lock held)
  } else if (list.head == nullptr) {
    const std::int32_t r = io_perform(op, /*first=*/true);
    if (is_reader(op)) note_read(op, r);
    if (r != -EAGAIN) {
      op.result = r;
      // ORDERING: relaxed: completed on the task's own thread, no one else
      // has seen the op.
      op.state.store(io_op::completed, std::memory_order_relaxed);
      return false;
    }
  } else if (op.code == io_opcode::connect) {
    // connect(2) must be issued once, now; its outcome is read later.
    const std::int32_t r = io_perform(op, /*first=*/true);
    if (r != -EAGAIN) {
      op.result = r;
      op.state.store(io_op::completed, std::memory_order_relaxed);  // ORDERING: as above
      return false;
    }
  }
  op.wake_on_done = weft::suspend_current(h);
  op.driver = driver_;
  op.source = this;
  // ORDERING: relaxed: the lock publishes it to the event side and try_cancel().
  op.state.store(io_op::in_flight, std::memory_order_relaxed);
  list.push(op);
  WEFT_TEST_POINT("io_source.op_linked");  // tests count it; never hold it (the lock is held)
  return true;
}

void io_source::run_list(op_list& list, io_op*& done) noexcept {
  while (io_op* op = list.head) {
    const std::int32_t r = io_perform(*op, /*first=*/false);
    if (&list == &readers_) note_read(*op, r);
    if (r == -EAGAIN) return;
    list.remove(*op);
    op->result = r;
    // ORDERING: relaxed: under the lock; cancel() reads it under the lock.
    op->state.store(io_op::completing, std::memory_order_relaxed);
    op->next = done;
    done = op;
  }
}

void io_source::on_event(std::uint32_t events) noexcept {
  io_op* done = nullptr;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)) != 0) {
      read_drained_ = false;  // bytes, the end, or an error: the next read tries
      // The end or an error stays readable with no further edge, and a read
      // stops short at TCP's urgent mark with bytes behind it: from now on
      // every read tries (see the header).
      if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)) != 0) read_closed_ = true;
      run_list(readers_, done);
    }
    if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) run_list(writers_, done);
  }
  finish_completing(done);
}

bool io_source::try_cancel(io_op& op) noexcept {
  std::lock_guard<sync::spin_mutex> lock(mu_);
  // ORDERING: relaxed: under the lock, which orders it with the event side
  // and retire().
  if (op.state.load(std::memory_order_relaxed) != io_op::in_flight) return false;
  (is_reader(op) ? readers_ : writers_).remove(op);
  op.wake_on_done = waker{};
  op.result = -ECANCELED;
  op.state.store(io_op::completed, std::memory_order_relaxed);
  return true;
}

void io_source::retire() noexcept {
  (void)::epoll_ctl(driver_->epoll_fd(), EPOLL_CTL_DEL, fd_, nullptr);
  io_op* done = nullptr;
  {
    std::lock_guard<sync::spin_mutex> lock(mu_);
    for (op_list* list : {&readers_, &writers_}) {
      while (io_op* op = list->head) {
        list->remove(*op);
        op->result = -ECANCELED;
        // ORDERING: relaxed: under the lock (see run_list).
        op->state.store(io_op::completing, std::memory_order_relaxed);
        op->next = done;
        done = op;
      }
    }
  }
  finish_completing(done);
  // The reference on the runtime kept the driver alive until now; after the
  // hand-over the driver may free `this` at any moment.
  scheduler* const runtime = runtime_;
  driver_->retire(this);
  runtime->release();
}

}  // namespace weft::detail
