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
#include "echo_logic.hpp"

#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/signals.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

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
  // Ctrl-C cancels the shutdown token, which ends the accept loop.
  (void)co_await echo::accept_loop(*listener, weft::signals::shutdown_token());
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
