// weft::oneshot: delivery, closing from either side, plain threads, misuse
// and cancellation, on both runtime flavours.
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
using weft::send_result;
using weft::task;

class Oneshot : public chan_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Oneshot, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Oneshot, ReceiverGetsAValueSentBeforeItAwaits) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<std::string>();
    EXPECT_TRUE(ch.first.send("hello").has_value());
    EXPECT_FALSE(ch.first.valid());  // spent
    EXPECT_EQ((co_await ch.second).value(), "hello");
  }());
}

TEST_P(Oneshot, ReceiverWaitsForAValueSentByAnotherTask) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    auto sender = weft::spawn([tx = std::move(ch.first)]() mutable -> task<void> {
      co_await weft::yield_now();
      EXPECT_TRUE(tx.send(5).has_value());
    });
    EXPECT_EQ((co_await ch.second.recv()).value(), 5);
    co_await sender;
  }());
}

TEST_P(Oneshot, SendFromAPlainThreadWakesTheWaitingTask) {
  rt.block_on([]() -> task<void> {
    for (int i = 0; i < 200; ++i) {
      auto ch = weft::oneshot::channel<int>();
      std::thread th([tx = std::move(ch.first), i]() mutable { (void)tx.send(i); });
      EXPECT_EQ((co_await ch.second).value(), i);
      th.join();
    }
  }());
}

TEST_P(Oneshot, DroppingTheSenderUnsentClosesTheReceiver) {
  rt.block_on([]() -> task<void> {
    {
      auto ch = weft::oneshot::channel<int>();
      { auto gone = std::move(ch.first); }
      EXPECT_EQ((co_await ch.second).error(), weft::errc::channel_closed);
    }
    {
      // While the receiver waits, and from a plain thread.
      auto ch = weft::oneshot::channel<int>();
      std::thread th([tx = std::move(ch.first)]() mutable { auto gone = std::move(tx); });
      EXPECT_EQ((co_await ch.second).error(), weft::errc::channel_closed);
      th.join();
    }
  }());
}

TEST_P(Oneshot, SendAfterTheReceiverIsDroppedHandsTheValueBack) {
  auto ch = weft::oneshot::channel<std::unique_ptr<int>>();
  EXPECT_FALSE(ch.first.is_closed());
  { auto gone = std::move(ch.second); }
  EXPECT_TRUE(ch.first.is_closed());
  send_result<std::unique_ptr<int>> r = ch.first.send(std::make_unique<int>(3));
  EXPECT_EQ(r.error(), weft::errc::channel_closed);
  EXPECT_EQ(*r.take_value(), 3);
}

TEST_P(Oneshot, CloseRefusesALaterSendButKeepsAnEarlierValue) {
  rt.block_on([]() -> task<void> {
    {
      auto ch = weft::oneshot::channel<int>();
      ch.second.close();
      send_result<int> r = ch.first.send(1);
      EXPECT_EQ(r.error(), weft::errc::channel_closed);
      EXPECT_EQ(r.take_value(), 1);
      EXPECT_EQ((co_await ch.second).error(), weft::errc::channel_closed);
    }
    {
      auto ch = weft::oneshot::channel<int>();
      EXPECT_TRUE(ch.first.send(2).has_value());
      ch.second.close();
      EXPECT_EQ((co_await ch.second).value(), 2);
    }
  }());
}

TEST_P(Oneshot, TryRecvReportsWouldBlockThenTheValueThenClosed) {
  auto ch = weft::oneshot::channel<int>();
  EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
  EXPECT_TRUE(ch.first.send(8).has_value());
  EXPECT_EQ(ch.second.try_recv().value(), 8);
  EXPECT_EQ(ch.second.try_recv().error(), weft::errc::channel_closed);
}

TEST_P(Oneshot, AnUnreceivedValueIsDestroyedWithTheChannel) {
  chan_test::tally t;
  {
    auto ch = weft::oneshot::channel<chan_test::counted>();
    EXPECT_TRUE(ch.first.send(chan_test::counted{t, 1}).has_value());
    EXPECT_EQ(t.alive.load(), 1);
  }
  EXPECT_EQ(t.alive.load(), 0);
  {
    auto ch = weft::oneshot::channel<chan_test::counted>();
    auto rx = std::move(ch.second);
    EXPECT_TRUE(ch.first.send(chan_test::counted{t, 2}).has_value());
    { auto gone = std::move(rx); }  // receiver first: it frees nothing yet...
    EXPECT_EQ(t.alive.load(), 0);   // ...but the state went with the last hold
  }
  EXPECT_EQ(t.alive.load(), 0);
}

TEST_P(Oneshot, MisuseThrowsLogicErrorsThatSayWhatToDo) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    EXPECT_TRUE(ch.first.send(1).has_value());
    EXPECT_THROW((void)ch.first.send(2), std::logic_error);  // second send
    EXPECT_EQ((co_await ch.second).value(), 1);
    bool threw = false;
    try {
      (void)co_await ch.second;  // awaited again after it completed
    } catch (const std::logic_error& e) {
      threw = true;
      EXPECT_NE(std::string(e.what()).find("again"), std::string::npos);
    }
    EXPECT_TRUE(threw);
    auto moved = std::move(ch.second);
    threw = false;
    try {
      (void)co_await ch.second;  // moved from
    } catch (const std::logic_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
  }());
}

