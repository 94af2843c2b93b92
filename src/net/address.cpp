// ip_address, socket_address, unix_address: parsing, printing, kernel forms.
#include <weft/net/address.hpp>

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <ostream>

namespace weft::net {
namespace {

std::error_code invalid() noexcept { return std::make_error_code(std::errc::invalid_argument); }

/// A decimal number of type T, the whole of `text`, no sign.
template <class T>
bool parse_decimal(std::string_view text, T& out) noexcept {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

/// inet_pton on a string_view: at most INET6_ADDRSTRLEN characters, no NULs.
bool pton(int family, std::string_view text, void* out) noexcept {
  char buf[INET6_ADDRSTRLEN];
  if (text.size() >= sizeof buf || text.find('\0') != std::string_view::npos) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return ::inet_pton(family, buf, out) == 1;
}

/// The zone after '%': a decimal interface index (1 or more, no leading
/// zero: the text form then has one spelling, and 0 means "no zone") or an
/// interface name that exists.
bool parse_scope(std::string_view text, std::uint32_t& out) noexcept {
  if (!text.empty() && text.front() >= '0' && text.front() <= '9' &&
      text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.front() == '0') return false;  // "0", "03": no such spelling
    return parse_decimal(text, out);        // false past 2^32 - 1
  }
  char name[IF_NAMESIZE];
  if (text.empty() || text.size() >= sizeof name || text.find('\0') != std::string_view::npos) {
    return false;
  }
  std::memcpy(name, text.data(), text.size());
  name[text.size()] = '\0';
  out = ::if_nametoindex(name);
  return out != 0;
}

/// A zone is meaningful only on link-scoped IPv6 addresses (RFC 4007):
/// link-local unicast fe80::/10 and multicast of interface-local (ffx1::) or
/// link-local (ffx2::) scope.
bool takes_zone(const std::array<std::uint8_t, 16>& b) noexcept {
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;
  if (b[0] == 0xff) {
    const unsigned scope = b[1] & 0x0f;
    return scope == 1 || scope == 2;
  }
  return false;
}

/// An IPv6 literal and, if `has_zone`, the zone that followed its '%'.
result<ip_address> parse_v6(std::string_view addr, std::string_view zone, bool has_zone) {
  std::array<std::uint8_t, 16> v6{};
  if (!pton(AF_INET6, addr, v6.data())) return invalid();
  std::uint32_t scope = 0;
  if (has_zone && (!takes_zone(v6) || !parse_scope(zone, scope))) return invalid();
  return ip_address::from_v6_bytes(v6, scope);
}

/// True if the text after '%' in brackets is RFC 6874's "%25" + zone: "25"
/// and at least one more character (RFC 6874 has no empty zone, so a bare
/// "%25" stays interface 25).
bool is_pct25_zone(std::string_view after_percent) noexcept {
  return after_percent.size() > 2 && after_percent.substr(0, 2) == "25";
}

/// Copy the first sizeof(T) bytes of the kernel address `sa` of length `len`
/// into `out`; false if `len` is shorter.
template <class T>
bool copy_prefix(const sockaddr* sa, socklen_t len, T& out) noexcept {
  if (len < static_cast<socklen_t>(sizeof out)) return false;
  std::memcpy(&out, sa, sizeof out);
  return true;
}

/// Mix `bytes` into `h` (FNV-1a).
std::size_t mix(std::size_t h, const void* bytes, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= static_cast<std::size_t>(1099511628211ULL);
  }
  return h;
}

}  // namespace

// ---- ip_address -----------------------------------------------------------------

result<ip_address> ip_address::parse(std::string_view text) {
  std::array<std::uint8_t, 4> v4{};
  if (pton(AF_INET, text, v4.data())) return from_v4_bytes(v4);
  const std::size_t percent = text.find('%');
  if (percent == std::string_view::npos) return parse_v6(text, {}, false);
  return parse_v6(text.substr(0, percent), text.substr(percent + 1), true);
}

bool ip_address::is_loopback() const noexcept {
  return is_v4() ? bytes_[0] == 127 : *this == v6_loopback();
}

bool ip_address::is_unspecified() const noexcept {
  return *this == (is_v4() ? v4_any() : v6_any());
}

bool ip_address::is_multicast() const noexcept {
  return is_v4() ? (bytes_[0] & 0xf0) == 224 : bytes_[0] == 0xff;
}

namespace detail {

result<ip_address> parse_bracketed_ip(std::string_view inside) {
  const std::size_t percent = inside.find('%');
  if (percent == std::string_view::npos) return parse_v6(inside, {}, false);
  std::string_view zone = inside.substr(percent + 1);
  if (is_pct25_zone(zone)) zone.remove_prefix(2);  // RFC 6874: "%25" is an escaped '%'
  return parse_v6(inside.substr(0, percent), zone, true);
}

}  // namespace detail

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(family(), bytes_.data(), buf, sizeof buf);  // cannot fail: buf is large enough
  std::string s(buf);
  if (scope_id_ != 0) s += '%' + std::to_string(scope_id_);
  return s;
}

std::ostream& operator<<(std::ostream& os, const ip_address& a) { return os << a.to_string(); }

std::size_t hash_value(const ip_address& a) noexcept {
  std::size_t h = static_cast<std::size_t>(14695981039346656037ULL);
  const int family = a.family();
  const std::uint32_t scope = a.scope_id();
  h = mix(h, &family, sizeof family);
  h = mix(h, a.bytes().data(), a.bytes().size());
  return mix(h, &scope, sizeof scope);
}

// ---- socket_address -------------------------------------------------------------

