// zero_copy_send — where a zero-copy write starts to pay: one loopback TCP
// connection, a weft task writing messages of one size with write_all (the
// kernel copies) or write_all_zero_copy (SEND_ZC, the buffer handed back and
// reused), and a plain thread reading them. For each size and mode: the
// wall time and the writer's CPU time (RUSAGE_THREAD of the thread running
// the current-thread runtime, which does all of the writing and the ring's
// work; the kernel's copy of a plain send is charged to it, the copy a
// loopback receiver makes of a zero-copy send to the reader).
//
//   weft_zero_copy_bench [total MiB per point, default 256] [rounds, default 3]
//
// Prints one tab-separated line per (round, size, mode): round size mode
// seconds cpu_seconds_writer. Modes alternate order each round.
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct pair_fds {
  int writer = -1;
  int peer = -1;
};

pair_fds connect_pair() {
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  pair_fds p;
  p.writer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(p.writer, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  p.peer = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(l);
  ::fcntl(p.writer, F_SETFL, ::fcntl(p.writer, F_GETFL) | O_NONBLOCK);
  return p;
}

struct outcome {
  double seconds = 0;
  double writer_cpu = 0;
};

outcome run(weft::runtime& rt, std::size_t size, std::size_t total, bool zero_copy) {
  const pair_fds p = connect_pair();
  std::thread reader([fd = p.peer, total] {
    std::vector<char> buf(1 << 20);
    std::size_t got = 0;
    while (got < total) {
      const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    ::close(fd);
  });
  outcome o;
  const auto t0 = std::chrono::steady_clock::now();
  o.writer_cpu = rt.block_on([&]() -> weft::task<double> {
    const double cpu0 = thread_cpu_seconds();
    weft::net::tcp_stream s(p.writer);
    std::vector<std::byte> buf(size, std::byte{0x5a});
    for (std::size_t sent = 0; sent < total; sent += size) {
      if (zero_copy) {
        auto r = co_await s.write_all_zero_copy(std::move(buf));
        if (!r) {
          std::fprintf(stderr, "write_all_zero_copy: %s\n", r.error().message().c_str());
          std::exit(1);
        }
        buf = std::move(*r);
      } else {
        auto r = co_await s.write_all(buf);
        if (!r) {
          std::fprintf(stderr, "write_all: %s\n", r.error().message().c_str());
          std::exit(1);
        }
      }
    }
    co_return thread_cpu_seconds() - cpu0;  // a current-thread runtime: this thread did it all
  }());
  reader.join();
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::size_t total = mib << 20;
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
  std::printf("round\tsize\tmode\tseconds\twriter_cpu_seconds\n");
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t size : {4096u, 16384u, 65536u, 262144u, 1048576u}) {
      for (int k = 0; k < 2; ++k) {
        const bool zero_copy = (k == 0) == (round % 2 == 0);  // alternate the order
        const outcome o = run(rt, size, total, zero_copy);
        std::printf("%d\t%zu\t%s\t%.4f\t%.4f\n", round, size, zero_copy ? "zero_copy" : "copy",
                    o.seconds, o.writer_cpu);
        std::fflush(stdout);
      }
    }
  }
}
