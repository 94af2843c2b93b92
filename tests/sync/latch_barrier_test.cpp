// weft::latch and weft::barrier on both runtime flavours.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/flavors.hpp"
#include "support/test_points.hpp"
#include "sync_support.hpp"

namespace {

using weft::task;
using weft::detail::waiter_count;
using sync_test::manual_coro;
using sync_test::wait_until;
using namespace std::chrono_literals;

class Latch : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Latch, weft_test::each_flavor(), weft_test::flavor_name);

class Barrier : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Barrier, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Latch, ReleasesEveryWaiterWhenTheCountReachesZero) {
  static constexpr int kWaiters = 40;
  weft::latch l(3);
  std::atomic<int> woken{0};
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < kWaiters; ++i) {
      hs.push_back(weft::spawn([&]() -> task<> {
        co_await l.wait();
        woken.fetch_add(1);
      }));
    }
    co_await wait_until([&] { return waiter_count(l) == kWaiters; });
    l.count_down();
    l.count_down();
    EXPECT_FALSE(l.try_wait());
    EXPECT_EQ(waiter_count(l), static_cast<std::size_t>(kWaiters));
    l.count_down();
    EXPECT_TRUE(l.try_wait());
    for (auto& h : hs) co_await h;
    EXPECT_EQ(woken.load(), kWaiters);
    co_await l.wait();  // open: at once
  }());
}

TEST_P(Latch, ArriveAndWaitCountsDownWhenAwaited) {
  static constexpr int kTasks = 4;
  weft::latch l(kTasks * 2);
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < kTasks; ++i) {
      hs.push_back(weft::spawn([&]() -> task<> { co_await l.arrive_and_wait(2); }));
    }
    for (auto& h : hs) co_await h;
    EXPECT_TRUE(l.try_wait());
  }());
}

TEST_P(Latch, AnAwaitableThatIsNeverAwaitedDoesNotArrive) {
  weft::latch l(1);
  { auto unused = l.arrive_and_wait(); }
  EXPECT_FALSE(l.try_wait());
  l.count_down();
  EXPECT_TRUE(l.try_wait());
}

