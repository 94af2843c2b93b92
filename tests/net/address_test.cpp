// ip_address, socket_address, unix_address: parsing, printing, kernel forms,
// comparison and hashing.
#include <weft/net/address.hpp>

#include <gtest/gtest.h>

#include <net/if.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>

namespace {

using weft::net::ip_address;
using weft::net::socket_address;
using weft::net::unix_address;

using namespace std::string_view_literals;

ip_address ip(std::string_view text) { return ip_address::parse(text).value(); }
socket_address sock(std::string_view text) { return socket_address::parse(text).value(); }

template <class T>
void expect_invalid(const weft::result<T>& r, std::string_view text) {
  EXPECT_FALSE(r.has_value()) << "accepted \"" << text << '"';
  EXPECT_EQ(r.error(), std::errc::invalid_argument) << text;
}

// ---- ip_address -----------------------------------------------------------------

TEST(Address, ParsesDottedQuadAndPrintsItBack) {
  const ip_address a = ip("192.168.0.1");
  EXPECT_TRUE(a.is_v4());
  EXPECT_FALSE(a.is_v6());
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a, ip_address::v4(192, 168, 0, 1));
  EXPECT_EQ(a.to_string(), "192.168.0.1");
  ASSERT_EQ(a.bytes().size(), 4U);
  EXPECT_EQ(a.bytes()[0], 192);
  EXPECT_EQ(a.bytes()[3], 1);
  EXPECT_EQ(a.scope_id(), 0U);
}

