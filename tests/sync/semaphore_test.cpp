// weft::semaphore on both runtime flavours: FIFO with large requests,
// permits conserved, limits, release from plain threads.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/flavors.hpp"
#include "sync_support.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::waiter_count;
using sync_test::wait_until;

class Semaphore : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Semaphore, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Semaphore, AcquireTakesPermitsAndThePermitGivesThemBack) {
  weft::semaphore s(5);
  rt.block_on([&]() -> task<> {
    weft::semaphore_permit p = co_await s.acquire(3);
    EXPECT_EQ(p.count(), 3u);
    EXPECT_EQ(s.available(), 2u);
    {
      weft::semaphore_permit q = co_await s.acquire();
      EXPECT_EQ(q.count(), 1u);
      EXPECT_EQ(s.available(), 1u);
    }
    EXPECT_EQ(s.available(), 2u);
    EXPECT_FALSE(s.try_acquire(3).has_value());
    std::optional<weft::semaphore_permit> two = s.try_acquire(2);
    EXPECT_TRUE(two.has_value());
    EXPECT_EQ(s.available(), 0u);
  }());
  EXPECT_EQ(s.available(), 5u);
}

TEST_P(Semaphore, ForgetDropsThePermitsForGood) {
  weft::semaphore s(3);
  {
    weft::semaphore_permit p = *s.try_acquire(2);
    p.forget();
    EXPECT_EQ(p.count(), 0u);
  }
  EXPECT_EQ(s.available(), 1u);
  s.release(2);
  EXPECT_EQ(s.available(), 3u);
}

TEST_P(Semaphore, ServesALargeHeadRequestBeforeLaterSmallOnes) {
  weft::semaphore s(2);
  std::vector<char> order;
  rt.block_on([&]() -> task<> {
    weft::semaphore_permit held = co_await s.acquire(2);
    auto big = weft::spawn([&]() -> task<> {
      weft::semaphore_permit p = co_await s.acquire(5);
      order.push_back('B');
    });
    co_await wait_until([&] { return waiter_count(s) == 1; });
    auto small = weft::spawn([&]() -> task<> {
      weft::semaphore_permit p = co_await s.acquire(1);
      order.push_back('s');
    });
    co_await wait_until([&] { return waiter_count(s) == 2; });
    held = weft::semaphore_permit{};  // 2 free: enough for `small`, not for `big`
    s.release(2);                     // 4 free: still not enough for `big`
    EXPECT_EQ(s.available(), 4u);     // reserved for the head
    EXPECT_FALSE(s.try_acquire(1).has_value());
    EXPECT_EQ(waiter_count(s), 2u);  // `small` did not overtake
    EXPECT_TRUE(order.empty());
    s.release(1);  // 5: `big` first, then `small` once `big` gives them back
    co_await big;
    co_await small;
  }());
  EXPECT_EQ(order, (std::vector<char>{'B', 's'}));
  EXPECT_EQ(s.available(), 5u);
}

