// weft::mpsc: ordering, back-pressure, closing, dropping, plain threads,
// multi-producer stress and the cooperative budget, on both runtime flavours.
#include <weft/channel.hpp>
#include <weft/runtime.hpp>

#include "channel_support.hpp"
#include "support/flavors.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using chan_test::wait_until;
using weft::result;
using weft::send_result;
using weft::task;

class Mpsc : public chan_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Mpsc, weft_test::each_flavor(), weft_test::flavor_name);
class MpscOnOneThread : public chan_test::on_current_thread {};

TEST(MpscApi, ZeroCapacityIsRejectedWithAMessage) {
  try {
    (void)weft::mpsc::channel<int>(0);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("capacity"), std::string::npos);
  }
}

TEST(MpscApi, TryOperationsWorkWithoutARuntime) {
  auto ch = weft::mpsc::channel<int>(2);
  EXPECT_TRUE(ch.first.try_send(1).has_value());
  EXPECT_TRUE(ch.first.try_send(2).has_value());
  send_result<int> full = ch.first.try_send(3);
  EXPECT_EQ(full.error(), weft::errc::would_block);
  EXPECT_EQ(full.take_value(), 3);
  EXPECT_EQ(ch.second.try_recv().value(), 1);
  EXPECT_EQ(ch.second.try_recv().value(), 2);
  EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
}

TEST(MpscApi, SendResultMisuseThrowsLogicError) {
  send_result<int> ok;
  EXPECT_TRUE(ok.has_value());
  EXPECT_THROW((void)ok.take_value(), std::logic_error);
  send_result<int> failed{make_error_code(weft::errc::channel_closed), 5};
  EXPECT_FALSE(failed);
  EXPECT_THROW(failed.value(), std::system_error);
  EXPECT_EQ(failed.take_value(), 5);
  EXPECT_THROW((void)failed.take_value(), std::logic_error);
}

TEST(MpscApi, MovedFromHandlesThrowLogicError) {
  auto ch = weft::mpsc::channel<int>(1);
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  EXPECT_THROW((void)ch.first.send(1), std::logic_error);
  EXPECT_THROW((void)ch.first.try_send(1), std::logic_error);
  EXPECT_THROW((void)ch.second.recv(), std::logic_error);
  EXPECT_THROW((void)ch.second.try_recv(), std::logic_error);
  EXPECT_TRUE(ch.first.is_closed());
  EXPECT_FALSE(tx.is_closed());
}

/// Await `a` (an lvalue: the same awaitable again); the logic_error's message,
/// or "" if it did not throw.
template <class A>
task<std::string> misuse_message(A& a) {
  try {
    (void)co_await a;
  } catch (const std::logic_error& e) {
    co_return e.what();
  }
  co_return "";
}

TEST_F(MpscOnOneThread, AwaitingAChannelAwaitableTwiceThrowsAndSendsNothingAgain) {
  static constexpr const char* kTwice = "awaited a second time";
  rt.block_on([]() -> task<> {
    auto [tx, rx] = weft::mpsc::channel<std::string>(4);
    auto send = tx.send("once");
    EXPECT_TRUE((co_await send).has_value());
    EXPECT_NE((co_await misuse_message(send)).find(kTwice), std::string::npos);
    auto recv = rx.recv();
    EXPECT_EQ((co_await recv).value(), "once");
    EXPECT_NE((co_await misuse_message(recv)).find(kTwice), std::string::npos);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);  // nothing sent twice
    rx.close();
    auto closed = tx.closed();
    co_await closed;
    EXPECT_NE((co_await misuse_message(closed)).find(kTwice), std::string::npos);

    auto [btx, brx] = weft::broadcast::channel<int>(4);
    (void)btx.send(1).value();
    auto brecv = brx.recv();
    EXPECT_EQ((co_await brecv).value(), 1);
    EXPECT_NE((co_await misuse_message(brecv)).find(kTwice), std::string::npos);

    auto [wtx, wrx] = weft::watch::channel<int>(0);
    (void)wtx.send(1);
    auto changed = wrx.changed();
    EXPECT_TRUE((co_await changed).has_value());
    EXPECT_NE((co_await misuse_message(changed)).find(kTwice), std::string::npos);
  }());
}