TEST(Address, ParsesCompressedIpv6AndPrintsCanonicalForm) {
  struct {
    std::string_view in, out;
  } const cases[] = {
      {"::", "::"},
      {"::1", "::1"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // first of two equal runs
      {"1::", "1::"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
      {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
      {"::FFFF:102:304", "::ffff:1.2.3.4"},
      {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
  };
  for (const auto& c : cases) {
    const weft::result<ip_address> a = ip_address::parse(c.in);
    ASSERT_TRUE(a.has_value()) << c.in;
    EXPECT_TRUE(a.value().is_v6()) << c.in;
    EXPECT_EQ(a.value().family(), AF_INET6);
    EXPECT_EQ(a.value().to_string(), c.out) << c.in;
    EXPECT_EQ(ip(a.value().to_string()), a.value()) << c.in;  // round trip
  }
}

TEST(Address, V4MappedIpv6IsNotTheIpv4Address) {
  EXPECT_NE(ip("::ffff:1.2.3.4"), ip("1.2.3.4"));
  EXPECT_EQ(ip("::ffff:1.2.3.4").bytes().size(), 16U);
}

TEST(Address, ParsesNumericScopeAndPrintsIt) {
  const ip_address a = ip("fe80::1%3");
  EXPECT_EQ(a.scope_id(), 3U);
  EXPECT_EQ(a.to_string(), "fe80::1%3");
  EXPECT_NE(a, ip("fe80::1"));
  EXPECT_EQ(ip("fe80::1%4294967295").scope_id(), 4294967295U);
}

TEST(Address, RejectsAnEmptyZeroOrZeroPaddedZone) {
  // "%0" used to parse as no zone and print without one; "%03" is not the
  // one spelling of interface 3.
  for (std::string_view bad : {"fe80::1%"sv, "fe80::1%0"sv, "fe80::1%00"sv, "fe80::1%03"sv,
                               "fe80::1%4294967296"sv, "fe80::1%-1"sv, "fe80::1%+3"sv,
                               "fe80::1% 3"sv, "fe80::1%3 "sv, "fe80::1%%3"sv,
                               "fe80::1%lo%lo"sv}) {
    expect_invalid(ip_address::parse(bad), bad);
  }
}

TEST(Address, AcceptsAZoneOnlyOnLinkScopedAddresses) {
  // Link-local unicast (fe80::/10) and interface-/link-local multicast.
  for (std::string_view ok : {"fe80::1%1"sv, "febf::1%1"sv, "ff02::1%1"sv, "ff01::1%1"sv,
                              "ff12::1%1"sv, "ff32::1%1"sv}) {
    const weft::result<ip_address> a = ip_address::parse(ok);
    ASSERT_TRUE(a.has_value()) << ok;
    EXPECT_EQ(a.value().scope_id(), 1U) << ok;
    EXPECT_EQ(a.value().to_string(), ok);
  }
  // Global, unique-local, site-local, loopback, unspecified, v4-mapped,
  // and multicast of wider scope: a zone means nothing there.
  for (std::string_view bad : {"2001:db8::1%1"sv, "fd00::1%1"sv, "fec0::1%1"sv, "::1%1"sv,
                               "::%1"sv, "::ffff:1.2.3.4%1"sv, "ff05::1%1"sv, "ff0e::1%1"sv,
                               "fe00::1%1"sv, "fec0::1%lo"sv}) {
    expect_invalid(ip_address::parse(bad), bad);
  }
}

TEST(Address, AZonedAddressRoundTripsThroughItsText) {
  for (std::uint32_t id : {1U, 2U, 25U, 251U, 2500U, 4294967295U}) {
    constexpr std::array<std::uint8_t, 16> fe80_1{0xfe, 0x80, 0, 0, 0, 0, 0, 0,
                                                  0,    0,    0, 0, 0, 0, 0, 1};
    const ip_address a = ip_address::from_v6_bytes(fe80_1, id);
    EXPECT_EQ(ip(a.to_string()), a) << a.to_string();
    const socket_address sa(a, 80);
    EXPECT_EQ(sock(sa.to_string()), sa) << sa.to_string();
  }
}

TEST(Address, ParsesInterfaceNameScopeAsItsIndex) {
  const unsigned lo = ::if_nametoindex("lo");
  ASSERT_NE(lo, 0U) << "no loopback interface";
  const ip_address a = ip("fe80::1%lo");
  EXPECT_EQ(a.scope_id(), lo);
  EXPECT_EQ(a.to_string(), "fe80::1%" + std::to_string(lo));
  EXPECT_EQ(ip(a.to_string()), a);
}

TEST(Address, RejectsMalformedAddresses) {
  for (std::string_view bad : {""sv, "256.1.1.1"sv, "1.2.3"sv, "1.2.3.4.5"sv, "01.2.3.4"sv,
                               "0x1.2.3.4"sv, " 1.2.3.4"sv, "1.2.3.4 "sv, "1.2.3.4%1"sv,
                               "::1:"sv, ":1::"sv, "1::2::3"sv, "1:2:3:4:5:6:7:8:9"sv,
                               "12345::"sv, "::ffff:1.2.3"sv, "[::1]"sv, "::1%"sv,
                               "fe80::1%no-such-if0"sv, "fe80::1%99999999999"sv, "localhost"sv,
                               "1.2.3.4\0"sv, "::1\0junk"sv}) {
    expect_invalid(ip_address::parse(bad), bad);
  }
}

TEST(Address, ClassifiesLoopbackUnspecifiedAndMulticast) {
  EXPECT_TRUE(ip_address::v4_loopback().is_loopback());
  EXPECT_TRUE(ip("127.255.0.9").is_loopback());
  EXPECT_TRUE(ip_address::v6_loopback().is_loopback());
  EXPECT_FALSE(ip("::ffff:127.0.0.1").is_loopback());
  EXPECT_FALSE(ip("128.0.0.1").is_loopback());
  EXPECT_FALSE(ip("::2").is_loopback());

  EXPECT_TRUE(ip_address::v4_any().is_unspecified());
  EXPECT_TRUE(ip_address::v6_any().is_unspecified());
  EXPECT_TRUE(ip_address{}.is_unspecified());
  EXPECT_FALSE(ip("0.0.0.1").is_unspecified());
  EXPECT_FALSE(ip("::1").is_unspecified());

  EXPECT_TRUE(ip("224.0.0.1").is_multicast());
  EXPECT_TRUE(ip("239.255.255.255").is_multicast());
  EXPECT_FALSE(ip("240.0.0.1").is_multicast());
  EXPECT_FALSE(ip("223.255.255.255").is_multicast());
  EXPECT_TRUE(ip("ff02::1").is_multicast());
  EXPECT_FALSE(ip("fe80::1").is_multicast());
}

TEST(Address, FactoriesGiveTheWellKnownAddresses) {
  EXPECT_EQ(ip_address::v4_loopback().to_string(), "127.0.0.1");
  EXPECT_EQ(ip_address::v6_loopback().to_string(), "::1");
  EXPECT_EQ(ip_address::v4_any().to_string(), "0.0.0.0");
  EXPECT_EQ(ip_address::v6_any().to_string(), "::");
  EXPECT_EQ(ip_address{}, ip_address::v4_any());
  static_assert(ip_address::v4(127, 0, 0, 1) == ip_address::v4_loopback());
}

TEST(Address, OrdersIpv4BeforeIpv6ThenByBytesThenScope) {
  EXPECT_LT(ip("255.255.255.255"), ip("::"));
  EXPECT_LT(ip("1.2.3.4"), ip("1.2.3.5"));
  EXPECT_LT(ip("9.0.0.0"), ip("10.0.0.0"));  // bytes, not text
  EXPECT_LT(ip("fe80::1"), ip("fe80::1%1"));
  EXPECT_LT(ip("fe80::1%2"), ip("fe80::2"));
  const std::set<ip_address> s{ip("::1"), ip("10.0.0.1"), ip("9.0.0.1"), ip("::1")};
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(*s.begin(), ip("9.0.0.1"));
  EXPECT_EQ(*s.rbegin(), ip("::1"));
}

TEST(Address, EqualAddressesHashEquallyAndWorkInUnorderedSets) {
  EXPECT_EQ(std::hash<ip_address>{}(ip("::1")), std::hash<ip_address>{}(ip("0::0:1")));
  const std::unordered_set<ip_address> s{ip("1.2.3.4"), ip("::ffff:1.2.3.4"), ip("fe80::1"),
                                         ip("fe80::1%1"), ip("1.2.3.4")};
  EXPECT_EQ(s.size(), 4U);
  EXPECT_EQ(s.count(ip("fe80::1%1")), 1U);
}

TEST(Address, StreamsTheTextForm) {
  std::ostringstream os;
  os << ip("2001:db8::1") << ' ' << ip_address::v4_loopback();
  EXPECT_EQ(os.str(), "2001:db8::1 127.0.0.1");
}

// ---- socket_address -------------------------------------------------------------

TEST(SocketAddress, ParsesAndPrintsEveryForm) {
  for (std::string_view text : {"1.2.3.4:80"sv, "[::1]:8080"sv, "[fe80::1%2]:80"sv,
                                "0.0.0.0:0"sv, "[::ffff:1.2.3.4]:65535"sv}) {
    const weft::result<socket_address> a = socket_address::parse(text);
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(a.value().to_string(), text);
  }
  const socket_address a = sock("[fe80::1%2]:80");
  EXPECT_EQ(a.ip(), ip("fe80::1%2"));
  EXPECT_EQ(a.port(), 80);
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(sock("1.2.3.4:80"), socket_address(ip_address::v4(1, 2, 3, 4), 80));
  EXPECT_EQ(sock("1.2.3.4:80").family(), AF_INET);
  EXPECT_EQ(sock("[0::1]:0080").to_string(), "[::1]:80");
}

TEST(SocketAddress, AcceptsTheRfc6874ZoneFormInBrackets) {
  // In a URI, '%' is written "%25": "[fe80::1%25eth0]:80".
  const unsigned lo = ::if_nametoindex("lo");
  ASSERT_NE(lo, 0U) << "no loopback interface";
  EXPECT_EQ(sock("[fe80::1%25lo]:80"), sock("[fe80::1%lo]:80"));
  EXPECT_EQ(sock("[fe80::1%25lo]:80").ip().scope_id(), lo);
  EXPECT_EQ(sock("[fe80::1%253]:80"), sock("[fe80::1%3]:80"));
  EXPECT_EQ(sock("[ff02::1%252]:53").ip().scope_id(), 2U);
  // A bare "%25" is interface 25 (RFC 6874 has no empty zone).
  EXPECT_EQ(sock("[fe80::1%25]:80").ip().scope_id(), 25U);
  // Scope ids that start with 25 print in the RFC 6874 form, so they parse back.
  EXPECT_EQ(sock("[fe80::1%25251]:80").ip().scope_id(), 251U);
  EXPECT_EQ(socket_address(sock("[fe80::1%25251]:80")).to_string(), "[fe80::1%25251]:80");
  EXPECT_EQ(sock("[fe80::1%7]:80").to_string(), "[fe80::1%7]:80");
  for (std::string_view bad : {"[fe80::1%250]:80"sv, "[fe80::1%2503]:80"sv,
                               "[2001:db8::1%253]:80"sv, "[fe80::1%25no-such-if0]:80"sv,
                               "[fe80::1%0]:80"sv, "[::1%1]:80"sv}) {
    expect_invalid(socket_address::parse(bad), bad);
  }
  // Outside brackets "%25" is not an escape: interface 25 then "x".
  expect_invalid(ip_address::parse("fe80::1%25lo"), "fe80::1%25lo");
}

TEST(SocketAddress, RejectsMalformedText) {
  for (std::string_view bad :
       {""sv, "1.2.3.4"sv, "1.2.3.4:"sv, ":80"sv, "[::1]"sv, "[::1]:"sv, "[::1]80"sv,
        "::1:80"sv, "[1.2.3.4]:80"sv, "1.2.3.4:65536"sv, "1.2.3.4:99999999"sv, "1.2.3.4:-1"sv,
        "1.2.3.4:+80"sv, "1.2.3.4:8x"sv, "1.2.3.4: 80"sv, "[]:80"sv, "[::1:80"sv,
        "[::1]:80]"sv, "localhost:80"sv, "256.1.1.1:80"sv, "1.2.3.4:80\0"sv}) {
    expect_invalid(socket_address::parse(bad), bad);
  }
}

TEST(SocketAddress, RoundTripsThroughTheKernelForm) {
  for (std::string_view text : {"1.2.3.4:80"sv, "[::1]:8080"sv, "[fe80::1%7]:443"sv}) {
    const socket_address a = sock(text);
    sockaddr_storage ss;
    const socklen_t len = a.to_sockaddr(ss);
    EXPECT_EQ(ss.ss_family, a.family());
    const weft::result<socket_address> back =
        socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(back.value(), a);
  }
}

TEST(SocketAddress, WritesTheKernelFieldsInNetworkOrder) {
  sockaddr_storage ss;
  ASSERT_EQ(sock("10.0.0.1:8080").to_sockaddr(ss), sizeof(sockaddr_in));
  sockaddr_in in;
  std::memcpy(&in, &ss, sizeof in);
  EXPECT_EQ(in.sin_family, AF_INET);
  EXPECT_EQ(ntohs(in.sin_port), 8080);
  EXPECT_EQ(ntohl(in.sin_addr.s_addr), 0x0a000001U);

  ASSERT_EQ(sock("[fe80::1%5]:53").to_sockaddr(ss), sizeof(sockaddr_in6));
  sockaddr_in6 in6;
  std::memcpy(&in6, &ss, sizeof in6);
  EXPECT_EQ(in6.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(in6.sin6_port), 53);
  EXPECT_EQ(in6.sin6_scope_id, 5U);
  EXPECT_EQ(in6.sin6_addr.s6_addr[0], 0xfe);
  EXPECT_EQ(in6.sin6_addr.s6_addr[15], 1);
}

TEST(SocketAddress, FromSockaddrRejectsOtherFamiliesAndShortLengths) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_EQ(socket_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&un), sizeof un)
                .error(),
            std::errc::address_family_not_supported);

  sockaddr_storage ss;
  const socklen_t len = sock("[::1]:1").to_sockaddr(ss);
  const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
  EXPECT_EQ(socket_address::from_sockaddr(sa, len - 1).error(), std::errc::invalid_argument);
  EXPECT_EQ(socket_address::from_sockaddr(sa, 1).error(), std::errc::invalid_argument);
  EXPECT_EQ(socket_address::from_sockaddr(nullptr, len).error(), std::errc::invalid_argument);
}

TEST(SocketAddress, OrdersByAddressThenPortAndHashes) {
  EXPECT_LT(sock("1.2.3.4:9000"), sock("1.2.3.5:80"));
  EXPECT_LT(sock("1.2.3.4:80"), sock("1.2.3.4:81"));
  EXPECT_LT(sock("255.255.255.255:65535"), sock("[::]:0"));
  const std::unordered_set<socket_address> s{sock("1.2.3.4:80"), sock("1.2.3.4:81"),
                                             sock("[::1]:80"), sock("1.2.3.4:80")};
  EXPECT_EQ(s.size(), 3U);
  EXPECT_EQ(std::hash<socket_address>{}(sock("[::1]:80")),
            std::hash<socket_address>{}(sock("[0:0::1]:80")));
}

TEST(SocketAddress, StreamsTheTextForm) {
  std::ostringstream os;
  os << sock("[::1]:8080") << ' ' << socket_address{};
  EXPECT_EQ(os.str(), "[::1]:8080 0.0.0.0:0");
}

// ---- unix_address ---------------------------------------------------------------

weft::result<unix_address> from_kernel(const sockaddr_un& un, socklen_t len) {
  return unix_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&un), len);
}

constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);

/// `a` written to its kernel form, checked to be `expected_len` long, and read back.
unix_address through_kernel(const unix_address& a, std::size_t expected_len) {
  sockaddr_un un;
  const socklen_t len = a.to_sockaddr(un);
  EXPECT_EQ(un.sun_family, AF_UNIX);
  EXPECT_EQ(len, expected_len) << a;
  return from_kernel(un, len).value();
}

TEST(UnixAddress, PathRoundTripsThroughTheKernelForm) {
  const unix_address a = unix_address::from_path("/run/weft.sock").value();
  EXPECT_TRUE(a.is_path());
  EXPECT_EQ(a.name(), "/run/weft.sock");
  EXPECT_EQ(a.to_string(), "/run/weft.sock");
  EXPECT_EQ(through_kernel(a, path_offset + 14 + 1), a);  // with the terminating NUL
  sockaddr_un un;
  const socklen_t len = a.to_sockaddr(un);
  EXPECT_STREQ(un.sun_path, "/run/weft.sock");
  // The kernel may leave the terminating NUL out of the length.
  EXPECT_EQ(from_kernel(un, len - 1).value(), a);
}

TEST(UnixAddress, AbstractNameHasALeadingNulAndPrintsWithAnAt) {
  const unix_address a = unix_address::abstract("weft-test").value();
  EXPECT_TRUE(a.is_abstract());
  EXPECT_EQ(a.name(), "weft-test");
  EXPECT_EQ(a.to_string(), "@weft-test");
  EXPECT_EQ(through_kernel(a, path_offset + 1 + 9), a);  // no terminator
  sockaddr_un un;
  (void)a.to_sockaddr(un);
  EXPECT_EQ(std::string_view(un.sun_path, 10), "\0weft-test"sv);
  EXPECT_NE(a, unix_address::from_path("weft-test").value());
}

