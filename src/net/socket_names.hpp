// Helpers shared by the socket implementations (src/net/*.cpp): errno as a
// std::error_code, and a socket's own or peer address as an address type.
#pragma once

#include <weft/result.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace weft::net::detail {

/// errno as a std::error_code (system_category).
inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }

/// getsockname/getpeername (`getname`) of `fd` as `Address` (socket_address
/// or unix_address), read into a `Storage` (sockaddr_storage or sockaddr_un).
template <class Address, class Storage, class GetName>
result<Address> name_of(int fd, GetName getname) noexcept {
  Storage ss{};
  socklen_t len = sizeof ss;
  if (getname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return last_error();
  return Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace weft::net::detail
