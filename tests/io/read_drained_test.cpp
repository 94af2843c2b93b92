// The epoll backend's one readiness bit (io_source's read_drained_): after a
// read of a TCP socket that returned fewer bytes than it asked for, the next
// read waits for the socket's edge instead of drawing EAGAIN first.
//
// How the order is forced: each socket's registration is made by a read
// that links on an empty queue (counted at "io_source.op_linked"), so no
// stale registration event is left to wake a later read; the short read is
// then the one an event performs, and the next read is counted at
// "io_source.read_waits_drained" (reached only when it skips its attempt)
// before the bytes that end its wait are written. A lost wake-up fails at a
// 30 s deadline. On a current-thread runtime the writes of one step all
// happen before the runtime polls, so one event carries them together.
#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <sys/socket.h>

#include "support/flavors.hpp"
#include "support/test_points.hpp"

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::unix_stream;

constexpr const char* waits_drained = "io_source.read_waits_drained";
constexpr const char* op_linked = "io_source.op_linked";
using weft::net::tcp_stream;

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
template <class Stream>
task<std::string> read_text(Stream& s) {
  std::array<char, 64> buf{};
  result<result<std::size_t>> r =
      co_await weft::timeout(30s, s.read(std::as_writable_bytes(std::span(buf))));
  if (!r) co_return "error: " + r.error().message();
  if (!*r) co_return "error: " + r->error().message();
  co_return std::string(buf.data(), **r);
}

// A connected loopback TCP pair: first the reading end, then the writing one.
task<std::pair<tcp_stream, tcp_stream>> tcp_pair() {
  weft::net::tcp_listener l =
      weft::net::tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
  auto client = weft::spawn(
      [](weft::net::socket_address to) -> task<tcp_stream> {
        co_return (co_await tcp_stream::connect(to)).value();
      },
      l.local_address().value());
  tcp_stream server = (co_await l.accept()).value();
  tcp_stream writer = co_await client;
  co_return std::pair<tcp_stream, tcp_stream>(std::move(server), std::move(writer));
}

// A read of `a` in its own task, returned once it is linked (counted at
// op_linked): the first one registers the socket on an empty queue.
template <class Stream>
task<weft::join_handle<std::string>> linked_read(weft_test::point_script& script, Stream& a) {
  const int linked = script.reached_count(op_linked);
  auto read = weft::spawn([](Stream& s) { return read_text(s); }, std::ref(a));
  EXPECT_TRUE(co_await reached(script, op_linked, linked + 1));
  co_return read;
}

// `a`'s first read links, then `b` writes `text`: the event performs that
// read. Returns what it read.
template <class Stream>
task<std::string> first_read_by_event(weft_test::point_script& script, Stream& a, Stream& b,
                                      std::string_view text) {
  auto first = co_await linked_read(script, a);
  EXPECT_TRUE(co_await b.write_all(bytes(text)));
  co_return co_await first;
}

TEST_P(ReadDrained, AfterAShortReadTheNextReadWaitsForTheBytesAndGetsThem) {
  WEFT_REQUIRE_TEST_POINTS();
  rt.block_on([&]() -> task<> {
    auto [a, b] = co_await tcp_pair();
    weft_test::point_script script;
    EXPECT_EQ(co_await first_read_by_event(script, a, b, "hello"), "hello");  // 5 of 64
    auto later = weft::spawn([](tcp_stream& s) { return read_text(s); }, std::ref(a));
    EXPECT_TRUE(co_await reached(script, waits_drained, 1));  // linked without a recv
    EXPECT_TRUE(co_await b.write_all(bytes("world")));
    EXPECT_EQ(co_await later, "world");
  }());
}

