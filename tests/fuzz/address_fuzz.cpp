// Fuzz target: weft::net addresses (include/weft/net/address.hpp).
//
// The input is used three ways, every time:
//  1. as text for ip_address::parse and socket_address::parse;
//  2. as a kernel address (sockaddr bytes, the input's length as socklen_t)
//     for socket_address::from_sockaddr and unix_address::from_sockaddr;
//  3. as the fields of values built directly (from_v6_bytes with a scope id,
//     from_v4_bytes, a port; unix_address::from_path / abstract).
// Properties, as the header promises them:
//  - parse is strict: text with a NUL or surrounding whitespace is refused;
//  - parse agrees with inet_pton for text without a zone ('%'): IPv4 when
//    inet_pton(AF_INET) accepts it, IPv6 when inet_pton(AF_INET6) does, with
//    the same bytes; refused when neither does;
//  - a zone is accepted only on link-scoped IPv6 addresses;
//  - text round trip: parse(x.to_string()) == x, and to_string is canonical
//    (printing the parsed text again gives the same text);
//  - kernel round trip: from_sockaddr(to_sockaddr(x)) == x, with the family,
//    port (network order) and bytes where the kernel expects them;
//  - equal values hash equally.
#include <weft/net/address.hpp>

#include "fuzz_check.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using weft::net::ip_address;
using weft::net::socket_address;
using weft::net::unix_address;

bool link_scoped(const ip_address& ip) {
  const auto b = ip.bytes();
  if (!ip.is_v6()) return false;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;
  return b[0] == 0xff && ((b[1] & 0x0f) == 1 || (b[1] & 0x0f) == 2);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/// The text and kernel round trips of an ip_address and of it with a port.
void check_ip_round_trips(const ip_address& ip, std::uint16_t port) {
  const std::string text = ip.to_string();
  weft::result<ip_address> back = ip_address::parse(text);
  WEFT_FUZZ_CHECK(back.has_value(), "ip_address::parse(\"%s\") refused its own text", text.c_str());
  WEFT_FUZZ_CHECK(*back == ip, "parse(to_string()) != x for \"%s\"", text.c_str());
  WEFT_FUZZ_CHECK(back->to_string() == text, "to_string not canonical: \"%s\"", text.c_str());
  WEFT_FUZZ_CHECK(std::hash<ip_address>{}(*back) == std::hash<ip_address>{}(ip), "hash differs");

  const socket_address sa{ip, port};
  const std::string sa_text = sa.to_string();
  weft::result<socket_address> sa_back = socket_address::parse(sa_text);
  WEFT_FUZZ_CHECK(sa_back.has_value(), "socket_address::parse(\"%s\") refused its own text",
                  sa_text.c_str());
  WEFT_FUZZ_CHECK(*sa_back == sa, "socket_address parse(to_string()) != x for \"%s\"",
                  sa_text.c_str());
  WEFT_FUZZ_CHECK(sa_back->to_string() == sa_text, "not canonical: \"%s\"", sa_text.c_str());

  sockaddr_storage ss;
  const socklen_t len = sa.to_sockaddr(ss);
  WEFT_FUZZ_CHECK(ss.ss_family == sa.family(), "to_sockaddr family");
  if (ip.is_v4()) {
    sockaddr_in in;
    std::memcpy(&in, &ss, sizeof in);
    WEFT_FUZZ_CHECK(len == sizeof in && ntohs(in.sin_port) == port &&
                        std::memcmp(&in.sin_addr, ip.bytes().data(), 4) == 0,
                    "sockaddr_in fields for %s", sa_text.c_str());
  } else {
    sockaddr_in6 in6;
    std::memcpy(&in6, &ss, sizeof in6);
    WEFT_FUZZ_CHECK(len == sizeof in6 && ntohs(in6.sin6_port) == port &&
                        std::memcmp(&in6.sin6_addr, ip.bytes().data(), 16) == 0 &&
                        in6.sin6_scope_id == ip.scope_id() && in6.sin6_flowinfo == 0,
                    "sockaddr_in6 fields for %s", sa_text.c_str());
  }
  weft::result<socket_address> k = socket_address::from_sockaddr(
      reinterpret_cast<const sockaddr*>(&ss), len);
  WEFT_FUZZ_CHECK(k.has_value() && *k == sa, "from_sockaddr(to_sockaddr(x)) != x for %s",
                  sa_text.c_str());
  // One byte short of the family's length is refused, never read past.
  WEFT_FUZZ_CHECK(!socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len - 1),
                  "a short sockaddr accepted");
}

