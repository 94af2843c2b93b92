// weft/net/udp.hpp — UDP sockets, IPv4 and IPv6.
//
//   auto sock = weft::net::udp_socket::bind({weft::net::ip_address::v4_loopback(), 0}).value();
//   auto n = co_await sock.send_to(bytes, peer);
//   auto d = co_await sock.recv_from(buf);   // d->size, d->from
//
// The awaitables follow the rules in weft/net/socket.hpp (completion,
// cancellation, resuming thread, shutdown, allocation). A datagram larger
// than the buffer is truncated (the rest is dropped, as recv(2) does).
#pragma once

#include <weft/net/address.hpp>
#include <weft/net/socket.hpp>
#include <weft/result.hpp>

#include <cstddef>
#include <span>

namespace weft::net {

/// One received datagram: its size and sender.
struct datagram {
  std::size_t size = 0;
  socket_address from;
};

namespace detail {
/// recvfrom: the sender's address lands in the awaiter.
class recv_from_awaiter : public msg_awaiter<std::size_t> {
 public:
  result<datagram> await_resume() noexcept;
};
}  // namespace detail

class udp_socket : public socket_base {
 public:
  udp_socket() noexcept = default;

  /// socket + bind. Port 0 picks a free port. `reuse_port`: SO_REUSEPORT.
  static result<udp_socket> bind(socket_address addr, bool reuse_port = false);

  /// Fix the peer: send()/recv() then talk to it only. Immediate (no wait).
  result<void> connect(socket_address peer) noexcept;

  /// Send one datagram to the connected peer; returns the bytes sent.
  detail::io_result_awaiter<std::size_t> send(std::span<const std::byte> buf) {
    return detail::make_op<detail::io_result_awaiter<std::size_t>>(
        h_, weft::detail::io_opcode::send, const_cast<std::byte*>(buf.data()), buf.size());
  }
  /// Receive one datagram from the connected peer.
  detail::io_result_awaiter<std::size_t> recv(std::span<std::byte> buf) {
    return detail::make_op<detail::io_result_awaiter<std::size_t>>(
        h_, weft::detail::io_opcode::recv, buf.data(), buf.size());
  }
  /// Send one datagram to `to`.
  detail::msg_awaiter<std::size_t> send_to(std::span<const std::byte> buf, socket_address to);
  /// Receive one datagram and its sender.
  detail::recv_from_awaiter recv_from(std::span<std::byte> buf);

  result<socket_address> local_address() const noexcept;
  result<socket_address> peer_address() const noexcept;

 private:
  explicit udp_socket(int fd) noexcept : socket_base(fd) {}
};

}  // namespace weft::net
