// weft::when_all: every operation runs concurrently as a branch of the
// awaiting task; results come back in argument / range order; the first
// exception cancels (and awaits the end of) every other branch before it is
// rethrown. Both runtime flavours; I/O on both backends.
//
// No sleep is used to order events: operations that must lose wait for
// things that never happen during the test, and where time decides the
// runtime's clock is paused.
#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/when_all.hpp>
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
#include <numeric>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
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
using weft::task;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

task<> waits_for_token(probe& p, cancellation_token token) {
  weft_test::tracked frame{p.frames};
  co_await token.cancelled();
  p.resumed.fetch_add(1);
}

task<int> yields_then_returns(int yields, int v) {
  for (int i = 0; i < yields; ++i) co_await weft::yield_now();
  co_return v;
}

task<int> yields_then_throws() {
  co_await weft::yield_now();
  throw std::runtime_error("branch failed");
}

class WhenAll : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, WhenAll, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(WhenAll, HeterogeneousResultsIncludingVoidComeBackInArgumentOrder) {
  rt.block_on([]() -> task<> {
    auto h = weft::spawn([]() -> task<double> {
      co_await weft::yield_now();
      co_return 2.5;
    });
    auto r = co_await weft::when_all(yields_then_returns(2, 1), weft::sleep(1ms),
                                     []() -> task<std::string> {
                                       co_await weft::yield_now();
                                       co_return "two";
                                     }(),
                                     h, weft::yield_now());
    static_assert(std::is_same_v<decltype(r), std::tuple<int, std::monostate, std::string,
                                                         double, std::monostate>>);
    EXPECT_EQ(std::get<0>(r), 1);
    EXPECT_EQ(std::get<2>(r), "two");
    EXPECT_EQ(std::get<3>(r), 2.5);
  }());
}

TEST_P(WhenAll, NoOperationsCompletesAtOnceWithAnEmptyTuple) {
  auto r = rt.block_on(weft::when_all());
  static_assert(std::is_same_v<decltype(r), std::tuple<>>);
}

TEST_P(WhenAll, AThousandTasksInAVectorGiveTheirResultsInRangeOrder) {
  rt.block_on([]() -> task<> {
    std::vector<task<int>> ops;
    for (int i = 0; i < 1000; ++i) ops.push_back(yields_then_returns(i % 4, i));
    std::vector<int> results = co_await weft::when_all(std::move(ops));
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(results, expected);
  }());
}

TEST_P(WhenAll, AThousandSpawnedTasksAreJoinedThroughAnLvalueVector) {
  rt.block_on([]() -> task<> {
    std::vector<weft::join_handle<int>> handles;
    for (int i = 0; i < 1000; ++i) {
      handles.push_back(weft::spawn(yields_then_returns(i % 3, i)));
    }
    std::vector<int> results = co_await weft::when_all(handles);
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(results, expected);
  }());
}

TEST_P(WhenAll, AnEmptyRangeCompletesAtOnce) {
  rt.block_on([]() -> task<> {
    std::vector<task<int>> none;
    std::vector<int> r = co_await weft::when_all(none);
    EXPECT_TRUE(r.empty());
    std::vector<task<>> no_voids;
    co_await weft::when_all(no_voids);
  }());
}

TEST_P(WhenAll, ARangeOfVoidOperationsReturnsVoidOnceAllFinished) {
  std::atomic<int> finished{0};
  rt.block_on([&]() -> task<> {
    auto op = [](std::atomic<int>& n, int yields) -> task<> {
      for (int i = 0; i < yields; ++i) co_await weft::yield_now();
      n.fetch_add(1);
    };
    std::vector<task<>> ops;
    for (int i = 0; i < 10; ++i) ops.push_back(op(finished, i));
    static_assert(std::is_same_v<decltype(weft::when_all(ops)), task<void>>);
    co_await weft::when_all(ops);
    EXPECT_EQ(finished.load(), 10);
  }());
}

