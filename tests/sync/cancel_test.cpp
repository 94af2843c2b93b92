// Cancelling every kind of wait — before it starts, while it is queued, and
// after it completed but before its task resumed — on both runtime flavours.
//
// "Before" and "while queued" go through weft::with_cancellation and
// weft::timeout. "After" is reached three ways: deterministically by
// destroying a hand-driven coroutine whose wait completed (manual_coro, see
// sync_support.hpp) and by runtime shutdown destroying a task whose wait
// completed while it was not running; and by racing a cancel against a grant
// across threads. (with_cancellation itself runs an operation that is ready
// before it decides, so it reaches "after" only in that cross-thread race.)
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "support/flavors.hpp"
#include "sync_support.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::waiter_count;
using sync_test::manual_coro;
using sync_test::wait_until;

class SyncCancel : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, SyncCancel, weft_test::each_flavor(), weft_test::flavor_name);

// ---- shared drivers -------------------------------------------------------------

/// Before: a token cancelled up front never starts the wait.
template <class MakeWait>
task<> expect_cancelled_before(MakeWait make_wait) {
  weft::cancellation_source src;
  src.cancel();
  auto r = co_await weft::with_cancellation(src.token(), make_wait());
  EXPECT_EQ(r.error(), weft::errc::operation_canceled);
}

/// While queued, by token: a task queues on `prim`, the token fires, the
/// task gets operation_canceled and the queue is empty again.
template <class Prim, class MakeWait>
task<> expect_cancelled_while_queued(Prim& prim, MakeWait make_wait) {
  const std::size_t before = waiter_count(prim);
  weft::cancellation_source src;
  auto waiter = weft::spawn([tok = src.token(), make_wait]() -> task<bool> {
    auto r = co_await weft::with_cancellation(tok, make_wait());
    co_return r.error() == weft::errc::operation_canceled;
  });
  co_await wait_until([&] { return waiter_count(prim) == before + 1; });
  src.cancel();
  EXPECT_TRUE(co_await waiter);
  EXPECT_EQ(waiter_count(prim), before);
}

/// While queued, by timeout.
template <class Prim, class MakeWait>
task<> expect_timed_out_while_queued(Prim& prim, MakeWait make_wait) {
  const std::size_t before = waiter_count(prim);
  auto r = co_await weft::timeout(1ms, make_wait());
  EXPECT_EQ(r.error(), weft::errc::timed_out);
  EXPECT_EQ(waiter_count(prim), before);
}

/// A hand-driven coroutine that waits once and records whether it resumed.
template <class MakeWait>
manual_coro wait_in_orphan(MakeWait make_wait, bool& resumed) {
  (void)co_await make_wait();
  resumed = true;
}

/// Guard against a hang turning into a stuck test: fail instead.
template <class A>
task<bool> completes(A&& a) {
  auto r = co_await weft::timeout(60s, std::forward<A>(a));
  co_return r.has_value();
}

// ---- mutex ----------------------------------------------------------------------

TEST_P(SyncCancel, MutexLockCancelledBeforeOrWhileQueuedLeavesTheLockAsItWas) {
  weft::mutex m;
  rt.block_on([&]() -> task<> {
    co_await expect_cancelled_before([&m] { return m.lock(); });
    EXPECT_TRUE(m.try_lock().has_value());  // nothing was taken
    weft::mutex_guard g = co_await m.lock();
    co_await expect_cancelled_while_queued(m, [&m] { return m.lock(); });
    co_await expect_timed_out_while_queued(m, [&m] { return m.lock(); });
    EXPECT_FALSE(m.try_lock().has_value());  // still ours
    g.unlock();
    EXPECT_TRUE(m.try_lock().has_value());  // not handed to a cancelled waiter
  }());
}

