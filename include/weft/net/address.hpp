// weft/net/address.hpp — IP addresses, socket addresses and Unix-domain addresses.
//
//   auto ip = weft::net::ip_address::parse("fe80::1%eth0").value();
//   auto sa = weft::net::socket_address::parse("[::1]:8080").value();
//   sockaddr_storage ss;
//   socklen_t len = sa.to_sockaddr(ss);        // for connect/bind/sendto
//
// Design: plain value types, no allocation except in to_string().
// - ip_address holds the address bytes in network order in a 16-byte array
//   (an IPv4 address uses the first 4, the rest stay zero), its family and,
//   for IPv6, a scope id (the interface index of a link-local address; 0 when
//   there is none). A v4-mapped IPv6 address (::ffff:1.2.3.4) stays IPv6: it
//   is not equal to the IPv4 address 1.2.3.4.
// - socket_address is an ip_address and a port.
// - unix_address is an AF_UNIX address: a filesystem path, a Linux
//   abstract-namespace name, or unnamed (an unbound socket's address).
//
// Parsing is strict and locale-independent: no surrounding whitespace, no
// leading zeros or other bases in IPv4 parts, no embedded NULs. Every parse
// error is std::errc::invalid_argument. Text and kernel forms round-trip:
// parse(x.to_string()) == x, from_sockaddr(to_sockaddr(x)) == x. The text
// round trip holds for every value parse can produce; a scope id on an IPv6
// address that takes no zone (not link-scoped; only from_v6_bytes and
// from_sockaddr make one) prints as "%<id>", which parse refuses
// (tests/fuzz/corpus/address/sockaddr_in6_global_with_scope).
//
// Ordering (operator<=>) is total and only for containers: IPv4 before IPv6,
// then the bytes, then the scope id (then the port).
#pragma once

#include <weft/result.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

namespace weft::net {

/// An IPv4 or IPv6 address, with the scope id of an IPv6 address.
class ip_address {
 public:
  /// 0.0.0.0 (the IPv4 unspecified address).
  constexpr ip_address() noexcept = default;

  /// Parse "1.2.3.4", any RFC 4291 IPv6 form ("::", "2001:db8::1",
  /// "::ffff:1.2.3.4") and an IPv6 zone after '%': a decimal interface index
  /// ("fe80::1%3"; 1 or more, no leading zero) or an interface name
  /// ("fe80::1%eth0", looked up with if_nametoindex; an unknown name is an
  /// error). A zone is accepted only on link-scoped addresses: fe80::/10 and
  /// multicast of interface- or link-local scope (ff01::/16, ff02::/16, and
  /// the same scopes with other flags). Errors: std::errc::invalid_argument.
  static result<ip_address> parse(std::string_view text);

  /// a.b.c.d.
  static constexpr ip_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                 std::uint8_t d) noexcept {
    return from_v4_bytes({a, b, c, d});
  }
  /// An IPv4 address from its bytes in network order.
  static constexpr ip_address from_v4_bytes(const std::array<std::uint8_t, 4>& b) noexcept {
    ip_address ip;
    for (std::size_t i = 0; i < 4; ++i) ip.bytes_[i] = b[i];
    return ip;
  }
  /// An IPv6 address from its bytes in network order, and a scope id.
  static constexpr ip_address from_v6_bytes(const std::array<std::uint8_t, 16>& b,
                                            std::uint32_t scope_id = 0) noexcept {
    ip_address ip;
    ip.family_ = kind::v6;
    ip.bytes_ = b;
    ip.scope_id_ = scope_id;
    return ip;
  }
  /// 127.0.0.1, ::1, 0.0.0.0, ::.
  static constexpr ip_address v4_loopback() noexcept { return v4(127, 0, 0, 1); }
  static constexpr ip_address v6_loopback() noexcept {
    return from_v6_bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  }
  static constexpr ip_address v4_any() noexcept { return {}; }
  static constexpr ip_address v6_any() noexcept { return from_v6_bytes({}); }

