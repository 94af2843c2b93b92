// The simulation's in-memory network (src/io/sim_network.hpp): stream
// sockets on virtual time with seeded latency and faults. Every test runs on
// a simulation runtime, so its order comes from the seed: a failure names
// the seed and replays with WEFT_SIM_SEED. Faults are forced by setting
// their probability (per mille) to 1000 or 0, not waited for.
#include <weft/cancellation.hpp>
#include <weft/net/accept_backoff.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/udp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/simulation.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "io/sim_network.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

socket_address loopback() {
  return {weft::net::ip_address::v4_loopback(), 0};
}

std::vector<std::byte> pattern(std::size_t n, std::uint32_t salt) {
  std::vector<std::byte> v(n);
  std::uint32_t x = salt * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

/// The error of `r`; none if it holds a value.
template <class T>
std::error_code error_of(const result<T>& r) {
  return r.has_value() ? std::error_code{} : r.error();
}

/// No fault at all, a fixed window: what a test that counts bytes exactly wants.
weft::simulated_network exact(std::size_t window = 65536) {
  weft::simulated_network n;
  n.min_window = n.max_window = window;
  n.segment_per_mille = 0;
  n.short_io_per_mille = 0;
  n.spurious_wait_per_mille = 0;
  return n;
}

weft::runtime sim(std::uint64_t seed, const weft::simulated_network& n) {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::simulation)
      .rng_seed(seed)
      .simulated_network(n)
      .build();
}

/// The network of the simulation this task runs on.
weft::detail::sim_network& this_network() {
  weft::detail::io_driver* d = weft::detail::current_io_driver();
  if (d == nullptr || !d->caps().simulated) throw std::logic_error("not on a simulation");
  return static_cast<weft::detail::sim_network&>(*d);
}

task<void> echo_all(tcp_stream s) {
  std::array<std::byte, 3000> buf{};
  for (;;) {
    result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
    if (!co_await s.write_all(std::span(buf.data(), *n))) co_return;
  }
}

// Three clients at once, each 100 KB each way through windows of 1-64 KiB,
// with the default faults (segments, spurious waits, latency) and short reads
// and writes.
TEST(SimulatedNetwork, EchoesEveryByteUnderManySeeds) {
  weft::detail::sim_network::stats total;
  weft::simulated_network n;
  n.short_io_per_mille = 250;
  auto failure = weft::simulate({.seeds = 60, .network = n}, [&](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    const socket_address addr = l.local_address().value();
    auto server = weft::spawn([&l]() -> task<void> {
      std::vector<weft::join_handle<void>> conns;
      for (int i = 0; i < 3; ++i)
        conns.push_back(weft::spawn(echo_all, (co_await l.accept()).value()));
      for (auto& c : conns) co_await c;
    });
    std::vector<weft::join_handle<bool>> clients;
    for (std::uint32_t i = 0; i < 3; ++i) {
      clients.push_back(weft::spawn([addr, i]() -> task<bool> {
        tcp_stream c = (co_await tcp_stream::connect(addr)).value();
        const std::vector<std::byte> out = pattern(100'000, i);
        // Write and read at once: the echo fills both windows otherwise.
        auto writer = weft::spawn(
            [&c, &out]() -> task<bool> { co_return (co_await c.write_all(out)).has_value(); });
        std::vector<std::byte> back(out.size());
        const bool read_ok = (co_await c.read_exact(back)).has_value();
        const bool wrote = co_await writer;
        co_return read_ok&& wrote&& back == out;
      }));
    }
    for (auto& c : clients) {
      if (!co_await c) throw std::runtime_error("a client's bytes did not come back intact");
    }
    co_await server;
    const auto s = this_network().counters();
    total.short_ios += s.short_ios;
    total.segmented += s.segmented;
    total.spurious_waits += s.spurious_waits;
    total.events += s.events;
  });
  EXPECT_FALSE(failure) << failure->what;
  // The faults the run claims to survive did happen.
  EXPECT_GT(total.short_ios, 0u);
  EXPECT_GT(total.segmented, 0u);
  EXPECT_GT(total.spurious_waits, 0u);
  EXPECT_GT(total.events, 0u);
}

TEST(SimulatedNetwork, ShortReadsAndWritesStillDeliverEveryByteInOrder) {
  weft::simulated_network n = exact();
  n.short_io_per_mille = 1000;  // every read and write that can be short is
  weft::runtime rt = sim(3, n);
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::vector<std::byte> out = pattern(10'000, 7);
    const std::size_t first = (co_await c.write(out)).value();
    EXPECT_LT(first, out.size()) << "a forced short write wrote everything";
    (co_await c.write_all(std::span(out).subspan(first))).value();
    std::vector<std::byte> in;
    int reads = 0;
    std::array<std::byte, 4096> buf{};
    while (in.size() < out.size()) {
      const std::size_t k = (co_await s.read(buf)).value();
      EXPECT_GT(k, 0u);
      in.insert(in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(k));
      ++reads;
    }
    EXPECT_EQ(in, out);
    EXPECT_GT(reads, 3);  // 10,000 bytes in 4 KiB reads, each one short
  }());
}