TEST_P(SyncCancel, MutexLockGrantedButNeverResumedPassesTheLockToTheNextWaiter) {
  weft::mutex m;
  bool orphan_resumed = false;
  rt.block_on([&]() -> task<> {
    weft::mutex_guard g = co_await m.lock();
    manual_coro orphan = wait_in_orphan([&m] { return m.lock(); }, orphan_resumed);
    orphan.start();
    co_await weft::yield_now();  // the orphan's waker is now stale
    EXPECT_EQ(waiter_count(m), 1u);
    auto next = weft::spawn([&]() -> task<> { weft::mutex_guard mine = co_await m.lock(); });
    co_await wait_until([&] { return waiter_count(m) == 2; });
    g.unlock();  // handed to the orphan, which never resumes
    EXPECT_EQ(waiter_count(m), 1u);
    EXPECT_FALSE(m.try_lock().has_value());
    orphan.destroy();  // cancel after: the lock goes to `next`
    EXPECT_TRUE(co_await completes(next));
    EXPECT_TRUE(m.try_lock().has_value());
  }());
  EXPECT_FALSE(orphan_resumed);
}

TEST_P(SyncCancel, MutexLockTakenWhileYieldingForTheBudgetIsGivenBackWhenCancelled) {
  weft::mutex m;
  bool orphan_resumed = false;
  rt.block_on([&]() -> task<> {
    while (weft::detail::consume_budget()) {
    }
    manual_coro orphan = wait_in_orphan([&m] { return m.lock(); }, orphan_resumed);
    orphan.start();              // free: taken at once, but the budget is spent: it yields
    co_await weft::yield_now();  // (our real suspension point)
    EXPECT_FALSE(m.try_lock().has_value());  // the lock was kept while yielding
    orphan.destroy();
    EXPECT_TRUE(m.try_lock().has_value());
  }());
  EXPECT_FALSE(orphan_resumed);
}

TEST_P(SyncCancel, MutexCancelRacingAnUnlockNeverLosesTheLock) {
  // A queued with_cancellation(lock) is cancelled from a plain thread at the
  // moment the holder unlocks (after a handshake both spin a random few
  // turns, to move the window either way). Whichever wins, the lock ends with
  // the waiter or passes to the task queued behind it. This reaches "granted,
  // then cancelled before resuming" often: the awaiter lives in the race's
  // frame, which outlives the cancelled branch for a moment.
  static constexpr int kRounds = 300;
  weft::mutex m;
  std::atomic<weft::cancellation_source*> to_cancel{nullptr};
  std::atomic<int> armed{0};
  std::atomic<int> cancels_done{0};
  std::atomic<bool> quit{false};
  std::thread canceller([&] {
    sync_test::rng r(5);
    while (!quit.load()) {
      weft::cancellation_source* src = to_cancel.exchange(nullptr);
      if (src == nullptr) {
        std::this_thread::yield();  // idle: leave the cores to the workers
        continue;
      }
      armed.fetch_add(1);  // the holder unlocks once it sees this: both run now
      for (std::uint64_t spin = r.below(256); spin > 0; --spin) weft::detail::sync::spin_hint();
      src->cancel();
      cancels_done.fetch_add(1);
    }
  });
  rt.block_on([&]() -> task<> {
    sync_test::rng order(11);
    int won = 0;
    int lost = 0;
    for (int i = 0; i < kRounds; ++i) {
      weft::mutex_guard g = co_await m.lock();
      weft::cancellation_source src;
      auto racer = weft::spawn([&m, tok = src.token()]() -> task<bool> {
        auto r = co_await weft::with_cancellation(tok, m.lock());
        co_return r.has_value();
      });
      co_await wait_until([&] { return waiter_count(m) == 1; });
      auto behind = weft::spawn([&m]() -> task<> { weft::mutex_guard mine = co_await m.lock(); });
      co_await wait_until([&] { return waiter_count(m) == 2; });
      to_cancel.store(&src);
      while (armed.load() != i + 1) weft::detail::sync::spin_hint();
      for (std::uint64_t spin = order.below(256); spin > 0; --spin) weft::detail::sync::spin_hint();
      g.unlock();
      const bool got = co_await racer;
      co_await wait_until([&] { return cancels_done.load() == i + 1; });  // src outlives cancel()
      (got ? won : lost) += 1;
      EXPECT_TRUE(co_await completes(behind)) << "round " << i;
      EXPECT_TRUE(m.try_lock().has_value()) << "round " << i;
    }
    EXPECT_EQ(won + lost, kRounds);
    std::printf("[ race     ] the waiter got the lock %d times, was cancelled %d times\n", won, lost);
  }());
  quit.store(true);
  canceller.join();
}

