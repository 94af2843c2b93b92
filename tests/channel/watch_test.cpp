// weft::watch: changed() semantics (coalescing, seen versions), closing,
// borrow/get, many waiters, and cancellation, on both runtime flavours.
#include <weft/cancellation.hpp>
#include <weft/channel.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "channel_support.hpp"
#include "support/flavors.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using chan_test::manual_coro;
using chan_test::wait_until;
using weft::cancellation_source;
using weft::result;
using weft::task;

class Watch : public chan_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Watch, weft_test::each_flavor(), weft_test::flavor_name);

TEST(WatchApi, TheInitialValueCountsAsSeen) {
  auto ch = weft::watch::channel<std::string>("init");
  EXPECT_FALSE(ch.second.has_changed());
  EXPECT_EQ(ch.second.get(), "init");
  EXPECT_EQ(*ch.first.borrow(), "init");
}

TEST(WatchApi, MovedFromHandlesThrowLogicError) {
  auto ch = weft::watch::channel<int>(0);
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  EXPECT_THROW((void)ch.first.send(1), std::logic_error);
  EXPECT_THROW((void)ch.second.get(), std::logic_error);
  EXPECT_THROW((void)ch.second.changed(), std::logic_error);
}

TEST_P(Watch, ChangedCoalescesSeveralSendsIntoOneCompletion) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    EXPECT_TRUE(ch.first.send(1).has_value());
    EXPECT_TRUE(ch.first.send(2).has_value());
    EXPECT_TRUE(ch.first.send(3).has_value());
    EXPECT_TRUE(ch.second.has_changed());
    EXPECT_TRUE((co_await ch.second.changed()).has_value());  // once, for all three
    EXPECT_EQ(ch.second.get(), 3);
    EXPECT_FALSE(ch.second.has_changed());
    // Nothing new: the next changed() waits (here: times out).
    auto r = co_await weft::timeout(1ms, ch.second.changed());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
}

TEST_P(Watch, ChangedWaitsForTheNextSendFromAnotherTask) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    auto sender = weft::spawn([tx = std::move(ch.first)]() mutable -> task<void> {
      co_await weft::yield_now();
      EXPECT_TRUE(tx.send(10).has_value());
      co_await weft::yield_now();
      tx.send_modify([](int& v) { v += 5; });
    });
    // Two sends, seen as one or two changes (they may coalesce), then closed
    // once the sender's task ends.
    EXPECT_TRUE((co_await ch.second.changed()).has_value());
    int changes = 1;
    while ((co_await ch.second.changed()).has_value()) ++changes;
    EXPECT_LE(changes, 2);
    EXPECT_EQ(ch.second.get(), 15);
    co_await sender;
  }());
}

TEST_P(Watch, ChangedReportsAPendingChangeBeforeClosed) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    EXPECT_TRUE(ch.first.send(1).has_value());
    { auto gone = std::move(ch.first); }
    EXPECT_TRUE(ch.second.is_closed());
    EXPECT_TRUE((co_await ch.second.changed()).has_value());
    EXPECT_EQ(ch.second.get(), 1);  // the last value stays readable
    EXPECT_EQ((co_await ch.second.changed()).error(), weft::errc::channel_closed);
  }());
}

TEST_P(Watch, SendWithoutReceiversStoresTheValueAndReportsClosed) {
  auto ch = weft::watch::channel<int>(0);
  { auto gone = std::move(ch.second); }
  EXPECT_TRUE(ch.first.is_closed());
  EXPECT_EQ(ch.first.send(7).error(), weft::errc::channel_closed);
  EXPECT_EQ(*ch.first.borrow(), 7);
  auto rx = ch.first.subscribe();  // has seen the current value
  EXPECT_FALSE(rx.has_changed());
  EXPECT_EQ(rx.get(), 7);
  EXPECT_TRUE(ch.first.send(8).has_value());
  EXPECT_TRUE(rx.has_changed());
}

TEST_P(Watch, MarkSeenAndCopiedReceiversKeepTheirOwnSeenVersion) {
  auto ch = weft::watch::channel<int>(0);
  EXPECT_TRUE(ch.first.send(1).has_value());
  auto copy = ch.second;  // has not seen 1 either
  ch.second.mark_seen();
  EXPECT_FALSE(ch.second.has_changed());
  EXPECT_TRUE(copy.has_changed());
  EXPECT_EQ(ch.first.receiver_count(), 2u);
}