TEST_P(ReadDrained, AfterAShortBufferedReadTheNextOneWaitsForTheBytesAndGetsThem) {
  WEFT_REQUIRE_TEST_POINTS();
  rt.block_on([&]() -> task<> {
    auto [a, b] = co_await tcp_pair();
    weft_test::point_script script;
    EXPECT_EQ(co_await first_read_by_event(script, a, b, "hello"), "hello");
    auto later = weft::spawn(
        [](tcp_stream& s) -> task<std::size_t> {
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
  rt.block_on([&]() -> task<> {
    auto [a, b] = co_await tcp_pair();
    weft_test::point_script script;
    EXPECT_TRUE(co_await b.write_all(bytes("abcdefgh")));
    std::array<std::byte, 4> four{};
    result<std::size_t> n = co_await a.read(four);
    EXPECT_TRUE(n && *n == 4);
    EXPECT_EQ(co_await read_text(a), "efgh");
    EXPECT_EQ(script.reached_count(waits_drained), 0);
  }());
}

// 0 is the end of the stream, not a short read: every later read returns 0.
TEST_P(ReadDrained, TheEndOfTheStreamAfterAShortReadIsReadAndReadAgain) {
  rt.block_on([&]() -> task<> {
    auto [a, b] = co_await tcp_pair();
    EXPECT_TRUE(co_await b.write_all(bytes("hi")));
    EXPECT_EQ(co_await read_text(a), "hi");
    b.close();
    EXPECT_EQ(co_await read_text(a), "");
    EXPECT_EQ(co_await read_text(a), "");
  }());
}

// The last bytes and the end reported by one event: the read that event
// performs is short, but the end is still to be read and no edge will come
// for it, so the next read must try (read_closed_).
TEST_P(ReadDrained, BytesAndTheEndInOneEventThenTheEndIsRead) {
  WEFT_REQUIRE_TEST_POINTS();
  rt.block_on([&]() -> task<> {
    auto [a, b] = co_await tcp_pair();
    weft_test::point_script script;
    auto first = co_await linked_read(script, a);
    EXPECT_TRUE(co_await b.write_all(bytes("last")));
    b.close();
    EXPECT_EQ(co_await first, "last");
    EXPECT_EQ(co_await read_text(a), "");
  }());
}

// TCP urgent data: a read stops short at the urgent mark with bytes queued
// behind it. EPOLLPRI turns the bit off, so the next read gets them.
TEST_P(ReadDrained, AReadStoppedAtTheUrgentMarkLeavesTheRestReadable) {
  WEFT_REQUIRE_TEST_POINTS();
  rt.block_on([&]() -> task<> {
    auto [a, b] = co_await tcp_pair();
    weft_test::point_script script;
    auto first = co_await linked_read(script, a);
    const int fd = b.native_handle();
    EXPECT_EQ(::send(fd, "abc", 3, MSG_NOSIGNAL), 3);
    EXPECT_EQ(::send(fd, "X", 1, MSG_OOB | MSG_NOSIGNAL), 1);
    EXPECT_EQ(::send(fd, "def", 3, MSG_NOSIGNAL), 3);
    std::string got = co_await first;
    while (got.size() < 6 && got.find("error") == std::string::npos) got += co_await read_text(a);
    EXPECT_EQ(got, "abcdef");  // the urgent byte is out of band (no SO_OOBINLINE)
  }());
}

// Only TCP is tracked: a short read of an AF_UNIX stream can stop before
// queued bytes (an SCM_RIGHTS message, a change of credentials) with no
// edge to come, so the next read there always tries.
TEST_P(ReadDrained, UnixStreamsAreNotTracked) {
  WEFT_REQUIRE_TEST_POINTS();
  rt.block_on([&]() -> task<> {
    auto [a, b] = unix_stream::pair().value();
    weft_test::point_script script;
    EXPECT_EQ(co_await first_read_by_event(script, a, b, "hello"), "hello");
    auto later = weft::spawn([](unix_stream& s) { return read_text(s); }, std::ref(a));
    EXPECT_TRUE(co_await reached(script, op_linked, 2));  // after an EAGAIN
    EXPECT_EQ(script.reached_count(waits_drained), 0);
    EXPECT_TRUE(co_await b.write_all(bytes("world")));
    EXPECT_EQ(co_await later, "world");
  }());
}

}  // namespace
