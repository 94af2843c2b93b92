// weft::when_any / weft::select: the first operation to finish wins; every
// loser — a sleep, a token wait, a join, an I/O read on either backend, a
// nested timeout — is cancelled and gone (frame destroyed, never resumed)
// before when_any returns, on both runtime flavours.
//
// Races are made deterministic without timing: losers wait for things that
// do not happen during the test (an hour's sleep, a token nobody cancels
// yet, a socket nobody writes to), and the winner finishes after a
// yield_now, so every loser has started and suspended first. Where time
// decides, the runtime's clock is paused.
#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/when_any.hpp>
#include <weft/with_cancellation.hpp>

#include "combinator_support.hpp"
#include "support/backends.hpp"
#include "support/flavors.hpp"
#include "support/lifetime.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using comb_test::expect_byte_arrives;
using comb_test::loopback;
using comb_test::losers_gone;
using comb_test::paused_runtime;
using comb_test::probe;
using comb_test::reads;
using comb_test::sleeps_an_hour;
using weft::cancellation_source;
using weft::cancellation_token;
using weft::join_handle;
using weft::task;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

task<int> waits_for_token(probe& p, cancellation_token token) {
  weft_test::tracked frame{p.frames};
  co_await token.cancelled();
  p.resumed.fetch_add(1);
  co_return -2;
}

task<int> joins(probe& p, join_handle<int>& h) {
  weft_test::tracked frame{p.frames};
  const int v = co_await h;
  p.resumed.fetch_add(1);
  co_return v;
}

task<int> nested_timeout(probe& p) {
  weft_test::tracked frame{p.frames};
  auto r = co_await weft::timeout(1h, sleeps_an_hour(p));
  p.resumed.fetch_add(1);
  co_return r.has_value() ? *r : -3;
}

task<int> after_a_yield(int v) {
  co_await weft::yield_now();
  co_return v;
}

task<int> waits_for_release(cancellation_token release) {
  co_await release.cancelled();
  co_return 5;
}


class WhenAny : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, WhenAny, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(WhenAny, LosersOfEveryKindAreDestroyedBeforeItReturnsAndNeverResume) {
  probe p;
  rt.block_on([&]() -> task<> {
    cancellation_source never_yet, release;
    auto joined = weft::spawn(waits_for_release(release.token()));
    auto r = co_await weft::when_any(sleeps_an_hour(p), waits_for_token(p, never_yet.token()),
                                     joins(p, joined), nested_timeout(p), after_a_yield(42));
    EXPECT_EQ(r.index, 4u);
    EXPECT_EQ(r.get<4>(), 42);
    // Five loser frames (the nested timeout has two), each destroyed once,
    // all before when_any returned.
    EXPECT_TRUE(losers_gone(p, 5));
    // What the losers waited for happens now; nothing of them runs.
    never_yet.cancel();
    release.cancel();
    EXPECT_EQ(co_await joined, 5);  // cancelling the join did not cancel the task
    co_await weft::yield_now();
    EXPECT_EQ(p.resumed.load(), 0);
  }());
  EXPECT_EQ(p.resumed.load(), 0);
  EXPECT_EQ(p.frames.destroyed.load(), 5);
}

TEST_P(WhenAny, TheSameTypeTwiceIsIndexedByPosition) {
  probe p;
  auto r = rt.block_on(weft::when_any(sleeps_an_hour(p), after_a_yield(7)));
  static_assert(std::is_same_v<decltype(r.value), std::variant<int, int>>);
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.value.index(), 1u);
  EXPECT_EQ(std::get<1>(r.value), 7);
  EXPECT_EQ(p.frames.destroyed.load(), 1);
}

TEST_P(WhenAny, AVoidWinnerIsMonostateAndOtherTypesMix) {
  probe p;
  auto r = rt.block_on([&]() -> task<weft::any_of<int, void, std::string>> {
    co_return co_await weft::when_any(sleeps_an_hour(p), weft::yield_now(),
                                      []() -> task<std::string> {
                                        co_await weft::sleep(1h);
                                        co_return "late";
                                      }());
  }());
  EXPECT_EQ(r.index, 1u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(r.value));
  EXPECT_EQ(p.frames.alive.load(), 0);
}