// A forward range whose elements are made as they are read (its reference
// type is a prvalue task), as std::views::transform would give — which
// clang 14 cannot compile with libstdc++ 12's <ranges>.
struct squares_made_on_read {
  int n;
  struct iterator {
    using value_type = task<int>;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    task<int> operator*() const { return yields_then_returns(i % 2, i * i); }
    iterator& operator++() {
      ++i;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i;
      return old;
    }
    bool operator==(const iterator&) const = default;
  };
  [[nodiscard]] iterator begin() const { return {0}; }
  [[nodiscard]] iterator end() const { return {n}; }
};
static_assert(std::ranges::forward_range<squares_made_on_read>);

TEST_P(WhenAll, ARangeOfPrvaluesIsMovedIntoItsBranches) {
  rt.block_on([]() -> task<> {
    squares_made_on_read ops{50};
    std::vector<int> r = co_await weft::when_all(ops);
    EXPECT_EQ(r.size(), 50u);
    if (r.size() == 50u) {
      EXPECT_EQ(r[7], 49);
    }
  }());
}

TEST_P(WhenAll, ASpanIsReferredTo) {
  rt.block_on([]() -> task<> {
    std::array<task<int>, 3> ops{yields_then_returns(2, 10), yields_then_returns(0, 20),
                                 yields_then_returns(1, 30)};
    std::vector<int> r = co_await weft::when_all(std::span<task<int>>(ops));
    EXPECT_EQ(r, (std::vector<int>{10, 20, 30}));
  }());
}

TEST_P(WhenAll, OneThrowsTheOthersAreCancelledAndDestroyedBeforeTheRethrow) {
  probe p;
  rt.block_on([&]() -> task<> {
    cancellation_source never;
    bool caught = false;
    try {
      (void)co_await weft::when_all(sleeps_an_hour(p), waits_for_token(p, never.token()),
                                    yields_then_throws(), sleeps_an_hour(p));
    } catch (const std::runtime_error& e) {
      caught = true;
      EXPECT_EQ(std::string(e.what()), "branch failed");
      EXPECT_TRUE(losers_gone(p, 3));
    }
    EXPECT_TRUE(caught);
    never.cancel();
    co_await weft::yield_now();
    EXPECT_EQ(p.resumed.load(), 0);
  }());
}

TEST_P(WhenAll, OneThrowingInARangeCancelsTheRest) {
  probe p;
  rt.block_on([&]() -> task<> {
    std::vector<task<int>> ops;
    for (int i = 0; i < 100; ++i) ops.push_back(i == 50 ? yields_then_throws() : sleeps_an_hour(p));
    EXPECT_THROW((void)co_await weft::when_all(std::move(ops)), std::runtime_error);
    EXPECT_TRUE(losers_gone(p, 99));
  }());
}

TEST_P(WhenAll, WhenAnyNestedInsideWhenAllEachPickTheirWinner) {
  probe p;
  rt.block_on([&]() -> task<> {
    auto [a, b, c] = co_await weft::when_all(
        weft::when_any(sleeps_an_hour(p), yields_then_returns(1, 1)),
        weft::when_any(yields_then_returns(2, 2), sleeps_an_hour(p)), yields_then_returns(3, 3));
    EXPECT_EQ(a.index, 1u);
    EXPECT_EQ(a.get<1>(), 1);
    EXPECT_EQ(b.index, 0u);
    EXPECT_EQ(b.get<0>(), 2);
    EXPECT_EQ(c, 3);
    EXPECT_TRUE(losers_gone(p, 2));
  }());
}