  [[nodiscard]] constexpr bool is_v4() const noexcept { return family_ == kind::v4; }
  [[nodiscard]] constexpr bool is_v6() const noexcept { return family_ == kind::v6; }
  /// AF_INET or AF_INET6.
  [[nodiscard]] constexpr int family() const noexcept { return is_v4() ? AF_INET : AF_INET6; }
  /// 127.0.0.0/8 or ::1 (a v4-mapped ::ffff:127.x.y.z is not).
  [[nodiscard]] bool is_loopback() const noexcept;
  /// 0.0.0.0 or ::.
  [[nodiscard]] bool is_unspecified() const noexcept;
  /// 224.0.0.0/4 or ff00::/8.
  [[nodiscard]] bool is_multicast() const noexcept;

  /// The address in network order: 4 bytes for IPv4, 16 for IPv6.
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept {
    return {bytes_.data(), is_v4() ? std::size_t{4} : std::size_t{16}};
  }
  /// The IPv6 scope id (interface index); always 0 for IPv4.
  [[nodiscard]] constexpr std::uint32_t scope_id() const noexcept { return scope_id_; }

  /// "1.2.3.4", or the RFC 5952 form of an IPv6 address ("2001:db8::1",
  /// "::ffff:1.2.3.4") followed by "%<scope id>" when there is one (the
  /// number, not an interface name, so the text parses back to this value).
  [[nodiscard]] std::string to_string() const;

  friend constexpr bool operator==(const ip_address&, const ip_address&) noexcept = default;
  friend constexpr std::strong_ordering operator<=>(const ip_address&,
                                                    const ip_address&) noexcept = default;

 private:
  enum class kind : std::uint8_t { v4, v6 };
  // Declaration order is the comparison order.
  kind family_ = kind::v4;
  std::array<std::uint8_t, 16> bytes_{};
  std::uint32_t scope_id_ = 0;
};

/// An IP address and a port: the address of a TCP or UDP socket.
class socket_address {
 public:
  /// 0.0.0.0:0.
  constexpr socket_address() noexcept = default;
  constexpr socket_address(const ip_address& ip, std::uint16_t port) noexcept
      : ip_(ip), port_(port) {}

  /// Parse "1.2.3.4:80", "[::1]:8080" or "[fe80::1%2]:80" (an IPv6 address
  /// must be in brackets; the port is decimal, 0…65535). In brackets the zone
  /// may also be written as in URIs (RFC 6874): "[fe80::1%25eth0]:80" — "%25"
  /// followed by a non-empty zone. to_string() writes "%<id>", or "%25<id>"
  /// when the id itself starts with 25 (251, 2500…), so it parses back.
  /// Errors: std::errc::invalid_argument.
  static result<socket_address> parse(std::string_view text);

  /// From a kernel address (accept, getsockname, recvfrom, getaddrinfo).
  /// Errors: std::errc::address_family_not_supported for a family other than
  /// AF_INET/AF_INET6; std::errc::invalid_argument for a null pointer or a
  /// length too short for the family. An IPv6 flow label is not kept.
  static result<socket_address> from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

  /// Write the kernel form (sockaddr_in or sockaddr_in6, the rest zeroed)
  /// into `out`; returns its length.
  socklen_t to_sockaddr(sockaddr_storage& out) const noexcept;

  [[nodiscard]] constexpr const ip_address& ip() const noexcept { return ip_; }
  [[nodiscard]] constexpr std::uint16_t port() const noexcept { return port_; }
  /// AF_INET or AF_INET6.
  [[nodiscard]] constexpr int family() const noexcept { return ip_.family(); }

  /// "1.2.3.4:80", "[::1]:8080", "[fe80::1%2]:80".
  [[nodiscard]] std::string to_string() const;

  friend constexpr bool operator==(const socket_address&, const socket_address&) noexcept =
      default;
  friend constexpr std::strong_ordering operator<=>(const socket_address&,
                                                    const socket_address&) noexcept = default;

 private:
  ip_address ip_;
  std::uint16_t port_ = 0;
};

