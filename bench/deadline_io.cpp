// deadline_io — what a deadline on one I/O operation costs: the kernel's
// linked timeout (IORING_OP_RECV + IOSQE_IO_LINK + IORING_OP_LINK_TIMEOUT)
// against what weft does now (weft::timeout(d, op): a timer on the worker's
// wheel raced against the op, the op cancelled if the timer wins), so weft
// can decide whether to implement deadlines as linked timeouts.
//
// The work: a 64-byte receive on one end of a non-blocking Unix socketpair,
// with a deadline of 1 s that never fires (the common case). CPU time of the
// process (getrusage, user + system) per operation, for:
//
//   data ready: the other end is written 64 bytes (send(2), same thread)
//   before the receive is submitted, so the receive completes at submission.
//     uring_recv        liburing: IORING_OP_RECV, one io_uring_submit_and_wait
//                       per op.
//     uring_recv_link   the same, linked (IOSQE_IO_LINK) to an
//                       IORING_OP_LINK_TIMEOUT of 1 s; both CQEs reaped (the
//                       timeout's is -ECANCELED).
//     weft_read         a current-thread io_uring runtime: co_await
//                       stream.read(buf) in a loop.
//     weft_timeout      the same with co_await weft::timeout(1s, stream.read(buf)).
//
//   async: the receive is in the kernel, parked on the socket's poll, before
//   the data arrives.
//     uring_recv_async, uring_recv_link_async   io_uring_submit (the receive
//                       finds nothing and arms poll), then send(2), then
//                       io_uring_submit_and_wait for the CQE(s): the case
//                       where the kernel must arm the linked timeout's timer
//                       (and cancel it when the receive completes).
//     weft_read_async, weft_timeout_async   weft submits an op's SQE only when
//                       the worker next enters the ring, so a write from the
//                       reading task would always come first. Instead a
//                       helper task writes the 64 bytes once a 1-byte read of
//                       its own (on a second socketpair, poked by the reader
//                       just before its read) has completed; weft sees that
//                       completion only when the worker next enters the
//                       ring, the enter that also submits the reader's
//                       receive (queued before the reader suspends; a
//                       timeout's branches run inside the reader's step). Each op so also costs the
//                       helper's read, a 1-byte send and a task switch: compare the two weft async
//                       variants with each other, not with liburing's.
//
//   The four liburing variants again with suffix _dt: the ring made with
//   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, as a weft
//   multi-thread worker's ring is (completions' task work runs only when the
//   thread waits in io_uring_enter, instead of being signalled to it).
//
// Derived rows (medians of the per-round differences): uring_recv_link -
// uring_recv (the kernel's price of a linked timeout) and weft_timeout -
// weft_read (weft's price of a deadline today), ready and async. If weft's
// is much larger than the kernel's, linked timeouts would pay.
//
// A second thread only sleeps in a read, so that the process is
// multi-threaded, as a process running a runtime is (see
// uring_registration.cpp: a lone thread's descriptor lookups skip a
// reference count). The liburing rings are plain (no SINGLE_ISSUER /
// DEFER_TASKRUN), as a current-thread runtime's ring is, except the _dt ones.
//
//   weft_deadline_io_bench [ops per point, default 1000000] [rounds, default 5]
//
// Variants alternate order each round (forward, then reversed). Each round's
// figure goes to stderr as it is measured (round, variant, ns_per_op); stdout
// gets one TSV table: variant, median, min and max ns per op over the rounds.
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include <liburing.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t msg_size = 64;
constexpr std::uint64_t recv_tag = 1;
constexpr std::uint64_t timeout_tag = 2;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void die(const char* what, long err) {
  std::fprintf(stderr, "%s: %ld\n", what, err);
  std::exit(1);
}

void send_or_die(int fd, const char* msg, std::size_t n) {
  const ssize_t r = ::send(fd, msg, n, MSG_DONTWAIT);
  if (r != static_cast<ssize_t>(n)) die("send", r < 0 ? errno : r);
}

// ---- liburing ----

