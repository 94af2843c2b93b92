// UDP sockets (weft/net/udp.hpp).
#include <weft/net/udp.hpp>

#include "net/socket_names.hpp"

#include <cerrno>

namespace weft::net {

using detail::last_error;

namespace {
result<socket_address> name_of(int fd, int (*getname)(int, sockaddr*, socklen_t*)) noexcept {
  return detail::name_of<socket_address, sockaddr_storage>(fd, getname);
}
}  // namespace

result<datagram> detail::recv_from_awaiter::await_resume() noexcept {
  result<std::size_t> n = msg_awaiter<std::size_t>::await_resume();
  if (!n) return n.error();
  result<socket_address> from =
      socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&name), msg.msg_namelen);
  if (!from) return from.error();
  return datagram{*n, *from};
}

result<udp_socket> udp_socket::bind(socket_address addr, bool reuse_port) {
  result<int> fd = detail::open_socket(addr.family(), SOCK_DGRAM);
  if (!fd) return fd.error();
  udp_socket s(*fd);
  if (reuse_port) {
    if (auto r = s.set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
  }
  sockaddr_storage ss{};
  const socklen_t len = addr.to_sockaddr(ss);
  if (::bind(s.native_handle(), reinterpret_cast<sockaddr*>(&ss), len) < 0) return last_error();
  return s;
}

result<void> udp_socket::connect(socket_address peer) noexcept {
  sockaddr_storage ss{};
  const socklen_t len = peer.to_sockaddr(ss);
  if (::connect(native_handle(), reinterpret_cast<sockaddr*>(&ss), len) < 0) return last_error();
  return {};
}

detail::msg_awaiter<std::size_t> udp_socket::send_to(std::span<const std::byte> buf,
                                                     socket_address to) {
  auto a = detail::make_op<detail::msg_awaiter<std::size_t>>(
      h_, weft::detail::io_opcode::sendmsg, nullptr, 0);
  a.iov[0] = iovec{const_cast<std::byte*>(buf.data()), buf.size()};
  a.iov_count = 1;
  a.has_name = true;
  a.name_len = to.to_sockaddr(a.name);
  return a;
}

detail::recv_from_awaiter udp_socket::recv_from(std::span<std::byte> buf) {
  auto a = detail::make_op<detail::recv_from_awaiter>(h_, weft::detail::io_opcode::recvmsg,
                                                      nullptr, 0);
  a.iov[0] = iovec{buf.data(), buf.size()};
  a.iov_count = 1;
  a.has_name = true;
  a.name_len = sizeof a.name;
  return a;
}

result<socket_address> udp_socket::local_address() const noexcept {
  return name_of(native_handle(), ::getsockname);
}
result<socket_address> udp_socket::peer_address() const noexcept {
  return name_of(native_handle(), ::getpeername);
}

}  // namespace weft::net