TEST_F(MpscOnOneThread, AwaitingAMovedFromChannelAwaitableThrows) {
  static constexpr const char* kMoved = "after it was moved from";
  rt.block_on([]() -> task<> {
    auto [tx, rx] = weft::mpsc::channel<std::string>(4);
    auto send = tx.send("once");
    auto moved_send = std::move(send);
    EXPECT_NE((co_await misuse_message(send)).find(kMoved), std::string::npos);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::would_block);  // the moved-out value was not sent
    EXPECT_TRUE((co_await moved_send).has_value());
    auto recv = rx.recv();
    auto moved_recv = std::move(recv);
    EXPECT_NE((co_await misuse_message(recv)).find(kMoved), std::string::npos);
    EXPECT_EQ((co_await moved_recv).value(), "once");
    auto closed = tx.closed();
    auto moved_closed = std::move(closed);
    EXPECT_NE((co_await misuse_message(closed)).find(kMoved), std::string::npos);

    auto [btx, brx] = weft::broadcast::channel<int>(4);
    auto brecv = brx.recv();
    auto moved_brecv = std::move(brecv);
    EXPECT_NE((co_await misuse_message(brecv)).find(kMoved), std::string::npos);

    auto [wtx, wrx] = weft::watch::channel<int>(0);
    auto changed = wrx.changed();
    auto moved_changed = std::move(changed);
    EXPECT_NE((co_await misuse_message(changed)).find(kMoved), std::string::npos);
  }());
}

TEST_P(Mpsc, ReceiverGetsValuesInSendOrder) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(8);
    for (int i = 0; i < 8; ++i) EXPECT_TRUE((co_await ch.first.send(i)).has_value());
    for (int i = 0; i < 8; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);
  }());
}

TEST_P(Mpsc, ReceiverWaitsForAValueSentByAnotherTask) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    auto producer = weft::spawn([tx]() mutable -> task<void> {
      co_await weft::yield_now();
      EXPECT_TRUE((co_await tx.send(42)).has_value());
    });
    EXPECT_EQ((co_await ch.second.recv()).value(), 42);
    co_await producer;
  }());
}

TEST_P(Mpsc, ReceiverDrainsBufferedValuesThenSeesClosed) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(4);
    auto rx = std::move(ch.second);
    {
      auto tx = std::move(ch.first);
      auto copy = tx;
      EXPECT_TRUE((co_await tx.send(1)).has_value());
      EXPECT_TRUE((co_await copy.send(2)).has_value());
    }  // every sender gone
    EXPECT_EQ((co_await rx.recv()).value(), 1);
    EXPECT_EQ(rx.try_recv().value(), 2);
    EXPECT_EQ((co_await rx.recv()).error(), weft::errc::channel_closed);
    EXPECT_EQ(rx.try_recv().error(), weft::errc::channel_closed);
  }());
}

TEST_P(Mpsc, AWaitingReceiverSeesClosedWhenTheLastSenderIsDropped) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    auto tx = std::move(ch.first);
    auto keep = tx;
    auto dropper = weft::spawn([tx = std::move(tx), keep = std::move(keep)]() mutable -> task<void> {
      co_await weft::yield_now();
      { auto gone = std::move(tx); }
      co_await weft::yield_now();
      EXPECT_TRUE(keep.send(7).has_value());
      { auto gone = std::move(keep); }
    });
    EXPECT_EQ((co_await ch.second.recv()).value(), 7);
    EXPECT_EQ((co_await ch.second.recv()).error(), weft::errc::channel_closed);
    co_await dropper;
  }());
}

TEST_P(Mpsc, SendWaitsForSpaceUntilTheReceiverTakesAValue) {
  rt.block_on([this]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(2);
    auto tx = std::move(ch.first);
    auto rx = std::move(ch.second);
    EXPECT_TRUE(tx.try_send(1).has_value());
    EXPECT_TRUE(tx.try_send(2).has_value());
    std::atomic<bool> sent{false};
    std::atomic<bool> started{false};
    auto blocked = weft::spawn([tx, &sent, &started]() mutable -> task<void> {
      started = true;
      EXPECT_TRUE((co_await tx.send(3)).has_value());
      sent = true;
    });
    co_await wait_until([&] { return started.load(); });
    if (current_thread()) {
      // Deterministic here: the sender ran up to its wait, and stays there.
      for (int i = 0; i < 10; ++i) co_await weft::yield_now();
      EXPECT_FALSE(sent.load());
    }
    send_result<int> full = tx.try_send(4);  // a full channel (or an older send waits)
    EXPECT_EQ(full.error(), weft::errc::would_block);
    EXPECT_EQ(full.take_value(), 4);
    EXPECT_EQ((co_await rx.recv()).value(), 1);  // frees a slot for the waiting send
    co_await blocked;
    EXPECT_TRUE(sent.load());
    EXPECT_EQ((co_await rx.recv()).value(), 2);
    EXPECT_EQ((co_await rx.recv()).value(), 3);
  }());
}

