// weft::mpsc under cancellation: recv, send and closed() cancelled before
// they start, while they wait, and after their wait completed but before
// their task resumed — with weft::with_cancellation, weft::timeout, a
// hand-driven coroutine (the exact "completed, never resumed" state) and
// runtime shutdown. Nothing may be lost, duplicated or leaked.
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

class MpscCancel : public chan_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, MpscCancel, weft_test::each_flavor(), weft_test::flavor_name);

// ---- recv -------------------------------------------------------------------

TEST_P(MpscCancel, RecvWithAnAlreadyCancelledTokenConsumesNothing) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    EXPECT_TRUE(ch.first.send(1).has_value());
    cancellation_source src;
    src.cancel();
    result<result<int>> r = co_await weft::with_cancellation(src.token(), ch.second.recv());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_EQ(ch.second.try_recv().value(), 1);
  }());
}

TEST_P(MpscCancel, RecvCancelledWhileWaitingLeavesNoWaiterBehind) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    cancellation_source src;
    auto canceller = weft::spawn([src]() mutable -> task<void> {
      co_await weft::yield_now();
      src.cancel();
    });
    result<result<int>> r = co_await weft::with_cancellation(src.token(), ch.second.recv());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    co_await canceller;
    // The cancelled wait left nothing linked: the next value is queued, not
    // handed to a dead awaiter.
    EXPECT_TRUE(ch.first.send(5).has_value());
    EXPECT_EQ(ch.second.try_recv().value(), 5);
  }());
}

TEST_P(MpscCancel, RecvTimingOutWhileWaitingLeavesNoWaiterBehind) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(2);
    result<result<int>> r = co_await weft::timeout(1ms, ch.second.recv());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    EXPECT_TRUE((co_await ch.first.send(6)).has_value());
    EXPECT_EQ((co_await ch.second.recv()).value(), 6);
  }());
}

TEST_P(MpscCancel, RecvCancelledAfterTheValueWasHandedOverPutsItBackAtTheFront) {
  rt.block_on([this]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    auto& rx = ch.second;
    // In one step: the token fires first, then the value is handed to the
    // waiting recv. The race sees its stop branch finish first and destroys
    // the recv, which must give the value back.
    result<result<int>> r = co_await chan_test::cancel_as_it_completes<result<int>>(
        [&] { return rx.recv(); },
        [&] {
          EXPECT_TRUE(ch.first.send(1).has_value());
          EXPECT_TRUE(ch.first.send(2).has_value());
        });
    if (current_thread()) {
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    }
    if (r) {
      EXPECT_EQ(r->value(), 1);  // the recv won (the token fired too late)
    } else {
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
      EXPECT_EQ(rx.try_recv().value(), 1);  // back at the front: order kept
    }
    EXPECT_EQ(rx.try_recv().value(), 2);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);
  }());
}

TEST_P(MpscCancel, RecvDestroyedAfterTheValueWasHandedOverPutsItBackAtTheFront) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    auto& rx = ch.second;
    bool resumed = false;
    auto body = [](weft::mpsc::receiver<int>& r, bool& done) -> manual_coro {
      (void)co_await r.recv();
      done = true;
    };
    manual_coro waiter = body(rx, resumed);
    waiter.start();              // links the recv
    co_await weft::yield_now();  // its waker is stale from here on
    EXPECT_TRUE(ch.first.send(1).has_value());  // handed to the waiting recv
    EXPECT_TRUE(ch.first.send(2).has_value());  // queued
    EXPECT_EQ(rx.try_recv().value(), 2);        // 1 belongs to the recv now
    EXPECT_TRUE(ch.first.send(3).has_value());
    waiter.destroy();  // "cancel after": 1 goes back to the front
    EXPECT_FALSE(resumed);
    EXPECT_EQ(rx.try_recv().value(), 1);
    EXPECT_EQ(rx.try_recv().value(), 3);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);
  }());
}

