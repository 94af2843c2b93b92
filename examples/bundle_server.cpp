// bundle_server — an "uppercase" TCP service whose connections are the tasks
// of a weft::task_result_bundle<void>.
//
//   bundle_server PORT THREADS      (PORT 0: any free port; THREADS 0: one
//                                    worker per core)
//
// Listens on 127.0.0.1:PORT, prints "listening on 127.0.0.1:PORT", and sends
// back every byte it reads, upper-cased (so a line comes back as a line).
//
// Shutdown (Ctrl-C or SIGTERM): the bundle was made with
// weft::signals::shutdown_token() as its parent, so the signal cancels the
// bundle's token. That ends the pending accept (the listener is closed: no
// new connections) and cancels every connection task. Each connection is
// closed in an orderly way — shutdown(SHUT_WR) sends FIN, the receive buffer
// is drained, then close(): a socket closed with unread data in its receive
// buffer makes Linux send a reset instead. join_all then waits until every
// connection task has ended, the server prints "closed N connections" and
// "shutting down", and exits with status 0.
//
// Where the orderly close runs: the bundle runs each handler under its token
// (weft::with_cancellation), so on shutdown a handler waiting in a read is
// usually *destroyed* at that wait — after the kernel has handed the read's
// buffer back — rather than resumed. The close therefore lives in the
// destructor of the connection object (orderly_connection), which runs on
// every way out. The handler's read also runs under the same token, so a
// handler that sees the cancellation first leaves its loop and closes the
// same way.
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/signals.hpp>
#include <weft/task_result_bundle.hpp>
#include <weft/with_cancellation.hpp>

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <utility>

namespace {

/// Connections closed because the server was shutting down.
std::atomic<int> closed_on_shutdown{0};

/// A connection that, however its handler ends, is closed in an orderly way.
class orderly_connection {
 public:
  orderly_connection(weft::net::tcp_stream s, weft::cancellation_token stop) noexcept
      : s_(std::move(s)), stop_(std::move(stop)) {}
  orderly_connection(const orderly_connection&) = delete;
  orderly_connection& operator=(const orderly_connection&) = delete;
  ~orderly_connection() { close(); }

  weft::net::tcp_stream& stream() noexcept { return s_; }

  /// FIN, drain, close. Idempotent. Never waits.
  void close() noexcept {
    if (!s_.is_open()) return;
    (void)s_.shutdown(SHUT_WR);  // the peer reads end of stream after our replies
    // Whatever the peer sent that we did not read would turn close() into a
    // reset: read it away (the socket is non-blocking).
    std::array<char, 4096> sink{};
    while (::recv(s_.native_handle(), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
    }
    s_.close();
    // ORDERING: relaxed: a counter read after join_all, which orders it.
    if (stop_.is_cancelled()) closed_on_shutdown.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  weft::net::tcp_stream s_;
  weft::cancellation_token stop_;
};

weft::task<void> serve(weft::net::tcp_stream s, weft::cancellation_token stop) {
  orderly_connection conn(std::move(s), stop);
  (void)conn.stream().set_nodelay(true);
  std::array<std::byte, 16384> buf{};
  for (;;) {
    auto n = co_await weft::with_cancellation(stop, conn.stream().read(buf));
    if (!n || !*n || **n == 0) break;  // cancelled, a read error, or the peer closed
    for (std::size_t i = 0; i < **n; ++i) {
      buf[i] = static_cast<std::byte>(std::toupper(static_cast<unsigned char>(buf[i])));
    }
    if (!co_await conn.stream().write_all(std::span(buf.data(), **n))) break;
  }
  conn.close();
}

weft::task<int> run(std::uint16_t port) {
  auto listener = weft::net::tcp_listener::bind({weft::net::ip_address::v4_loopback(), port});
  if (!listener) {
    std::fprintf(stderr, "bundle_server: bind 127.0.0.1:%u: %s\n", port,
                 listener.error().message().c_str());
    co_return 1;
  }
  // Every connection task is cancelled by Ctrl-C/SIGTERM through the parent.
  weft::task_result_bundle<void> connections(weft::signals::shutdown_token());
  const weft::cancellation_token stop = connections.token();
  std::printf("listening on %s\n", listener->local_address().value().to_string().c_str());
  std::fflush(stdout);

  int code = 0;
  try {
    for (;;) {
      auto s = co_await weft::with_cancellation(stop, listener->accept());
      if (!s) break;      // the token fired: shutting down
      if (!*s) continue;  // EMFILE, a connection reset before accept: keep serving
      (void)connections.spawn(serve, std::move(**s), stop);
      // Reap finished connections, so their results do not pile up.
      while (connections.try_join_next()) {
      }
    }
    listener->close();  // stop accepting
    // Every connection task has been cancelled by now; wait until each has
    // closed its socket. The result is operation_canceled for cancelled
    // connections, which is what a shutdown is.
    (void)co_await connections.join_all();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bundle_server: a connection failed: %s\n", e.what());
    code = 1;
  }
  std::printf("closed %d connections\n", closed_on_shutdown.load(std::memory_order_relaxed));
  std::printf("shutting down\n");
  std::fflush(stdout);
  co_return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PORT THREADS\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::strtoul(argv[1], nullptr, 10));
  const auto threads = static_cast<std::size_t>(std::strtoul(argv[2], nullptr, 10));
  weft::runtime_builder b;
  if (threads > 0) b.worker_threads(threads);
  weft::runtime rt = b.thread_name_prefix("bundle").build();
  const int code = rt.block_on(run(port));
  rt.shutdown(std::chrono::milliseconds(500));
  return code;
}