TEST(SimulatedNetwork, AWriterPastThePeersWindowWaitsUntilThePeerReads) {
  weft::runtime rt = sim(4, exact(4096));
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::vector<std::byte> out = pattern(10'000, 1);
    EXPECT_EQ((co_await c.write(out)).value(), 4096u);  // the window, no more
    // The peer reads nothing: the next write waits (virtual time runs out).
    result<result<std::size_t>> blocked = co_await weft::timeout(50ms, c.write(out));
    EXPECT_FALSE(blocked.has_value());
    // The peer reads: the writer goes on and everything arrives in order.
    auto writer = weft::spawn([&c, &out]() -> task<result<void>> {
      co_return co_await c.write_all(std::span(out).subspan(4096));
    });
    std::vector<std::byte> back(out.size());
    (co_await s.read_exact(back)).value();
    EXPECT_TRUE((co_await writer).has_value());
    EXPECT_EQ(back, out);
  }());
}

TEST(SimulatedNetwork, ClosingAfterWritingDeliversEveryByteThenEndOfStream) {
  auto failure = weft::simulate({.seeds = 20}, [](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::vector<std::byte> out = pattern(5000, 2);
    auto writer = weft::spawn([c = std::move(c), &out]() mutable -> task<bool> {
      const bool ok = (co_await c.write_all(out)).has_value();
      c.close();  // while bytes may still be in flight
      co_return ok;
    });
    std::vector<std::byte> back(out.size());
    (co_await s.read_exact(back)).value();
    std::array<std::byte, 16> extra{};
    result<std::size_t> end = co_await s.read(extra);
    if (!co_await writer || back != out || !end || *end != 0) {
      throw std::runtime_error("the bytes before the close, then end of stream, did not arrive");
    }
  });
  EXPECT_FALSE(failure) << failure->what;
}

TEST(SimulatedNetwork, ClosingWithUnreadBytesResetsThePeer) {
  weft::runtime rt = sim(5, exact());
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    (co_await c.write_all(pattern(100, 3))).value();
    // Let the bytes arrive (virtual time passes every latency, up to 200 us),
    // then close the server end without reading them.
    std::array<std::byte, 1> one{};
    co_await weft::sleep(1ms);
    s.close();
    const result<std::size_t> r = co_await c.read(one);
    EXPECT_EQ(error_of(r), std::errc::connection_reset);
  }());
}