TEST_P(MpscCancel, ADestroyedRecvHandsItsValueToAnotherWaitingRecv) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto& rx = ch.second;
    result<int> second_got = make_error_code(weft::errc::would_block);
    auto first = [](weft::mpsc::receiver<int>& r) -> manual_coro { (void)co_await r.recv(); };
    auto second = [](weft::mpsc::receiver<int>& r, result<int>& out) -> manual_coro {
      out = co_await r.recv();
    };
    manual_coro a = first(rx);
    manual_coro b = second(rx, second_got);
    a.start();
    b.start();
    co_await weft::yield_now();
    EXPECT_TRUE(ch.first.try_send(7).has_value());  // handed to a (the older wait)
    a.destroy();                                    // 7 moves on to b
    EXPECT_FALSE(b.done());
    b.start();  // resume b by hand: it completes with 7
    EXPECT_TRUE(b.done());
    EXPECT_EQ(second_got.value(), 7);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);
  }());
}

TEST_P(MpscCancel, RecvTimeoutsRacingSendsLoseAndDuplicateNothing) {
  // Timeouts expire while values arrive from a plain thread: some waits end
  // with a value, some time out before, some after the value was handed to
  // them. Every value must be received exactly once, in order.
  rt.block_on([]() -> task<void> {
    constexpr int n = 300;
    auto ch = weft::mpsc::unbounded_channel<int>();
    std::atomic<int> consumed{0};
    std::thread producer([tx = ch.first, &consumed] {
      for (int i = 0; i < n; ++i) {
        while (consumed.load() < i - 2) std::this_thread::yield();  // stay close
        (void)tx.send(i);
      }
    });
    { auto gone = std::move(ch.first); }
    int next = 0;
    while (next < n) {
      result<result<int>> r = co_await weft::timeout(50us, ch.second.recv());
      if (!r) {
        EXPECT_EQ(r.error(), weft::errc::timed_out);
        continue;
      }
      EXPECT_EQ(r->value(), next);
      ++next;
      consumed.store(next);
    }
    producer.join();
    EXPECT_EQ((co_await ch.second.recv()).error(), weft::errc::channel_closed);
  }());
}

// ---- send -------------------------------------------------------------------

TEST_P(MpscCancel, SendWithAnAlreadyCancelledTokenSendsNothing) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    cancellation_source src;
    src.cancel();
    auto r = co_await weft::with_cancellation(src.token(), ch.first.send(1));
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
    EXPECT_TRUE(ch.first.try_send(2).has_value());  // the slot is free
  }());
}

TEST_P(MpscCancel, SendCancelledWhileWaitingForSpaceIsUnlinkedAndSendsNothing) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    EXPECT_TRUE(ch.first.try_send(1).has_value());
    auto r = co_await weft::timeout(1ms, ch.first.send(2));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    cancellation_source src;
    auto canceller = weft::spawn([src]() mutable -> task<void> {
      co_await weft::yield_now();
      src.cancel();
    });
    auto r2 = co_await weft::with_cancellation(src.token(), ch.first.send(3));
    EXPECT_EQ(r2.error(), weft::errc::operation_canceled);
    co_await canceller;
    EXPECT_EQ((co_await ch.second.recv()).value(), 1);
    EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);  // 2 and 3 never sent
    EXPECT_TRUE(ch.first.try_send(4).has_value());                    // no slot leaked
    EXPECT_EQ(ch.second.try_recv().value(), 4);
  }());
}

TEST_P(MpscCancel, SendCancelledAfterASlotWasGrantedReleasesItToTheNextSender) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    auto& rx = ch.second;
    EXPECT_TRUE(tx.try_send(0).has_value());
    cancellation_source src;
    std::atomic<int> started{0};
    auto cancelled_send = weft::spawn([&]() -> task<void> {
      started.fetch_add(1);
      auto r = co_await weft::with_cancellation(src.token(), tx.send(1));
      // The token fired before a slot could be granted: cancelled either way.
      EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    });
    co_await wait_until([&] { return started.load() == 1; });
    co_await weft::yield_now();
    auto next_send = weft::spawn([&]() -> task<void> {
      started.fetch_add(1);
      EXPECT_TRUE((co_await tx.send(2)).has_value());
    });
    co_await wait_until([&] { return started.load() == 2; });
    co_await weft::yield_now();
    src.cancel();
    EXPECT_EQ(rx.try_recv().value(), 0);  // frees the slot: granted to the oldest send
    co_await cancelled_send;
    co_await next_send;  // got the released slot
    EXPECT_EQ((co_await rx.recv()).value(), 2);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);  // 1 was never delivered
  }());
}