// ---- shared_mutex ---------------------------------------------------------------

TEST_P(SyncCancel, SharedMutexWaitsCancelledBeforeOrWhileQueuedChangeNothing) {
  weft::shared_mutex rw;
  rt.block_on([&]() -> task<> {
    co_await expect_cancelled_before([&rw] { return rw.lock(); });
    co_await expect_cancelled_before([&rw] { return rw.lock_shared(); });
    EXPECT_TRUE(rw.try_lock().has_value());
    {
      weft::unique_guard w = co_await rw.lock();
      co_await expect_cancelled_while_queued(rw, [&rw] { return rw.lock_shared(); });
      co_await expect_cancelled_while_queued(rw, [&rw] { return rw.lock(); });
      co_await expect_timed_out_while_queued(rw, [&rw] { return rw.lock_shared(); });
    }
    {
      weft::shared_guard r = co_await rw.lock_shared();
      co_await expect_timed_out_while_queued(rw, [&rw] { return rw.lock(); });
      EXPECT_TRUE(rw.try_lock_shared().has_value());  // no writer left in the queue
    }
    EXPECT_TRUE(rw.try_lock().has_value());
  }());
}

TEST_P(SyncCancel, SharedMutexCancelledHeadWriterLetsTheReadersBehindItIn) {
  weft::shared_mutex rw;
  rt.block_on([&]() -> task<> {
    weft::shared_guard first = co_await rw.lock_shared();
    weft::cancellation_source src;
    auto writer = weft::spawn([&rw, tok = src.token()]() -> task<bool> {
      auto r = co_await weft::with_cancellation(tok, rw.lock());
      co_return r.has_value();
    });
    co_await wait_until([&] { return waiter_count(rw) == 1; });
    auto reader = weft::spawn([&rw]() -> task<> { weft::shared_guard g = co_await rw.lock_shared(); });
    co_await wait_until([&] { return waiter_count(rw) == 2; });
    src.cancel();  // the head writer leaves: the reader fits next to `first`
    EXPECT_FALSE(co_await writer);
    EXPECT_TRUE(co_await completes(reader));  // while `first` is still held
    EXPECT_TRUE(first.owns_lock());
  }());
}

TEST_P(SyncCancel, SharedMutexLocksGrantedButNeverResumedPassToTheNextWaiters) {
  weft::shared_mutex rw;
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    // A writer granted, never resumed: the reader behind it gets in.
    weft::shared_guard r0 = co_await rw.lock_shared();
    manual_coro w_orphan = wait_in_orphan([&rw] { return rw.lock(); }, resumed);
    w_orphan.start();
    co_await weft::yield_now();
    auto reader = weft::spawn([&rw]() -> task<> { weft::shared_guard g = co_await rw.lock_shared(); });
    co_await wait_until([&] { return waiter_count(rw) == 2; });
    r0.unlock();  // grants the orphan writer
    EXPECT_EQ(waiter_count(rw), 1u);
    w_orphan.destroy();
    EXPECT_TRUE(co_await completes(reader));
    // A reader granted, never resumed: the writer behind it gets in.
    weft::unique_guard w0 = co_await rw.lock();
    manual_coro r_orphan = wait_in_orphan([&rw] { return rw.lock_shared(); }, resumed);
    r_orphan.start();
    co_await weft::yield_now();
    auto writer = weft::spawn([&rw]() -> task<> { weft::unique_guard g = co_await rw.lock(); });
    co_await wait_until([&] { return waiter_count(rw) == 2; });
    w0.unlock();  // grants the orphan reader; the writer still waits for it
    EXPECT_EQ(waiter_count(rw), 1u);
    r_orphan.destroy();
    EXPECT_TRUE(co_await completes(writer));
    EXPECT_TRUE(rw.try_lock().has_value());
  }());
  EXPECT_FALSE(resumed);
}

// ---- semaphore ------------------------------------------------------------------

