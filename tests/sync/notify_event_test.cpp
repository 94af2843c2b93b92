// weft::notify and weft::event on both runtime flavours.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "support/flavors.hpp"
#include "support/test_points.hpp"
#include "sync_support.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::waiter_count;
using sync_test::wait_until;

class Notify : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Notify, weft_test::each_flavor(), weft_test::flavor_name);

class Event : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Event, weft_test::each_flavor(), weft_test::flavor_name);

// Spawn `count` tasks that each wait once (via make_wait()) and then bump
// `woken`; return when all of them are queued on `prim`.
template <class Prim, class MakeWait>
task<std::vector<weft::join_handle<void>>> spawn_waiters(Prim& prim, int count,
                                                         std::atomic<int>& woken,
                                                         MakeWait make_wait) {
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < count; ++i) {
    hs.push_back(weft::spawn([&woken, make_wait]() -> task<> {
      co_await make_wait();
      woken.fetch_add(1);
    }));
    co_await wait_until([&] { return waiter_count(prim) == static_cast<std::size_t>(i) + 1; });
  }
  co_return hs;
}

TEST_P(Notify, NotifyOneWithoutWaitersStoresExactlyOnePermit) {
  weft::notify n;
  rt.block_on([&]() -> task<> {
    n.notify_one();
    n.notify_one();  // still one permit
    co_await n.notified();  // consumes it at once
    auto r = co_await weft::timeout(1ms, n.notified());
    EXPECT_EQ(r.error(), weft::errc::timed_out);  // no second permit
    EXPECT_EQ(waiter_count(n), 0u);
  }());
}