TEST_P(WhenAny, AmongOperationsReadyAtOnceTheLeftmostWinsAndLaterOnesNeverStart) {
  bool later_started = false;
  auto r = rt.block_on([&]() -> task<weft::any_of<int, int>> {
    co_return co_await weft::when_any([]() -> task<int> { co_return 1; }(),
                                      [&later_started]() -> task<int> {
                                        later_started = true;
                                        co_return 2;
                                      }());
  }());
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(r.get<0>(), 1);
  EXPECT_FALSE(later_started);
}

TEST_P(WhenAny, OverARangeReturnsTheWinnersPosition) {
  probe p;
  rt.block_on([&]() -> task<> {
    std::vector<task<int>> ops;
    for (int i = 0; i < 6; ++i) ops.push_back(i == 3 ? after_a_yield(30) : sleeps_an_hour(p));
    // An lvalue range: its elements are referred to.
    std::pair<std::size_t, int> r = co_await weft::when_any(ops);
    EXPECT_EQ(r.first, 3u);
    EXPECT_EQ(r.second, 30);
    EXPECT_EQ(p.resumed.load(), 0);
  }());
  // The referred-to losers were cancelled (not resumed); their frames go
  // with the vector.
  EXPECT_EQ(p.frames.destroyed.load(), 5);
  EXPECT_EQ(p.resumed.load(), 0);
}

TEST_P(WhenAny, AMovedInRangeHasItsLosersDestroyedBeforeItReturns) {
  probe p;
  rt.block_on([&]() -> task<> {
    std::vector<task<int>> ops;
    for (int i = 0; i < 4; ++i) ops.push_back(i == 0 ? after_a_yield(10) : sleeps_an_hour(p));
    auto r = co_await weft::when_any(std::move(ops));
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.second, 10);
    EXPECT_TRUE(losers_gone(p, 3));
  }());
}

TEST_P(WhenAny, OverASpanOfVoidOperationsGivesThePositionAndMonostate) {
  rt.block_on([&]() -> task<> {
    std::array<weft::sleep_awaiter, 3> sleeps{weft::sleep(1h), weft::sleep(0ms),
                                             weft::sleep(2h)};
    auto r = co_await weft::when_any(std::span<weft::sleep_awaiter>(sleeps));
    EXPECT_EQ(r.first, 1u);
    static_assert(std::is_same_v<decltype(r.second), std::monostate>);
  }());
}

TEST(WhenAnyRange, AnEmptyRangeIsRefusedWithInvalidArgument) {
  std::vector<task<int>> none;
  EXPECT_THROW((void)weft::when_any(none), std::invalid_argument);
  try {
    (void)weft::when_any(none);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos);
  }
}

TEST_P(WhenAny, AWinnerThatThrowsHasItsLosersDestroyedBeforeTheRethrow) {
  probe p;
  rt.block_on([&]() -> task<> {
    cancellation_source never;
    bool caught = false;
    try {
      (void)co_await weft::when_any(sleeps_an_hour(p), waits_for_token(p, never.token()),
                                    []() -> task<int> {
                                      co_await weft::yield_now();
                                      throw std::runtime_error("winner failed");
                                    }());
    } catch (const std::runtime_error& e) {
      caught = true;
      EXPECT_EQ(std::string(e.what()), "winner failed");
      // The losers were gone before the exception reached us.
      EXPECT_TRUE(losers_gone(p, 2));
    }
    EXPECT_TRUE(caught);
    never.cancel();
    co_await weft::yield_now();
    EXPECT_EQ(p.resumed.load(), 0);
  }());
}

TEST_P(WhenAny, SelectIsWhenAny) {
  probe p;
  auto r = rt.block_on([&]() -> task<weft::any_of<int, int>> {
    co_return co_await weft::select(sleeps_an_hour(p), after_a_yield(9));
  }());
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.get<1>(), 9);
  std::vector<task<int>> ops;
  ops.push_back(after_a_yield(1));
  auto [i, v] = rt.block_on(weft::select(std::move(ops)));
  EXPECT_EQ(i, 0u);
  EXPECT_EQ(v, 1);
}

