// TCP on loopback, on both runtime flavours and both I/O backends.
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

class Tcp : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, Tcp, weft_test::each_backend(), weft_test::backend_name);
INSTANTIATE_TEST_SUITE_P(Simulated, Tcp, weft_test::each_simulated_seed(),
                         weft_test::backend_name);

socket_address loopback_any_port() { return {weft::net::ip_address::v4_loopback(), 0}; }

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::size_t open_fd_count() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

task<void> echo_one(tcp_stream s) {
  std::array<std::byte, 4096> buf{};
  for (;;) {
    result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
    if (!(co_await s.write_all(std::span(buf.data(), *n)))) co_return;
  }
}

TEST_P(Tcp, AcceptedConnectionEchoesWhatTheClientWrites) {
  std::string got = rt.block_on([]() -> task<std::string> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    const socket_address addr = l.local_address().value();
    auto server = weft::spawn([&l]() -> task<void> {
      result<tcp_stream> s = co_await l.accept();
      EXPECT_TRUE(s.has_value());
      co_await echo_one(std::move(*s));
    });
    tcp_stream c = (co_await tcp_stream::connect(addr)).value();
    const std::string msg = "hello, weft";
    (co_await c.write_all(bytes(msg))).value();
    std::string back(msg.size(), '\0');
    (co_await c.read_exact(std::as_writable_bytes(std::span(back.data(), back.size())))).value();
    c.close();
    co_await server;
    co_return back;
  }());
  EXPECT_EQ(got, "hello, weft");
}

TEST_P(Tcp, ReadReturnsWhatArrivedWhenTheBufferIsLarger) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    (co_await c.write_all(bytes("0123456789"))).value();
    std::array<std::byte, 100> buf{};
    std::size_t total = 0;
    while (total < 10) total += (co_await s.read(std::span(buf).subspan(total))).value();
    EXPECT_EQ(total, 10u);
    EXPECT_EQ(std::memcmp(buf.data(), "0123456789", 10), 0);
  }());
}

TEST_P(Tcp, PeerCloseIsEndOfStreamAndReadExactSaysSo) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    (co_await c.write_all(bytes("abc"))).value();
    c.shutdown(SHUT_WR).value();
    std::array<std::byte, 8> buf{};
    result<void> r = co_await s.read_exact(buf);  // only 3 of 8 come
    EXPECT_EQ(r.error(), weft::make_error_code(weft::errc::end_of_stream));
    EXPECT_EQ((co_await s.read(buf)).value(), 0u);
  }());
}

TEST_P(Tcp, ConnectToAClosedPortIsRefused) {
  rt.block_on([]() -> task<void> {
    socket_address addr;
    {
      tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
      addr = l.local_address().value();
    }  // closed: nothing listens there now
    result<tcp_stream> c = co_await tcp_stream::connect(addr);
    EXPECT_FALSE(c.has_value());
    EXPECT_EQ(c.error(), std::errc::connection_refused);
  }());
}

TEST_P(Tcp, AcceptCancelledByTimeoutLeavesTheListenerUsable) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    result<result<tcp_stream>> r = co_await weft::timeout(5ms, l.accept());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    // The cancelled accept took no connection: the next one gets it.
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    result<tcp_stream> s = co_await l.accept();
    EXPECT_TRUE(s.has_value());
  }());
}

TEST_P(Tcp, ReadCancelledByTimeoutLeavesTheStreamUsable) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    std::array<std::byte, 16> buf{};
    for (int i = 0; i < 20; ++i) {  // many cancels: each waits for the kernel's answer
      result<result<std::size_t>> r = co_await weft::timeout(1ms, s.read(buf));
      EXPECT_EQ(r.error(), weft::errc::timed_out);
    }
    (co_await c.write_all(bytes("x"))).value();
    EXPECT_EQ((co_await s.read(buf)).value(), 1u);
  }());
}