namespace detail {

result<host_port> split_host_port(std::string_view text) noexcept {
  host_port hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid();
    }
    hp.host = text.substr(1, close - 1);
    hp.bracketed = true;
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid();
    hp.host = text.substr(0, colon);
    if (hp.host.find(':') != std::string_view::npos) return invalid();  // IPv6 needs brackets
    port = text.substr(colon + 1);
  }
  if (hp.host.empty() || !parse_decimal(port, hp.port)) return invalid();
  return hp;
}

}  // namespace detail

result<socket_address> socket_address::parse(std::string_view text) {
  result<detail::host_port> hp = detail::split_host_port(text);
  if (!hp) return hp.error();
  // Brackets hold IPv6 and only IPv6 (with a zone as "%zone" or RFC 6874's
  // "%25zone").
  result<ip_address> ip =
      hp->bracketed ? detail::parse_bracketed_ip(hp->host) : ip_address::parse(hp->host);
  if (!ip || ip->is_v6() != hp->bracketed) return invalid();
  return socket_address{*ip, hp->port};
}

result<socket_address> socket_address::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
  sa_family_t family = 0;
  if (sa == nullptr || !copy_prefix(sa, len, family)) return invalid();
  if (family == AF_INET) {
    sockaddr_in in{};
    if (!copy_prefix(sa, len, in)) return invalid();
    const auto b = std::bit_cast<std::array<std::uint8_t, 4>>(in.sin_addr);
    return socket_address{ip_address::from_v4_bytes(b), ntohs(in.sin_port)};
  }
  if (family == AF_INET6) {
    sockaddr_in6 in6{};
    if (!copy_prefix(sa, len, in6)) return invalid();
    const auto b = std::bit_cast<std::array<std::uint8_t, 16>>(in6.sin6_addr);
    return socket_address{ip_address::from_v6_bytes(b, in6.sin6_scope_id), ntohs(in6.sin6_port)};
  }
  return std::make_error_code(std::errc::address_family_not_supported);
}

socklen_t socket_address::to_sockaddr(sockaddr_storage& out) const noexcept {
  std::memset(&out, 0, sizeof out);
  if (ip_.is_v4()) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port_);
    std::memcpy(&in.sin_addr, ip_.bytes().data(), ip_.bytes().size());
    std::memcpy(&out, &in, sizeof in);
    return sizeof in;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port_);
  std::memcpy(&in6.sin6_addr, ip_.bytes().data(), ip_.bytes().size());
  in6.sin6_scope_id = ip_.scope_id();
  std::memcpy(&out, &in6, sizeof in6);
  return sizeof in6;
}

std::string socket_address::to_string() const {
  const std::string port = ':' + std::to_string(port_);
  if (ip_.is_v4()) return ip_.to_string() + port;
  std::string text = ip_.to_string();
  // A zone that reads as RFC 6874's "%25..." (251, 2500, ...) is written in
  // that form ("%25251"), so the text parses back to this scope id.
  if (ip_.scope_id() != 0 && is_pct25_zone(std::to_string(ip_.scope_id()))) {
    text.insert(text.find('%') + 1, "25");
  }
  return '[' + text + ']' + port;
}

std::ostream& operator<<(std::ostream& os, const socket_address& a) {
  return os << a.to_string();
}

std::size_t hash_value(const socket_address& a) noexcept {
  const std::uint16_t port = a.port();
  return mix(hash_value(a.ip()), &port, sizeof port);
}

// ---- unix_address ---------------------------------------------------------------

namespace {
constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);
}  // namespace

result<unix_address> unix_address::from_path(std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return invalid();
  if (path.size() > max_path) return std::make_error_code(std::errc::filename_too_long);
  return unix_address{kind::path, path};
}

result<unix_address> unix_address::abstract(std::string_view name) {
  if (name.size() > max_abstract_name) return std::make_error_code(std::errc::filename_too_long);
  return unix_address{kind::abstract, name};
}

result<unix_address> unix_address::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
  sockaddr_un un{};
  if (sa == nullptr || len < static_cast<socklen_t>(sizeof un.sun_family) ||
      len > static_cast<socklen_t>(sizeof un)) {
    return invalid();
  }
  std::memcpy(&un, sa, len);
  if (un.sun_family != AF_UNIX) return std::make_error_code(std::errc::address_family_not_supported);
  const std::size_t n = len > path_offset ? len - path_offset : 0;
  try {
    if (n == 0) return unix_address{};
    if (un.sun_path[0] == '\0') return unix_address{kind::abstract, {un.sun_path + 1, n - 1}};
    const std::string_view path(un.sun_path, n);
    return unix_address{kind::path, path.substr(0, path.find('\0'))};
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

socklen_t unix_address::to_sockaddr(sockaddr_un& out) const noexcept {
  std::memset(&out, 0, sizeof out);
  out.sun_family = AF_UNIX;
  switch (kind_) {
    case kind::unnamed:
      return sizeof out.sun_family;
    case kind::path:
      // With its NUL, unless the kernel gave us a path that fills sun_path.
      std::memcpy(out.sun_path, name_.data(), name_.size());
      return static_cast<socklen_t>(std::min(path_offset + name_.size() + 1, sizeof out));
    case kind::abstract:
      std::memcpy(out.sun_path + 1, name_.data(), name_.size());
      return static_cast<socklen_t>(path_offset + 1 + name_.size());
  }
  return sizeof out.sun_family;
}

std::string unix_address::to_string() const {
  switch (kind_) {
    case kind::path:
      return name_;
    case kind::abstract:
      return '@' + name_;
    case kind::unnamed:
      break;
  }
  return "(unnamed)";
}

std::ostream& operator<<(std::ostream& os, const unix_address& a) { return os << a.to_string(); }

}  // namespace weft::net