/// An AF_UNIX socket address: a filesystem path, a Linux abstract-namespace
/// name (the kernel form starts with a NUL byte), or unnamed.
class unix_address {
 public:
  /// The largest path: sun_path less its terminating NUL.
  static constexpr std::size_t max_path = sizeof(sockaddr_un::sun_path) - 1;
  /// The largest abstract name: sun_path less the leading NUL.
  static constexpr std::size_t max_abstract_name = sizeof(sockaddr_un::sun_path) - 1;

  /// Unnamed: the address of a socket that was never bound.
  unix_address() = default;

  /// A filesystem path. Errors: std::errc::filename_too_long if it is longer
  /// than max_path; std::errc::invalid_argument if it is empty or holds a NUL.
  static result<unix_address> from_path(std::string_view path);
  /// A name in Linux's abstract namespace (any bytes, NULs too; not a file).
  /// Errors: std::errc::filename_too_long if longer than max_abstract_name.
  static result<unix_address> abstract(std::string_view name);

  /// From a kernel address (accept, getsockname, recvfrom). A length of just
  /// the family is unnamed; a path ends at its first NUL or the length; an
  /// abstract name is every byte after the leading NUL. Errors:
  /// std::errc::address_family_not_supported for a family other than AF_UNIX;
  /// std::errc::invalid_argument for a null pointer or a length that is too
  /// short or longer than sockaddr_un.
  static result<unix_address> from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

  /// Write the kernel form into `out`; returns its length: the family alone
  /// (unnamed), the path with its terminating NUL, or the leading NUL and the
  /// abstract name (abstract names are exactly as long as the length says).
  socklen_t to_sockaddr(sockaddr_un& out) const noexcept;

  [[nodiscard]] bool is_unnamed() const noexcept { return kind_ == kind::unnamed; }
  [[nodiscard]] bool is_path() const noexcept { return kind_ == kind::path; }
  [[nodiscard]] bool is_abstract() const noexcept { return kind_ == kind::abstract; }
  /// The path, or the abstract name without its leading NUL; empty if unnamed.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }

  /// The path; '@' and the abstract name (its bytes as they are); "(unnamed)".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const unix_address&, const unix_address&) = default;

 private:
  enum class kind : std::uint8_t { unnamed, path, abstract };
  unix_address(kind k, std::string_view name) : kind_(k), name_(name) {}
  kind kind_ = kind::unnamed;
  std::string name_;
};

std::ostream& operator<<(std::ostream& os, const ip_address& a);
std::ostream& operator<<(std::ostream& os, const socket_address& a);
std::ostream& operator<<(std::ostream& os, const unix_address& a);

/// Hashes for std::hash (equal values hash equally).
[[nodiscard]] std::size_t hash_value(const ip_address& a) noexcept;
[[nodiscard]] std::size_t hash_value(const socket_address& a) noexcept;

namespace detail {

/// "host:port" or "[host]:port" split into its parts (host without brackets).
struct host_port {
  std::string_view host;
  std::uint16_t port = 0;
  bool bracketed = false;
};
/// Errors (std::errc::invalid_argument): an empty host, a missing or bad port
/// (not 0…65535 in decimal), a ':' in an unbracketed host, text after ']'
/// other than ":port".
result<host_port> split_host_port(std::string_view text) noexcept;

/// The IPv6 literal inside brackets: "addr", "addr%zone", or RFC 6874's
/// "addr%25zone" ("%25" followed by a non-empty zone is the escaped '%';
/// a bare "%25" is interface 25). Errors as ip_address::parse.
result<ip_address> parse_bracketed_ip(std::string_view inside);

}  // namespace detail

}  // namespace weft::net

template <>
struct std::hash<weft::net::ip_address> {
  std::size_t operator()(const weft::net::ip_address& a) const noexcept {
    return weft::net::hash_value(a);
  }
};

template <>
struct std::hash<weft::net::socket_address> {
  std::size_t operator()(const weft::net::socket_address& a) const noexcept {
    return weft::net::hash_value(a);
  }
};
