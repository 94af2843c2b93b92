// Virtual time (runtime_builder::start_paused): timers fire in a fixed order
// at exact virtual instants, and long sleeps take no real time.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace std::chrono_literals;

weft::runtime paused_runtime() {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::current_thread)
      .start_paused(true)
      .build();
}

TEST(PausedTime, AnHourLongSleepAdvancesVirtualTimeByAnHour) {
  auto rt = paused_runtime();
  auto elapsed = rt.block_on([]() -> weft::task<std::chrono::nanoseconds> {
    const auto start = weft::now();
    co_await weft::sleep(1h);
    co_return weft::now() - start;
  }());
  EXPECT_EQ(elapsed, std::chrono::nanoseconds(1h));
}

// A sleep passed by reference into a race it lost stayed in the timer wheel
// with the lost branch's waker; awaiting it again aborted on an assert (debug)
// or linked a linked node (release). Now it waits on for its own deadline.
TEST(PausedTime, ASleepThatLostARaceCanBeAwaitedAgainAndEndsAtItsDeadline) {
  auto rt = paused_runtime();
  auto elapsed = rt.block_on([]() -> weft::task<std::chrono::nanoseconds> {
    const auto start = weft::now();
    auto s = weft::sleep(200ms);
    const weft::result<void> first = co_await weft::timeout(10ms, s);
    EXPECT_EQ(first.error(), weft::errc::timed_out);
    auto any = co_await weft::when_any(s, weft::sleep(20ms));  // loses again
    EXPECT_EQ(any.index, 1u);
    co_await s;
    co_return weft::now() - start;
  }());
  EXPECT_EQ(elapsed, std::chrono::nanoseconds(200ms));
}

TEST(PausedTime, TimeStandsStillWhileTasksRun) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    for (int i = 0; i < 1000; ++i) co_await weft::yield_now();
    EXPECT_EQ(weft::now(), start);
  }());
}

TEST(PausedTime, SleepersWakeInDeadlineOrder) {
  auto rt = paused_runtime();
  std::vector<int> order;
  rt.block_on([&]() -> weft::task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 9; i >= 0; --i) {
      hs.push_back(weft::spawn([&order, i]() -> weft::task<> {
        co_await weft::sleep(std::chrono::milliseconds(10 * (i + 1)));
        order.push_back(i);
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(PausedTime, TimeoutFiresAtItsExactVirtualDeadline) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    auto r = co_await weft::timeout(1h, weft::sleep(2h));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_EQ(weft::now() - start, std::chrono::nanoseconds(1h));
  }());
}

TEST(PausedTime, IntervalTicksAtExactInstants) {
  auto rt = paused_runtime();
  rt.block_on([]() -> weft::task<> {
    const auto start = weft::now();
    weft::interval iv(100ms, start);
    for (int i = 0; i < 5; ++i) {
      co_await iv.tick();
      EXPECT_EQ(weft::now() - start, std::chrono::nanoseconds(i * 100ms));
    }
  }());
}

TEST(PausedTime, NeedsTheCurrentThreadFlavor) {
  try {
    (void)weft::runtime_builder{}.start_paused(true).build();
    FAIL() << "start_paused with multi_thread was accepted";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::invalid_builder_setting);
  }
}

TEST(PausedTime, NowOutsideARuntimeIsTheSteadyClock) {
  const auto a = std::chrono::steady_clock::now();
  const auto b = weft::now();
  const auto c = std::chrono::steady_clock::now();
  EXPECT_LE(a, b);
  EXPECT_LE(b, c);
}

}  // namespace
