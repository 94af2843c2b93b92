// bench/soak/soak_client.cpp — the load client of scripts/soak.sh (loopback only).
//
//   soak_client --echo-port P --http-port P --http-root DIR --duration SEC
//               [--io-timeout SEC] [--scale N]
//   soak_client --hold N --echo-port P --http-port P [--io-timeout SEC]
//
// Load mode: runs the loads of loads.hpp against examples/echo_server and
// examples/http_server for SEC seconds (--scale multiplies the thread count of
// the short-connection loads), then prints one line per load kind:
//   SOAK kind=echo_short conns=... ops=... bytes_sent=... bytes_verified=...
//        non2xx=... errors=... err_connect=... err_timeout=... ...
// and exits 1 if any operation failed (a wrong byte, a timeout, an unexpected
// reset or end of stream, a wrong status), 0 otherwise.
//
// Hold mode: opens N connections to each server, checks each answers once,
// adds one to each whose server-side write is blocked (a request whose answer
// is not read), prints "holding COUNT", then waits for the servers to close them (as they do on
// SIGINT); prints "hold closed=C of=T" and exits 0 when all were closed within
// the I/O deadline, 1 otherwise.
#include "loads.hpp"

#include <csignal>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>

namespace {

using namespace soak;

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: soak_client --echo-port P --http-port P --http-root DIR --duration SEC\n"
               "                   [--io-timeout SEC] [--scale N]\n"
               "       soak_client --hold N --echo-port P --http-port P [--io-timeout SEC]\n");
  std::exit(2);
}

void print(const stats& st) {
  // ORDERING: relaxed loads; the load threads were joined (see stats).
  auto v = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::printf("SOAK kind=%s conns=%llu ops=%llu bytes_sent=%llu bytes_verified=%llu non2xx=%llu "
              "errors=%llu",
              st.name, static_cast<unsigned long long>(v(st.conns)),
              static_cast<unsigned long long>(v(st.ops)),
              static_cast<unsigned long long>(v(st.bytes_sent)),
              static_cast<unsigned long long>(v(st.bytes_verified)),
              static_cast<unsigned long long>(v(st.non2xx)),
              static_cast<unsigned long long>(st.error_total()));
  for (std::size_t i = 0; i < st.errors.size(); ++i) {
    std::printf(" err_%s=%llu", err_names[i], static_cast<unsigned long long>(v(st.errors[i])));
  }
  std::printf("\n");
}

int hold(int n, int echo_port, int http_port) {
  stats st("hold");
  std::vector<int> fds;
  std::vector<char> buf(5);
  for (int i = 0; i < n; ++i) {
    const int e = connect_loopback(echo_port);
    if (e < 0) {
      st.fail(err::connect, "echo connect", errno);
      continue;
    }
    fds.push_back(e);
    if (send_all(e, std::string_view("hello"), st, "echo hello")) {
      (void)recv_exact(e, buf, st, "echo hello back");
    }
    const int h = connect_loopback(http_port);
    if (h < 0) {
      st.fail(err::connect, "http connect", errno);
      continue;
    }
    fds.push_back(h);
    const std::string_view rq = "HEAD / HTTP/1.1\r\nHost: soak\r\n\r\n";
    buffered_reader in(h);
    std::string head;
    if (send_all(h, rq, st, "http HEAD")) (void)in.read_head(head, st);
  }
  // One connection to each whose server-side write is blocked at SIGINT: the
  // echo of 1 MiB and three large responses, none of them read.
  if (const int e = connect_loopback(echo_port); e >= 0) {
    fds.push_back(e);
    (void)send_some(e, pattern(2 << 20).slice(0, 1 << 20));
  } else {
    st.fail(err::connect, "echo connect", errno);
  }
  if (const int h = connect_loopback(http_port); h >= 0) {
    fds.push_back(h);
    const std::string rq = "GET /large.bin HTTP/1.1\r\nHost: soak\r\n\r\n";
    (void)send_all(h, rq + rq + rq, st, "http pipelined GETs");
  } else {
    st.fail(err::connect, "http connect", errno);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the writes fill the buffers
  std::printf("holding %zu\n", fds.size());
  std::fflush(stdout);
  const auto deadline = clock::now() + std::chrono::seconds(g_io_timeout_s);
  std::size_t closed = 0;
  for (int fd : fds) {
    if (await_close(fd, deadline)) ++closed;
    ::close(fd);
  }
  std::printf("hold closed=%zu of=%d\n", closed, 2 * n + 2);
  return closed == static_cast<std::size_t>(2 * n + 2) && st.error_total() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int echo_port = 0, http_port = 0, duration = 0, hold_n = 0, scale = 1;
  std::string root;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (a == "--echo-port") echo_port = std::atoi(v);
    else if (a == "--http-port") http_port = std::atoi(v);
    else if (a == "--http-root") root = v;
    else if (a == "--duration") duration = std::atoi(v);
    else if (a == "--io-timeout") g_io_timeout_s = std::atoi(v);
    else if (a == "--hold") hold_n = std::atoi(v);
    else if (a == "--scale") scale = std::max(1, std::atoi(v));
    else usage();
  }
  if (echo_port <= 0 || http_port <= 0 || g_io_timeout_s <= 0) usage();
  std::signal(SIGPIPE, SIG_IGN);
  if (hold_n > 0) return hold(hold_n, echo_port, http_port);
  if (duration <= 0 || root.empty()) usage();
  http_files files;
  if (!files.load(root)) {
    std::fprintf(stderr, "soak_client: cannot read index.html, medium.bin, large.bin in %s\n",
                 root.c_str());
    return 2;
  }
  const pattern pat(8 << 20);

  stats echo_short_st("echo_short"), echo_long_st("echo_long"), echo_slow_st("echo_slow"),
      echo_reset_st("echo_reset"), http_short_st("http_short"), http_slow_st("http_slow"),
      http_abort_st("http_abort"), http_idle_st("http_idle");
  std::vector<std::thread> threads;
  unsigned seed = 1;
  for (int i = 0; i < 2 * scale; ++i) {
    threads.emplace_back(echo_short, echo_port, std::cref(pat), std::ref(echo_short_st), seed++);
    threads.emplace_back(http_short, http_port, std::cref(files), std::ref(http_short_st), seed++);
  }
  threads.emplace_back(echo_long, echo_port, std::cref(pat), std::ref(echo_long_st), 32, seed++);
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back(echo_slow, echo_port, std::cref(pat), std::ref(echo_slow_st),
                         std::size_t{4} << 20, seed++);
  }
  threads.emplace_back(echo_reset, echo_port, std::cref(pat), std::ref(echo_reset_st), seed++);
  threads.emplace_back(http_slow, http_port, std::cref(files), std::ref(http_slow_st));
  threads.emplace_back(http_abort, http_port, std::cref(files), std::ref(http_abort_st), seed++);
  // The server's idle timeout is 30 s; allow it 30 s more on a busy machine.
  threads.emplace_back(http_idle, http_port, std::cref(files), std::ref(http_idle_st), 60);

  std::this_thread::sleep_for(std::chrono::seconds(duration));
  // ORDERING: relaxed; see g_stop.
  g_stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : threads) t.join();

  std::uint64_t errors = 0;
  for (const stats* st : {&echo_short_st, &echo_long_st, &echo_slow_st, &echo_reset_st,
                          &http_short_st, &http_slow_st, &http_abort_st, &http_idle_st}) {
    print(*st);
    errors += st->error_total();
  }
  std::fflush(stdout);
  return errors == 0 ? 0 : 1;
}
