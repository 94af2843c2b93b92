// TCP listeners and streams (weft/net/tcp.hpp).
#include <weft/net/resolve.hpp>
#include <weft/net/tcp.hpp>
#include <weft/time.hpp>

#include "io/io_driver.hpp"
#include "io/sim_sockets.hpp"
#include "net/socket_names.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

namespace weft::net {

using detail::last_error;

namespace {
result<socket_address> name_of(int fd, int (*getname)(int, sockaddr*, socklen_t*)) noexcept {
  return detail::name_of<socket_address, sockaddr_storage>(fd, getname);
}
}  // namespace

task<result<tcp_stream>> tcp_stream::connect(socket_address addr) {
  result<int> fd = detail::open_socket(addr.family(), SOCK_STREAM);
  if (!fd) co_return fd.error();
  tcp_stream s(*fd);
  sockaddr_storage ss{};
  const socklen_t len = addr.to_sockaddr(ss);
  result<void> r = co_await detail::connect_socket(s.h_, ss, len);
  if (!r) co_return r.error();
  co_return std::move(s);
}

task<result<tcp_stream>> tcp_stream::connect(socket_address addr,
                                             std::chrono::steady_clock::duration limit) {
  result<result<tcp_stream>> r = co_await weft::timeout(limit, connect(addr));
  if (!r) co_return r.error();
  co_return std::move(*r);
}

task<result<tcp_stream>> tcp_stream::connect(std::string host, std::uint16_t port) {
  result<std::vector<socket_address>> addrs = co_await resolve(std::move(host), port);
  if (!addrs) co_return addrs.error();
  std::error_code last = std::make_error_code(std::errc::host_unreachable);
  for (const socket_address& a : *addrs) {
    result<tcp_stream> s = co_await connect(a);
    if (s) co_return std::move(*s);
    last = s.error();
  }
  co_return last;
}

result<void> tcp_stream::set_nodelay(bool on) noexcept {
  return set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}
result<bool> tcp_stream::nodelay() const noexcept {
  result<int> v = get_option(IPPROTO_TCP, TCP_NODELAY);
  if (!v) return v.error();
  return *v != 0;
}
result<void> tcp_stream::set_keepalive(bool on) noexcept {
  return set_option(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
}
result<bool> tcp_stream::keepalive() const noexcept {
  result<int> v = get_option(SOL_SOCKET, SO_KEEPALIVE);
  if (!v) return v.error();
  return *v != 0;
}
result<socket_address> tcp_stream::local_address() const noexcept {
  return name_of(native_handle(), weft::detail::socket_getsockname);
}
result<socket_address> tcp_stream::peer_address() const noexcept {
  return name_of(native_handle(), weft::detail::socket_getpeername);
}

result<tcp_listener> tcp_listener::bind(socket_address addr, tcp_listen_options options) {
  result<int> fd = detail::open_socket(addr.family(), SOCK_STREAM);
  if (!fd) return fd.error();
  tcp_listener l(*fd);
  if (options.reuse_address) {
    if (auto r = l.set_option(SOL_SOCKET, SO_REUSEADDR, 1); !r) return r.error();
  }
  if (options.reuse_port) {
    if (auto r = l.set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
  }
  if (addr.family() == AF_INET6) {
    if (auto r = l.set_option(IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0); !r) {
      return r.error();
    }
  }
  sockaddr_storage ss{};
  const socklen_t len = addr.to_sockaddr(ss);
  if (::bind(l.native_handle(), reinterpret_cast<sockaddr*>(&ss), len) < 0) return last_error();
  if (::listen(l.native_handle(), options.backlog) < 0) return last_error();
  // A simulation's network learns of the listener (io_driver::on_listen).
  if (weft::detail::io_driver* d = weft::detail::current_io_driver()) d->on_listen(l.h_);
  return l;
}

result<socket_address> tcp_listener::local_address() const noexcept {
  return name_of(native_handle(), weft::detail::socket_getsockname);
}

}  // namespace weft::net