TEST_P(Latch, CountingBelowZeroThrowsAndCountsNothing) {
  EXPECT_THROW(weft::latch{-1}, std::invalid_argument);
  weft::latch l(2);
  EXPECT_THROW(l.count_down(3), std::logic_error);
  EXPECT_THROW(l.count_down(-1), std::invalid_argument);
  EXPECT_FALSE(l.try_wait());
  rt.block_on([&]() -> task<> {
    bool threw = false;
    try {
      co_await l.arrive_and_wait(5);
    } catch (const std::logic_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
  }());
  l.count_down(2);
  EXPECT_TRUE(l.try_wait());
  EXPECT_THROW(l.count_down(), std::logic_error);
  l.count_down(0);  // counting nothing is fine
}

TEST_P(Latch, CountDownFromPlainThreadsReleasesTheWaiter) {
  static constexpr int kThreads = 4;
  weft::latch l(kThreads);
  std::vector<std::thread> threads;
  rt.block_on([&]() -> task<> {
    auto waiter = weft::spawn([&]() -> task<> { co_await l.wait(); });
    co_await wait_until([&] { return waiter_count(l) == 1; });
    for (int i = 0; i < kThreads; ++i) threads.emplace_back([&] { l.count_down(); });
    co_await waiter;
  }());
  for (auto& t : threads) t.join();
}

TEST_P(Barrier, HasExactlyOneLeaderPerPhaseOverManyPhases) {
  static constexpr int kTasks = 5;
  static constexpr int kPhases = 1500;
  weft::barrier b(kTasks);
  std::vector<std::atomic<int>> arrived(kPhases);
  std::vector<std::atomic<int>> leaders(kPhases);
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < kTasks; ++t) {
      hs.push_back(weft::spawn([&]() -> task<> {
        for (int p = 0; p < kPhases; ++p) {
          arrived[p].fetch_add(1);
          const bool leader = co_await b.arrive_and_wait();
          // Nobody passes before everyone of this phase has arrived.
          EXPECT_EQ(arrived[p].load(), kTasks) << "phase " << p;
          if (leader) leaders[p].fetch_add(1);
        }
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  for (int p = 0; p < kPhases; ++p) ASSERT_EQ(leaders[p].load(), 1) << "phase " << p;
}

TEST_P(Barrier, ReleasesNobodyBeforeTheLastArrival) {
  weft::barrier b(3);
  std::atomic<int> passed{0};
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 2; ++i) {
      hs.push_back(weft::spawn([&]() -> task<> {
        EXPECT_FALSE(co_await b.arrive_and_wait());
        passed.fetch_add(1);
      }));
    }
    co_await wait_until([&] { return waiter_count(b) == 2; });
    EXPECT_EQ(passed.load(), 0);
    EXPECT_TRUE(co_await b.arrive_and_wait());  // the third: leader, no suspension
    for (auto& h : hs) co_await h;
    EXPECT_EQ(passed.load(), 2);
  }());
}

TEST_P(Barrier, ABarrierOfOneMakesEveryArrivalTheLeader) {
  weft::barrier b(1);
  rt.block_on([&]() -> task<> {
    for (int i = 0; i < 300; ++i) EXPECT_TRUE(co_await b.arrive_and_wait());  // crosses the budget
  }());
  EXPECT_THROW(weft::barrier{0}, std::invalid_argument);
}

TEST_P(Barrier, ManyWaitersAreReleasedInRoundsAndTheNextPhaseQueuesBehind) {
  static constexpr int kTasks = 70;  // more than one wake batch
  weft::barrier b(kTasks);
  std::atomic<int> leaders{0};
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < kTasks; ++t) {
      hs.push_back(weft::spawn([&]() -> task<> {
        for (int p = 0; p < 20; ++p) {
          if (co_await b.arrive_and_wait()) leaders.fetch_add(1);
        }
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(leaders.load(), 20);
}

manual_coro arrive_in_orphan(weft::barrier& b, bool& resumed) {
  (void)co_await b.arrive_and_wait();
  resumed = true;
}

TEST_P(Barrier, AWaiterCancelledBetweenWakeRoundsDoesNotBreakTheNextPhase) {
  WEFT_REQUIRE_TEST_POINTS();
  // How the order is forced: the 40th arrival (the leader) releases the 39
  // waiters of phase 1 in rounds of 32 and reaches the test point
  // "wait_queue.between_rounds" after waking the first round, with the lock
  // released. The script destroys there, inline on the leader's thread, the
  // coroutine of the 39th arrival, still linked in the queue: its phase has
  // completed, but the next phase has started (its count is 0).
  static constexpr int kParties = 40;
  weft_test::point_script script;  // outlives the runtime: its threads reach the point
  bool resumed = false;
  std::atomic<int> phase2_released{0};
  {
    weft::runtime r = weft::runtime_builder{}.flavor(GetParam()).build();
    weft::barrier b(kParties);
    r.block_on([&]() -> task<> {
      std::vector<weft::join_handle<void>> first;
      for (int i = 0; i < kParties - 2; ++i) {
        first.push_back(weft::spawn([&]() -> task<> { (void)co_await b.arrive_and_wait(); }));
      }
      co_await wait_until([&] { return waiter_count(b) == kParties - 2; });
      manual_coro orphan = arrive_in_orphan(b, resumed);
      orphan.start();              // the 39th arrival, queued behind a full round
      co_await weft::yield_now();  // its waker is stale from here on: it never resumes
      EXPECT_EQ(waiter_count(b), static_cast<std::size_t>(kParties - 1));
      script.on("wait_queue.between_rounds", [&] { orphan.destroy(); });
      EXPECT_TRUE(co_await b.arrive_and_wait());  // leads phase 1
      EXPECT_EQ(script.reached_count("wait_queue.between_rounds"), 1);
      for (auto& h : first) co_await h;
      EXPECT_EQ(waiter_count(b), 0u);

      // Phase 2: 39 tasks wait, the 40th arrival must lead and release them.
      std::vector<weft::join_handle<void>> second;
      for (int i = 0; i < kParties - 1; ++i) {
        second.push_back(weft::spawn([&]() -> task<> {
          (void)co_await b.arrive_and_wait();
          phase2_released.fetch_add(1);
        }));
      }
      co_await wait_until([&] { return waiter_count(b) == kParties - 1; });
      auto led = co_await weft::timeout(30s, b.arrive_and_wait());
      EXPECT_TRUE(led.has_value()) << "phase 2 did not complete with " << kParties << " arrivals";
      if (led.has_value()) {
        EXPECT_TRUE(*led);
      }
      // On failure, arrive until the stuck phase completes, so that every
      // task ends and the barrier is destroyed empty.
      for (int extra = 0; extra < 4 * kParties && waiter_count(b) != 0; ++extra) {
        const std::size_t before = waiter_count(b);
        (void)weft::spawn([&]() -> task<> { (void)co_await b.arrive_and_wait(); });
        co_await wait_until([&] { return waiter_count(b) != before; });
      }
      for (auto& h : second) co_await h;
    }());
  }
  EXPECT_FALSE(resumed);
  EXPECT_EQ(phase2_released.load(), kParties - 1);
  EXPECT_FALSE(script.held_too_long());
}

}  // namespace