TEST(SimulatedNetwork, AResetFailsBothEndsOnceThenEndsTheStream) {
  weft::simulated_network n = exact();
  n.reset_per_mille = 1000;  // the first write resets the connection
  weft::runtime rt = sim(6, n);
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    std::array<std::byte, 64> buf{};
    auto reader =
        weft::spawn([&s, &buf]() -> task<result<std::size_t>> { co_return co_await s.read(buf); });
    EXPECT_EQ((co_await c.write(pattern(10, 4))).value(), 10u);  // sent, then reset
    const result<std::size_t> waiting = co_await reader;
    EXPECT_EQ(error_of(waiting), std::errc::connection_reset);
    EXPECT_EQ((co_await s.read(buf)).value(), 0u);  // reported once, then the end
    const result<std::size_t> r = co_await c.read(buf);
    EXPECT_EQ(error_of(r), std::errc::connection_reset);
    const result<std::size_t> w = co_await c.write(pattern(10, 4));
    EXPECT_EQ(error_of(w), std::errc::broken_pipe);
    EXPECT_EQ(this_network().counters().resets, 1u);
  }());
}

TEST(SimulatedNetwork, ConnectWithoutAListenerIsRefused) {
  weft::runtime rt = sim(7, {});
  rt.block_on([]() -> task<> {
    socket_address addr = loopback();
    {
      tcp_listener l = tcp_listener::bind(loopback()).value();
      addr = l.local_address().value();
    }  // closed: nobody listens there now
    const result<tcp_stream> c = co_await tcp_stream::connect(addr);
    EXPECT_EQ(error_of(c), std::errc::connection_refused);
  }());
}

TEST(SimulatedNetwork, AcceptFailingWithEmfileBacksOffAndLosesNoConnection) {
  weft::simulated_network n;
  n.accept_emfile_per_mille = 500;
  std::size_t waits = 0;
  auto failure = weft::simulate({.seeds = 20, .network = n}, [&](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    const socket_address addr = l.local_address().value();
    std::vector<weft::join_handle<result<tcp_stream>>> clients;
    for (int i = 0; i < 8; ++i) {
      clients.push_back(weft::spawn(
          [addr]() -> task<result<tcp_stream>> { co_return co_await tcp_stream::connect(addr); }));
    }
    const weft::net::accept_backoff backoff{1ms, 8ms, [&waits](std::error_code e, auto) {
                                              if (e != std::errc::too_many_files_open) {
                                                throw std::runtime_error("not EMFILE");
                                              }
                                              ++waits;
                                            }};
    std::vector<tcp_stream> accepted;
    for (int i = 0; i < 8; ++i) {
      accepted.push_back((co_await weft::net::accept_with_backoff(l, backoff)).value());
    }
    for (auto& c : clients) (void)(co_await c).value();
  });
  EXPECT_FALSE(failure) << failure->what;
  EXPECT_GT(waits, 0u);
}

TEST(SimulatedNetwork, ACancelledReadConsumesNothingAndTheStreamGoesOn) {
  auto failure = weft::simulate({.seeds = 20}, [](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    std::array<std::byte, 8> buf{};
    if (co_await weft::timeout(5ms, s.read(buf))) throw std::runtime_error("read did not wait");
    (co_await c.write_all(pattern(8, 9))).value();
    (co_await s.read_exact(buf)).value();
    const std::vector<std::byte> want = pattern(8, 9);
    if (!std::equal(buf.begin(), buf.end(), want.begin())) throw std::runtime_error("bytes lost");
  });
  EXPECT_FALSE(failure) << failure->what;
}