TEST_P(MpscCancel, SendDestroyedAfterASlotWasGrantedReleasesItToTheNextSender) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    auto& rx = ch.second;
    EXPECT_TRUE(tx.try_send(0).has_value());
    auto body = [](weft::mpsc::sender<int>& s) -> manual_coro { (void)co_await s.send(1); };
    manual_coro granted = body(tx);
    granted.start();  // waits for space
    co_await weft::yield_now();
    send_result<int> later{make_error_code(weft::errc::would_block), -1};
    auto body2 = [](weft::mpsc::sender<int>& s, send_result<int>& out) -> manual_coro {
      out = co_await s.send(2);
    };
    manual_coro next = body2(tx, later);
    next.start();  // waits behind the first
    co_await weft::yield_now();
    EXPECT_EQ(rx.try_recv().value(), 0);  // grants the slot to `granted`
    EXPECT_EQ(tx.try_send(9).error(), weft::errc::would_block);  // the slot is reserved
    granted.destroy();                   // "cancel after": the slot moves on to `next`
    EXPECT_EQ(tx.try_send(9).error(), weft::errc::would_block);  // ... and is reserved again
    next.start();                        // resume it by hand: it writes 2
    EXPECT_TRUE(next.done());
    EXPECT_TRUE(later.has_value());
    EXPECT_EQ(rx.try_recv().value(), 2);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);
    EXPECT_TRUE(tx.try_send(3).has_value());
  }());
}

TEST_P(MpscCancel, SenderClosedWaitIsUnlinkedWhenCancelled) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto r = co_await weft::timeout(1ms, ch.first.closed());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    { auto gone = std::move(ch.second); }
    co_await ch.first.closed();
    EXPECT_TRUE(ch.first.is_closed());
  }());
}

// ---- runtime shutdown ----------------------------------------------------------

TEST_P(MpscCancel, RuntimeShutdownDestroysWaitingTasksAndTheChannelStaysUsable) {
  auto ch = weft::mpsc::channel<int>(1);
  auto tx = std::move(ch.first);
  EXPECT_TRUE(tx.try_send(0).has_value());
  std::atomic<int> started{0};
  {
    weft::runtime local = weft::runtime_builder{}
                              .flavor(GetParam())
                              .shutdown_timeout(std::chrono::milliseconds(0))
                              .build();
    // A recv waiting on an empty channel, and a send waiting on a full one.
    auto empty = weft::mpsc::channel<int>(1);
    (void)local.spawn([rx = std::move(empty.second), &started]() mutable -> task<void> {
      started.fetch_add(1);
      (void)co_await rx.recv();
    });
    (void)local.spawn([tx, &started]() mutable -> task<void> {
      started.fetch_add(1);
      (void)co_await tx.send(1);
    });
    local.block_on(wait_until([&] { return started.load() == 2; }));
    local.block_on([]() -> task<void> {
      co_await weft::yield_now();
      co_await weft::yield_now();
    }());
    EXPECT_FALSE(empty.first.is_closed());
    local.shutdown(std::chrono::milliseconds(0));  // destroys both waiting tasks
    EXPECT_TRUE(empty.first.is_closed());          // the receiver went with its task
  }
  // The destroyed send never delivered, and left no reserved slot behind.
  EXPECT_EQ(ch.second.try_recv().value(), 0);
  EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
  EXPECT_TRUE(tx.try_send(2).has_value());
  EXPECT_EQ(ch.second.try_recv().value(), 2);
}

}  // namespace
