// weft::broadcast: fan-out, subscribe, exact lag reporting, closing,
// waking many waiters, and cancellation, on both runtime flavours.
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
#include <cstdint>
#include <memory>
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

class Broadcast : public chan_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Broadcast, weft_test::each_flavor(), weft_test::flavor_name);
class BroadcastOnOneThread : public chan_test::on_current_thread {};

TEST(BroadcastApi, ZeroCapacityIsRejected) {
  EXPECT_THROW((void)weft::broadcast::channel<int>(0), std::invalid_argument);
}

TEST(BroadcastApi, AFailedSendHandsTheValueBack) {
  // Named, not a structured binding: clang 14 cannot capture those in lambdas.
  auto tx_rx = weft::broadcast::channel<std::shared_ptr<int>>(4);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  { auto gone = std::move(rx); }  // no receiver left
  auto payload = std::make_shared<int>(7);
  std::weak_ptr<int> w = payload;
  weft::broadcast::send_result<std::shared_ptr<int>> r = tx.send(std::move(payload));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), weft::errc::channel_closed);
  EXPECT_EQ(r.receivers(), 0u);
  EXPECT_THROW((void)r.value(), std::system_error);
  std::shared_ptr<int> back = r.take_value();
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(*back, 7);
  EXPECT_EQ(w.use_count(), 1);  // only `back`: the channel kept nothing
  EXPECT_THROW((void)r.take_value(), std::logic_error);
  // A successful send says how many it reached and has nothing to hand back.
  auto rx2 = tx.subscribe();
  auto ok = tx.send(std::move(back));
  EXPECT_TRUE(ok.has_value());
  EXPECT_EQ(ok.value(), 1u);
  EXPECT_EQ(ok.receivers(), 1u);
  EXPECT_THROW((void)ok.take_value(), std::logic_error);
}

// Found in review: the per-slot release assigned std::optional<T>, so a
// copyable type with a const member (not assignable) no longer compiled.
TEST(BroadcastApi, CarriesACopyableTypeThatCannotBeAssigned) {
  struct event {
    const int id;
  };
  auto tx_rx = weft::broadcast::channel<event>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto rx2 = tx.subscribe();
  EXPECT_TRUE(tx.send(event{1}).has_value());
  EXPECT_TRUE(tx.send(event{2}).has_value());  // evicts 1
  EXPECT_EQ(rx.try_recv().error(), weft::errc::channel_lagged);  // told it missed one
  auto got = rx.try_recv();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got.value().id, 2);
  EXPECT_EQ(rx2.try_recv().error(), weft::errc::channel_lagged);
  auto last = rx2.try_recv();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last.value().id, 2);
}

TEST(BroadcastApi, AValueIsDestroyedWhenTheLastReceiverReceivedIt) {
  auto tx_rx1 = weft::broadcast::channel<std::shared_ptr<int>>(8);
  auto& tx = tx_rx1.first;
  auto& rx1 = tx_rx1.second;
  auto rx2 = tx.subscribe();
  std::weak_ptr<int> w;
  {
    auto payload = std::make_shared<int>(1);
    w = payload;
    EXPECT_EQ(tx.send(std::move(payload)).value(), 2u);
  }
  { auto got = rx1.try_recv(); ASSERT_TRUE(got.has_value()); }
  EXPECT_FALSE(w.expired());  // rx2 has not received it yet
  {
    auto got = rx2.try_recv();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(w.use_count(), 1);  // the last receiver got it moved: the slot holds nothing
  }
  EXPECT_TRUE(w.expired());  // without waiting for `capacity` more sends
}

