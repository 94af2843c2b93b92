// The echo example's own code (examples/echo_logic.hpp: its accept loop with
// EMFILE back-off and its per-connection echo over read_buffered and
// vectored writes) on the simulation's in-memory network, under many seeds:
// every order of worker steps and network deliveries a seed picks, with
// writes cut into segments, short reads and writes, spurious waits, windows
// of 1-64 KiB and, in the
// second test, resets and accepts failing with EMFILE. A failure names its
// seed; WEFT_SIM_SEED=S replays it.
#include "echo_logic.hpp"

#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/simulation.hpp>

#include "io/sim_network.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace {

using weft::result;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

std::vector<std::byte> message(std::size_t n, std::uint32_t salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + salt * 7) >> 1);
  return v;
}

enum class outcome { echoed, failed_cleanly };

// One client: messages of each size in turn, written while the echo is read
// back (the echo would fill both windows otherwise). Intact, or an error a
// reset explains; anything else throws.
task<outcome> client(socket_address addr, std::uint32_t id) {
  result<tcp_stream> c = co_await tcp_stream::connect(addr);
  if (!c) co_return outcome::failed_cleanly;  // reset before it was accepted
  for (const std::size_t size :
       {std::size_t{1}, std::size_t{100}, std::size_t{16384}, std::size_t{70'000}}) {
    const std::vector<std::byte> out = message(size, id);
    auto writer =
        weft::spawn([&c, &out]() -> task<result<void>> { co_return co_await c->write_all(out); });
    std::vector<std::byte> back(size);
    const result<void> r = co_await c->read_exact(back);
    const result<void> w = co_await writer;
    if (!r || !w) {
      const std::error_code e = !r ? r.error() : w.error();
      if (e == std::errc::connection_reset || e == std::errc::broken_pipe ||
          e == weft::errc::end_of_stream) {
        co_return outcome::failed_cleanly;
      }
      throw std::runtime_error("client " + std::to_string(id) + ": " + e.message());
    }
    if (back != out) throw std::runtime_error("client " + std::to_string(id) + ": bytes differ");
  }
  co_return outcome::echoed;
}

struct totals {
  std::size_t echoed = 0, failed = 0;
  std::uint64_t resets = 0, emfiles = 0;
};

auto echo_run(totals& t, std::size_t clients) {
  return [&t, clients](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    const socket_address addr = l.local_address().value();
    weft::cancellation_source stop;
    auto server = weft::spawn([&l, token = stop.token()]() -> task<std::size_t> {
      co_return co_await echo::accept_loop(l, token);
    });
    std::vector<weft::join_handle<outcome>> cs;
    for (std::size_t i = 0; i < clients; ++i) {
      cs.push_back(weft::spawn(client, addr, static_cast<std::uint32_t>(i)));
    }
    for (auto& c : cs) ((co_await c) == outcome::echoed ? t.echoed : t.failed) += 1;
    stop.cancel();
    const std::size_t accepted = co_await server;
    if (accepted > clients) throw std::runtime_error("more connections accepted than made");
    auto& net = static_cast<weft::detail::sim_network&>(*weft::detail::current_io_driver());
    t.resets += net.counters().resets;
    t.emfiles += net.counters().emfiles;
  };
}

TEST(EchoExampleSimulated, EchoesEveryClientsBytesUnderManySeeds) {
  weft::simulated_network n;
  n.short_io_per_mille = 250;
  totals t;
  auto failure = weft::simulate({.seeds = 60, .network = n}, echo_run(t, 4));
  EXPECT_FALSE(failure) << failure->what;
  EXPECT_EQ(t.failed, 0u);
  EXPECT_EQ(t.echoed, 60u * 4u);
}

TEST(EchoExampleSimulated, ResetsAndEmfileEndConnectionsCleanlyAndNeverStallTheServer) {
  weft::simulated_network n;
  n.short_io_per_mille = 250;
  n.reset_per_mille = 5;
  n.accept_emfile_per_mille = 300;
  totals t;
  auto failure = weft::simulate({.seeds = 60, .network = n}, echo_run(t, 4));
  EXPECT_FALSE(failure) << failure->what;
  // Both faults happened, some connections died of them, and the rest of
  // each run's connections were still echoed intact.
  EXPECT_GT(t.resets, 0u);
  EXPECT_GT(t.emfiles, 0u);
  EXPECT_GT(t.failed, 0u);
  EXPECT_GT(t.echoed, 0u);
}

}  // namespace