TEST_P(SyncCancel, SemaphoreAcquireCancelledBeforeOrWhileQueuedTakesNothing) {
  weft::semaphore s(1);
  rt.block_on([&]() -> task<> {
    co_await expect_cancelled_before([&s] { return s.acquire(1); });
    EXPECT_EQ(s.available(), 1u);
    co_await expect_cancelled_while_queued(s, [&s] { return s.acquire(3); });
    co_await expect_timed_out_while_queued(s, [&s] { return s.acquire(2); });
    EXPECT_EQ(s.available(), 1u);
    s.release(2);
    EXPECT_EQ(s.available(), 3u);  // nothing went to a cancelled waiter
  }());
}

TEST_P(SyncCancel, SemaphoreCancelledHeadRequestLetsSmallerOnesBehindItThrough) {
  weft::semaphore s(2);
  rt.block_on([&]() -> task<> {
    weft::cancellation_source src;
    auto big = weft::spawn([&s, tok = src.token()]() -> task<bool> {
      auto r = co_await weft::with_cancellation(tok, s.acquire(5));
      co_return r.has_value();
    });
    co_await wait_until([&] { return waiter_count(s) == 1; });
    auto small = weft::spawn([&s]() -> task<> { weft::semaphore_permit p = co_await s.acquire(2); });
    co_await wait_until([&] { return waiter_count(s) == 2; });
    src.cancel();  // 2 free permits were reserved for `big`: now `small` gets them
    EXPECT_FALSE(co_await big);
    EXPECT_TRUE(co_await completes(small));
    EXPECT_EQ(s.available(), 2u);
  }());
}

TEST_P(SyncCancel, SemaphorePermitsGrantedButNeverResumedGoToTheNextWaiter) {
  weft::semaphore s(0);
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    manual_coro orphan = wait_in_orphan([&s] { return s.acquire(2); }, resumed);
    orphan.start();
    co_await weft::yield_now();
    auto next = weft::spawn([&s]() -> task<std::size_t> {
      weft::semaphore_permit p = co_await s.acquire(2);
      co_return p.count();
    });
    co_await wait_until([&] { return waiter_count(s) == 2; });
    s.release(2);  // granted to the orphan
    EXPECT_EQ(s.available(), 0u);
    EXPECT_EQ(waiter_count(s), 1u);
    orphan.destroy();  // its 2 permits go to `next`
    auto got = co_await weft::timeout(60s, next);
    EXPECT_EQ(got.value(), 2u);
    EXPECT_EQ(s.available(), 2u);
    // Taken at once while the budget is spent, then cancelled: given back.
    while (weft::detail::consume_budget()) {
    }
    manual_coro yielding = wait_in_orphan([&s] { return s.acquire(2); }, resumed);
    yielding.start();
    co_await weft::yield_now();
    EXPECT_EQ(s.available(), 0u);
    yielding.destroy();
    EXPECT_EQ(s.available(), 2u);
  }());
  EXPECT_FALSE(resumed);
}

// ---- notify ---------------------------------------------------------------------

TEST_P(SyncCancel, NotifiedCancelledBeforeOrWhileQueuedKeepsTheNotification) {
  weft::notify n;
  rt.block_on([&]() -> task<> {
    n.notify_one();  // a stored permit
    co_await expect_cancelled_before([&n] { return n.notified(); });
    EXPECT_TRUE(co_await completes(n.notified()));  // the permit is still there
    co_await expect_cancelled_while_queued(n, [&n] { return n.notified(); });
    co_await expect_timed_out_while_queued(n, [&n] { return n.notified(); });
    n.notify_one();  // no waiter left: stored, not given to a cancelled one
    EXPECT_TRUE(co_await completes(n.notified()));
  }());
}

