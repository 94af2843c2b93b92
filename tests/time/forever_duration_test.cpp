// Durations that mean "forever" (nanoseconds::max(), hours::max()) saturate
// at steady_clock's maximum instead of overflowing into the past; a negative
// duration means now. Every test runs on virtual time (start_paused), so
// nothing waits in real time.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <climits>

#include "time/time_driver.hpp"
#include <weft/detail/deadline.hpp>

namespace {

using namespace std::chrono_literals;
using std::chrono::hours;
using std::chrono::nanoseconds;
using tp = std::chrono::steady_clock::time_point;

weft::runtime paused_runtime() {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::current_thread)
      .start_paused(true)
      .build();
}

weft::task<int> seven_after_an_hour() {
  co_await weft::sleep(1h);
  co_return 7;
}

weft::task<> set_after_an_hour(bool* flag) {
  co_await weft::sleep(1h);
  *flag = true;
}

TEST(ForeverDuration, SleepOfAnEndlessDurationHasTheClocksLastInstantAsDeadline) {
  EXPECT_EQ(weft::sleep(hours::max()).deadline(), tp::max());
  EXPECT_EQ(weft::sleep(nanoseconds::max()).deadline(), tp::max());
  EXPECT_EQ(weft::sleep(std::chrono::duration<double>(1e300)).deadline(), tp::max());
}

TEST(ForeverDuration, SleepOfHoursMaxDoesNotCompleteWhileAnHourLongTimeoutDoes) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    auto r = co_await weft::timeout(1h, weft::sleep(hours::max()));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_EQ(weft::now() - start, nanoseconds(1h));
  }());
}

TEST(ForeverDuration, SleepOfNanosecondsMaxDoesNotCompleteWhileAnHourLongTimeoutDoes) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    auto r = co_await weft::timeout(1h, weft::sleep(nanoseconds::max()));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_EQ(weft::now() - start, nanoseconds(1h));
  }());
}

TEST(ForeverDuration, TimeoutOfNanosecondsMaxReturnsTheOperationsValue) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    auto r = co_await weft::timeout(nanoseconds::max(), seven_after_an_hour());
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ(*r, 7);
    }
    auto h = co_await weft::timeout(hours::max(), seven_after_an_hour());
    EXPECT_TRUE(h.has_value());
    if (h) {
      EXPECT_EQ(*h, 7);
    }
  }());
}

TEST(ForeverDuration, ANegativeDurationMeansNow) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    co_await weft::sleep(-1h);
    co_await weft::sleep(hours::min());
    EXPECT_EQ(weft::now(), start);
    auto r = co_await weft::timeout(nanoseconds::min(), weft::sleep(1h));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_EQ(weft::now(), start);
  }());
}

TEST(ForeverDuration, AnIntervalOfHoursMaxTicksOnceThenNeverAgain) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    weft::interval iv(hours::max(), start);
    co_await iv.tick();  // the first tick is at start
    EXPECT_EQ(weft::now(), start);
    auto r = co_await weft::timeout(1h, iv.tick());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
}

// The runtime's destructor waits up to shutdown_timeout for its tasks: with
// "forever" it must let a task that sleeps an hour (virtual) finish, not
// destroy it at once. The current-thread runtime drives its tasks inside
// shutdown and virtual time jumps, so this takes no real time.
TEST(ForeverDuration, ShutdownTimeoutOfHoursMaxLetsTasksFinish) {
  bool finished = false;
  {
    auto rt = weft::runtime_builder{}
                  .flavor(weft::runtime_flavor::current_thread)
                  .start_paused(true)
                  .shutdown_timeout(hours::max())
                  .build();
    rt.block_on([&]() -> weft::task<> {
      weft::spawn(set_after_an_hour(&finished)).detach();
      co_return;
    }());
  }
  EXPECT_TRUE(finished);
}

TEST(ForeverDuration, ShutdownOfNanosecondsMaxLetsTasksFinish) {
  for (const nanoseconds limit : {nanoseconds::max(), nanoseconds(hours(1'000'000))}) {
    bool finished = false;
    auto rt = paused_runtime();
    rt.block_on([&]() -> weft::task<> {
      weft::spawn(set_after_an_hour(&finished)).detach();
      co_return;
    }());
    rt.shutdown(limit);
    EXPECT_TRUE(finished);
  }
  bool finished = false;
  auto rt = paused_runtime();
  rt.block_on([&]() -> weft::task<> {
    weft::spawn(set_after_an_hour(&finished)).detach();
    co_return;
  }());
  rt.shutdown(hours::max());
  EXPECT_TRUE(finished);
}

TEST(ForeverDuration, TheTickClockSaturatesAtItsLastTick) {
  weft::detail::tick_clock c;
  EXPECT_EQ(c.tick_for(tp::max()), c.last_tick());
  const tp last = c.time_of(c.tick_for(tp::max()));
  EXPECT_LE(last, tp::max());
  EXPECT_GT(last, tp::max() - 1ms);
  EXPECT_EQ(c.time_of(~0ULL), last);
}

TEST(ForeverDuration, DeadlineHelpersSaturate) {
  using weft::detail::deadline_after;
  using weft::detail::saturating_ceil;
  const tp t0{nanoseconds(1'000)};
  EXPECT_EQ(deadline_after(t0, hours::max()), tp::max());
  EXPECT_EQ(deadline_after(t0, nanoseconds::max()), tp::max());
  EXPECT_EQ(deadline_after(t0, -5s), t0);
  EXPECT_EQ(deadline_after(t0, std::chrono::duration<long long, std::pico>(1500)), t0 + 2ns);
  EXPECT_EQ(saturating_ceil<std::chrono::milliseconds>(nanoseconds(1)), 1ms);
  EXPECT_EQ(saturating_ceil<nanoseconds>(hours::min()), nanoseconds::min());
  EXPECT_EQ(saturating_ceil<nanoseconds>(std::chrono::duration<double>(0.5e-9)), 1ns);
  EXPECT_EQ(weft::detail::poll_timeout_ms(nanoseconds::max()), INT_MAX);
  EXPECT_EQ(weft::detail::poll_timeout_ms(1ns), 1);
  EXPECT_EQ(weft::detail::poll_timeout_ms(1ms), 1);
  EXPECT_EQ(weft::detail::poll_timeout_ms(-1ms), 0);
}

}  // namespace
