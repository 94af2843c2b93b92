// Misuse that would corrupt memory silently is refused loudly: a primitive
// destroyed while a task waits on it (or, for the locks, while locked)
// aborts with a message naming it; a sync awaitable awaited a second time,
// or after it was moved from, throws std::logic_error in every build. (Unlocking an empty guard throws: see
// mutex_test.cpp.)
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "sync_support.hpp"

namespace {

using weft::task;
using weft::detail::waiter_count;

// In the death-test child: queue one task on a heap-allocated primitive,
// then delete the primitive under it.
template <class Prim, class MakePrim, class MakeWait>
void delete_under_a_waiter(MakePrim make_prim, MakeWait make_wait) {
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  Prim* p = make_prim();
  rt.block_on([p, make_wait]() -> task<> {
    auto w = weft::spawn([p, make_wait]() -> task<> { (void)co_await make_wait(*p); });
    co_await sync_test::wait_until([p] { return waiter_count(*p) == 1; });
    delete p;
  }());
}

TEST(SyncMisuse, DestroyingALockedMutexAborts) {
  EXPECT_DEATH(
      {
        auto* m = new weft::mutex;
        std::optional<weft::mutex_guard> g = m->try_lock();
        delete m;
      },
      "weft::mutex destroyed while locked");
}

TEST(SyncMisuse, DestroyingAReadLockedSharedMutexAborts) {
  EXPECT_DEATH(
      {
        auto* m = new weft::shared_mutex;
        std::optional<weft::shared_guard> g = m->try_lock_shared();
        delete m;
      },
      "weft::shared_mutex destroyed while locked");
}

TEST(SyncMisuse, DestroyingAnyPrimitiveWithAQueuedWaiterAborts) {
  EXPECT_DEATH(delete_under_a_waiter<weft::mutex>(
                   [] {
                     auto* m = new weft::mutex;
                     // Keep it locked: the guard is leaked on purpose (the child dies).
                     static_cast<void>(new std::optional<weft::mutex_guard>(m->try_lock()));
                     return m;
                   },
                   [](weft::mutex& m) { return m.lock(); }),
               "weft::mutex destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::semaphore>([] { return new weft::semaphore(0); },
                                                      [](weft::semaphore& s) { return s.acquire(); }),
               "weft::semaphore destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::notify>([] { return new weft::notify; },
                                                   [](weft::notify& n) { return n.notified(); }),
               "weft::notify destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::event>([] { return new weft::event; },
                                                  [](weft::event& e) { return e.wait(); }),
               "weft::event destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::latch>([] { return new weft::latch(1); },
                                                  [](weft::latch& l) { return l.wait(); }),
               "weft::latch destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::barrier>([] { return new weft::barrier(2); },
                                                    [](weft::barrier& b) { return b.arrive_and_wait(); }),
               "weft::barrier destroyed while tasks wait for it");
}

// ---- a sync awaitable is awaited once -------------------------------------------

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

class SyncAwaitableReuse : public ::testing::Test {
 protected:
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
};

