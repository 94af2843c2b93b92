// weft/net/tcp.hpp — TCP listeners and streams, IPv4 and IPv6.
//
//   auto listener = weft::net::tcp_listener::bind(
//       weft::net::socket_address::parse("127.0.0.1:8080").value()).value();
//   for (;;) {
//     auto stream = co_await listener.accept();
//     if (!stream) continue;  // EMFILE and friends: the error is in stream.error()
//     weft::spawn(serve, std::move(*stream));
//   }
//
// The awaitables follow the rules in weft/net/socket.hpp (completion,
// cancellation, resuming thread, shutdown, allocation). Sockets are created
// SOCK_NONBLOCK | SOCK_CLOEXEC; accepted ones too.
#pragma once

#include <weft/net/address.hpp>
#include <weft/net/socket.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace weft::net {

class tcp_stream;


/// A connected TCP socket.
class tcp_stream : public stream_socket {
 public:
  tcp_stream() noexcept = default;
  /// Adopt a connected, non-blocking TCP socket.
  explicit tcp_stream(int fd) noexcept : stream_socket(fd) {}

  /// Connect to `addr`. Errors: ECONNREFUSED, ENETUNREACH, …
  static task<result<tcp_stream>> connect(socket_address addr);
  /// Connect, giving up after `limit` (errc::timed_out; the attempt is
  /// cancelled and its socket closed).
  static task<result<tcp_stream>> connect(socket_address addr,
                                          std::chrono::steady_clock::duration limit);
  /// Resolve `host` (net::resolve) and try each address in turn; the error of
  /// the last attempt if none connects.
  static task<result<tcp_stream>> connect(std::string host, std::uint16_t port);

  /// TCP_NODELAY: send small writes at once instead of coalescing them.
  result<void> set_nodelay(bool on) noexcept;
  result<bool> nodelay() const noexcept;
  /// SO_KEEPALIVE: probe an idle connection so a dead peer is noticed.
  result<void> set_keepalive(bool on) noexcept;
  result<bool> keepalive() const noexcept;

  result<socket_address> local_address() const noexcept;
  result<socket_address> peer_address() const noexcept;
};

/// Options for tcp_listener::bind.
struct tcp_listen_options {
  int backlog = 1024;
  /// SO_REUSEADDR: rebind a port whose old connections are in TIME_WAIT.
  bool reuse_address = true;
  /// SO_REUSEPORT: several listeners share the port; the kernel spreads
  /// connections across them.
  bool reuse_port = false;
  /// IPV6_V6ONLY for an IPv6 address (false: also accept IPv4-mapped).
  bool v6_only = false;
};

/// A listening TCP socket.
class tcp_listener : public socket_base {
 public:
  tcp_listener() noexcept = default;

  /// socket, setsockopt, bind, listen. Port 0 picks a free port (see
  /// local_address()).
  static result<tcp_listener> bind(socket_address addr, tcp_listen_options options = {});

  /// The next connection. Errors such as EMFILE leave the listener usable.
  detail::accept_awaiter<tcp_stream> accept() {
    return detail::make_op<detail::accept_awaiter<tcp_stream>>(h_, weft::detail::io_opcode::accept, nullptr,
                                                   0);
  }

  result<socket_address> local_address() const noexcept;

 private:
  explicit tcp_listener(int fd) noexcept : socket_base(fd) {}
};

}  // namespace weft::net