void check_text(std::string_view text) {
  weft::result<ip_address> ip = ip_address::parse(text);
  const bool has_nul = text.find('\0') != std::string_view::npos;
  const bool spaced = !text.empty() && (is_space(text.front()) || is_space(text.back()));
  if (has_nul || spaced) {
    WEFT_FUZZ_CHECK(!ip.has_value(), "parse accepted text with a NUL or surrounding space");
  }
  if (!has_nul && text.find('%') == std::string_view::npos) {
    const std::string z(text);
    unsigned char b4[4];
    unsigned char b6[16];
    const bool v4 = ::inet_pton(AF_INET, z.c_str(), b4) == 1;
    const bool v6 = !v4 && ::inet_pton(AF_INET6, z.c_str(), b6) == 1;
    WEFT_FUZZ_CHECK(ip.has_value() == (v4 || v6), "parse and inet_pton disagree on \"%s\"",
                    z.c_str());
    if (v4) {
      WEFT_FUZZ_CHECK(ip->is_v4() && std::memcmp(ip->bytes().data(), b4, 4) == 0,
                      "IPv4 bytes differ from inet_pton for \"%s\"", z.c_str());
    }
    if (v6) {
      WEFT_FUZZ_CHECK(ip->is_v6() && std::memcmp(ip->bytes().data(), b6, 16) == 0 &&
                          ip->scope_id() == 0,
                      "IPv6 bytes differ from inet_pton for \"%s\"", z.c_str());
    }
  }
  if (ip) {
    if (ip->scope_id() != 0) {
      WEFT_FUZZ_CHECK(link_scoped(*ip), "a zone accepted on a non-link-scoped address");
    }
    check_ip_round_trips(*ip, 0);
  }

  weft::result<socket_address> sa = socket_address::parse(text);
  if (has_nul || spaced) WEFT_FUZZ_CHECK(!sa.has_value(), "socket_address::parse: NUL or space");
  if (sa) {
    // IPv6 needs brackets, IPv4 must not have them.
    WEFT_FUZZ_CHECK(sa->ip().is_v6() == (text.front() == '['), "brackets and family disagree");
    check_ip_round_trips(sa->ip(), sa->port());
  }
}

void check_kernel_form(const std::uint8_t* data, std::size_t size) {
  sockaddr_storage ss{};
  const std::size_t n = size < sizeof ss ? size : sizeof ss;
  std::memcpy(&ss, data, n);
  const auto len = static_cast<socklen_t>(n);
  const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
  if (weft::result<socket_address> a = socket_address::from_sockaddr(sa, len)) {
    WEFT_FUZZ_CHECK(a->family() == ss.ss_family, "from_sockaddr changed the family");
    // The text form round-trips for what parse can produce: IPv4, and IPv6
    // with a scope id only on link-scoped addresses. A scope id on another
    // IPv6 address (only from_sockaddr and from_v6_bytes make one) prints as
    // "%N", which parse refuses: the header's parse(x.to_string()) == x does
    // not hold there (corpus/address/sockaddr_in6_global_with_scope).
    if (a->ip().scope_id() == 0 || link_scoped(a->ip())) {
      check_ip_round_trips(a->ip(), a->port());
    } else {
      sockaddr_storage again;
      const socklen_t l = a->to_sockaddr(again);
      auto k = socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&again), l);
      WEFT_FUZZ_CHECK(k.has_value() && *k == *a, "kernel round trip (scoped global address)");
    }
  }
  if (n <= sizeof(sockaddr_un)) {
    if (weft::result<unix_address> u = unix_address::from_sockaddr(sa, len)) {
      sockaddr_un un;
      const socklen_t l = u->to_sockaddr(un);
      auto back = unix_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&un), l);
      WEFT_FUZZ_CHECK(back.has_value() && *back == *u, "unix from_sockaddr(to_sockaddr(x)) != x");
    }
  }
}

void check_built_values(const std::uint8_t* data, std::size_t size) {
  if (size < 22) return;
  std::array<std::uint8_t, 16> b6;
  std::memcpy(b6.data(), data, 16);
  std::uint32_t scope;
  std::memcpy(&scope, data + 16, 4);
  const auto port = static_cast<std::uint16_t>(data[20] << 8 | data[21]);
  const ip_address v6 = ip_address::from_v6_bytes(b6, link_scoped(ip_address::from_v6_bytes(b6)) ? scope : 0);
  check_ip_round_trips(v6, port);
  check_ip_round_trips(ip_address::from_v4_bytes({data[0], data[1], data[2], data[3]}), port);

  const std::string_view rest(reinterpret_cast<const char*>(data + 22), size - 22);
  if (auto p = unix_address::from_path(rest)) {
    sockaddr_un un;
    const socklen_t l = p->to_sockaddr(un);
    auto back = unix_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&un), l);
    WEFT_FUZZ_CHECK(back.has_value() && *back == *p && back->name() == rest, "path round trip");
  }
  if (auto a = unix_address::abstract(rest)) {
    sockaddr_un un;
    const socklen_t l = a->to_sockaddr(un);
    auto back = unix_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&un), l);
    WEFT_FUZZ_CHECK(back.has_value() && *back == *a && back->name() == rest,
                    "abstract round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_text(std::string_view(reinterpret_cast<const char*>(data), size));
  check_kernel_form(data, size);
  check_built_values(data, size);
  return 0;
}
