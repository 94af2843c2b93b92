// echo_server — a TCP echo server on weft.
//
//   echo_server PORT THREADS       (THREADS 0: one worker per core)
//
// Listens on 127.0.0.1:PORT, prints "listening on 127.0.0.1:PORT" once it
// accepts, and echoes every byte back on each connection. Ctrl-C (SIGINT) or
// SIGTERM stops it: the listener stops accepting, the runtime shuts down
// (open connections are cancelled and closed), and it exits with status 0.
// Out of descriptors (EMFILE), it backs off (weft::net::accept_with_backoff:
// 10 ms, doubling to 200 ms) rather than retrying at once.
#include <weft/net/accept_backoff.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/signals.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <system_error>

namespace {

// How the accept loop waits when the process is out of descriptors.
const weft::net::accept_backoff accept_backoff{std::chrono::milliseconds(10),
                                               std::chrono::milliseconds(200), {}};

// read_buffered: the bytes arrive in a buffer the runtime owns (on io_uring
// one of the worker's provided buffers), so a connection waiting for data
// holds no buffer of its own; the buffer goes back when `got` is destroyed.
// A message larger than a buffer (16 KiB) arrives in several: the ones
// already queued are taken at once (read_buffered_ready) and echoed with one
// write — four writes for a 64 KiB message cost 1.5x tokio's CPU. At most
// four at a time (a 64 KiB message): a connection whose peer stops reading
// holds what it took until its write ends, and the worker's 256 buffers are
// shared by all its connections.
weft::task<void> serve(weft::net::tcp_stream s) {
  (void)s.set_nodelay(true);
  std::array<weft::net::recv_buffer, 4> bufs;
  std::array<std::span<const std::byte>, 4> parts;
  for (;;) {
    weft::result<weft::net::recv_buffer> got = co_await s.read_buffered();
    if (!got || got->empty()) co_return;  // error or end of stream: close
    const std::size_t more = s.read_buffered_ready(std::span(bufs).subspan(1));
    if (more == 0) {
      if (!co_await s.write_all(got->data())) co_return;
      continue;
    }
    bufs[0] = std::move(*got);
    for (std::size_t i = 0; i <= more; ++i) parts[i] = bufs[i].data();
    if (!co_await s.write_all_vectored(std::span(parts.data(), more + 1))) co_return;
    for (std::size_t i = 0; i <= more; ++i) bufs[i].reset();  // back to the ring now
  }
}

weft::task<int> run(std::uint16_t port) {
  auto listener =
      weft::net::tcp_listener::bind({weft::net::ip_address::v4_loopback(), port});
  if (!listener) {
    std::fprintf(stderr, "echo_server: bind 127.0.0.1:%u: %s\n", port,
                 listener.error().message().c_str());
    co_return 1;
  }
  std::printf("listening on %s\n", listener->local_address().value().to_string().c_str());
  std::fflush(stdout);
  // Ctrl-C cancels the shutdown token, which cancels the pending accept.
  const weft::cancellation_token stop = weft::signals::shutdown_token();
  for (;;) {
    // Out of descriptors or memory (EMFILE and friends) the connection stays
    // queued and the listener ready: accept_with_backoff waits between
    // attempts instead of spinning a core, while the open connections go on
    // being served and free descriptors.
    auto s = co_await weft::with_cancellation(
        stop, weft::net::accept_with_backoff(*listener, accept_backoff));
    if (!s) break;  // the token fired
    if (!*s) continue;  // another accept error (a connection reset before its accept)
    (void)weft::spawn(serve, std::move(**s));  // detached: a dropped handle never cancels
  }
  std::printf("shutting down\n");
  co_return 0;
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
  weft::runtime rt = b.thread_name_prefix("echo").build();
  const int code = rt.block_on(run(port));
  rt.shutdown(std::chrono::milliseconds(500));
  return code;
}