// The property stream_progress_test checks against the kernel, here under
// many seeds: a write_all cancelled while the peer does not read reports
// exactly the bytes the peer then receives.
TEST(SimulatedNetwork, ACancelledWriteAllReportsExactlyWhatThePeerReceives) {
  weft::simulated_network n;
  n.short_io_per_mille = 250;
  auto failure = weft::simulate({.seeds = 30, .network = n}, [](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::vector<std::byte> data = pattern(300'000, 16);  // past any window
    std::size_t transferred = 0;
    weft::cancellation_source src;
    auto writer = weft::spawn([&]() -> task<result<result<void>>> {
      co_return co_await weft::with_cancellation(src.token(), c.write_all(data, transferred));
    });
    co_await weft::sleep(1ms);  // virtual: the window fills and the writer waits
    src.cancel();
    const result<result<void>> r = co_await writer;
    if (r.has_value()) throw std::runtime_error("write_all finished though nobody read");
    c.close();
    std::vector<std::byte> got;
    std::array<std::byte, 4096> buf{};
    for (;;) {
      const std::size_t k = (co_await s.read(buf)).value();
      if (k == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(k));
    }
    if (transferred == 0 || got.size() != transferred ||
        !std::equal(got.begin(), got.end(), data.begin())) {
      throw std::runtime_error("reported " + std::to_string(transferred) + ", the peer got " +
                               std::to_string(got.size()));
    }
  });
  EXPECT_FALSE(failure) << failure->what;
}

TEST(SimulatedNetwork, AddressesAreThoseOfTheConnection) {
  weft::runtime rt = sim(8, {});
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    const socket_address addr = l.local_address().value();
    tcp_stream c = (co_await tcp_stream::connect(addr)).value();
    tcp_stream s = (co_await l.accept()).value();
    EXPECT_EQ(c.peer_address().value(), addr);
    EXPECT_EQ(s.local_address().value(), addr);
    EXPECT_EQ(s.peer_address().value(), c.local_address().value());
    EXPECT_NE(c.local_address().value().port(), 0);
  }());
}

