// uring_registration — what registering the ring's descriptor
// (io_uring_register_ring_fd: IORING_ENTER_REGISTERED_RING) and the
// sockets' descriptors (io_uring_register_files: IOSQE_FIXED_FILE) save per
// operation on this kernel, measured with liburing alone, so weft can decide
// whether they are worth their rules (a registered ring fd belongs to the
// thread that registered it; a registered file must be unregistered before
// its descriptor is reused).
//
// The work: a 64-byte IORING_OP_SEND on one end of a Unix socketpair, the
// other end drained by recv(2) after each batch; `batch` sends per
// io_uring_enter (1: an enter per op, as a task that waits on every op; 32:
// a busy worker's turn). Four variants, run alternately, several rounds:
// plain, ring fd registered, files registered, both. Prints nanoseconds per
// operation (CPU time of the process; a second thread only sleeps in a read,
// so that the process is multi-threaded as a runtime is: a lone thread's
// descriptor lookups skip the reference count that registration saves).
//
//   weft_uring_registration_bench [ops per point, default 2000000] [rounds, default 5]
#include <liburing.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "%s: %d\n", what, err);
  std::exit(1);
}

double run(bool reg_ring, bool reg_files, unsigned batch, unsigned long ops) {
  io_uring ring;
  if (int r = io_uring_queue_init(64, &ring, 0); r < 0) die("io_uring_queue_init", r);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair", errno);
  int big = 4 << 20;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (reg_ring && io_uring_register_ring_fd(&ring) != 1) die("io_uring_register_ring_fd", 0);
  if (reg_files) {
    if (int r = io_uring_register_files(&ring, &sv[0], 1); r < 0) die("io_uring_register_files", r);
  }
  char msg[64] = {};
  std::vector<char> sink(64 * 64);
  const double t0 = cpu_seconds();
  for (unsigned long done = 0; done < ops; done += batch) {
    for (unsigned i = 0; i < batch; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_send(sqe, reg_files ? 0 : sv[0], msg, sizeof msg, 0);
      if (reg_files) sqe->flags |= IOSQE_FIXED_FILE;
    }
    if (int r = io_uring_submit_and_wait(&ring, batch); r < 0) die("io_uring_submit_and_wait", r);
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      if (cqe->res != static_cast<int>(sizeof msg)) die("send", cqe->res);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
    std::size_t want = sizeof msg * batch;
    while (want > 0) {
      const ssize_t n = ::recv(sv[1], sink.data(), want < sink.size() ? want : sink.size(), 0);
      if (n <= 0) die("recv", errno);
      want -= static_cast<std::size_t>(n);
    }
  }
  const double ns = (cpu_seconds() - t0) * 1e9 / static_cast<double>(ops);
  io_uring_queue_exit(&ring);  // unregisters the ring fd on this (the registering) thread
  ::close(sv[0]);
  ::close(sv[1]);
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned long ops = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  struct variant {
    const char* name;
    bool ring;
    bool files;
  };
  const variant variants[] = {{"plain", false, false},
                              {"ring_fd", true, false},
                              {"files", false, true},
                              {"both", true, true}};
  int idle_pipe[2];
  if (::pipe(idle_pipe) != 0) die("pipe", errno);
  std::thread idle([fd = idle_pipe[0]] {
    char c;
    (void)!::read(fd, &c, 1);
  });
  std::printf("round\tbatch\tvariant\tns_per_op\n");
  for (int round = 0; round < rounds; ++round) {
    for (unsigned batch : {1u, 32u}) {
      for (int k = 0; k < 4; ++k) {
        const variant& v = variants[round % 2 == 0 ? k : 3 - k];  // alternate the order
        std::printf("%d\t%u\t%s\t%.1f\n", round, batch, v.name, run(v.ring, v.files, batch, ops));
        std::fflush(stdout);
      }
    }
  }
  (void)!::write(idle_pipe[1], "x", 1);
  idle.join();
}
