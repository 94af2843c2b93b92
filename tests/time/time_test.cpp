// sleep, sleep_until, timeout, interval. Deadlines are checked as lower
// bounds only (a timer never fires early); nothing here depends on how late
// a timer may fire.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <vector>

#include "support/flavors.hpp"
#include "support/lifetime.hpp"

namespace {

using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;

class Time : public weft_test::on_each_flavor {};

INSTANTIATE_TEST_SUITE_P(Flavors, Time, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Time, SleepNeverEndsBeforeItsDeadline) {
  rt.block_on([]() -> weft::task<> {
    for (auto d : {1ms, 2ms, 5ms, 20ms}) {
      const auto start = sclock::now();
      co_await weft::sleep(d);
      EXPECT_GE(sclock::now() - start, d);
    }
  }());
}

TEST_P(Time, SleepUntilAPastDeadlineCompletesAtOnce) {
  rt.block_on([]() -> weft::task<> {
    for (int i = 0; i < 1000; ++i) co_await weft::sleep_until(sclock::now() - 1s);
  }());
}

TEST_P(Time, ZeroSleepsInAHotLoopStillLetOthersRun) {
  // A loop of always-ready sleeps exhausts the cooperative budget and yields,
  // so the other task makes progress on a single worker.
  std::atomic<bool> other_ran{false};
  rt.block_on([&]() -> weft::task<> {
    auto other = weft::spawn([&]() -> weft::task<> {
      other_ran.store(true);
      co_return;
    });
    while (!other_ran.load()) co_await weft::sleep(0ms);
    co_await other;
  }());
  EXPECT_TRUE(other_ran.load());
}

TEST_P(Time, ManySleepersEachWakeAtOrAfterTheirOwnDeadline) {
  // (The wheel's firing order itself is checked in timer_wheel_test.)
  std::atomic<int> early{0}, woke{0};
  rt.block_on([&]() -> weft::task<> {
    const auto base = sclock::now();
    std::vector<weft::join_handle<void>> hs;
    for (int i = 50; i >= 0; --i) {
      hs.push_back(weft::spawn([&, base, i]() -> weft::task<> {
        const auto deadline = base + i * 1ms;
        co_await weft::sleep_until(deadline);
        if (sclock::now() < deadline) early.fetch_add(1);
        woke.fetch_add(1);
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(woke.load(), 51);
  EXPECT_EQ(early.load(), 0);
}

TEST_P(Time, TimeoutReturnsTheValueWhenInTime) {
  auto r = rt.block_on([]() -> weft::task<weft::result<int>> {
    co_return co_await weft::timeout(10s, []() -> weft::task<int> {
      co_await weft::sleep(1ms);
      co_return 7;
    }());
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 7);
}

TEST_P(Time, TimeoutGivesTimedOutAndCancelsTheOperation) {
  weft_test::counters c;
  std::atomic<bool> resumed_after_sleep{false};
  auto r = rt.block_on([&]() -> weft::task<weft::result<void>> {
    co_return co_await weft::timeout(5ms, [&]() -> weft::task<> {
      weft_test::tracked local{c};
      co_await weft::sleep(1h);
      resumed_after_sleep.store(true);
    }());
  }());
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), weft::errc::timed_out);
  EXPECT_EQ(r.error(), std::errc::timed_out);  // portable condition
  // The operation's frame was destroyed before timeout returned: its local
  // is gone and it never resumed.
  EXPECT_EQ(c.alive.load(), 0);
  EXPECT_EQ(c.destroyed.load(), 1);
  EXPECT_FALSE(resumed_after_sleep.load());
}

TEST_P(Time, TimeoutPropagatesTheOperationsException) {
  EXPECT_THROW(rt.block_on([]() -> weft::task<> {
    (void)co_await weft::timeout(1s, []() -> weft::task<int> {
      co_await weft::yield_now();
      throw std::runtime_error("op failed");
      co_return 1;
    }());
  }()),
               std::runtime_error);
}

TEST_P(Time, TimeoutOfAnAlreadyReadyOperationDoesNotWait) {
  auto r = rt.block_on([]() -> weft::task<weft::result<int>> {
    co_return co_await weft::timeout(1h, []() -> weft::task<int> { co_return 3; }());
  }());
  EXPECT_EQ(r.value(), 3);
}

TEST_P(Time, TimeoutOverAJoinHandleLeavesTheTaskRunning) {
  // Timing out a join cancels the *join*, not the joined task. The task
  // cannot finish before the test releases it, so the timeout must win.
  std::atomic<bool> release{false}, finished{false};
  rt.block_on([&]() -> weft::task<> {
    auto h = weft::spawn([&]() -> weft::task<> {
      while (!release.load()) co_await weft::sleep(1ms);
      finished.store(true);
    });
    auto r = co_await weft::timeout(1ms, h);
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_FALSE(finished.load());
    release.store(true);
    co_await h;  // the handle is still usable
    EXPECT_TRUE(finished.load());
  }());
}

TEST_P(Time, NestedTimeoutsFireInnermostFirst) {
  auto r = rt.block_on([]() -> weft::task<weft::result<weft::result<void>>> {
    co_return co_await weft::timeout(1h, weft::timeout(2ms, weft::sleep(1h)));
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), weft::errc::timed_out);
}

TEST_P(Time, IntervalTicksOnItsGrid) {
  rt.block_on([]() -> weft::task<> {
    const auto start = sclock::now();
    weft::interval iv(3ms, start);
    for (int i = 0; i < 5; ++i) {
      co_await iv.tick();
      EXPECT_GE(sclock::now(), start + i * 3ms);
    }
  }());
}

TEST(Interval, RejectsANonPositivePeriod) {
  EXPECT_THROW(weft::interval(0ms), std::system_error);
}

TEST_P(Time, HundredThousandTimersCancelledAtRandom) {
  // 100,000 sleeping tasks; a random half is cancelled through a timeout
  // that fires first (the sleep is destroyed while linked); the other half
  // sleep to their deadline. Every task ends exactly once.
  std::atomic<int> expired{0}, timed_out{0};
  rt.block_on([&]() -> weft::task<> {
    std::mt19937 rng(12345);
    std::vector<weft::join_handle<void>> hs;
    hs.reserve(100'000);
    for (int i = 0; i < 100'000; ++i) {
      const bool cancel = (rng() & 1) != 0;
      const auto d = std::chrono::milliseconds(1 + rng() % 20);
      hs.push_back(weft::spawn([&, cancel, d]() -> weft::task<> {
        if (cancel) {
          auto r = co_await weft::timeout(d, weft::sleep(1h));
          if (!r) timed_out.fetch_add(1);
        } else {
          co_await weft::sleep(d);
          expired.fetch_add(1);
        }
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(expired.load() + timed_out.load(), 100'000);
  EXPECT_GT(timed_out.load(), 0);
}

TEST(Time, ShutdownDestroysTasksBlockedOnTimers) {
  weft_test::counters c;
  {
    auto rt = weft::runtime_builder{}.worker_threads(2).build();
    for (int i = 0; i < 1000; ++i) {
      rt.spawn([t = weft_test::tracked{c}]() -> weft::task<> { co_await weft::sleep(1h); })
          .detach();
    }
    rt.shutdown(0ms);
    // Every task's frame (and with it its capture) is destroyed.
    EXPECT_EQ(c.alive.load(), 0);
  }
  EXPECT_EQ(c.alive.load(), 0);
}

}  // namespace