std::string trace_of(std::uint64_t seed) {
  std::string trace;
  weft::runtime rt = sim(seed, {});
  rt.block_on([&trace]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    auto writer =
        weft::spawn([&c]() -> task<void> { (void)co_await c.write_all(pattern(50'000, 5)); });
    std::array<std::byte, 2048> buf{};
    const auto start = weft::now();  // virtual time starts at the real clock's now
    for (std::size_t got = 0; got < 50'000;) {
      const std::size_t k = (co_await s.read(buf)).value();
      got += k;
      trace += std::to_string(k) + "@" + std::to_string((weft::now() - start) / 1ns) + " ";
    }
    co_await writer;
  }());
  return trace;
}

TEST(SimulatedNetwork, TheSameSeedReplaysTheSameReadsAtTheSameVirtualTimes) {
  const std::string a = trace_of(42);
  EXPECT_EQ(a, trace_of(42));
  EXPECT_NE(a, trace_of(43));
}

TEST(SimulatedNetwork, TwoEndsBothWaitingToReadAreReportedAsAStall) {
  weft::runtime rt = sim(9, {});
  try {
    rt.block_on([]() -> task<> {
      tcp_listener l = tcp_listener::bind(loopback()).value();
      tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
      tcp_stream s = (co_await l.accept()).value();
      std::array<std::byte, 1> buf{};
      auto other = weft::spawn([&s, &buf]() -> task<void> { (void)co_await s.read(buf); });
      (void)co_await c.read(buf);  // nobody writes: a deadlock
      co_await other;
    }());
    ADD_FAILURE() << "a deadlock went unreported";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::simulation_stalled) << e.what();
  }
}

TEST(SimulatedNetwork, UnixStreamSocketsConnectInMemory) {
  char dir[] = "/tmp/weft-sim-unix-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s";
  weft::runtime rt = sim(10, {});
  rt.block_on([&path]() -> task<> {
    auto l =
        weft::net::unix_listener::bind(weft::net::unix_address::from_path(path).value()).value();
    auto c = (co_await weft::net::unix_stream::connect(l.local_address().value())).value();
    auto s = (co_await l.accept()).value();
    const std::vector<std::byte> out = pattern(3000, 11);
    (co_await c.write_all(out)).value();
    std::vector<std::byte> back(out.size());
    (co_await s.read_exact(back)).value();
    EXPECT_EQ(back, out);
  }());
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(SimulatedNetwork, ShutdownForWritingEndsThePeersStreamWhileItStillReads) {
  weft::runtime rt = sim(11, {});
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    (co_await c.write_all(pattern(100, 12))).value();
    c.shutdown(SHUT_WR).value();
    std::vector<std::byte> req(100);
    (co_await s.read_exact(req)).value();
    std::array<std::byte, 8> buf{};
    EXPECT_EQ((co_await s.read(buf)).value(), 0u);   // the client's end of stream
    (co_await s.write_all(pattern(8, 13))).value();  // the server still answers
    (co_await c.read_exact(buf)).value();
    const std::vector<std::byte> want = pattern(8, 13);
    EXPECT_TRUE(std::equal(buf.begin(), buf.end(), want.begin()));
    const result<std::size_t> w = co_await c.write(std::span(buf));
    EXPECT_EQ(error_of(w), std::errc::broken_pipe);
  }());
}

TEST(SimulatedNetwork, BufferedVectoredAndZeroCopyIoWork) {
  auto failure = weft::simulate({.seeds = 20}, [](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    const std::vector<std::byte> a = pattern(20'000, 14), b = pattern(7, 15);
    auto writer = weft::spawn([&]() -> task<bool> {
      const std::array<std::span<const std::byte>, 2> parts{std::span(a), std::span(b)};
      if (!co_await c.write_all_vectored(parts)) co_return false;
      result<std::vector<std::byte>> back = co_await c.write_all_zero_copy(a);
      co_return back.has_value() && *back == a;  // the buffer comes back intact
    });
    std::vector<std::byte> got;
    while (got.size() < 2 * a.size() + b.size()) {
      result<weft::net::recv_buffer> r = co_await s.read_buffered();
      if (!r || r->empty()) throw std::runtime_error("the stream ended early");
      got.insert(got.end(), r->data().begin(), r->data().end());
    }
    std::vector<std::byte> want = a;
    want.insert(want.end(), b.begin(), b.end());
    want.insert(want.end(), a.begin(), a.end());
    if (!co_await writer || got != want) throw std::runtime_error("bytes differ");
  });
  EXPECT_FALSE(failure) << failure->what;
}

TEST(SimulatedNetwork, ASocketThatOutlivesItsRuntimeClosesCleanly) {
  tcp_stream kept;
  {
    weft::runtime rt = sim(12, {});
    kept = rt.block_on([]() -> task<tcp_stream> {
      tcp_listener l = tcp_listener::bind(loopback()).value();
      tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
      // A task left waiting on the network: shutdown cancels its read.
      (void)weft::spawn([s = (co_await l.accept()).value()]() mutable -> task<void> {
        std::array<std::byte, 1> b{};
        (void)co_await s.read(b);
      });
      co_return c;
    }());
  }
  EXPECT_TRUE(kept.is_open());
  kept.close();  // the network outlived the runtime for this; ASan checks the rest
}

TEST(SimulatedNetwork, UdpIsRefusedWithAClearError) {
  weft::runtime rt = sim(13, {});
  rt.block_on([]() -> task<> {
    auto u = weft::net::udp_socket::bind(loopback()).value();
    const std::array<std::byte, 1> b{};
    try {
      (void)co_await u.send_to(b, u.local_address().value());
      ADD_FAILURE() << "a datagram went out on a simulation runtime";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::not_supported_in_simulation) << e.what();
    }
  }());
}

// Found by the outside review of the network (each failed before its fix).

TEST(SimulatedNetwork, AbstractUnixNamesAreToldApartByEveryByte) {
  weft::runtime rt = sim(20, exact());
  rt.block_on([]() -> task<> {
    using weft::net::unix_address;
    auto a = weft::net::unix_listener::bind(unix_address::abstract("weft-sim-a").value()).value();
    auto b = weft::net::unix_listener::bind(unix_address::abstract("weft-sim-b").value()).value();
    auto c = (co_await weft::net::unix_stream::connect(b.local_address().value())).value();
    // b takes it: a's accept would wait for ever (a timeout in virtual time).
    EXPECT_FALSE(co_await weft::timeout(1s, a.accept()));
    EXPECT_TRUE((co_await b.accept()).has_value());
    auto nobody =
        co_await weft::net::unix_stream::connect(unix_address::abstract("weft-sim-c").value());
    EXPECT_EQ(error_of(nobody), std::errc::connection_refused);
  }());
}

TEST(SimulatedNetwork, AUnixPathSpelledAnotherWayReachesTheListener) {
  char dir[] = "/tmp/weft-sim-spell-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s";
  weft::runtime rt = sim(21, exact());
  rt.block_on([&path, &dir]() -> task<> {
    using weft::net::unix_address;
    auto l = weft::net::unix_listener::bind(unix_address::from_path(path).value()).value();
    const std::string other = std::string(dir) + "/./s";
    auto c = co_await weft::net::unix_stream::connect(unix_address::from_path(other).value());
    EXPECT_TRUE(c.has_value()) << error_of(c).message();
    EXPECT_TRUE((co_await l.accept()).has_value());
  }());
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(SimulatedNetwork, ADualStackListenerTakesIpv4Clients) {
  weft::runtime rt = sim(22, exact());
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v6_any(), 0}).value();
    const std::uint16_t port = l.local_address().value().port();
    auto c = co_await tcp_stream::connect({weft::net::ip_address::v4_loopback(), port});
    EXPECT_TRUE(c.has_value()) << error_of(c).message();
    tcp_stream s = (co_await l.accept()).value();
    // As the kernel says it: the IPv4 client as an IPv4-mapped IPv6 address.
    EXPECT_EQ(s.peer_address().value().to_string().rfind("[::ffff:127.0.0.1]:", 0), 0u)
        << s.peer_address().value().to_string();
  }());
}

