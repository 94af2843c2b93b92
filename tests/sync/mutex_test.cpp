// weft::mutex and weft::shared_mutex on both runtime flavours: fairness,
// exclusion, direct hand-off, misuse.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "support/flavors.hpp"
#include "sync_support.hpp"

namespace {

using weft::task;
using weft::detail::waiter_count;
using sync_test::wait_until;

class Mutex : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Mutex, weft_test::each_flavor(), weft_test::flavor_name);

class SharedMutex : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, SharedMutex, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Mutex, LockCompletesAtOnceWhenFreeAndTheGuardUnlocks) {
  weft::mutex m;
  rt.block_on([&]() -> task<> {
    weft::mutex_guard g = co_await m.lock();
    EXPECT_TRUE(g.owns_lock());
    EXPECT_FALSE(m.try_lock().has_value());
    g.unlock();
    EXPECT_FALSE(g.owns_lock());
    std::optional<weft::mutex_guard> again = m.try_lock();
    EXPECT_TRUE(again.has_value());
  }());
  EXPECT_TRUE(m.try_lock().has_value());
}

TEST_P(Mutex, UnlockingAnEmptyGuardThrows) {
  weft::mutex m;
  weft::mutex_guard empty;
  EXPECT_FALSE(empty.owns_lock());
  EXPECT_THROW(empty.unlock(), std::system_error);
  weft::mutex_guard g = *m.try_lock();
  g.unlock();
  EXPECT_THROW(g.unlock(), std::system_error);  // twice
  weft::mutex_guard moved_to = *m.try_lock();
  weft::mutex_guard moved_from_holder = std::move(moved_to);
  EXPECT_THROW(moved_to.unlock(), std::system_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(moved_from_holder.owns_lock());
}

TEST_P(Mutex, MoveAssigningAGuardUnlocksWhatItHeld) {
  weft::mutex a;
  weft::mutex b;
  weft::mutex_guard ga = *a.try_lock();
  weft::mutex_guard gb = *b.try_lock();
  ga = std::move(gb);  // a unlocked, ga now holds b
  EXPECT_TRUE(a.try_lock().has_value());
  EXPECT_FALSE(b.try_lock().has_value());
  ga = weft::mutex_guard{};
  EXPECT_TRUE(b.try_lock().has_value());
}

TEST_P(Mutex, UnlockHandsTheLockToTheWaiterSoTryLockCannotBarge) {
  weft::mutex m;
  weft::event release;
  rt.block_on([&]() -> task<> {
    weft::mutex_guard g = co_await m.lock();
    auto waiter = weft::spawn([&]() -> task<> {
      weft::mutex_guard mine = co_await m.lock();
      co_await release.wait();  // hold it until the test has looked
    });
    co_await wait_until([&] { return waiter_count(m) == 1; });
    EXPECT_FALSE(m.try_lock().has_value());  // a waiter is queued
    g.unlock();                              // handed over, not freed
    EXPECT_FALSE(m.try_lock().has_value());
    release.set();
    co_await waiter;
    EXPECT_TRUE(m.try_lock().has_value());
  }());
}

TEST_P(Mutex, HandsTheLockToWaitersInArrivalOrder) {
  weft::mutex m;
  std::vector<int> order;
  rt.block_on([&]() -> task<> {
    weft::mutex_guard g = co_await m.lock();
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 6; ++i) {
      hs.push_back(weft::spawn([&m, &order, i]() -> task<> {
        weft::mutex_guard mine = co_await m.lock();
        order.push_back(i);  // under the lock
      }));
      // Queue them one at a time, so the arrival order is known.
      co_await wait_until([&] { return waiter_count(m) == static_cast<std::size_t>(i) + 1; });
    }
    g.unlock();
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST_P(Mutex, IsRoundRobinFairUnderEightContendingTasks) {
  // Eight tasks take the lock kRounds times each. The holder waits (without
  // releasing) until every other task that still has rounds left is queued,
  // so each re-lock is queued before the next hand-off on both flavours.
  // FIFO then forces strict round-robin: the acquisition sequence repeats
  // the first eight (the arrival order) exactly.
  static constexpr int kTasks = 8;
  static constexpr int kRounds = 50;
  weft::mutex m;
  std::vector<int> seq;
  std::array<int, kTasks> done{};
  rt.block_on([&]() -> task<> {
    weft::mutex_guard g = co_await m.lock();
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < kTasks; ++t) {
      hs.push_back(weft::spawn([&m, &seq, &done, t]() -> task<> {
        for (int r = 0; r < kRounds; ++r) {
          weft::mutex_guard mine = co_await m.lock();
          seq.push_back(t);
          ++done[t];
          std::size_t others_left = 0;
          for (int o = 0; o < kTasks; ++o) {
            if (o != t && done[o] < kRounds) ++others_left;
          }
          co_await wait_until([&] { return waiter_count(m) == others_left; });
        }
      }));
      co_await wait_until([&] { return waiter_count(m) == static_cast<std::size_t>(t) + 1; });
    }
    g.unlock();
    for (auto& h : hs) co_await h;
  }());
  ASSERT_EQ(seq.size(), static_cast<std::size_t>(kTasks * kRounds));
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(seq[i], i) << "first round: arrival order";
  for (std::size_t i = kTasks; i < seq.size(); ++i) {
    ASSERT_EQ(seq[i], seq[i - kTasks]) << "not round-robin at acquisition " << i;
  }
}

TEST_P(Mutex, ExcludesAcrossWorkersEvenWhenTheHolderSuspends) {
  static constexpr int kTasks = 6;
  static constexpr int kIters = 2000;
  weft::mutex m;
  long counter = 0;  // deliberately not atomic: the mutex protects it
  std::atomic<int> inside{0};
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < kTasks; ++t) {
      hs.push_back(weft::spawn([&, t]() -> task<> {
        for (int i = 0; i < kIters; ++i) {
          weft::mutex_guard g = co_await m.lock();
          EXPECT_EQ(inside.fetch_add(1), 0);
          long v = counter;
          if ((i + t) % 7 == 0) co_await weft::yield_now();  // suspend while holding it
          counter = v + 1;
          inside.fetch_sub(1);
        }
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(counter, static_cast<long>(kTasks) * kIters);
}

TEST_P(Mutex, AGuardUnlockedOnAPlainThreadWakesTheWaiter) {
  weft::mutex m;
  std::optional<weft::mutex_guard> held = m.try_lock();
  ASSERT_TRUE(held.has_value());
  std::thread unlocker;
  rt.block_on([&]() -> task<> {
    auto waiter = weft::spawn([&]() -> task<int> {
      weft::mutex_guard g = co_await m.lock();
      co_return 7;
    });
    co_await wait_until([&] { return waiter_count(m) == 1; });
    unlocker = std::thread([g = std::move(*held)]() mutable { g.unlock(); });
    EXPECT_EQ(co_await waiter, 7);
  }());
  unlocker.join();
  EXPECT_TRUE(m.try_lock().has_value());
}

TEST(MutexStandaloneBlockOn, WaitsWorkUnderWeftBlockOnWithAPlainThreadReleasing) {
  weft::mutex m;
  weft::notify n;
  std::optional<weft::mutex_guard> g = m.try_lock();
  std::thread releaser([&] {
    while (waiter_count(m) == 0) std::this_thread::yield();  // until the task queued
    g.reset();
    while (waiter_count(n) == 0) std::this_thread::yield();
    n.notify_one();
  });
  weft::block_on([&]() -> task<> {
    weft::mutex_guard mine = co_await m.lock();
    co_await n.notified();
  }());
  releaser.join();
  EXPECT_TRUE(m.try_lock().has_value());
}

// ---- shared_mutex -------------------------------------------------------------

TEST_P(SharedMutex, ReadersHoldTheLockTogether) {
  // Each reader waits, while holding its shared lock, until every reader has
  // arrived: that can only complete if all hold it at the same time.
  static constexpr int kReaders = 5;
  weft::shared_mutex rw;
  weft::latch all_in(kReaders);
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < kReaders; ++i) {
      hs.push_back(weft::spawn([&]() -> task<> {
        weft::shared_guard r = co_await rw.lock_shared();
        EXPECT_FALSE(rw.try_lock().has_value());
        co_await all_in.arrive_and_wait();
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_TRUE(rw.try_lock().has_value());
}

TEST_P(SharedMutex, AWriterExcludesReadersAndWritersAndTheyQueueInOrder) {
  weft::shared_mutex rw;
  std::vector<char> order;
  rt.block_on([&]() -> task<> {
    weft::unique_guard w = co_await rw.lock();
    EXPECT_FALSE(rw.try_lock_shared().has_value());
    EXPECT_FALSE(rw.try_lock().has_value());
    auto reader = weft::spawn([&]() -> task<> {
      weft::shared_guard r = co_await rw.lock_shared();
      order.push_back('r');
    });
    co_await wait_until([&] { return waiter_count(rw) == 1; });
    auto writer = weft::spawn([&]() -> task<> {
      weft::unique_guard w2 = co_await rw.lock();
      order.push_back('w');
    });
    co_await wait_until([&] { return waiter_count(rw) == 2; });
    w.unlock();
    co_await reader;
    co_await writer;
  }());
  EXPECT_EQ(order, (std::vector<char>{'r', 'w'}));
  EXPECT_TRUE(rw.try_lock().has_value());
}

TEST_P(SharedMutex, AQueuedWriterIsNotStarvedByLaterReaders) {
  weft::shared_mutex rw;
  std::vector<char> order;
  std::mutex order_mu;
  std::atomic<int> readers_in{0};
  rt.block_on([&]() -> task<> {
    weft::shared_guard first = co_await rw.lock_shared();
    auto writer = weft::spawn([&]() -> task<> {
      weft::unique_guard w = co_await rw.lock();
      EXPECT_EQ(readers_in.load(), 0);
      order.push_back('w');
    });
    co_await wait_until([&] { return waiter_count(rw) == 1; });
    // The lock is only read-held, yet later readers must queue behind the writer.
    EXPECT_FALSE(rw.try_lock_shared().has_value());
    std::vector<weft::join_handle<void>> readers;
    for (int i = 0; i < 3; ++i) {
      readers.push_back(weft::spawn([&]() -> task<> {
        weft::shared_guard r = co_await rw.lock_shared();
        readers_in.fetch_add(1);
        {
          std::lock_guard<std::mutex> lk(order_mu);  // readers run in parallel
          order.push_back('r');
        }
        readers_in.fetch_sub(1);
      }));
      co_await wait_until([&] { return waiter_count(rw) == static_cast<std::size_t>(i) + 2; });
    }
    first.unlock();
    co_await writer;
    for (auto& h : readers) co_await h;
  }());
  EXPECT_EQ(order, (std::vector<char>{'w', 'r', 'r', 'r'}));
}

TEST_P(SharedMutex, ReadersAndWritersNeverOverlapUnderContention) {
  static constexpr int kTasks = 6;
  static constexpr int kIters = 1500;
  weft::shared_mutex rw;
  std::atomic<int> readers{0};
  std::atomic<int> writers{0};
  std::atomic<long> max_readers{0};
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < kTasks; ++t) {
      hs.push_back(weft::spawn([&, t]() -> task<> {
        sync_test::rng r(static_cast<std::uint64_t>(t) + 1);
        for (int i = 0; i < kIters; ++i) {
          if (r.below(4) == 0) {
            weft::unique_guard w = co_await rw.lock();
            EXPECT_EQ(writers.fetch_add(1), 0);
            EXPECT_EQ(readers.load(), 0);
            if (r.below(3) == 0) co_await weft::yield_now();
            writers.fetch_sub(1);
          } else {
            weft::shared_guard g = co_await rw.lock_shared();
            long now = readers.fetch_add(1) + 1;
            long seen = max_readers.load();
            while (now > seen && !max_readers.compare_exchange_weak(seen, now)) {
            }
            EXPECT_EQ(writers.load(), 0);
            if (r.below(3) == 0) co_await weft::yield_now();
            readers.fetch_sub(1);
          }
        }
      }));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_TRUE(rw.try_lock().has_value());
}

TEST_P(SharedMutex, EmptyGuardsThrowOnUnlock) {
  weft::unique_guard u;
  weft::shared_guard s;
  EXPECT_THROW(u.unlock(), std::system_error);
  EXPECT_THROW(s.unlock(), std::system_error);
}

}  // namespace
