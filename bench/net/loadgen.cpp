// bench/net/loadgen.cpp — single-threaded epoll load generator for the TCP
// echo benchmarks (loopback only).
//
//   loadgen --port P --conns C --inflight K --size S --duration SEC
//           --warmup SEC [--rate MSGS_PER_SEC] [--server-pid PID]
//
// C connections each keep up to K fixed-size messages of S bytes in flight
// and wait for the same bytes back. Closed loop (default): a message is sent
// as soon as one comes back. With --rate: messages are scheduled at that
// aggregate rate, round-robin over the connections, and latency is taken from
// the scheduled send time (no coordinated omission); a connection with K
// messages out holds further ones back, which then count as late.
//
// Every message carries its connection id and sequence number and a body
// derived from them; the echo is compared byte for byte. Latencies go into a
// log-linear histogram (128 sub-buckets per power of two: < 1% error). Prints
// one line:
//   throughput_msgs_per_s=... p50_us=... p99_us=... msgs=... errors=... [...]
// and exits 1 if any message came back wrong or a connection failed.
// With --server-pid, the server's utime+stime over the measured window
// (from /proc/PID/stat) is reported as server_cpu_s and server_cpu_s_per_mmsg.
#include "net_common.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using netbench::die;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

// HDR-like histogram of nanosecond values: exact below 128, then 128 linear
// sub-buckets per power of two, so a bucket is at most 1/128 of its value.
class Histogram {
 public:
  void record(uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }
  // Midpoint of the bucket holding the q-quantile (never above the maximum).
  double quantile(double q) const {
    if (total_ == 0) return 0;
    auto rank = uint64_t(q * double(total_));
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        if (i < kSub) return double(i);
        int shift = int(i / kSub) - 1;
        uint64_t low = (uint64_t(i % kSub) + kSub) << shift;
        return std::min(double(low) + double((uint64_t(1) << shift) - 1) / 2, double(max_));
      }
    }
    return double(max_);
  }

 private:
  static constexpr int kSubBits = 7;
  static constexpr size_t kSub = size_t(1) << kSubBits;
  static size_t index(uint64_t v) {
    if (v < kSub) return size_t(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;
    return size_t(shift + 1) * kSub + size_t((v >> shift) - kSub);
  }
  std::vector<uint64_t> counts_ = std::vector<uint64_t>((64 - kSubBits + 1) * kSub);
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

struct Options {
  int port = 0;
  int conns = 1;
  int inflight = 1;
  size_t size = 64;
  double duration = 5;
  double warmup = 1;
  double rate = 0;  // 0: closed loop
  int server_pid = 0;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: loadgen --port P --conns C --inflight K --size S --duration SEC --warmup SEC\n"
               "               [--rate MSGS_PER_SEC] [--server-pid PID]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (a == "--port") o.port = std::atoi(v);
    else if (a == "--conns") o.conns = std::atoi(v);
    else if (a == "--inflight") o.inflight = std::atoi(v);
    else if (a == "--size") o.size = size_t(std::atol(v));
    else if (a == "--duration") o.duration = std::atof(v);
    else if (a == "--warmup") o.warmup = std::atof(v);
    else if (a == "--rate") o.rate = std::atof(v);
    else if (a == "--server-pid") o.server_pid = std::atoi(v);
    else usage();
  }
  if (o.port <= 0 || o.port > 65535 || o.conns <= 0 || o.conns > 10000 || o.inflight <= 0 ||
      o.size < 16 || o.size > (1u << 20) || o.duration <= 0 || o.warmup < 0 || o.rate < 0)
    usage();
  return o;
}

// utime + stime of a whole process, in seconds; -1 if unreadable.
double process_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto paren = s.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(s.substr(paren + 2));
  // Fields 3..15 of stat(5): state ppid pgrp session tty tpgid flags minflt
  // cminflt majflt cmajflt utime stime.
  std::string field;
  for (int i = 3; i <= 13; ++i) rest >> field;
  unsigned long long utime = 0, stime = 0;
  rest >> utime >> stime;
  if (!rest) return -1;
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// A message: [0,8) sequence number, [8,12) connection id, [12,16) size,
// then a body cut from a fixed pattern at an offset that depends on the
// sequence number, so misordered or corrupted echoes are caught.
class MessageFormat {
 public:
  explicit MessageFormat(size_t size) : size_(size), pattern_(size + 256) {
    for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = char((i * 131 + (i >> 8) * 7 + 13) & 0xff);
  }
  size_t size() const { return size_; }
  void write(char* dst, uint32_t conn, uint64_t seq) const {
    header(dst, conn, seq);
    std::memcpy(dst + 16, pattern_.data() + (seq & 255), size_ - 16);
  }
  bool check(const char* src, uint32_t conn, uint64_t seq) const {
    char h[16];
    header(h, conn, seq);
    return std::memcmp(src, h, 16) == 0 && std::memcmp(src + 16, pattern_.data() + (seq & 255), size_ - 16) == 0;
  }

