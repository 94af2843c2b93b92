// http_server — an HTTP/1.1 static file server on weft.
//
//   http_server --port P --root DIR [--threads N]     (N 0: one worker per core)
//
// Serves the files under DIR on 127.0.0.1:P and prints "listening on
// 127.0.0.1:P" once it accepts. HTTP/1.1 with keep-alive (and pipelining);
// an HTTP/1.0 client that asks for keep-alive gets it, confirmed with
// "Connection: keep-alive" (RFC 9112 §9.3; without it `ab -k` waited for
// the connection to close),
// GET and HEAD, "/" and "dir/" map to index.html, Content-Type from the file
// extension, Content-Length, Date; 400, 404, 405, 431 and 501 answers for
// what it does not serve. Files up to 1 MiB are kept in memory for one second
// after they are read, so a hot file is not read from disk on every request.
// An idle keep-alive connection is closed after 30 s. Ctrl-C (SIGINT) or
// SIGTERM stops it: no new connections, the runtime shuts down (open
// connections are closed), exit status 0. Out of descriptors (EMFILE), it
// backs off (weft::net::accept_with_backoff: 10 ms, doubling to 200 ms) rather
// than retrying at once.
#include "http_logic.hpp"

#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/signals.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

weft::task<int> run(std::uint16_t port, std::shared_ptr<const std::string> root) {
  auto listener = weft::net::tcp_listener::bind({weft::net::ip_address::v4_loopback(), port});
  if (!listener) {
    std::fprintf(stderr, "http_server: bind 127.0.0.1:%u: %s\n", port,
                 listener.error().message().c_str());
    co_return 1;
  }
  std::printf("listening on %s\n", listener->local_address().value().to_string().c_str());
  std::fflush(stdout);
  // Ctrl-C cancels the shutdown token, which ends the accept loop.
  (void)co_await http_example::accept_loop(*listener, weft::signals::shutdown_token(),
                                           std::move(root));
  std::printf("shutting down\n");
  co_return 0;
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s --port P --root DIR [--threads N]\n", argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  long port = -1;
  std::size_t threads = 0;
  std::string root;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    if (arg == "--port") {
      port = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--root") {
      root = argv[++i];
    } else if (arg == "--threads") {
      threads = static_cast<std::size_t>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      usage(argv[0]);
    }
  }
  if (port < 0 || port > 65535 || root.empty()) usage(argv[0]);
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  weft::runtime_builder b;
  if (threads > 0) b.worker_threads(threads);
  weft::runtime rt = b.thread_name_prefix("http").build();
  const int code = rt.block_on(
      run(static_cast<std::uint16_t>(port), std::make_shared<const std::string>(std::move(root))));
  rt.shutdown(std::chrono::milliseconds(500));
  return code;
}
