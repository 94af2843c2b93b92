// The epoll backend's one readiness bit (io_source's read_drained_): after a
// read of a stream socket that returned fewer bytes than it asked for, the
// next read waits for the socket's edge instead of drawing EAGAIN first.
// Whether a read skipped its attempt is counted at the test point
// "io_source.read_waits_drained" (reached only on that path); the bytes
// that end the wait are written only after the count shows the read waits,
// so the order that could lose a wake-up is the one every run takes.
#include <weft/net/udp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include "support/flavors.hpp"
#include "support/test_points.hpp"

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::unix_stream;

constexpr const char* waits_drained = "io_source.read_waits_drained";

class ReadDrained : public ::testing::TestWithParam<weft::runtime_flavor> {
 protected:
  weft::runtime rt =
      weft::runtime_builder{}.flavor(GetParam()).io_backend(weft::io_backend_choice::epoll).build();
};
INSTANTIATE_TEST_SUITE_P(Flavors, ReadDrained, weft_test::each_flavor(), weft_test::flavor_name);

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Yields until `name` was reached `n` times; false after 30 s.
task<bool> reached(weft_test::point_script& script, const char* name, int n) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (script.reached_count(name) < n) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await weft::yield_now();
  }
  co_return true;
}

// A read of `s` into 64 bytes, as text ("error: ..." on failure), given up
// after 30 s so a lost wake-up fails the test.
task<std::string> read_text(unix_stream& s) {
  std::array<char, 64> buf{};
  result<result<std::size_t>> r =
      co_await weft::timeout(30s, s.read(std::as_writable_bytes(std::span(buf))));
  if (!r) co_return "error: " + r.error().message();
  if (!*r) co_return "error: " + r->error().message();
  co_return std::string(buf.data(), **r);
}

TEST_P(ReadDrained, AfterAShortReadTheNextReadWaitsForTheBytesAndGetsThem) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  rt.block_on([&]() -> task<> {
    auto [a, b] = unix_stream::pair().value();
    EXPECT_TRUE(co_await b.write_all(bytes("hello")));
    EXPECT_EQ(co_await read_text(a), "hello");  // 5 of 64: the socket is empty now
    auto later = weft::spawn([](unix_stream& s) { return read_text(s); }, std::ref(a));
    // The read is linked without a recv (counted), and only then do bytes come.
    EXPECT_TRUE(co_await reached(script, waits_drained, 1));
    EXPECT_TRUE(co_await b.write_all(bytes("world")));
    EXPECT_EQ(co_await later, "world");
  }());
}

TEST_P(ReadDrained, AfterAShortBufferedReadTheNextOneWaitsForTheBytesAndGetsThem) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  rt.block_on([&]() -> task<> {
    auto [a, b] = unix_stream::pair().value();
    EXPECT_TRUE(co_await b.write_all(bytes("hello")));
    {
      result<weft::net::recv_buffer> got = co_await a.read_buffered();
      EXPECT_TRUE(got && got->size() == 5);
    }
    auto later = weft::spawn(
        [](unix_stream& s) -> task<std::size_t> {
          result<result<weft::net::recv_buffer>> got =
              co_await weft::timeout(30s, s.read_buffered());
          co_return (got && *got) ? (*got)->size() : 0;
        },
        std::ref(a));
    EXPECT_TRUE(co_await reached(script, waits_drained, 1));
    EXPECT_TRUE(co_await b.write_all(bytes("world!")));
    EXPECT_EQ(co_await later, 6u);
  }());
}

// A read that filled its buffer may have left bytes behind: the next one
// tries at once (and gets them without any new edge).
TEST_P(ReadDrained, AReadThatFilledItsBufferLeavesTheNextOneToTryAtOnce) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  rt.block_on([&]() -> task<> {
    auto [a, b] = unix_stream::pair().value();
    EXPECT_TRUE(co_await b.write_all(bytes("abcdefgh")));
    std::array<std::byte, 4> four{};
    result<std::size_t> n = co_await a.read(four);
    EXPECT_TRUE(n && *n == 4);
    EXPECT_EQ(co_await read_text(a), "efgh");
    EXPECT_EQ(script.reached_count(waits_drained), 0);
  }());
}

// 0 is the end of the stream, not a short read: every later read returns 0
// at once. And bytes then the end after a short read: the end still comes.
TEST_P(ReadDrained, TheEndOfTheStreamAfterAShortReadIsReadAtOnceAndAgain) {
  rt.block_on([&]() -> task<> {
    auto [a, b] = unix_stream::pair().value();
    EXPECT_TRUE(co_await b.write_all(bytes("hi")));
    EXPECT_EQ(co_await read_text(a), "hi");
    b.close();
    EXPECT_EQ(co_await read_text(a), "");
    EXPECT_EQ(co_await read_text(a), "");
  }());
}

// The last bytes and the end reported by one event: the read that event
// completes is short, but the end is still queued and no edge will come for
// it, so the next read must try (read_closed_). On a current-thread runtime
// the order is forced: the reader is linked first, then the peer writes and
// closes before the runtime polls, so one event carries both.
TEST_P(ReadDrained, BytesAndTheEndInOneEventThenTheEndIsReadAtOnce) {
  rt.block_on([&]() -> task<> {
    auto [a, b] = unix_stream::pair().value();
    auto first = weft::spawn([](unix_stream& s) { return read_text(s); }, std::ref(a));
    co_await weft::yield_now();  // the reader links (EAGAIN) before anything is written
    EXPECT_TRUE(co_await b.write_all(bytes("last")));
    b.close();
    EXPECT_EQ(co_await first, "last");
    EXPECT_EQ(co_await read_text(a), "");  // the end, at once
  }());
}

// Datagrams are not tracked: a short datagram leaves the next one queued,
// and the next receive takes it without waiting for a new edge.
TEST_P(ReadDrained, TwoQueuedDatagramsAreBothReceivedWithoutANewEdge) {
  rt.block_on([&]() -> task<> {
    const weft::net::socket_address any(weft::net::ip_address::v4_loopback(), 0);
    weft::net::udp_socket rx = weft::net::udp_socket::bind(any).value();
    weft::net::udp_socket tx = weft::net::udp_socket::bind(any).value();
    const weft::net::socket_address to = rx.local_address().value();
    EXPECT_TRUE(co_await tx.send_to(bytes("one"), to));
    EXPECT_TRUE(co_await tx.send_to(bytes("two"), to));
    for (std::string_view want : {"one", "two"}) {
      std::array<char, 64> buf{};
      auto d = co_await weft::timeout(30s, rx.recv_from(std::as_writable_bytes(std::span(buf))));
      EXPECT_TRUE(d && *d);
      if (d && *d) {
        EXPECT_EQ(std::string_view(buf.data(), (*d)->size), want);
      }
    }
  }());
}

}  // namespace