TEST_P(Tcp, LargeTransferWithPartialWritesArrivesIntact) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    std::vector<std::byte> data(8 << 20);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + i / 251);
    auto writer = weft::spawn([&c, &data]() -> task<void> {
      (co_await c.write_all(data)).value();
      c.shutdown(SHUT_WR).value();
    });
    std::vector<std::byte> got(data.size());
    (co_await s.read_exact(got)).value();
    co_await writer;
    EXPECT_TRUE(got == data);
  }());
}

TEST_P(Tcp, WriteToAResetPeerFailsWithResetOrBrokenPipe) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    {
      tcp_stream s = (co_await l.accept()).value();
      linger lg{1, 0};  // close with RST
      EXPECT_EQ(::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    }
    std::vector<std::byte> data(1 << 20);
    result<void> r;
    for (int i = 0; i < 64 && r; ++i) r = co_await c.write_all(data);
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(r.error() == std::errc::connection_reset || r.error() == std::errc::broken_pipe)
        << r.error().message();
  }());
}

TEST_P(Tcp, VectoredWriteSendsEveryBufferInOrder) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::string a = "head-", b = "body-", d = "tail";
    std::array<std::span<const std::byte>, 3> parts{bytes(a), bytes(b), bytes(d)};
    EXPECT_EQ((co_await c.write_vectored(parts)).value(), 14u);
    std::string got(14, '\0');
    (co_await s.read_exact(std::as_writable_bytes(std::span(got.data(), got.size())))).value();
    EXPECT_EQ(got, "head-body-tail");
  }());
}

TEST_P(Tcp, VectoredWriteOfMoreThanEightBuffersIsAnInvalidArgumentAndWritesNothing) {
  rt.block_on([](bool simulated) -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::string x = "x";
    std::array<std::span<const std::byte>, 9> nine{};
    nine.fill(bytes(x));
    result<std::size_t> r = co_await c.write_vectored(nine);
    EXPECT_EQ(r.error(), std::errc::invalid_argument) << r.error().message();
    // Nothing reached the peer, and the stream still works: eight buffers go.
    std::array<std::byte, 16> buf{};
    if (simulated) {
      // The in-memory network: a read finds nothing, however long it waits
      // in virtual time (every latency is far below it).
      EXPECT_FALSE(co_await weft::timeout(1s, s.read(buf)));
    } else {
      EXPECT_EQ(::recv(s.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT), -1);
      EXPECT_EQ(errno, EAGAIN);
    }
    EXPECT_EQ((co_await c.write_vectored(std::span(nine).first(8))).value(), 8u);
    (co_await s.read_exact(std::span(buf).first(8))).value();
  }(simulated()));
}

TEST_P(Tcp, Ipv6LoopbackWorks) {
  rt.block_on([]() -> task<void> {
    result<tcp_listener> l =
        tcp_listener::bind(socket_address{weft::net::ip_address::v6_loopback(), 0});
    if (!l) {
      ADD_FAILURE() << "no IPv6 loopback: " << l.error().message();
      co_return;
    }
    const socket_address addr = l->local_address().value();
    EXPECT_TRUE(addr.ip().is_v6());
    tcp_stream c = (co_await tcp_stream::connect(addr)).value();
    tcp_stream s = (co_await l->accept()).value();
    EXPECT_EQ(s.peer_address().value(), c.local_address().value());
    EXPECT_EQ(c.peer_address().value(), addr);
  }());
}

TEST_P(Tcp, OptionsAreSetAndReadBack) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    c.set_nodelay(true).value();
    EXPECT_TRUE(c.nodelay().value());
    c.set_keepalive(true).value();
    EXPECT_TRUE(c.keepalive().value());
    c.set_nodelay(false).value();
    EXPECT_FALSE(c.nodelay().value());
  }());
}

TEST_P(Tcp, ConnectWithTimeoutSucceedsWithinIt) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    result<tcp_stream> c = co_await tcp_stream::connect(l.local_address().value(), 5s);
    EXPECT_TRUE(c.has_value());
  }());
}