TEST_P(Oneshot, PingPongAcrossTasksDeliversEveryValue) {
  rt.block_on([]() -> task<void> {
    constexpr int pairs = 1000;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < pairs; ++i) {
      hs.push_back(weft::spawn([i]() -> task<void> {
        auto ping = weft::oneshot::channel<int>();
        auto pong = weft::oneshot::channel<int>();
        auto responder = weft::spawn([rx = std::move(ping.second),
                                      tx = std::move(pong.first)]() mutable -> task<void> {
          result<int> v = co_await rx;
          EXPECT_TRUE(tx.send(v.value() + 1).has_value());
        });
        EXPECT_TRUE(ping.first.send(i).has_value());
        EXPECT_EQ((co_await pong.second).value(), i + 1);
        co_await responder;
      }));
    }
    for (auto& h : hs) co_await h;
  }());
}

// ---- cancellation --------------------------------------------------------------

TEST_P(Oneshot, AwaitWithAnAlreadyCancelledTokenLeavesTheValue) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    EXPECT_TRUE(ch.first.send(4).has_value());
    cancellation_source src;
    src.cancel();
    result<result<int>> r = co_await weft::with_cancellation(src.token(), ch.second);
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_EQ((co_await ch.second).value(), 4);
  }());
}

TEST_P(Oneshot, AwaitCancelledWhileWaitingCanBeAwaitedAgain) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    auto r = co_await weft::timeout(1ms, ch.second.recv());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    cancellation_source src;
    auto canceller = weft::spawn([src]() mutable -> task<void> {
      co_await weft::yield_now();
      src.cancel();
    });
    auto r2 = co_await weft::with_cancellation(src.token(), ch.second);
    EXPECT_EQ(r2.error(), weft::errc::operation_canceled);
    co_await canceller;
    auto sender = weft::spawn([tx = std::move(ch.first)]() mutable -> task<void> {
      co_await weft::yield_now();
      EXPECT_TRUE(tx.send(6).has_value());
    });
    EXPECT_EQ((co_await ch.second).value(), 6);  // waits again, and is woken
    co_await sender;
  }());
}

TEST_P(Oneshot, AwaitCancelledAfterTheValueArrivedLeavesItForTheNextAwait) {
  rt.block_on([this]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    auto& rx = ch.second;
    // The stop branch is ready first, then the value arrives.
    result<result<int>> r = co_await chan_test::cancel_as_it_completes<result<int>>(
        [&] { return rx.recv(); }, [&] { EXPECT_TRUE(ch.first.send(9).has_value()); });
    if (current_thread()) {
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    }
    if (r) {
      EXPECT_EQ(r->value(), 9);
    } else {
      EXPECT_EQ((co_await rx).value(), 9);  // still there
    }
  }());
}

TEST_P(Oneshot, AwaitDestroyedAfterTheValueArrivedLeavesItForTheNextAwait) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    auto& rx = ch.second;
    auto body = [](weft::oneshot::receiver<int>& r) -> manual_coro { (void)co_await r; };
    manual_coro waiter = body(rx);
    waiter.start();
    co_await weft::yield_now();
    EXPECT_TRUE(ch.first.send(3).has_value());  // wakes a stale waker
    waiter.destroy();
    EXPECT_EQ(rx.try_recv().value(), 3);
  }());
}

TEST_P(Oneshot, AReceiverMovedIntoATimeoutIsAwaitedThere) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::oneshot::channel<int>();
    EXPECT_TRUE(ch.first.send(2).has_value());
    result<result<int>> r = co_await weft::timeout(1h, std::move(ch.second));
    EXPECT_EQ(r.value().value(), 2);
    auto ch2 = weft::oneshot::channel<int>();
    auto r2 = co_await weft::timeout(1ms, std::move(ch2.second));
    EXPECT_EQ(r2.error(), weft::errc::timed_out);
    EXPECT_TRUE(ch2.first.is_closed());  // the receiver went with the timed-out operation
  }());
}

TEST_P(Oneshot, ReceiverHeldByADestroyedTaskClosesTheChannel) {
  auto ch = weft::oneshot::channel<int>();
  std::atomic<bool> started{false};
  {
    weft::runtime local = weft::runtime_builder{}.flavor(GetParam()).build();
    (void)local.spawn([rx = std::move(ch.second), &started]() mutable -> task<void> {
      started = true;
      (void)co_await rx;
    });
    local.block_on(wait_until([&] { return started.load(); }));
    local.shutdown(std::chrono::milliseconds(0));
  }
  send_result<int> r = ch.first.send(1);
  EXPECT_EQ(r.error(), weft::errc::channel_closed);
  EXPECT_EQ(r.take_value(), 1);
}

}  // namespace