TEST_F(SyncAwaitableReuse, AwaitingTheSameAwaitableTwiceThrowsLogicError) {
  static constexpr const char* kTwice = "awaited a second time";
  rt.block_on([]() -> task<> {
    weft::mutex m;
    auto lock = m.lock();
    { weft::mutex_guard g = co_await lock; }
    EXPECT_NE((co_await misuse_message(lock)).find(kTwice), std::string::npos);
    EXPECT_TRUE(m.try_lock().has_value());  // the second await took nothing

    weft::shared_mutex sm;
    auto excl = sm.lock();
    { weft::unique_guard g = co_await excl; }
    EXPECT_NE((co_await misuse_message(excl)).find(kTwice), std::string::npos);
    auto shared = sm.lock_shared();
    { weft::shared_guard g = co_await shared; }
    EXPECT_NE((co_await misuse_message(shared)).find(kTwice), std::string::npos);
    EXPECT_TRUE(sm.try_lock().has_value());

    weft::semaphore s(1);
    auto acq = s.acquire();
    { auto p = co_await acq; }
    EXPECT_NE((co_await misuse_message(acq)).find(kTwice), std::string::npos);
    EXPECT_EQ(s.available(), 1u);

    weft::notify n;
    n.notify_one();
    auto notified = n.notified();
    co_await notified;
    n.notify_one();
    EXPECT_NE((co_await misuse_message(notified)).find(kTwice), std::string::npos);
    co_await n.notified();  // the permit is still there

    weft::event e;
    e.set();
    auto ev = e.wait();
    co_await ev;
    EXPECT_NE((co_await misuse_message(ev)).find(kTwice), std::string::npos);

    weft::latch l(1);
    auto arrive = l.arrive_and_wait();
    co_await arrive;
    EXPECT_NE((co_await misuse_message(arrive)).find(kTwice), std::string::npos);

    // The barrier arrives in await_suspend: a second await must not arrive.
    weft::barrier b(2);
    auto first = weft::spawn([&b]() -> task<bool> { co_return co_await b.arrive_and_wait(); });
    co_await sync_test::wait_until([&] { return waiter_count(b) == 1; });
    auto bw = b.arrive_and_wait();
    EXPECT_TRUE(co_await bw);
    EXPECT_FALSE(co_await first);
    EXPECT_NE((co_await misuse_message(bw)).find(kTwice), std::string::npos);
    EXPECT_EQ(waiter_count(b), 0u);  // nothing arrived
  }());
}

TEST_F(SyncAwaitableReuse, AwaitingAMovedFromAwaitableThrowsLogicError) {
  static constexpr const char* kMoved = "after it was moved from";
  rt.block_on([]() -> task<> {
    weft::mutex m;
    auto lock = m.lock();
    auto moved_lock = std::move(lock);
    EXPECT_NE((co_await misuse_message(lock)).find(kMoved), std::string::npos);
    { weft::mutex_guard g = co_await moved_lock; }  // the one it moved to works

    weft::semaphore s(1);
    auto acq = s.acquire();
    auto moved_acq = std::move(acq);
    EXPECT_NE((co_await misuse_message(acq)).find(kMoved), std::string::npos);
    EXPECT_EQ(s.available(), 1u);
    { auto p = co_await moved_acq; }

    weft::notify n;
    auto notified = n.notified();
    auto moved_notified = std::move(notified);
    n.notify_one();
    EXPECT_NE((co_await misuse_message(notified)).find(kMoved), std::string::npos);
    co_await moved_notified;

    weft::event e;
    auto ev = e.wait();
    auto moved_ev = std::move(ev);
    e.set();
    EXPECT_NE((co_await misuse_message(ev)).find(kMoved), std::string::npos);
    co_await moved_ev;

    // The latch's arrival moves with the awaitable: it is counted once.
    weft::latch l(2);
    auto arrive = l.arrive_and_wait();
    auto moved_arrive = std::move(arrive);
    EXPECT_NE((co_await misuse_message(arrive)).find(kMoved), std::string::npos);
    l.count_down();
    EXPECT_FALSE(l.try_wait());
    co_await moved_arrive;
    EXPECT_TRUE(l.try_wait());

    weft::barrier b(1);
    auto bw = b.arrive_and_wait();
    auto moved_bw = std::move(bw);
    EXPECT_NE((co_await misuse_message(bw)).find(kMoved), std::string::npos);
    EXPECT_TRUE(co_await moved_bw);

    // Moving one that was awaited already gives a spent awaitable.
    auto done = m.lock();
    { weft::mutex_guard g = co_await done; }
    auto moved_done = std::move(done);
    EXPECT_NE((co_await misuse_message(moved_done)).find("awaited a second time"),
              std::string::npos);
  }());
}

}  // namespace
