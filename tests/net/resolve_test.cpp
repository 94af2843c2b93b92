// net::resolve on both runtime flavours. No network beyond loopback: numeric
// hosts, "localhost" (from /etc/hosts) and names glibc rejects before it
// would send a DNS query.
#include <weft/net/resolve.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <netdb.h>

#include <algorithm>
#include <latch>
#include <string>
#include <vector>

#include "support/flavors.hpp"

namespace {

using namespace std::chrono_literals;
using weft::net::ip_address;
using weft::net::socket_address;

using addresses = weft::result<std::vector<socket_address>>;

socket_address sock(std::string_view text) { return socket_address::parse(text).value(); }

/// A name no resolver can answer and glibc refuses to put in a DNS query (a
/// label longer than 63 octets), so the lookup fails without any network.
std::string unresolvable_name() {
  // Appended rather than `std::string(64, 'x') + ".invalid"`, which g++ 12
  // at -O2 (the tsan build, with the precompiled header) flags with a false
  // -Warray-bounds inside operator+.
  std::string name(64, 'x');
  name.append(".invalid");
  return name;
}

class Resolve : public weft_test::on_each_flavor {};

INSTANTIATE_TEST_SUITE_P(Flavors, Resolve, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Resolve, NumericIpv4GivesThatAddress) {
  const addresses r = rt.block_on(weft::net::resolve("127.0.0.1", 80));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value(), std::vector<socket_address>{sock("127.0.0.1:80")});
}

TEST_P(Resolve, NumericIpv6WithScopeGivesThatAddress) {
  const addresses r = rt.block_on(weft::net::resolve("fe80::1%3", 443));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value(), std::vector<socket_address>{sock("[fe80::1%3]:443")});
}

TEST(ResolveNumeric, NeedsNeitherDnsNorTheBlockingPool) {
  // weft::block_on has no runtime, so no blocking pool: a lookup that went
  // to getaddrinfo would throw errc::no_runtime.
  const addresses v4 = weft::block_on(weft::net::resolve("10.1.2.3", 1));
  EXPECT_EQ(v4.value(), std::vector<socket_address>{sock("10.1.2.3:1")});
  const addresses v6 = weft::block_on(weft::net::resolve("[2001:db8::1]:2"));
  EXPECT_EQ(v6.value(), std::vector<socket_address>{sock("[2001:db8::1]:2")});
  // RFC 6874's "%25zone" in brackets is a numeric literal too.
  const addresses zoned = weft::block_on(weft::net::resolve("[fe80::1%253]:443"));
  ASSERT_TRUE(zoned.has_value()) << zoned.error().message();
  EXPECT_EQ(zoned.value(), std::vector<socket_address>{sock("[fe80::1%3]:443")});
  try {
    (void)weft::block_on(weft::net::resolve("localhost", 1));
    ADD_FAILURE() << "a host name was resolved without a runtime";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::no_runtime);
  }
}

TEST_P(Resolve, LocalhostGivesLoopbackAddressesOnceEachWithThePort) {
  const addresses r = rt.block_on(weft::net::resolve("localhost", 8080));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const std::vector<socket_address>& v = r.value();
  ASSERT_FALSE(v.empty());
  for (const socket_address& a : v) {
    EXPECT_TRUE(a.ip().is_loopback()) << a;  // 127.0.0.1 and/or ::1
    EXPECT_EQ(a.port(), 8080) << a;
    EXPECT_EQ(std::count(v.begin(), v.end(), a), 1) << a;
  }
}

TEST_P(Resolve, HostAndPortFormsSplitTheText) {
  const addresses named = rt.block_on(weft::net::resolve("localhost:9"));
  ASSERT_TRUE(named.has_value()) << named.error().message();
  EXPECT_EQ(named.value().front().port(), 9);
  const addresses v6 = rt.block_on(weft::net::resolve("[::1]:8080"));
  EXPECT_EQ(v6.value(), std::vector<socket_address>{sock("[::1]:8080")});
  const addresses v4 = rt.block_on(weft::net::resolve("127.0.0.2:0"));
  EXPECT_EQ(v4.value(), std::vector<socket_address>{sock("127.0.0.2:0")});
}

TEST_P(Resolve, MalformedHostAndPortIsInvalidArgument) {
  for (const char* bad : {"localhost", "localhost:", ":80", "[::1]", "::1:80", "localhost:65536",
                          "localhost:http"}) {
    const addresses r = rt.block_on(weft::net::resolve(bad));
    EXPECT_EQ(r.error(), std::errc::invalid_argument) << bad;
  }
  const addresses nul = rt.block_on(weft::net::resolve(std::string("localhost\0x", 11), 80));
  EXPECT_EQ(nul.error(), std::errc::invalid_argument);
}

TEST_P(Resolve, UnknownNameIsAnErrorInTheResolveCategory) {
  const addresses r = rt.block_on(weft::net::resolve(unresolvable_name(), 80));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category(), weft::net::resolve_category()) << r.error().message();
  EXPECT_EQ(r.error().value(), EAI_NONAME);
  EXPECT_EQ(r.error().message(), ::gai_strerror(EAI_NONAME));
}

TEST(ResolveCategory, IsNamedWeftResolveAndSpeaksGaiStrerror) {
  const std::error_category& c = weft::net::resolve_category();
  EXPECT_STREQ(c.name(), "weft.resolve");
  for (int eai : {EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_MEMORY}) {
    EXPECT_EQ(c.message(eai), ::gai_strerror(eai));
  }
}

TEST_P(Resolve, CancelledAwaitLetsTheLookupFinishAndDropsItsResult) {
  // One blocking thread, held by `blocker`: the lookup's job waits in the
  // queue, so the timeout always fires first and destroys the awaiting
  // coroutine (dropping, so detaching, its join_handle).
  auto rt1 = weft::runtime_builder{}.flavor(GetParam()).max_blocking_threads(1).build();
  std::latch release(1);
  rt1.block_on([&]() -> weft::task<> {
    auto blocker = weft::spawn_blocking([&] { release.wait(); });
    auto r = co_await weft::timeout(1ms, weft::net::resolve("localhost", 80));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    release.count_down();
    co_await blocker;
    // The pool runs jobs in order: once this one ran, the detached lookup ran
    // before it (to completion: a running job is never interrupted).
    co_await weft::spawn_blocking([] {});
  }());
}

}  // namespace