TEST(BroadcastApi, LaggingReceiversReleaseWhatTheyMissedAndTheRestOnReading) {
  // Capacity 2: `slow` never reads while 5 values are sent; `fast` reads
  // each at once. A value stays alive only while `slow` still needs it.
  auto tx_fast = weft::broadcast::channel<std::shared_ptr<int>>(2);
  auto& tx = tx_fast.first;
  auto& fast = tx_fast.second;
  auto slow = tx.subscribe();
  std::vector<std::weak_ptr<int>> ws;
  for (int i = 0; i < 5; ++i) {
    auto p = std::make_shared<int>(i);
    ws.push_back(p);
    EXPECT_EQ(tx.send(std::move(p)).value(), 2u);
    ASSERT_EQ(*fast.try_recv().value(), i);
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(ws[i].expired()) << i;  // evicted
  for (int i = 3; i < 5; ++i) EXPECT_FALSE(ws[i].expired()) << i;  // `slow` needs them
  EXPECT_EQ(slow.try_recv().error(), weft::errc::channel_lagged);
  EXPECT_EQ(slow.lagged_by(), 3u);
  EXPECT_EQ(*slow.try_recv().value(), 3);
  EXPECT_TRUE(ws[3].expired());
  EXPECT_EQ(*slow.try_recv().value(), 4);
  EXPECT_TRUE(ws[4].expired());
  EXPECT_EQ(slow.try_recv().error(), weft::errc::would_block);
}

TEST(BroadcastApi, DroppedAndCopiedReceiversAreAccountedForEachHeldValue) {
  auto tx_rx = weft::broadcast::channel<std::shared_ptr<int>>(4);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<std::weak_ptr<int>> ws;
  auto send = [&](int i) {
    auto p = std::make_shared<int>(i);
    ws.push_back(p);
    (void)tx.send(std::move(p)).value();
  };
  auto behind = tx.subscribe();
  send(0);
  send(1);
  send(2);
  ASSERT_EQ(*rx.try_recv().value(), 0);
  auto copy = rx;  // needs 1 and 2, as rx does
  ASSERT_EQ(*rx.try_recv().value(), 1);
  ASSERT_EQ(*rx.try_recv().value(), 2);
  EXPECT_TRUE(ws[0].expired() == false);  // `behind` needs 0
  { auto gone = std::move(behind); }  // dropped at position 0
  EXPECT_TRUE(ws[0].expired());       // nobody else needed it
  EXPECT_FALSE(ws[1].expired());      // `copy` still does
  ASSERT_EQ(*copy.try_recv().value(), 1);
  EXPECT_TRUE(ws[1].expired());
  { auto gone = std::move(copy); }  // dropped at position 2, which it still needed
  EXPECT_TRUE(ws[2].expired());
  // A receiver that lagged past evicted values, then dropped: only the held
  // ones are released, each once.
  auto lagger = tx.subscribe();
  for (int i = 3; i < 10; ++i) {
    send(i);
    ASSERT_EQ(*rx.try_recv().value(), i);
  }
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(ws[i].expired()) << i;
  for (int i = 6; i < 10; ++i) EXPECT_FALSE(ws[i].expired()) << i;
  { auto gone = std::move(lagger); }
  for (int i = 6; i < 10; ++i) EXPECT_TRUE(ws[i].expired()) << i;
  // Values held when the channel goes are destroyed with it.
  send(10);
  EXPECT_FALSE(ws[10].expired());
  { auto gone = std::move(rx); }
  EXPECT_TRUE(ws[10].expired());
}

TEST(BroadcastApi, MovedFromHandlesThrowLogicError) {
  auto ch = weft::broadcast::channel<int>(2);
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  EXPECT_THROW((void)ch.first.send(1), std::logic_error);
  EXPECT_THROW((void)ch.second.recv(), std::logic_error);
  EXPECT_THROW((void)ch.second.try_recv(), std::logic_error);
}

TEST_P(Broadcast, EveryReceiverGetsEveryValueInOrder) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<std::string>(8);
    auto rx2 = ch.first.subscribe();
    auto rx3 = ch.second;  // a copy, from the same position
    EXPECT_EQ(ch.first.receiver_count(), 3u);
    EXPECT_EQ(ch.first.send("a").value(), 3u);
    EXPECT_EQ(ch.first.send("b").value(), 3u);
    for (auto* rx : {&ch.second, &rx2, &rx3}) {
      EXPECT_EQ((co_await rx->recv()).value(), "a");
      EXPECT_EQ((co_await rx->recv()).value(), "b");
      EXPECT_EQ(rx->try_recv().error(), weft::errc::would_block);
    }
  }());
}