 private:
  void header(char* dst, uint32_t conn, uint64_t seq) const {
    auto sz = uint32_t(size_);
    std::memcpy(dst, &seq, 8);
    std::memcpy(dst + 8, &conn, 4);
    std::memcpy(dst + 12, &sz, 4);
  }
  size_t size_;
  std::vector<char> pattern_;
};

struct Conn {
  int fd = -1;
  uint32_t id = 0;
  bool dead = false;
  bool want_out = false;
  uint64_t next_send = 0;          // sequence number of the next message to send
  uint64_t next_recv = 0;          // sequence number of the next echo expected
  std::vector<uint64_t> start_ns;  // per in-flight slot (seq % K): latency origin
  std::vector<char> out;           // bytes not yet accepted by the socket
  size_t out_off = 0;
  std::vector<char> in;  // partial echo
  size_t in_len = 0;
  std::deque<uint64_t> backlog;  // --rate: scheduled times not yet sent
};

class LoadGen {
 public:
  explicit LoadGen(const Options& o) : o_(o), fmt_(o.size), conns_(size_t(o.conns)) {}

  int run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1");
    for (size_t i = 0; i < conns_.size(); ++i) open(conns_[i], uint32_t(i));

    const uint64_t t0 = now_ns();
    measure_start_ = t0 + uint64_t(o_.warmup * 1e9);
    measure_end_ = measure_start_ + uint64_t(o_.duration * 1e9);
    interval_ns_ = o_.rate > 0 ? 1e9 / o_.rate : 0;
    sched_origin_ = t0;

    if (o_.rate == 0) {
      for (auto& c : conns_) {
        for (int k = 0; k < o_.inflight; ++k) enqueue(c, t0);
        flush(c);
      }
    }