TEST_P(Notify, NotifyOneWakesTheOldestWaiterFirst) {
  weft::notify n;
  std::vector<int> order;
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 4; ++i) {
      hs.push_back(weft::spawn([&n, &order, i]() -> task<> {
        co_await n.notified();
        order.push_back(i);
      }));
      co_await wait_until([&] { return waiter_count(n) == static_cast<std::size_t>(i) + 1; });
    }
    for (int i = 0; i < 4; ++i) {
      n.notify_one();
      co_await wait_until([&] { return order.size() == static_cast<std::size_t>(i) + 1; });
      EXPECT_EQ(waiter_count(n), static_cast<std::size_t>(3 - i));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST_P(Notify, NotifyAllWakesEveryWaiterInRoundsAndStoresNoPermit) {
  static constexpr int kWaiters = 80;  // more than one wake batch
  weft::notify n;
  std::atomic<int> woken{0};
  rt.block_on([&]() -> task<> {
    auto hs = co_await spawn_waiters(n, kWaiters, woken, [&n] { return n.notified(); });
    n.notify_all();
    for (auto& h : hs) co_await h;
    EXPECT_EQ(woken.load(), kWaiters);
    auto r = co_await weft::timeout(1ms, n.notified());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
}

TEST_P(Notify, NotifyOneBetweenTheWakeRoundsOfANotifyAllIsNotAbsorbedByItsWaiters) {
  WEFT_REQUIRE_TEST_POINTS();
  // How the order is forced: notify_all over 40 waiters wakes them in rounds
  // of 32 and reaches the test point "wait_queue.between_rounds" after the
  // first round, unlocked, with 8 of its waiters still linked. The script
  // calls notify_one there, inline on the notifying thread. Those 8 are
  // notified already, so the notify_one must be stored as the permit.
  static constexpr int kWaiters = 40;
  weft_test::point_script script;  // outlives the runtime: its threads reach the point
  std::atomic<int> woken{0};
  {
    weft::runtime r = weft::runtime_builder{}.flavor(GetParam()).build();
    weft::notify n;
    r.block_on([&]() -> task<> {
      std::vector<weft::join_handle<void>> hs;
      for (int i = 0; i < kWaiters; ++i) {
        hs.push_back(weft::spawn([&]() -> task<> {
          co_await n.notified();
          woken.fetch_add(1);
        }));
      }
      co_await wait_until([&] { return waiter_count(n) == kWaiters; });
      script.on("wait_queue.between_rounds", [&] { n.notify_one(); });
      n.notify_all();
      EXPECT_EQ(script.reached_count("wait_queue.between_rounds"), 1);
      for (auto& h : hs) co_await h;
      EXPECT_EQ(waiter_count(n), 0u);
      // The notify_one left its permit: the next wait completes at once.
      auto r2 = co_await weft::timeout(30s, n.notified());
      EXPECT_TRUE(r2.has_value()) << "the notify_one was absorbed by notify_all's waiters";
    }());
  }
  EXPECT_EQ(woken.load(), kWaiters);
  EXPECT_FALSE(script.held_too_long());
}

TEST_P(Notify, NotifyOneFromAPlainThreadWakesTheWaiter) {
  weft::notify n;
  std::thread notifier;
  rt.block_on([&]() -> task<> {
    auto waiter = weft::spawn([&]() -> task<> { co_await n.notified(); });
    co_await wait_until([&] { return waiter_count(n) == 1; });
    notifier = std::thread([&] { n.notify_one(); });
    co_await waiter;
  }());
  notifier.join();
}

TEST_P(Event, ManualSetReleasesEveryWaiterAndStaysSet) {
  static constexpr int kWaiters = 70;
  weft::event e;  // manual, clear
  std::atomic<int> woken{0};
  rt.block_on([&]() -> task<> {
    EXPECT_FALSE(e.is_set());
    auto hs = co_await spawn_waiters(e, kWaiters, woken, [&e] { return e.wait(); });
    EXPECT_EQ(woken.load(), 0);
    e.set();
    for (auto& h : hs) co_await h;
    EXPECT_EQ(woken.load(), kWaiters);
    EXPECT_TRUE(e.is_set());
    co_await e.wait();  // completes at once while set
    co_await e.wait();
    e.reset();
    EXPECT_FALSE(e.is_set());
    auto r = co_await weft::timeout(1ms, e.wait());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
}

TEST_P(Event, AutomaticSetReleasesExactlyOneWaiterPerSet) {
  weft::event e(weft::event_mode::automatic);
  std::atomic<int> woken{0};
  rt.block_on([&]() -> task<> {
    auto hs = co_await spawn_waiters(e, 3, woken, [&e] { return e.wait(); });
    for (int i = 1; i <= 3; ++i) {
      e.set();
      co_await wait_until([&] { return woken.load() == i; });
      EXPECT_EQ(waiter_count(e), static_cast<std::size_t>(3 - i));
      EXPECT_FALSE(e.is_set());  // consumed by the waiter it released
    }
    for (auto& h : hs) co_await h;
  }());
}

TEST_P(Event, AutomaticStaysSetUntilOneWaitConsumesIt) {
  weft::event e(weft::event_mode::automatic);
  rt.block_on([&]() -> task<> {
    e.set();
    e.set();  // still one
    EXPECT_TRUE(e.is_set());
    co_await e.wait();
    EXPECT_FALSE(e.is_set());
    auto r = co_await weft::timeout(1ms, e.wait());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
}

TEST_P(Event, InitiallySetEventsCompleteWaitsAtOnce) {
  weft::event manual(weft::event_mode::manual, true);
  weft::event automatic(weft::event_mode::automatic, true);
  rt.block_on([&]() -> task<> {
    co_await manual.wait();
    co_await automatic.wait();
    EXPECT_TRUE(manual.is_set());
    EXPECT_FALSE(automatic.is_set());
  }());
}

TEST_P(Event, SetFromAPlainThreadWakesTheWaiters) {
  weft::event e;
  std::atomic<int> woken{0};
  std::thread setter;
  rt.block_on([&]() -> task<> {
    auto hs = co_await spawn_waiters(e, 5, woken, [&e] { return e.wait(); });
    setter = std::thread([&] { e.set(); });
    for (auto& h : hs) co_await h;
    EXPECT_EQ(woken.load(), 5);
  }());
  setter.join();
}

}  // namespace