TEST_P(Broadcast, SubscribeSeesOnlyValuesSentAfterIt) {
  auto ch = weft::broadcast::channel<int>(8);
  EXPECT_EQ(ch.first.send(1).value(), 1u);
  auto late = ch.first.subscribe();
  EXPECT_EQ(ch.first.send(2).value(), 2u);
  EXPECT_EQ(late.try_recv().value(), 2);
  EXPECT_EQ(ch.second.try_recv().value(), 1);
  EXPECT_EQ(ch.second.try_recv().value(), 2);
}

TEST_P(Broadcast, ALaggingReceiverGetsLaggedOnceWithTheExactCountThenTheOldestHeld) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(4);
    auto fast = ch.first.subscribe();
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(ch.first.send(i).has_value());
      EXPECT_EQ(fast.try_recv().value(), i);  // keeps up: never lags
    }
    EXPECT_EQ(ch.second.lagged_by(), 0u);
    result<int> r = co_await ch.second.recv();
    EXPECT_EQ(r.error(), weft::errc::channel_lagged);
    EXPECT_EQ(ch.second.lagged_by(), 6u);  // 0..5 overwritten; 6..9 held
    for (int i = 6; i < 10; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);
    EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
    EXPECT_EQ(fast.lagged_by(), 0u);
    // Lagging again counts afresh.
    for (int i = 10; i < 15; ++i) EXPECT_TRUE(ch.first.send(i).has_value());
    EXPECT_EQ(ch.second.try_recv().error(), weft::errc::channel_lagged);
    EXPECT_EQ(ch.second.lagged_by(), 1u);
    EXPECT_EQ(ch.second.try_recv().value(), 11);
  }());
}

TEST_P(Broadcast, SendWithoutReceiversFailsWithClosed) {
  auto ch = weft::broadcast::channel<int>(2);
  { auto gone = std::move(ch.second); }
  EXPECT_EQ(ch.first.send(1).error(), weft::errc::channel_closed);
  auto rx = ch.first.subscribe();
  EXPECT_EQ(ch.first.send(2).value(), 1u);
  EXPECT_EQ(rx.try_recv().value(), 2);
}

TEST_P(Broadcast, ReceiversDrainThenSeeClosedWhenEverySenderIsGone) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(4);
    auto rx = std::move(ch.second);
    {
      auto tx = std::move(ch.first);
      auto tx2 = tx;
      EXPECT_TRUE(tx.send(1).has_value());
      EXPECT_TRUE(tx2.send(2).has_value());
    }
    EXPECT_EQ((co_await rx.recv()).value(), 1);
    EXPECT_EQ((co_await rx.recv()).value(), 2);
    EXPECT_EQ((co_await rx.recv()).error(), weft::errc::channel_closed);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::channel_closed);
  }());
}

TEST_P(Broadcast, ASendWakesEveryWaitingReceiverAcrossRounds) {
  rt.block_on([]() -> task<void> {
    constexpr int receivers = 100;  // more than one wake round of 32
    auto ch = weft::broadcast::channel<int>(2);
    std::atomic<int> started{0};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < receivers; ++i) {
      hs.push_back(weft::spawn([rx = ch.first.subscribe(), &started]() mutable -> task<int> {
        started.fetch_add(1);
        co_return (co_await rx.recv()).value();
      }));
    }
    co_await wait_until([&] { return started.load() == receivers; });
    EXPECT_EQ(ch.first.send(42).value(), static_cast<std::size_t>(receivers + 1));
    for (auto& h : hs) EXPECT_EQ(co_await h, 42);
  }());
}