TEST_P(Semaphore, ReleaseWakesManyWaitersInOrderBeyondOneWakeBatch) {
  static constexpr int kWaiters = 100;  // more than wake_batch::capacity: woken in rounds
  weft::semaphore s(0);
  std::vector<int> order;
  weft::mutex order_mu;
  rt.block_on([&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < kWaiters; ++i) {
      hs.push_back(weft::spawn([&, i]() -> task<> {
        weft::semaphore_permit p = co_await s.acquire();
        p.forget();
        weft::mutex_guard g = co_await order_mu.lock();
        order.push_back(i);
      }));
      co_await wait_until([&] { return waiter_count(s) == static_cast<std::size_t>(i) + 1; });
    }
    s.release(kWaiters);
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(order.size(), static_cast<std::size_t>(kWaiters));
  EXPECT_EQ(s.available(), 0u);
}

TEST_P(Semaphore, ReleaseFromAPlainThreadWakesTheWaiter) {
  weft::semaphore s(0);
  std::thread releaser;
  rt.block_on([&]() -> task<> {
    auto waiter = weft::spawn([&]() -> task<std::size_t> {
      weft::semaphore_permit p = co_await s.acquire(3);
      co_return p.count();
    });
    co_await wait_until([&] { return waiter_count(s) == 1; });
    releaser = std::thread([&] {
      s.release(1);
      s.release(2);
    });
    EXPECT_EQ(co_await waiter, 3u);
  }());
  releaser.join();
  EXPECT_EQ(s.available(), 3u);
}

TEST_P(Semaphore, RejectsRequestsItCouldNeverGrant) {
  constexpr std::size_t max = weft::semaphore::max_permits;
  EXPECT_THROW(weft::semaphore{max + 1}, std::invalid_argument);
  weft::semaphore s(1);
  EXPECT_THROW((void)s.acquire(max + 1), std::invalid_argument);
  EXPECT_THROW((void)s.try_acquire(max + 1), std::invalid_argument);
  EXPECT_THROW(s.release(max), std::overflow_error);
  EXPECT_EQ(s.available(), 1u);  // the failed release added nothing
  s.release(max - 1);
  EXPECT_EQ(s.available(), max);
}

TEST_P(Semaphore, AcquireOfZeroWaitsOnlyForEarlierWaiters) {
  weft::semaphore s(0);
  rt.block_on([&]() -> task<> {
    weft::semaphore_permit none = co_await s.acquire(0);
    EXPECT_EQ(none.count(), 0u);
    auto one = weft::spawn([&]() -> task<> { (co_await s.acquire(1)).forget(); });
    co_await wait_until([&] { return waiter_count(s) == 1; });
    auto zero = weft::spawn([&]() -> task<> { auto p = co_await s.acquire(0); });
    co_await wait_until([&] { return waiter_count(s) == 2; });
    s.release(1);
    co_await one;
    co_await zero;
  }());
}

TEST_P(Semaphore, PermitsAreConservedUnderRandomAcquireAndCancel) {
  // Tasks acquire random amounts, some under a token that another task
  // cancels at random moments, some under short timeouts; holders release
  // after random yields. Every cancellation (before, while queued, or racing
  // a grant) must leave the count exactly as it started.
  static constexpr std::size_t kPermits = 6;
  static constexpr int kTasks = 6;
  static constexpr int kIters = 400;
  weft::semaphore s(kPermits);
  std::atomic<int> held{0};
  std::atomic<int> cancelled{0};
  std::atomic<bool> stop_cancelling{false};
  rt.block_on([&]() -> task<> {
    weft::cancellation_source current;
    weft::mutex src_mu;  // guards `current`
    auto canceller = weft::spawn([&]() -> task<> {
      sync_test::rng r(99);
      while (!stop_cancelling.load()) {
        {
          weft::mutex_guard g = co_await src_mu.lock();
          if (r.below(2) == 0) {
            current.cancel();
            current = weft::cancellation_source{};
          }
        }
        co_await weft::yield_now();
      }
    });
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < kTasks; ++t) {
      hs.push_back(weft::spawn([&, t]() -> task<> {
        sync_test::rng r(static_cast<std::uint64_t>(t) + 7);
        for (int i = 0; i < kIters; ++i) {
          const std::size_t n = 1 + r.below(kPermits);
          std::optional<weft::semaphore_permit> p;
          switch (r.below(3)) {
            case 0: {
              p = co_await s.acquire(n);
              break;
            }
            case 1: {
              weft::cancellation_token tok;
              {
                weft::mutex_guard g = co_await src_mu.lock();
                tok = current.token();
              }
              auto res = co_await weft::with_cancellation(tok, s.acquire(n));
              if (res) {
                p = std::move(*res);
              } else {
                cancelled.fetch_add(1);
              }
              break;
            }
            default: {
              auto res = co_await weft::timeout(std::chrono::microseconds(r.below(200)), s.acquire(n));
              if (res) {
                p = std::move(*res);
              } else {
                cancelled.fetch_add(1);
              }
              break;
            }
          }
          if (p) {
            EXPECT_EQ(p->count(), n);
            EXPECT_LE(held.fetch_add(static_cast<int>(n)) + static_cast<int>(n),
                      static_cast<int>(kPermits));
            for (std::uint64_t y = r.below(3); y > 0; --y) co_await weft::yield_now();
            held.fetch_sub(static_cast<int>(n));
          }
        }
      }));
    }
    for (auto& h : hs) co_await h;
    stop_cancelling.store(true);
    co_await canceller;
  }());
  EXPECT_EQ(s.available(), kPermits);
  EXPECT_EQ(waiter_count(s), 0u);
  EXPECT_GT(cancelled.load(), 0);
}

}  // namespace
