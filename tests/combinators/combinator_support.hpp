// Helpers shared by the when_all and when_any tests: losers that record what
// happened to them, a paused runtime, and the loopback address for the I/O
// cases.
#pragma once

#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>

#include "support/lifetime.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>

namespace comb_test {

// What the losers record: frames alive/destroyed (a tracked local in each
// loser coroutine) and how many resumed past their await (must stay 0).
struct probe {
  weft_test::counters frames;
  std::atomic<int> resumed{0};
};

/// A loser: sleeps an hour (never, during a test); returns -1 if it resumes.
inline weft::task<int> sleeps_an_hour(probe& p) {
  weft_test::tracked frame{p.frames};
  co_await weft::sleep(std::chrono::hours(1));
  p.resumed.fetch_add(1);
  co_return -1;
}

/// A loser: reads `s`, which nobody writes to; the byte count if it resumes.
inline weft::task<int> reads(probe& p, weft::net::tcp_stream& s) {
  weft_test::tracked frame{p.frames};
  std::array<std::byte, 16> buf{};
  auto r = co_await s.read(buf);
  p.resumed.fetch_add(1);
  co_return r.has_value() ? static_cast<int>(*r) : -4;
}

/// Every loser frame is gone: `destroyed` of them destroyed, none alive.
/// Use as EXPECT_TRUE(losers_gone(p, n)).
inline ::testing::AssertionResult losers_gone(const probe& p, int destroyed) {
  const int d = p.frames.destroyed.load();
  const int a = p.frames.alive.load();
  if (d == destroyed && a == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << d << " loser frames destroyed (expected " << destroyed
                                       << "), " << a << " alive (expected 0)";
}

/// A cancelled read left the stream usable: a byte `client` writes now is
/// read from `server`, not consumed by the read that lost.
inline weft::task<> expect_byte_arrives(weft::net::tcp_stream& client,
                                        weft::net::tcp_stream& server, std::byte b) {
  const std::array<std::byte, 1> one{b};
  (co_await client.write_all(one)).value();
  std::array<std::byte, 16> buf{};
  EXPECT_EQ((co_await server.read(buf)).value(), 1u);
  EXPECT_EQ(buf[0], b);
}

/// A current-thread runtime whose clock starts paused.
inline weft::runtime paused_runtime() {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::current_thread)
      .start_paused(true)
      .build();
}

inline const weft::net::socket_address loopback{weft::net::ip_address::v4_loopback(), 0};

}  // namespace comb_test
