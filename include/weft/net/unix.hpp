// weft/net/unix.hpp — Unix-domain stream sockets (paths and Linux abstract
// names).
//
//   auto l = weft::net::unix_listener::bind(weft::net::unix_address::abstract("app").value()).value();
//   auto s = co_await l.accept();
//   auto c = co_await weft::net::unix_stream::connect(l.local_address().value());
//
// The awaitables follow the rules in weft/net/socket.hpp (completion,
// cancellation, resuming thread, shutdown, allocation).
#pragma once

#include <weft/net/address.hpp>
#include <weft/net/socket.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

#include <utility>

namespace weft::net {

/// A connected Unix-domain stream socket.
class unix_stream : public stream_socket {
 public:
  unix_stream() noexcept = default;
  /// Adopt a connected, non-blocking AF_UNIX stream socket.
  explicit unix_stream(int fd) noexcept : stream_socket(fd) {}

  static task<result<unix_stream>> connect(unix_address addr);
  /// Two connected ends (socketpair(2)).
  static result<std::pair<unix_stream, unix_stream>> pair() noexcept;

  result<unix_address> local_address() const noexcept;
  result<unix_address> peer_address() const noexcept;
};

class unix_listener : public socket_base {
 public:
  unix_listener() noexcept = default;

  /// socket, bind, listen. A filesystem path must not exist yet (remove a
  /// stale one first); the listener does not unlink it when closed.
  static result<unix_listener> bind(const unix_address& addr, int backlog = 1024);

  detail::accept_awaiter<unix_stream> accept() {
    return detail::make_op<detail::accept_awaiter<unix_stream>>(
        h_, weft::detail::io_opcode::accept, nullptr, 0);
  }

  result<unix_address> local_address() const noexcept;

 private:
  explicit unix_listener(int fd) noexcept : socket_base(fd) {}
};

}  // namespace weft::net