TEST_F(MpscOnOneThread, WaitingSendersAreServedInArrivalOrder) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    EXPECT_TRUE(tx.try_send(-1).has_value());
    std::vector<weft::join_handle<void>> senders;
    for (int i = 0; i < 10; ++i) {
      senders.push_back(weft::spawn([tx, i]() mutable -> task<void> {
        EXPECT_TRUE((co_await tx.send(i)).has_value());
      }));
      co_await weft::yield_now();  // sender i is queued before sender i + 1 starts
    }
    for (int i = -1; i < 10; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);
    for (auto& h : senders) co_await h;
  }());
}

TEST_P(Mpsc, ManySendersThroughCapacityOneKeepPerSenderOrder) {
  rt.block_on([]() -> task<void> {
    constexpr int senders = 8;
    constexpr int each = 200;
    auto ch = weft::mpsc::channel<std::pair<int, int>>(1);
    auto tx = std::move(ch.first);
    std::vector<weft::join_handle<void>> hs;
    for (int s = 0; s < senders; ++s) {
      hs.push_back(weft::spawn([tx, s]() mutable -> task<void> {
        for (int i = 0; i < each; ++i) EXPECT_TRUE((co_await tx.send({s, i})).has_value());
      }));
    }
    { auto gone = std::move(tx); }
    std::vector<int> next(senders, 0);
    int total = 0;
    for (;;) {
      result<std::pair<int, int>> r = co_await ch.second.recv();
      if (!r) {
        EXPECT_EQ(r.error(), weft::errc::channel_closed);
        break;
      }
      EXPECT_EQ(r->second, next[static_cast<std::size_t>(r->first)]++);  // FIFO per sender
      ++total;
    }
    EXPECT_EQ(total, senders * each);
    for (auto& h : hs) co_await h;
  }());
}

TEST_P(Mpsc, CloseWhileAHundredSendersWaitHandsEveryValueBack) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    auto rx = std::move(ch.second);
    EXPECT_TRUE(tx.try_send(-1).has_value());
    std::atomic<int> started{0};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 100; ++i) {
      hs.push_back(weft::spawn([tx, i, &started]() mutable -> task<int> {
        started.fetch_add(1);
        send_result<int> r = co_await tx.send(i);
        EXPECT_EQ(r.error(), weft::errc::channel_closed);
        co_return r ? -2 : r.take_value();
      }));
    }
    co_await wait_until([&] { return started.load() == 100; });
    rx.close();
    std::set<int> back;
    for (auto& h : hs) back.insert(co_await h);
    EXPECT_EQ(back.size(), 100u);
    EXPECT_EQ(*back.begin(), 0);
    EXPECT_EQ(*back.rbegin(), 99);
    // The value buffered before close() can still be received.
    EXPECT_EQ((co_await rx.recv()).value(), -1);
    EXPECT_EQ((co_await rx.recv()).error(), weft::errc::channel_closed);
    EXPECT_EQ(tx.try_send(5).error(), weft::errc::channel_closed);
  }());
}

TEST_P(Mpsc, DroppedReceiverMakesEverySendReturnItsValue) {
  rt.block_on([]() -> task<void> {
    auto b = weft::mpsc::channel<std::string>(1);
    auto u = weft::mpsc::unbounded_channel<std::string>();
    EXPECT_FALSE(b.first.is_closed());
    { auto gone = std::move(b.second); }
    { auto gone = std::move(u.second); }
    EXPECT_TRUE(b.first.is_closed());
    EXPECT_TRUE(u.first.is_closed());
    send_result<std::string> r1 = co_await b.first.send("awaited");
    EXPECT_EQ(r1.error(), weft::errc::channel_closed);
    EXPECT_EQ(r1.take_value(), "awaited");
    send_result<std::string> r2 = b.first.try_send("tried");
    EXPECT_EQ(r2.error(), weft::errc::channel_closed);
    EXPECT_EQ(r2.take_value(), "tried");
    send_result<std::string> r3 = u.first.send("unbounded");
    EXPECT_EQ(r3.error(), weft::errc::channel_closed);
    EXPECT_EQ(r3.take_value(), "unbounded");
  }());
}