TEST_P(WhenAll, CancellingTheAwaitingTaskCancelsEveryBranch) {
  probe p;
  rt.block_on([&]() -> task<> {
    cancellation_source stop, never;
    auto canceller = [](cancellation_source& s) -> task<> {
      co_await weft::yield_now();
      s.cancel();
      co_await weft::sleep(1h);
    };
    // (The nested when_any's result is dropped inside a task<void>: GCC 12
    // with -O2 and ASan warns, falsely, that a result<tuple<int, any_of<int,
    // int>, ...>> "may be used uninitialized" in with_cancellation.hpp.)
    auto nested = [](probe& q) -> task<> {
      (void)co_await weft::when_any(sleeps_an_hour(q), sleeps_an_hour(q));
    };
    auto r = co_await weft::with_cancellation(
        stop.token(), weft::when_all(sleeps_an_hour(p), waits_for_token(p, never.token()),
                                     nested(p), canceller(stop)));
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_TRUE(losers_gone(p, 4));
  }());
}

TEST(WhenAllPausedTime, ResultsFollowRangeOrderNotCompletionOrder) {
  auto rt = paused_runtime();
  rt.block_on([]() -> task<> {
    const auto start = weft::now();
    std::vector<int> finished_order;
    auto op = [](std::vector<int>& order, int i) -> task<int> {
      co_await weft::sleep(std::chrono::minutes(10 - i));
      order.push_back(i);
      co_return i;
    };
    std::vector<task<int>> ops;
    for (int i = 0; i < 10; ++i) ops.push_back(op(finished_order, i));
    std::vector<int> r = co_await weft::when_all(std::move(ops));
    EXPECT_EQ(r, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(finished_order, (std::vector<int>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
    EXPECT_EQ(weft::now() - start, std::chrono::nanoseconds(10min));
  }());
}

TEST(WhenAllPausedTime, ATimeoutAroundWhenAllCancelsEveryBranchAtTheDeadline) {
  auto rt = paused_runtime();
  probe p;
  rt.block_on([&]() -> task<> {
    const auto start = weft::now();
    auto r = co_await weft::timeout(
        1min, weft::when_all(sleeps_an_hour(p), sleeps_an_hour(p), weft::sleep(30s)));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_EQ(weft::now() - start, std::chrono::nanoseconds(1min));
    EXPECT_EQ(p.frames.destroyed.load(), 2);
  }());
}

// ---- I/O: both backends ------------------------------------------------------


class WhenAllIo : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, WhenAllIo, weft_test::each_backend(),
                         weft_test::backend_name);

TEST_P(WhenAllIo, AFailureCancelsAPendingReadAndLeavesTheStreamUsable) {
  probe p;
  rt.block_on([&]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    EXPECT_THROW((void)co_await weft::when_all(reads(p, s), yields_then_throws()),
                 std::runtime_error);
    EXPECT_EQ(p.frames.destroyed.load(), 1);
    co_await expect_byte_arrives(c, s, std::byte{3});
    EXPECT_EQ(p.resumed.load(), 0);
  }());
}

TEST_P(WhenAllIo, ReadsOnSeveralStreamsAllComplete) {
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind(loopback).value();
    std::vector<tcp_stream> clients, servers;
    for (int i = 0; i < 4; ++i) {
      clients.push_back((co_await tcp_stream::connect(l.local_address().value())).value());
      servers.push_back((co_await l.accept()).value());
    }
    auto read_one = [](tcp_stream& s) -> task<int> {
      std::array<std::byte, 1> b{};
      (void)(co_await s.read(b)).value();
      co_return static_cast<int>(b[0]);
    };
    auto write_one = [](tcp_stream& s, int v) -> task<> {
      co_await weft::yield_now();
      const std::array<std::byte, 1> b{static_cast<std::byte>(v)};
      (co_await s.write_all(b)).value();
    };
    auto [r0, r1, r2, r3, w] = co_await weft::when_all(
        read_one(servers[0]), read_one(servers[1]), read_one(servers[2]), read_one(servers[3]),
        weft::when_all(write_one(clients[3], 13), write_one(clients[2], 12),
                       write_one(clients[1], 11), write_one(clients[0], 10)));
    EXPECT_EQ(r0, 10);
    EXPECT_EQ(r1, 11);
    EXPECT_EQ(r2, 12);
    EXPECT_EQ(r3, 13);
    (void)w;
  }());
}

}  // namespace