double run_uring(bool link, bool ready, bool defer, unsigned long ops) {
  io_uring ring;
  const unsigned flags = defer ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN : 0;
  if (int r = io_uring_queue_init(8, &ring, flags); r < 0) die("io_uring_queue_init", r);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    die("socketpair", errno);
  }
  char msg[msg_size] = {};
  char buf[msg_size];
  __kernel_timespec deadline{};
  deadline.tv_sec = 1;
  const unsigned want = link ? 2 : 1;
  const double t0 = cpu_seconds();
  for (unsigned long i = 0; i < ops; ++i) {
    if (ready) send_or_die(sv[1], msg, sizeof msg);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv(sqe, sv[0], buf, sizeof buf, 0);
    io_uring_sqe_set_data64(sqe, recv_tag);
    if (link) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = io_uring_get_sqe(&ring);
      io_uring_prep_link_timeout(t, &deadline, 0);
      io_uring_sqe_set_data64(t, timeout_tag);
    }
    if (!ready) {
      if (int r = io_uring_submit(&ring); r != static_cast<int>(want)) die("io_uring_submit", r);
      send_or_die(sv[1], msg, sizeof msg);
    }
    // Async: nothing left to submit; this waits (liburing enters the kernel
    // whenever it is asked to wait, even if the CQEs are already there).
    if (int r = io_uring_submit_and_wait(&ring, want); r < 0) die("io_uring_submit_and_wait", r);
    unsigned seen = 0;
    unsigned head = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring, head, cqe) {
      if (cqe->user_data == recv_tag) {
        if (cqe->res != static_cast<int>(msg_size)) die("recv CQE", cqe->res);
      } else if (cqe->user_data == timeout_tag) {
        if (cqe->res != -ECANCELED) die("link timeout CQE (expected -ECANCELED)", cqe->res);
      } else {
        die("unexpected CQE user_data", static_cast<long>(cqe->user_data));
      }
      ++seen;
    }
    if (seen != want) die("CQEs reaped", seen);
    io_uring_cq_advance(&ring, seen);
  }
  const double ns = (cpu_seconds() - t0) * 1e9 / static_cast<double>(ops);
  io_uring_queue_exit(&ring);
  ::close(sv[0]);
  ::close(sv[1]);
  return ns;
}

// ---- weft ----

using weft::net::unix_stream;

std::pair<unix_stream, unix_stream> stream_pair() {
  auto p = unix_stream::pair();
  if (!p) die("unix_stream::pair", p.error().value());
  return std::move(*p);
}

// The helper of the async variants: for each op, wait for the reader's poke
// on `poke`, then write the reader's 64 bytes to `peer`.
weft::task<void> helper(unix_stream& poke, int peer, unsigned long ops) {
  const char msg[msg_size] = {};
  std::byte one[1];
  for (unsigned long i = 0; i < ops; ++i) {
    auto r = co_await poke.read(one);
    if (!r || *r != 1) die("helper read", r ? static_cast<long>(*r) : r.error().value());
    send_or_die(peer, msg, sizeof msg);
  }
}

// `ops` reads of msg_size bytes on `s`, with or without a deadline. Ready:
// before each, write the 64 bytes to `peer`. Async: poke the helper through
// `poke` instead (the helper's read completes only in the io_uring_enter
// that also submits this read, queued before this task suspends, so the
// helper's write comes after the receive is in the kernel).
weft::task<double> reader(unix_stream& s, int peer, int poke, bool deadline, unsigned long ops) {
  const char msg[msg_size] = {};
  std::byte buf[msg_size];
  const double t0 = cpu_seconds();
  for (unsigned long i = 0; i < ops; ++i) {
    if (poke < 0) {
      send_or_die(peer, msg, sizeof msg);
    } else {
      send_or_die(poke, msg, 1);
    }
    if (deadline) {
      auto r = co_await weft::timeout(std::chrono::seconds(1), s.read(buf));
      if (!r) die("weft::timeout fired", r.error().value());
      if (!*r) die("read", r->error().value());
      if (**r != msg_size) die("read bytes", static_cast<long>(**r));
    } else {
      auto r = co_await s.read(buf);
      if (!r) die("read", r.error().value());
      if (*r != msg_size) die("read bytes", static_cast<long>(*r));
    }
  }
  co_return (cpu_seconds() - t0) * 1e9 / static_cast<double>(ops);
}