TEST_P(Mpsc, DroppingTheReceiverDestroysBufferedValues) {
  chan_test::tally t;
  {
    auto ch = weft::mpsc::unbounded_channel<chan_test::counted>();
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(ch.first.send(chan_test::counted{t, i}).has_value());
    EXPECT_EQ(t.alive.load(), 100);
    { auto gone = std::move(ch.second); }
    EXPECT_EQ(t.alive.load(), 0);
  }
  EXPECT_EQ(t.alive.load(), 0);
}

TEST_P(Mpsc, DroppingTheReceiverDestroysValuesHoldingSendersOfTheSameChannel) {
  // A buffered value owning a sender of its own channel: destroying it drops
  // that sender, which takes the channel's lock — so values must be destroyed
  // after the lock is released (this deadlocked otherwise).
  using job = std::function<void()>;
  auto ch = weft::mpsc::unbounded_channel<job>();
  auto tx = std::move(ch.first);
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(tx.send([keep = tx] { (void)keep; }).has_value());
  { auto gone = std::move(ch.second); }
  EXPECT_TRUE(tx.is_closed());
}

TEST_P(Mpsc, SenderClosedCompletesWhenTheReceiverIsDropped) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    auto rx = std::move(ch.second);
    auto watcher = weft::spawn([tx]() -> task<void> { co_await tx.closed(); });
    co_await weft::yield_now();
    EXPECT_FALSE(tx.is_closed());
    { auto gone = std::move(rx); }
    co_await watcher;
    EXPECT_TRUE(tx.is_closed());
    co_await tx.closed();  // already closed: at once
  }());
}

TEST_P(Mpsc, CloseStopsSendsButKeepsBufferedValues) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    EXPECT_TRUE(ch.first.send(1).has_value());
    EXPECT_TRUE(ch.first.send(2).has_value());
    ch.second.close();
    ch.second.close();  // idempotent
    EXPECT_TRUE(ch.first.is_closed());
    EXPECT_EQ(ch.first.send(3).error(), weft::errc::channel_closed);
    EXPECT_EQ((co_await ch.second.recv()).value(), 1);
    EXPECT_EQ((co_await ch.second.recv()).value(), 2);
    EXPECT_EQ((co_await ch.second.recv()).error(), weft::errc::channel_closed);
  }());
}

TEST_P(Mpsc, UnboundedSendsFromPlainThreadsWakeTheReceiver) {
  rt.block_on([]() -> task<void> {
    constexpr int threads = 4;
    constexpr int each = 2000;
    auto ch = weft::mpsc::unbounded_channel<int>();
    co_await chan_test::expect_plain_thread_sends_arrive(std::move(ch.first), ch.second, threads,
                                                         each);
  }());
}

TEST_P(Mpsc, TrySendAndCloseFromAPlainThreadWakeAWaitingTask) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(4);
    auto rx = std::move(ch.second);
    std::thread th([tx = std::move(ch.first)]() mutable {
      while (!tx.try_send(9).has_value()) std::this_thread::yield();
      { auto gone = std::move(tx); }  // the last sender dropped on a plain thread
    });
    EXPECT_EQ((co_await rx.recv()).value(), 9);
    EXPECT_EQ((co_await rx.recv()).error(), weft::errc::channel_closed);
    th.join();
  }());
}

TEST_P(Mpsc, DroppingTheReceiverOnAPlainThreadWakesWaitingSenders) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1);
    auto tx = std::move(ch.first);
    EXPECT_TRUE(tx.try_send(0).has_value());
    std::atomic<int> started{0};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 1; i <= 40; ++i) {
      hs.push_back(weft::spawn([tx, i, &started]() mutable -> task<int> {
        started.fetch_add(1);
        send_result<int> r = co_await tx.send(i);
        co_return r ? 0 : r.take_value();
      }));
    }
    co_await wait_until([&] { return started.load() == 40; });
    std::thread th([rx = std::move(ch.second)]() mutable { auto gone = std::move(rx); });
    int sum = 0;
    for (auto& h : hs) sum += co_await h;
    th.join();
    EXPECT_EQ(sum, 40 * 41 / 2);  // every value came back
  }());
}