TEST_P(Tcp, TenThousandConnectCloseCyclesLeaveTheFdCountWhereItWas) {
  const std::size_t before = open_fd_count();
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    const socket_address addr = l.local_address().value();
    for (int i = 0; i < 10'000; ++i) {
      tcp_stream c = (co_await tcp_stream::connect(addr)).value();
      tcp_stream s = (co_await l.accept()).value();
      // Server closes first, so TIME_WAIT stays on the server's side of each
      // pair and the client's ephemeral ports are free for reuse.
      s.close();
      c.close();
    }
  }());
  // After shutdown: a listener closed off the ring holding its multishot
  // accept keeps its descriptor until that ring reaps the accept's last CQE.
  rt.shutdown(std::chrono::seconds(10));
  EXPECT_EQ(open_fd_count(), before);
}

TEST_P(Tcp, ManyConcurrentConnectionsEchoInParallel) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    const socket_address addr = l.local_address().value();
    constexpr int conns = 64;
    auto acceptor = weft::spawn([&l]() -> task<void> {
      for (int i = 0; i < conns; ++i) {
        (void)weft::spawn(echo_one, (co_await l.accept()).value());  // detached
      }
    });
    std::vector<weft::join_handle<bool>> clients;
    for (int i = 0; i < conns; ++i) {
      clients.push_back(weft::spawn([addr, i]() -> task<bool> {
        tcp_stream c = (co_await tcp_stream::connect(addr)).value();
        const std::string msg = "message " + std::to_string(i);
        bool ok = true;
        for (int round = 0; round < 50; ++round) {
          (co_await c.write_all(bytes(msg))).value();
          std::string back(msg.size(), '\0');
          (co_await c.read_exact(std::as_writable_bytes(std::span(back.data(), back.size()))))
              .value();
          ok = ok && back == msg;
        }
        co_return ok;
      }));
    }
    for (auto& c : clients) EXPECT_TRUE(co_await c);
    co_await acceptor;
  }());
}

TEST_P(Tcp, RuntimeShutdownWithATaskBlockedInAcceptEndsCleanly) {
  auto l = std::make_shared<tcp_listener>(tcp_listener::bind(loopback_any_port()).value());
  (void)rt.spawn([l]() -> task<void> { (void)co_await l->accept(); });
  (void)rt.spawn([l]() -> task<void> {
    std::array<std::byte, 8> buf{};
    tcp_stream c = (co_await tcp_stream::connect(l->local_address().value())).value();
    (void)co_await c.read(buf);  // never answered
  });
  rt.shutdown(10ms);  // the tasks are destroyed, their operations cancelled first
}

TEST_P(Tcp, AnAcceptThatSucceedsAsItIsCancelledClosesTheNewConnection) {
  const std::size_t before = open_fd_count();
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    // The connection waits in the backlog, so the accept succeeds as soon as
    // it is issued; the cancel is requested in the same tick. On io_uring
    // both go to the kernel together: the accept completes first, and the
    // cancelled task's awaiter must close the fd nobody will take.
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    weft::cancellation_source stop;
    auto canceller = weft::spawn([&stop]() -> task<void> {
      stop.cancel();
      co_return;
    });
    result<result<tcp_stream>> r = co_await weft::with_cancellation(stop.token(), l.accept());
    co_await canceller;
    if (!r) {
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
      // Whether the kernel accepted it or not, the client is not left
      // connected to nobody: it reads end of stream once the server side is
      // closed (accepted and closed), or once the listener goes (never
      // accepted) — close the listener to cover both.
      l.close();
      std::array<std::byte, 1> b{};
      result<std::size_t> n = co_await c.read(b);
      EXPECT_TRUE(!n || *n == 0);
    }
  }());
  rt.shutdown(std::chrono::seconds(10));  // see TenThousandConnectCloseCycles…
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