double run_weft(weft::runtime& rt, bool deadline, bool ready, unsigned long ops) {
  // Named pairs, not structured bindings: a lambda may not capture a binding before C++20's
  // P1091 fix, which clang 14 does not implement.
  auto data = stream_pair();
  if (ready) return rt.block_on(reader(data.first, data.second.native_handle(), -1, deadline, ops));
  auto poke = stream_pair();
  return rt.block_on([&]() -> weft::task<double> {
    // The helper's CPU is counted: it is the same for both async variants.
    auto h = weft::spawn(helper(poke.second, data.second.native_handle(), ops));
    const double ns =
        co_await reader(data.first, -1, poke.first.native_handle(), deadline, ops);
    co_await h;
    co_return ns;
  }());
}

// ---- driver ----

enum class kind { uring, uring_link, weft_read, weft_timeout };

struct variant {
  const char* name;
  kind k;
  bool ready;
  bool defer = false;  // liburing: SINGLE_ISSUER | DEFER_TASKRUN
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void print_row(const char* name, const std::vector<double>& v) {
  std::printf("%s\t%.1f\t%.1f\t%.1f\n", name, median(v), *std::min_element(v.begin(), v.end()),
              *std::max_element(v.begin(), v.end()));
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned long ops = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (ops == 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: %s [ops per point] [rounds]\n", argv[0]);
    return 2;
  }
  const variant variants[] = {
      {"uring_recv", kind::uring, true},
      {"uring_recv_link", kind::uring_link, true},
      {"weft_read", kind::weft_read, true},
      {"weft_timeout", kind::weft_timeout, true},
      {"uring_recv_async", kind::uring, false},
      {"uring_recv_link_async", kind::uring_link, false},
      {"weft_read_async", kind::weft_read, false},
      {"weft_timeout_async", kind::weft_timeout, false},
      {"uring_recv_dt", kind::uring, true, true},
      {"uring_recv_link_dt", kind::uring_link, true, true},
      {"uring_recv_async_dt", kind::uring, false, true},
      {"uring_recv_link_async_dt", kind::uring_link, false, true},
  };
  constexpr std::size_t nv = sizeof variants / sizeof variants[0];

  int idle_pipe[2];
  if (::pipe(idle_pipe) != 0) die("pipe", errno);
  std::thread idle([fd = idle_pipe[0]] {
    char c;
    (void)!::read(fd, &c, 1);
  });

  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();

  std::vector<std::vector<double>> ns(nv);
  std::fprintf(stderr, "round\tvariant\tns_per_op\n");
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t j = 0; j < nv; ++j) {
      const std::size_t i = round % 2 == 0 ? j : nv - 1 - j;  // alternate the order
      const variant& v = variants[i];
      double r = 0;
      switch (v.k) {
        case kind::uring:
          r = run_uring(false, v.ready, v.defer, ops);
          break;
        case kind::uring_link:
          r = run_uring(true, v.ready, v.defer, ops);
          break;
        case kind::weft_read:
          r = run_weft(rt, false, v.ready, ops);
          break;
        case kind::weft_timeout:
          r = run_weft(rt, true, v.ready, ops);
          break;
      }
      ns[i].push_back(r);
      std::fprintf(stderr, "%d\t%s\t%.1f\n", round, v.name, r);
    }
  }

  // Differences per round (the two variants of a pair ran in the same round).
  auto diff = [&](std::size_t hi, std::size_t lo) {
    std::vector<double> d;
    for (int round = 0; round < rounds; ++round) d.push_back(ns[hi][round] - ns[lo][round]);
    return d;
  };
  std::printf("variant\tns_per_op_median\tmin\tmax\n");
  for (std::size_t i = 0; i < nv; ++i) print_row(variants[i].name, ns[i]);
  print_row("link_timeout_price_ready(uring_recv_link-uring_recv)", diff(1, 0));
  print_row("weft_deadline_price_ready(weft_timeout-weft_read)", diff(3, 2));
  print_row("link_timeout_price_async(uring_recv_link_async-uring_recv_async)", diff(5, 4));
  print_row("weft_deadline_price_async(weft_timeout_async-weft_read_async)", diff(7, 6));
  print_row("link_timeout_price_ready_dt(uring_recv_link_dt-uring_recv_dt)", diff(9, 8));
  print_row("link_timeout_price_async_dt(uring_recv_link_async_dt-uring_recv_async_dt)",
            diff(11, 10));
  std::fflush(stdout);

  (void)!::write(idle_pipe[1], "x", 1);
  idle.join();
}