TEST_P(Mpsc, MultiProducerStressConservesCountAndSum) {
  constexpr std::int64_t producers = 8;
  struct shape {
    std::size_t capacity;
    std::int64_t each;
  };
  // capacity 64 is the main run (8 x 100k); 1 and 1e6 stress the extremes.
  for (shape sh : {shape{64, 100'000}, shape{1, 10'000}, shape{1'000'000, 20'000}}) {
    const std::size_t capacity = sh.capacity;
    const std::int64_t each = sh.each;
    rt.block_on([capacity, each]() -> task<void> {
      auto ch = weft::mpsc::channel<std::int64_t>(capacity);
      std::vector<weft::join_handle<void>> hs;
      for (std::int64_t p = 0; p < producers; ++p) {
        hs.push_back(weft::spawn([tx = ch.first, p, each]() mutable -> task<void> {
          for (std::int64_t i = 0; i < each; ++i) {
            if (!(co_await tx.send(p * each + i))) ADD_FAILURE() << "send failed";
          }
        }));
      }
      { auto gone = std::move(ch.first); }
      std::int64_t sum = 0;
      std::int64_t count = 0;
      std::vector<std::int64_t> last(producers, -1);
      while (result<std::int64_t> r = co_await ch.second.recv()) {
        const std::int64_t p = *r / each;
        EXPECT_GT(*r, last[static_cast<std::size_t>(p)]);  // per-producer order
        last[static_cast<std::size_t>(p)] = *r;
        sum += *r;
        ++count;
      }
      for (auto& h : hs) co_await h;
      const std::int64_t n = producers * each;
      EXPECT_EQ(count, n);
      EXPECT_EQ(sum, n * (n - 1) / 2);
    }());
  }
}

TEST_F(MpscOnOneThread, AConsumerOfAnAlwaysReadyChannelLetsOtherTasksRun) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::unbounded_channel<int>();
    constexpr int n = 10'000;
    for (int i = 0; i < n; ++i) EXPECT_TRUE(ch.first.send(i).has_value());
    std::atomic<bool> other_ran{false};
    auto other = weft::spawn([&]() -> task<void> {
      other_ran = true;
      co_return;
    });
    int received = 0;
    // Every recv is ready at once; without the budget this loop would never
    // suspend and the other task could not run before it ends.
    while (!other_ran.load()) {
      EXPECT_EQ((co_await ch.second.recv()).value(), received);
      ++received;
    }
    EXPECT_LE(received, 2 * weft::detail::initial_budget);
    // The values received across the yields are neither lost nor repeated.
    for (int i = received; i < n; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);
    EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
    co_await other;
  }());
}

TEST_F(MpscOnOneThread, AProducerOnAChannelThatNeverFillsLetsOtherTasksRun) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<int>(1'000'000);
    std::atomic<bool> other_ran{false};
    auto other = weft::spawn([&]() -> task<void> {
      other_ran = true;
      co_return;
    });
    int sent = 0;
    while (!other_ran.load()) EXPECT_TRUE((co_await ch.first.send(sent++)).has_value());
    EXPECT_LE(sent, 2 * weft::detail::initial_budget);
    for (int i = 0; i < sent; ++i) EXPECT_EQ(ch.second.try_recv().value(), i);
    EXPECT_EQ(ch.second.try_recv().error(), weft::errc::would_block);
    co_await other;
  }());
}

TEST_P(Mpsc, YieldingSendsAndReceivesLoseAndRepeatNothing) {
  rt.block_on([]() -> task<void> {
    constexpr int n = 20'000;
    auto ch = weft::mpsc::channel<int>(1'000'000);
    auto producer = weft::spawn([tx = std::move(ch.first)]() mutable -> task<void> {
      for (int i = 0; i < n; ++i) EXPECT_TRUE((co_await tx.send(i)).has_value());
    });
    for (int i = 0; i < n; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);
    EXPECT_EQ((co_await ch.second.recv()).error(), weft::errc::channel_closed);
    co_await producer;
  }());
}

TEST_P(Mpsc, RequestReplyWithOneshotsInsideMessages) {
  rt.block_on([]() -> task<void> {
    auto ch = weft::mpsc::channel<std::pair<int, weft::oneshot::sender<int>>>(4);
    auto server = weft::spawn([rx = std::move(ch.second)]() mutable -> task<void> {
      while (auto req = co_await rx.recv()) {
        EXPECT_TRUE(req->second.send(req->first * 2).has_value());
      }
    });
    for (int i = 0; i < 200; ++i) {
      auto o = weft::oneshot::channel<int>();
      EXPECT_TRUE((co_await ch.first.send({i, std::move(o.first)})).has_value());
      EXPECT_EQ((co_await o.second).value(), i * 2);
    }
    { auto gone = std::move(ch.first); }
    co_await server;
  }());
}

}  // namespace