TEST_P(Broadcast, DroppingTheLastSenderWakesEveryWaitingReceiverWithClosed) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(2);
    std::atomic<int> started{0};
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 40; ++i) {
      hs.push_back(weft::spawn([rx = ch.second, &started]() mutable -> task<void> {
        started.fetch_add(1);
        EXPECT_EQ((co_await rx.recv()).error(), weft::errc::channel_closed);
      }));
    }
    co_await wait_until([&] { return started.load() == 40; });
    { auto gone = std::move(ch.first); }
    for (auto& h : hs) co_await h;
  }());
}

TEST_P(Broadcast, ManySendersFromPlainThreadsReachAFastReceiver) {
  rt.block_on([]() -> task<void> {
    constexpr int threads = 4;
    constexpr int each = 500;
    auto ch = weft::broadcast::channel<int>(threads * each);  // nobody lags
    co_await chan_test::expect_plain_thread_sends_arrive(std::move(ch.first), ch.second, threads,
                                                         each);
  }());
}

// ---- cancellation --------------------------------------------------------------

TEST_P(Broadcast, RecvWithAnAlreadyCancelledTokenConsumesNothing) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(2);
    EXPECT_TRUE(ch.first.send(1).has_value());
    cancellation_source src;
    src.cancel();
    auto r = co_await weft::with_cancellation(src.token(), ch.second.recv());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_EQ(ch.second.try_recv().value(), 1);
  }());
}

TEST_P(Broadcast, RecvCancelledWhileWaitingIsUnlinked) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(2);
    auto r = co_await weft::timeout(1ms, ch.second.recv());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    cancellation_source src;
    auto canceller = weft::spawn([src]() mutable -> task<void> {
      co_await weft::yield_now();
      src.cancel();
    });
    auto r2 = co_await weft::with_cancellation(src.token(), ch.second.recv());
    EXPECT_EQ(r2.error(), weft::errc::operation_canceled);
    co_await canceller;
    EXPECT_EQ(ch.first.send(3).value(), 1u);
    EXPECT_EQ((co_await ch.second.recv()).value(), 3);
  }());
}

TEST_P(Broadcast, RecvCancelledAfterItWasWokenReceivesTheValueNextTime) {
  rt.block_on([this]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(2);
    auto& rx = ch.second;
    result<result<int>> r = co_await chan_test::cancel_as_it_completes<result<int>>(
        [&] { return rx.recv(); }, [&] { EXPECT_TRUE(ch.first.send(5).has_value()); });
    if (current_thread()) {
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    }
    if (r) {
      EXPECT_EQ(r->value(), 5);
    } else {
      EXPECT_EQ(rx.try_recv().value(), 5);
    }
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);
  }());
}

TEST_P(Broadcast, RecvDestroyedAfterItWasWokenReceivesTheValueNextTime) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(2);
    auto& rx = ch.second;
    auto body = [](weft::broadcast::receiver<int>& r) -> manual_coro { (void)co_await r.recv(); };
    manual_coro waiter = body(rx);
    waiter.start();
    co_await weft::yield_now();
    EXPECT_TRUE(ch.first.send(5).has_value());  // wakes the (stale) waiter
    waiter.destroy();
    EXPECT_EQ(rx.try_recv().value(), 5);
  }());
}

TEST_F(BroadcastOnOneThread, ALoopOnAnAlwaysReadyReceiverLetsOtherTasksRun) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::broadcast::channel<int>(10'000);
    for (int i = 0; i < 10'000; ++i) EXPECT_TRUE(ch.first.send(i).has_value());
    std::atomic<bool> other_ran{false};
    auto other = weft::spawn([&]() -> task<void> {
      other_ran = true;
      co_return;
    });
    int received = 0;
    while (!other_ran.load()) EXPECT_EQ((co_await ch.second.recv()).value(), received++);
    EXPECT_LE(received, 2 * weft::detail::initial_budget);
    EXPECT_EQ((co_await ch.second.recv()).value(), received);  // nothing skipped
    co_await other;
  }());
}

}  // namespace
