// bench/net/uring_echo.cpp — the hand-written limit: a liburing echo loop.
//
//   uring_echo PORT [THREADS]
//
// One ring per thread (THREADS > 1: one SO_REUSEPORT listener each). A
// multishot accept; per connection exactly one operation in flight: a recv
// into the connection's buffer, then sends of what arrived (resubmitted on a
// partial send) until all of it is back, then the next recv. Each loop
// iteration submits everything prepared and waits with a single
// io_uring_submit_and_wait, then drains the completion queue.
#include "net_common.hpp"

#include <liburing.h>

#include <csignal>
#include <memory>
#include <thread>
#include <vector>

namespace {

using netbench::die;

constexpr unsigned kRingEntries = 1024;
constexpr size_t kBufferSize = 64 * 1024;

enum Op : uint64_t { kAccept = 0, kRecv = 1, kSend = 2 };

uint64_t tag(int fd, Op op) { return (uint64_t(unsigned(fd)) << 2) | op; }

struct Conn {
  int fd = -1;
  size_t len = 0;  // bytes received and not yet echoed
  size_t off = 0;  // of which already sent
  std::unique_ptr<char[]> buf{new char[kBufferSize]};
};

class EchoLoop {
 public:
  explicit EchoLoop(int listen_fd) : listen_fd_(listen_fd) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int r = io_uring_queue_init_params(kRingEntries, &ring_, &p);
    if (r < 0) {  // older kernel: cooperative task running at least
      p = io_uring_params{};
      p.flags = IORING_SETUP_COOP_TASKRUN;
      r = io_uring_queue_init_params(kRingEntries, &ring_, &p);
    }
    if (r < 0) {
      errno = -r;
      die("io_uring_queue_init");
    }
  }
  ~EchoLoop() { io_uring_queue_exit(&ring_); }

  void run() {
    arm_accept();
    for (;;) {
      int r = io_uring_submit_and_wait(&ring_, 1);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        errno = -r;
        die("io_uring_submit_and_wait");
      }
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        complete(cqe->user_data, cqe->res, cqe->flags);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

 private:
  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (s == nullptr) {  // SQ full: push what is queued, then retry
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    return s;
  }

  void arm_accept() {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, tag(listen_fd_, kAccept));
  }

  void recv(Conn& c) {
    c.len = c.off = 0;
    io_uring_sqe* s = sqe();
    io_uring_prep_recv(s, c.fd, c.buf.get(), kBufferSize, 0);
    io_uring_sqe_set_data64(s, tag(c.fd, kRecv));
  }

  void send(Conn& c) {
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, c.fd, c.buf.get() + c.off, c.len - c.off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(c.fd, kSend));
  }

  void complete(uint64_t data, int res, unsigned flags) {
    int fd = int(data >> 2);
    switch (Op(data & 3)) {
      case kAccept:
        if (res >= 0) on_accept(res);
        if (!(flags & IORING_CQE_F_MORE)) arm_accept();
        return;
      case kRecv:
        if (res <= 0) return close_conn(fd);
        conns_[size_t(fd)]->len = size_t(res);
        return send(*conns_[size_t(fd)]);
      case kSend: {
        if (res < 0) return close_conn(fd);
        Conn& c = *conns_[size_t(fd)];
        c.off += size_t(res);
        return c.off < c.len ? send(c) : recv(c);
      }
    }
  }

  void on_accept(int fd) {
    netbench::set_nodelay(fd);
    if (conns_.size() <= size_t(fd)) conns_.resize(size_t(fd) + 1);
    if (!conns_[size_t(fd)]) conns_[size_t(fd)] = std::make_unique<Conn>();
    conns_[size_t(fd)]->fd = fd;
    recv(*conns_[size_t(fd)]);
  }

  // Only one operation per connection is ever in flight, and it has just
  // completed, so the descriptor can go at once (its Conn is reused).
  void close_conn(int fd) {
    close(fd);
    conns_[size_t(fd)]->fd = -1;
  }

  int listen_fd_;
  io_uring ring_{};
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by fd
};

}  // namespace

int main(int argc, char** argv) {
  auto args = netbench::parse_server_args(argc, argv);
  // SIGINT/SIGTERM end the process. A script's background job starts with
  // SIGINT ignored, so restore the default explicitly.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<int> listeners;
  for (int i = 0; i < args.threads; ++i) listeners.push_back(netbench::listen_loopback(args.port, args.threads > 1));
  netbench::announce_listening(args.port);

  for (int i = 1; i < args.threads; ++i) std::thread([fd = listeners[size_t(i)]] { EchoLoop(fd).run(); }).detach();
  EchoLoop(listeners[0]).run();  // never returns
}