TEST_P(SyncCancel, ANotifyOneReceivedButNeverResumedForIsPassedOn) {
  weft::notify n;
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    // To the next waiter...
    manual_coro orphan = wait_in_orphan([&n] { return n.notified(); }, resumed);
    orphan.start();
    co_await weft::yield_now();
    auto next = weft::spawn([&n]() -> task<> { co_await n.notified(); });
    co_await wait_until([&] { return waiter_count(n) == 2; });
    n.notify_one();  // picks the orphan (oldest)
    EXPECT_EQ(waiter_count(n), 1u);
    orphan.destroy();
    EXPECT_TRUE(co_await completes(next));
    // ...or back into the stored permit.
    manual_coro alone = wait_in_orphan([&n] { return n.notified(); }, resumed);
    alone.start();
    co_await weft::yield_now();
    n.notify_one();
    alone.destroy();
    EXPECT_TRUE(co_await completes(n.notified()));
    // A consumed permit while yielding for the budget goes back too.
    n.notify_one();
    while (weft::detail::consume_budget()) {
    }
    manual_coro yielding = wait_in_orphan([&n] { return n.notified(); }, resumed);
    yielding.start();
    co_await weft::yield_now();
    yielding.destroy();
    EXPECT_TRUE(co_await completes(n.notified()));
    // A notify_all has nothing to pass on.
    manual_coro by_all = wait_in_orphan([&n] { return n.notified(); }, resumed);
    by_all.start();
    co_await weft::yield_now();
    n.notify_all();
    by_all.destroy();
    auto r = co_await weft::timeout(1ms, n.notified());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
  EXPECT_FALSE(resumed);
}

// ---- event ----------------------------------------------------------------------

TEST_P(SyncCancel, EventWaitsCancelledBeforeOrWhileQueuedChangeNothing) {
  weft::event manual;
  weft::event automatic(weft::event_mode::automatic);
  rt.block_on([&]() -> task<> {
    automatic.set();
    co_await expect_cancelled_before([&] { return automatic.wait(); });
    EXPECT_TRUE(automatic.is_set());  // not consumed
    automatic.reset();
    co_await expect_cancelled_while_queued(manual, [&] { return manual.wait(); });
    co_await expect_cancelled_while_queued(automatic, [&] { return automatic.wait(); });
    co_await expect_timed_out_while_queued(manual, [&] { return manual.wait(); });
    co_await expect_timed_out_while_queued(automatic, [&] { return automatic.wait(); });
    automatic.set();
    EXPECT_TRUE(automatic.is_set());  // nobody waits: it stays set
  }());
}

TEST_P(SyncCancel, AnAutomaticSetReceivedButNeverResumedForIsPassedOn) {
  weft::event e(weft::event_mode::automatic);
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    manual_coro orphan = wait_in_orphan([&e] { return e.wait(); }, resumed);
    orphan.start();
    co_await weft::yield_now();
    auto next = weft::spawn([&e]() -> task<> { co_await e.wait(); });
    co_await wait_until([&] { return waiter_count(e) == 2; });
    e.set();  // releases the orphan
    EXPECT_EQ(waiter_count(e), 1u);
    orphan.destroy();
    EXPECT_TRUE(co_await completes(next));
    EXPECT_FALSE(e.is_set());
    manual_coro alone = wait_in_orphan([&e] { return e.wait(); }, resumed);
    alone.start();
    co_await weft::yield_now();
    e.set();
    EXPECT_FALSE(e.is_set());
    alone.destroy();
    EXPECT_TRUE(e.is_set());  // handed back
  }());
  EXPECT_FALSE(resumed);
}

TEST_P(SyncCancel, AManualEventWaiterDestroyedAfterTheSetLeavesTheEventSet) {
  weft::event e;
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    manual_coro orphan = wait_in_orphan([&e] { return e.wait(); }, resumed);
    orphan.start();
    co_await weft::yield_now();
    e.set();
    orphan.destroy();
    EXPECT_TRUE(e.is_set());
    EXPECT_EQ(waiter_count(e), 0u);
  }());
  EXPECT_FALSE(resumed);
}

// ---- latch and barrier ----------------------------------------------------------

TEST_P(SyncCancel, LatchWaitsCancelledAtAnyPointLeaveTheCountAlone) {
  weft::latch l(2);
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    co_await expect_cancelled_before([&l] { return l.arrive_and_wait(); });
    co_await expect_cancelled_while_queued(l, [&l] { return l.wait(); });
    co_await expect_timed_out_while_queued(l, [&l] { return l.wait(); });
    EXPECT_FALSE(l.try_wait());
    manual_coro orphan = wait_in_orphan([&l] { return l.wait(); }, resumed);
    orphan.start();
    co_await weft::yield_now();
    l.count_down(2);  // exactly the initial count: nothing above was counted
    EXPECT_TRUE(l.try_wait());
    orphan.destroy();  // released, never resumed: nothing to give back
  }());
  EXPECT_FALSE(resumed);
}