TEST(UnixAddress, AbstractNamesMayHoldNulsAndBeEmpty) {
  const unix_address a = unix_address::abstract("a\0b"sv).value();
  EXPECT_EQ(through_kernel(a, path_offset + 1 + 3).name(), "a\0b"sv);
  const unix_address empty = unix_address::abstract("").value();
  EXPECT_EQ(empty.to_string(), "@");
  EXPECT_EQ(through_kernel(empty, path_offset + 1), empty);
}

TEST(UnixAddress, UnnamedIsTheFamilyAlone) {
  const unix_address a;
  EXPECT_TRUE(a.is_unnamed());
  EXPECT_EQ(a.to_string(), "(unnamed)");
  EXPECT_TRUE(through_kernel(a, sizeof(sa_family_t)).is_unnamed());
  std::ostringstream os;
  os << a << ' ' << unix_address::abstract("x").value();
  EXPECT_EQ(os.str(), "(unnamed) @x");
}

TEST(UnixAddress, RejectsPathsThatDoNotFit) {
  const std::string longest(unix_address::max_path, 'p');
  EXPECT_TRUE(unix_address::from_path(longest).has_value());
  EXPECT_EQ(unix_address::from_path(longest + 'p').error(), std::errc::filename_too_long);
  EXPECT_EQ(unix_address::abstract(std::string(unix_address::max_abstract_name + 1, 'a')).error(),
            std::errc::filename_too_long);
  EXPECT_EQ(unix_address::from_path("").error(), std::errc::invalid_argument);
  EXPECT_EQ(unix_address::from_path("a\0b"sv).error(), std::errc::invalid_argument);
}

