// Unix-domain stream sockets (weft/net/unix.hpp).
#include <weft/net/unix.hpp>

#include "io/io_driver.hpp"
#include "io/sim_sockets.hpp"
#include "net/socket_names.hpp"

#include <cerrno>

namespace weft::net {

using detail::last_error;

namespace {
result<unix_address> name_of(int fd, int (*getname)(int, sockaddr*, socklen_t*)) noexcept {
  return detail::name_of<unix_address, sockaddr_un>(fd, getname);
}
}  // namespace

task<result<unix_stream>> unix_stream::connect(unix_address addr) {
  result<int> fd = detail::open_socket(AF_UNIX, SOCK_STREAM);
  if (!fd) co_return fd.error();
  unix_stream s(*fd);
  sockaddr_storage ss{};
  const socklen_t len = addr.to_sockaddr(reinterpret_cast<sockaddr_un&>(ss));
  result<void> r = co_await detail::connect_socket(s.h_, ss, len);
  if (!r) co_return r.error();
  co_return std::move(s);
}

result<std::pair<unix_stream, unix_stream>> unix_stream::pair() noexcept {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
    return last_error();
  }
  // A simulation's network connects the two in memory (io_driver::on_socket_pair).
  if (weft::detail::io_driver* d = weft::detail::current_io_driver()) {
    d->on_socket_pair(fds[0], fds[1]);
  }
  return std::pair<unix_stream, unix_stream>{unix_stream(fds[0]), unix_stream(fds[1])};
}

result<unix_address> unix_stream::local_address() const noexcept {
  return name_of(native_handle(), weft::detail::socket_getsockname);
}
result<unix_address> unix_stream::peer_address() const noexcept {
  return name_of(native_handle(), weft::detail::socket_getpeername);
}

result<unix_listener> unix_listener::bind(const unix_address& addr, int backlog) {
  result<int> fd = detail::open_socket(AF_UNIX, SOCK_STREAM);
  if (!fd) return fd.error();
  unix_listener l(*fd);
  sockaddr_un sa{};
  const socklen_t len = addr.to_sockaddr(sa);
  if (::bind(l.native_handle(), reinterpret_cast<sockaddr*>(&sa), len) < 0) return last_error();
  if (::listen(l.native_handle(), backlog) < 0) return last_error();
  // A simulation's network learns of the listener (io_driver::on_listen).
  if (weft::detail::io_driver* d = weft::detail::current_io_driver()) d->on_listen(l.h_);
  return l;
}

result<unix_address> unix_listener::local_address() const noexcept {
  return name_of(native_handle(), weft::detail::socket_getsockname);
}

}  // namespace weft::net