TEST(SimulatedNetwork, AWriteToAPeerThatClosedSucceedsThenTheResetComes) {
  weft::runtime rt = sim(23, exact());
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    { tcp_stream s = (co_await l.accept()).value(); }  // closed at once, nothing unread: a FIN
    // As TCP: the write goes (the FIN says nothing about reading), its bytes
    // reach a closed end, which answers with a reset.
    EXPECT_EQ((co_await c.write(pattern(9, 1))).value(), 9u);
    std::array<std::byte, 4> buf{};
    EXPECT_EQ((co_await c.read(buf)).value(), 0u);  // the FIN, first
    co_await weft::sleep(1ms);                      // the reset arrives meanwhile
    EXPECT_EQ(error_of(co_await c.write(pattern(9, 1))), std::errc::connection_reset);
  }());
}

TEST(SimulatedNetworkMisuse, AListenerBoundOutsideTheSimulationIsRefusedWithAClearError) {
  weft::runtime rt = sim(24, exact());
  tcp_listener l = tcp_listener::bind(loopback()).value();  // no simulated task sees this
  rt.block_on([&l]() -> task<> {
    try {
      (void)co_await l.accept();
      ADD_FAILURE() << "accept went ahead on a listener the network never saw bound";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::not_supported_in_simulation) << e.what();
    }
  }());
}

TEST(SimulatedNetwork, ASocketPairShutDownInTheSimulationIsShutDownForReal) {
  std::pair<weft::net::unix_stream, weft::net::unix_stream> ends;
  {
    weft::runtime rt = sim(25, exact());
    ends = rt.block_on([]() -> task<std::pair<weft::net::unix_stream, weft::net::unix_stream>> {
      auto p = weft::net::unix_stream::pair().value();
      p.first.shutdown(SHUT_WR).value();
      co_return std::move(p);
    }());
  }
  // The pair outlives the simulation: its peer sees the end of stream in
  // the kernel too.
  char c = 0;
  EXPECT_EQ(::recv(ends.second.native_handle(), &c, 1, MSG_DONTWAIT), 0);
}

TEST(SimulatedNetworkMisuse, TheBuilderRefusesBadSettings) {
  weft::simulated_network n;
  n.short_io_per_mille = 1001;
  EXPECT_THROW((void)weft::runtime_builder{}.simulated_network(n), std::system_error);
  n = {};
  n.min_window = 0;
  EXPECT_THROW((void)weft::runtime_builder{}.simulated_network(n), std::system_error);
  n = {};
  n.max_latency = std::chrono::seconds(2);
  EXPECT_THROW((void)weft::runtime_builder{}.simulated_network(n), std::system_error);
  // Only a simulation has the network.
  EXPECT_THROW((void)weft::runtime_builder{}.simulated_network({}).build(), std::system_error);
}

}  // namespace