TEST(UnixAddress, TheLongestPathsRoundTrip) {
  const unix_address a = unix_address::from_path(std::string(unix_address::max_path, 'p')).value();
  EXPECT_EQ(through_kernel(a, sizeof(sockaddr_un)), a);
  // The kernel accepts a path that fills sun_path with no NUL, and reports it.
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memset(un.sun_path, 'q', sizeof un.sun_path);
  const unix_address full = from_kernel(un, sizeof un).value();
  EXPECT_EQ(full.name(), std::string(sizeof un.sun_path, 'q'));
  EXPECT_EQ(through_kernel(full, sizeof un), full);
}

TEST(UnixAddress, FromSockaddrRejectsOtherFamiliesAndBadLengths) {
  sockaddr_storage ss;
  const socklen_t len = sock("1.2.3.4:5").to_sockaddr(ss);
  EXPECT_EQ(unix_address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len).error(),
            std::errc::address_family_not_supported);
  sockaddr_un un;
  (void)unix_address::from_path("/x").value().to_sockaddr(un);
  EXPECT_EQ(from_kernel(un, 1).error(), std::errc::invalid_argument);
  EXPECT_EQ(from_kernel(un, sizeof un + 1).error(), std::errc::invalid_argument);
  EXPECT_EQ(unix_address::from_sockaddr(nullptr, 2).error(), std::errc::invalid_argument);
}

}  // namespace