TEST_P(SyncCancel, ABarrierWaitCancelledWhileQueuedWithdrawsItsArrival) {
  weft::barrier b(2);
  bool resumed = false;
  rt.block_on([&]() -> task<> {
    co_await expect_cancelled_before([&b] { return b.arrive_and_wait(); });
    co_await expect_cancelled_while_queued(b, [&b] { return b.arrive_and_wait(); });
    co_await expect_timed_out_while_queued(b, [&b] { return b.arrive_and_wait(); });
    // None of those arrivals counts: it still takes two to complete a phase.
    auto first = weft::spawn([&b]() -> task<bool> { co_return co_await b.arrive_and_wait(); });
    co_await wait_until([&] { return waiter_count(b) == 1; });
    EXPECT_TRUE(co_await b.arrive_and_wait());
    EXPECT_FALSE(co_await first);
    // Released but never resumed: the phase stays completed, the next works.
    manual_coro orphan = wait_in_orphan([&b] { return b.arrive_and_wait(); }, resumed);
    orphan.start();
    co_await weft::yield_now();
    EXPECT_TRUE(co_await b.arrive_and_wait());  // completes the orphan's phase
    orphan.destroy();
    auto second = weft::spawn([&b]() -> task<bool> { co_return co_await b.arrive_and_wait(); });
    co_await wait_until([&] { return waiter_count(b) == 1; });
    EXPECT_TRUE(co_await b.arrive_and_wait());
    EXPECT_FALSE(co_await second);
  }());
  EXPECT_FALSE(resumed);
}

// ---- runtime shutdown destroys a task whose wait completed ---------------------

// A current-thread runtime runs tasks only inside block_on, so a task woken
// while none runs stays woken-but-not-resumed until shutdown destroys it.
weft::runtime idle_current_thread_runtime() {
  return weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
}

TEST_P(SyncCancel, ALockHandedToATaskDestroyedByShutdownPassesToTheNextWaiter) {
  weft::mutex m;
  std::optional<weft::mutex_guard> g = m.try_lock();
  weft::runtime doomed = idle_current_thread_runtime();
  auto victim = doomed.spawn([&m]() -> task<> {
    weft::mutex_guard mine = co_await m.lock();
    ADD_FAILURE() << "resumed after its runtime shut down";
  });
  doomed.block_on(wait_until([&] { return waiter_count(m) == 1; }));
  auto next = rt.spawn([&m]() -> task<int> {
    weft::mutex_guard mine = co_await m.lock();
    co_return 1;
  });
  rt.block_on(wait_until([&] { return waiter_count(m) == 2; }));
  g.reset();  // handed to the victim, whose runtime is not running
  EXPECT_EQ(waiter_count(m), 1u);
  doomed.shutdown(0ms);  // destroys the victim: the lock passes on
  EXPECT_EQ(rt.block_on(std::move(next)), 1);
  EXPECT_TRUE(m.try_lock().has_value());
}

TEST_P(SyncCancel, PermitsAndNotificationsHandedToTasksDestroyedByShutdownAreNotLost) {
  weft::semaphore s(0);
  weft::notify n;
  weft::runtime doomed = idle_current_thread_runtime();
  auto v1 = doomed.spawn([&s]() -> task<> { auto p = co_await s.acquire(3); });
  auto v2 = doomed.spawn([&n]() -> task<> { co_await n.notified(); });
  doomed.block_on(wait_until([&] { return waiter_count(s) == 1 && waiter_count(n) == 1; }));
  s.release(3);
  n.notify_one();
  EXPECT_EQ(s.available(), 0u);
  doomed.shutdown(0ms);
  EXPECT_EQ(s.available(), 3u);
  rt.block_on([&]() -> task<> {
    EXPECT_TRUE(co_await completes(n.notified()));  // stored again as the permit
  }());
}

}  // namespace