TEST_P(Watch, BorrowGuardsAllowConcurrentReaders) {
  auto ch = weft::watch::channel<std::vector<int>>({1, 2, 3});
  auto a = ch.second.borrow();
  auto b = ch.second.borrow();  // shared: a second reader does not wait
  EXPECT_EQ(a->size(), 3u);
  EXPECT_EQ((*b)[2], 3);
}

TEST_P(Watch, ASendWakesEveryWaitingReceiverAcrossRounds) {
  rt.block_on([]() -> task<void> {
    constexpr int receivers = 100;
    auto ch = weft::watch::channel<int>(0);
    std::atomic<int> started{0};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < receivers; ++i) {
      hs.push_back(weft::spawn([rx = ch.second, &started]() mutable -> task<int> {
        started.fetch_add(1);
        EXPECT_TRUE((co_await rx.changed()).has_value());
        co_return rx.get();
      }));
    }
    co_await wait_until([&] { return started.load() == receivers; });
    EXPECT_TRUE(ch.first.send(9).has_value());
    for (auto& h : hs) EXPECT_EQ(co_await h, 9);
  }());
}

TEST_P(Watch, SendsFromAPlainThreadEndWithTheLastValueSeen) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    std::thread th([tx = std::move(ch.first)]() mutable {
      for (int i = 1; i <= 1000; ++i) (void)tx.send(i);
    });  // the sender is dropped at the end of the thread
    int last = 0;
    while ((co_await ch.second.changed()).has_value()) {
      const int v = ch.second.get();
      EXPECT_GE(v, last);  // values only move forward
      last = v;
    }
    th.join();
    EXPECT_EQ(ch.second.get(), 1000);
  }());
}

// ---- cancellation --------------------------------------------------------------

TEST_P(Watch, ChangedWithAnAlreadyCancelledTokenMarksNothingSeen) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    EXPECT_TRUE(ch.first.send(1).has_value());
    cancellation_source src;
    src.cancel();
    auto r = co_await weft::with_cancellation(src.token(), ch.second.changed());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_TRUE(ch.second.has_changed());
  }());
}

TEST_P(Watch, ChangedCancelledWhileWaitingIsUnlinked) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    cancellation_source src;
    auto canceller = weft::spawn([src]() mutable -> task<void> {
      co_await weft::yield_now();
      src.cancel();
    });
    auto r = co_await weft::with_cancellation(src.token(), ch.second.changed());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    co_await canceller;
    EXPECT_TRUE(ch.first.send(2).has_value());
    EXPECT_TRUE((co_await ch.second.changed()).has_value());
    EXPECT_EQ(ch.second.get(), 2);
  }());
}

TEST_P(Watch, ChangedCancelledAfterItWasWokenReportsTheChangeNextTime) {
  rt.block_on([this]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    auto& rx = ch.second;
    result<result<void>> r = co_await chan_test::cancel_as_it_completes<result<void>>(
        [&] { return rx.changed(); }, [&] { EXPECT_TRUE(ch.first.send(4).has_value()); });
    if (current_thread()) {
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    }
    if (r) {
      EXPECT_FALSE(rx.has_changed());  // it completed and marked 4 seen
    } else {
      EXPECT_TRUE(rx.has_changed());  // the change is still pending
      EXPECT_TRUE((co_await rx.changed()).has_value());
    }
    EXPECT_EQ(rx.get(), 4);
  }());
}

TEST_P(Watch, ChangedDestroyedAfterItWasWokenReportsTheChangeNextTime) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::watch::channel<int>(0);
    auto& rx = ch.second;
    auto body = [](weft::watch::receiver<int>& r) -> manual_coro { (void)co_await r.changed(); };
    manual_coro waiter = body(rx);
    waiter.start();
    co_await weft::yield_now();
    EXPECT_TRUE(ch.first.send(4).has_value());
    waiter.destroy();
    EXPECT_TRUE(rx.has_changed());
  }());
}

}  // namespace
