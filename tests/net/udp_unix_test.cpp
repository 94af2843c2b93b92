// UDP and Unix-domain stream sockets, on both runtime flavours and both I/O
// backends.
#include <weft/net/udp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstring>
#include <string>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::socket_address;
using weft::net::udp_socket;
using weft::net::unix_address;
using weft::net::unix_listener;
using weft::net::unix_stream;

class Udp : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, Udp, weft_test::each_backend(), weft_test::backend_name);
class Unix : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, Unix, weft_test::each_backend(), weft_test::backend_name);
INSTANTIATE_TEST_SUITE_P(Simulated, Unix, weft_test::each_simulated_seed(), weft_test::backend_name);

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

const socket_address loopback{weft::net::ip_address::v4_loopback(), 0};

TEST_P(Udp, SendToArrivesWithTheSendersAddress) {
  rt.block_on([]() -> task<void> {
    udp_socket a = udp_socket::bind(loopback).value();
    udp_socket b = udp_socket::bind(loopback).value();
    EXPECT_EQ((co_await a.send_to(bytes("ping"), b.local_address().value())).value(), 4u);
    std::array<std::byte, 64> buf{};
    weft::net::datagram d = (co_await b.recv_from(buf)).value();
    EXPECT_EQ(d.size, 4u);
    EXPECT_EQ(std::memcmp(buf.data(), "ping", 4), 0);
    EXPECT_EQ(d.from, a.local_address().value());
  }());
}

TEST_P(Udp, ConnectedSocketsSendAndReceive) {
  rt.block_on([]() -> task<void> {
    udp_socket a = udp_socket::bind(loopback).value();
    udp_socket b = udp_socket::bind(loopback).value();
    a.connect(b.local_address().value()).value();
    b.connect(a.local_address().value()).value();
    EXPECT_EQ(a.peer_address().value(), b.local_address().value());
    // b waits first: the datagram arrives while it is suspended.
    auto reader = weft::spawn([&b]() -> task<std::size_t> {
      std::array<std::byte, 64> buf{};
      co_return (co_await b.recv(buf)).value();
    });
    EXPECT_EQ((co_await a.send(bytes("hello"))).value(), 5u);
    EXPECT_EQ(co_await reader, 5u);
  }());
}

TEST_P(Udp, RecvCancelledByTimeoutThenReceivesTheNextDatagram) {
  rt.block_on([]() -> task<void> {
    udp_socket a = udp_socket::bind(loopback).value();
    udp_socket b = udp_socket::bind(loopback).value();
    std::array<std::byte, 64> buf{};
    result<result<weft::net::datagram>> r = co_await weft::timeout(2ms, b.recv_from(buf));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    (void)(co_await a.send_to(bytes("late"), b.local_address().value())).value();
    EXPECT_EQ((co_await b.recv_from(buf)).value().size, 4u);
  }());
}

TEST_P(Udp, Ipv6DatagramsWork) {
  rt.block_on([]() -> task<void> {
    const socket_address v6{weft::net::ip_address::v6_loopback(), 0};
    udp_socket a = udp_socket::bind(v6).value();
    udp_socket b = udp_socket::bind(v6).value();
    (void)(co_await a.send_to(bytes("six"), b.local_address().value())).value();
    std::array<std::byte, 8> buf{};
    weft::net::datagram d = (co_await b.recv_from(buf)).value();
    EXPECT_EQ(d.size, 3u);
    EXPECT_TRUE(d.from.ip().is_v6());
  }());
}

TEST_P(Unix, AbstractListenerAcceptsAndStreamsEcho) {
  rt.block_on([]() -> task<void> {
    const unix_address addr =
        unix_address::abstract("weft-test-" + std::to_string(::getpid()) + "-" +
                               std::to_string(reinterpret_cast<std::uintptr_t>(&addr)))
            .value();
    unix_listener l = unix_listener::bind(addr).value();
    EXPECT_EQ(l.local_address().value(), addr);
    unix_stream c = (co_await unix_stream::connect(addr)).value();
    unix_stream s = (co_await l.accept()).value();
    (co_await c.write_all(bytes("over unix"))).value();
    std::string got(9, '\0');
    (co_await s.read_exact(std::as_writable_bytes(std::span(got.data(), got.size())))).value();
    EXPECT_EQ(got, "over unix");
  }());
}

TEST_P(Unix, PathListenerWorksAndConnectToAMissingPathFails) {
  rt.block_on([]() -> task<void> {
    char dir[] = "/tmp/weft-unix-XXXXXX";
    EXPECT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/sock";
    {
      unix_listener l = unix_listener::bind(unix_address::from_path(path).value()).value();
      unix_stream c = (co_await unix_stream::connect(unix_address::from_path(path).value())).value();
      unix_stream s = (co_await l.accept()).value();
      EXPECT_TRUE(s.is_open());
      EXPECT_EQ(c.peer_address().value().name(), path);
    }
    ::unlink(path.c_str());
    result<unix_stream> missing =
        co_await unix_stream::connect(unix_address::from_path(path).value());
    EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
    ::rmdir(dir);
  }());
}

TEST_P(Unix, SocketPairEndsTalkAndSeeEndOfStream) {
  rt.block_on([]() -> task<void> {
    auto [a, b] = unix_stream::pair().value();
    (co_await a.write_all(bytes("pair"))).value();
    a.close();
    std::array<std::byte, 16> buf{};
    EXPECT_EQ((co_await b.read(buf)).value(), 4u);
    EXPECT_EQ((co_await b.read(buf)).value(), 0u);
  }());
}

}  // namespace