    std::vector<epoll_event> events(conns_.size() + 1);
    uint64_t now = t0;
    while (now < measure_end_ && live_ > 0) {
      uint64_t wake = measure_end_;
      if (o_.rate > 0) {
        schedule(now);
        wake = std::min(wake, scheduled_time(scheduled_));
      } else if (!measuring_) {
        wake = measure_start_;
      }
      timespec ts{};
      if (wake > now) {
        ts.tv_sec = time_t((wake - now) / 1'000'000'000u);
        ts.tv_nsec = long((wake - now) % 1'000'000'000u);
      }
      int n = epoll_pwait2(ep_, events.data(), int(events.size()), &ts, nullptr);
      if (n < 0 && errno != EINTR) die("epoll_pwait2");
      now = now_ns();
      maybe_start_measuring(now);
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[size_t(i)].data.u32];
        if (c.dead) continue;
        if (events[size_t(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now);
        if (!c.dead && (events[size_t(i)].events & EPOLLOUT)) flush(c);
      }
    }
    now = now_ns();
    maybe_start_measuring(now);
    double cpu_end = o_.server_pid > 0 ? process_cpu_seconds(o_.server_pid) : -1;
    double window = double(std::min(now, measure_end_) - measure_start_actual_) / 1e9;
    uint64_t unsent = 0;
    for (auto& c : conns_) {
      unsent += c.backlog.size();
      if (c.fd >= 0) close(c.fd);
    }

    uint64_t msgs = hist_.total();
    std::printf("throughput_msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f msgs=%llu errors=%llu p999_us=%.1f max_us=%.1f",
                window > 0 ? double(msgs) / window : 0.0, hist_.quantile(0.50) / 1e3, hist_.quantile(0.99) / 1e3,
                (unsigned long long)msgs, (unsigned long long)errors_, hist_.quantile(0.999) / 1e3,
                double(hist_.max()) / 1e3);
    if (o_.rate > 0) std::printf(" offered_rate=%.0f late_unsent=%llu", o_.rate, (unsigned long long)unsent);
    if (o_.server_pid > 0 && cpu_start_ >= 0 && cpu_end >= 0) {
      double cpu = cpu_end - cpu_start_;
      std::printf(" server_cpu_s=%.3f server_cpu_s_per_mmsg=%.3f", cpu, msgs ? cpu / double(msgs) * 1e6 : 0.0);
    }
    std::printf(" window_s=%.3f\n", window);
    std::fflush(stdout);
    return errors_ > 0 || msgs == 0 ? 1 : 0;
  }

 private:
  void open(Conn& c, uint32_t id) {
    c.id = id;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) die("socket");
    sockaddr_in sa = netbench::loopback(o_.port);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) die("connect");
    netbench::set_nodelay(c.fd);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    c.start_ns.resize(size_t(o_.inflight));
    c.in.resize(o_.size * size_t(o_.inflight) + 65536);
    c.out.reserve(o_.size * size_t(o_.inflight));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = id;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) < 0) die("epoll_ctl");
    ++live_;
  }

  void maybe_start_measuring(uint64_t now) {
    if (measuring_ || now < measure_start_) return;
    measuring_ = true;
    measure_start_actual_ = now;
    if (o_.server_pid > 0) cpu_start_ = process_cpu_seconds(o_.server_pid);
  }

  uint64_t scheduled_time(uint64_t n) const { return sched_origin_ + uint64_t(double(n) * interval_ns_); }

  // --rate: hand every message due by `now` to its connection, then send what
  // the in-flight limit allows.
  void schedule(uint64_t now) {
    for (; scheduled_time(scheduled_) <= now; ++scheduled_) {
      Conn& c = conns_[scheduled_ % conns_.size()];
      if (!c.dead) c.backlog.push_back(scheduled_time(scheduled_));
    }
    for (auto& c : conns_) {
      if (c.dead || c.backlog.empty()) continue;
      drain_backlog(c);
      flush(c);
    }
  }

  void drain_backlog(Conn& c) {
    while (!c.backlog.empty() && c.next_send - c.next_recv < uint64_t(o_.inflight)) {
      enqueue(c, c.backlog.front());
      c.backlog.pop_front();
    }
  }

  void enqueue(Conn& c, uint64_t origin) {
    c.start_ns[c.next_send % size_t(o_.inflight)] = origin;
    size_t at = c.out.size();
    c.out.resize(at + o_.size);
    fmt_.write(c.out.data() + at, c.id, c.next_send);
    ++c.next_send;
  }

  void flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += size_t(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_want_out(c, true);
        return;
      } else {
        fail(c, "send", errno);
        return;
      }
    }
    c.out.clear();
    c.out_off = 0;
    set_want_out(c, false);
  }

  void set_want_out(Conn& c, bool on) {
    if (c.want_out == on) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u32 = c.id;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void on_readable(Conn& c, uint64_t now) {
    for (;;) {
      const size_t room = c.in.size() - c.in_len;
      ssize_t n = recv(c.fd, c.in.data() + c.in_len, room, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        fail(c, n == 0 ? "server closed the connection" : "recv", n == 0 ? 0 : errno);
        return;
      }
      c.in_len += size_t(n);
      size_t off = 0;
      while (c.in_len - off >= o_.size) {
        if (c.next_recv == c.next_send || !fmt_.check(c.in.data() + off, c.id, c.next_recv)) {
          fail(c, "echo mismatch", 0);
          return;
        }
        uint64_t origin = c.start_ns[c.next_recv % size_t(o_.inflight)];
        ++c.next_recv;
        off += o_.size;
        if (measuring_ && now < measure_end_) hist_.record(now > origin ? now - origin : 0);
        if (o_.rate == 0) enqueue(c, now);
      }
      std::memmove(c.in.data(), c.in.data() + off, c.in_len - off);
      c.in_len -= off;
      if (size_t(n) < room) break;  // short read: the socket is drained
      now = now_ns();
    }
    if (o_.rate > 0) drain_backlog(c);
    flush(c);
  }

  void fail(Conn& c, const char* why, int err) {
    std::fprintf(stderr, "loadgen: connection %u: %s%s%s\n", c.id, why, err ? ": " : "", err ? std::strerror(err) : "");
    ++errors_;
    c.dead = true;
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.backlog.clear();
    --live_;
  }

  Options o_;
  MessageFormat fmt_;
  std::vector<Conn> conns_;
  Histogram hist_;
  int ep_ = -1;
  int live_ = 0;
  uint64_t errors_ = 0;
  bool measuring_ = false;
  uint64_t measure_start_ = 0, measure_end_ = 0, measure_start_actual_ = 0;
  double cpu_start_ = -1;
  double interval_ns_ = 0;
  uint64_t sched_origin_ = 0;
  uint64_t scheduled_ = 0;  // messages handed out by the --rate schedule
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_TIMERSLACK, 1000UL);  // 1 µs: keep --rate pacing tight
  return LoadGen(o).run();
}