TEST_P(WhenAny, ALoserThatYieldsForeverDoesNotStarveTheOthers) {
  // The winner is a join of a spawned task: it can only finish if the task
  // awaiting when_any gives the runtime back while its loser keeps yielding.
  std::atomic<bool> spinning{true};
  rt.block_on([&]() -> task<> {
    auto h = weft::spawn([]() -> task<int> {
      for (int i = 0; i < 10; ++i) co_await weft::yield_now();
      co_return 11;
    });
    auto r = co_await weft::when_any(
        [&spinning]() -> task<> {
          while (spinning.load()) co_await weft::yield_now();
        }(),
        h);
    EXPECT_EQ(r.index, 1u);
    EXPECT_EQ(r.get<1>(), 11);
  }());
}

TEST_P(WhenAny, ATimeoutOfAnOperationThatYieldsForeverStillFires) {
  // The same rule for weft::timeout, which is a two-branch when_any: a
  // branch that keeps yielding makes the awaiting task yield, so the
  // worker gets to its timers.
  rt.block_on([]() -> task<> {
    auto r = co_await weft::timeout(1ms, []() -> task<> {
      for (;;) co_await weft::yield_now();
    }());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
}

TEST_P(WhenAny, AsTheOperationOfATimeoutItIsCancelledWhole) {
  probe p;
  rt.block_on([&]() -> task<> {
    cancellation_source never;
    auto r = co_await weft::timeout(
        1ms, weft::when_any(sleeps_an_hour(p), waits_for_token(p, never.token())));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_TRUE(losers_gone(p, 2));
  }());
}

TEST(WhenAnyPausedTime, TheEarliestSleepWinsAtItsExactVirtualInstant) {
  auto rt = paused_runtime();
  rt.block_on([]() -> task<> {
    const auto start = weft::now();
    auto after = [](std::chrono::hours h, int v) -> task<int> {
      co_await weft::sleep(h);
      co_return v;
    };
    auto r = co_await weft::when_any(after(3h, 3), after(1h, 1), after(2h, 2));
    EXPECT_EQ(r.index, 1u);
    EXPECT_EQ(r.get<1>(), 1);
    EXPECT_EQ(weft::now() - start, std::chrono::nanoseconds(1h));
    // The losers' timers are gone: sleeping past their deadlines is quiet.
    co_await weft::sleep(5h);
  }());
}

// ---- I/O: both backends ------------------------------------------------------

class WhenAnyIo : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, WhenAnyIo, weft_test::each_backend(),
                         weft_test::backend_name);

TEST_P(WhenAnyIo, AReadThatNeverGetsDataLosesAndIsGoneBeforeItReturns) {
  probe p;
  rt.block_on([&]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    auto r = co_await weft::when_any(reads(p, s), sleeps_an_hour(p), after_a_yield(8));
    EXPECT_EQ(r.index, 2u);
    EXPECT_EQ(r.get<2>(), 8);
    // The read was cancelled (in the kernel, on io_uring) and its frame
    // destroyed before when_any returned.
    EXPECT_TRUE(losers_gone(p, 2));
    // Data that arrives now is not consumed by the cancelled read.
    co_await expect_byte_arrives(c, s, std::byte{42});
    EXPECT_EQ(p.resumed.load(), 0);
  }());
}

task<> cancels_after_a_yield(probe& p, cancellation_source& stop) {
  weft_test::tracked frame{p.frames};
  co_await weft::yield_now();  // every other branch has started by now
  stop.cancel();
  co_await weft::sleep(1h);
  p.resumed.fetch_add(1);
}

TEST_P(WhenAnyIo, CancellingTheAwaitingTaskCancelsEveryBranchDown) {
  probe p;
  rt.block_on([&]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    cancellation_source stop, never;
    // The token fires from inside one of the branches, once all have started;
    // the with_cancellation around when_any then cancels the whole tree:
    // an I/O read (kernel-side on io_uring), a sleep, a token wait, a
    // nested timeout and the cancelling branch itself.
    auto r = co_await weft::with_cancellation(
        stop.token(), weft::when_any(reads(p, s), sleeps_an_hour(p),
                                     waits_for_token(p, never.token()), nested_timeout(p),
                                     cancels_after_a_yield(p, stop)));
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_TRUE(losers_gone(p, 6));
    never.cancel();
    co_await expect_byte_arrives(c, s, std::byte{7});
    EXPECT_EQ(p.resumed.load(), 0);
  }());
}

}  // namespace
