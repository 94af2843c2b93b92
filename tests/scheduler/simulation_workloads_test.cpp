// Workloads under the simulation flavour's seeds: each body runs on a fresh
// 2-worker simulation runtime per seed (1,000 seeds in the plain builds), so
// every one of its checks holds in every order those seeds pick — the orders
// a 2-core test machine rarely produces: a steal between two steps of the
// victim, a cancel between a wake and the resume, a timer firing between a
// send and the receive. A failure names the seed that replays it.
//
// These are the threaded stress tests' workloads (tests/sync/stress_test.cpp,
// the channel, bundle, dispatcher and cancellation tests), small enough per
// seed that the seeds, not the size, do the exploring.
#include <weft/channel.hpp>
#include <weft/dispatcher.hpp>
#include <weft/sync.hpp>
#include <weft/task_result_bundle.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/sim_support.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft_test::check;
using weft_test::expect_all_seeds_pass;

// The headline workload: spawn (from tasks and from the root),
// steal (64 tasks on 2 virtual workers), cancel (tokens and timeouts) — each
// task runs exactly once and every join gets its value or its error.
TEST(SimulationWorkloads, SpawnStealAndCancelUnderEverySeed) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    constexpr int n = 64;
    std::array<int, n> runs{};
    weft::cancellation_source stop;
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < n; ++i) {
      hs.push_back(weft::spawn([&runs, &stop, i]() -> task<int> {
        ++runs[i];
        for (int k = 0; k < i % 3; ++k) co_await weft::yield_now();
        if (i % 4 == 0) {
          auto child = weft::spawn([i]() -> task<int> { co_return i * 2; });
          check(co_await child == i * 2, "a child's join returned another value");
        }
        if (i % 2 == 1) {
          // Cancelled by the root at a virtual instant the sleeps straddle.
          auto r = co_await weft::with_cancellation(stop.token(), weft::sleep(1ms * (i % 7)));
          if (!r) check(r.error() == weft::errc::operation_canceled, "a cancel's error");
        }
        if (i % 6 == 2) {
          auto r = co_await weft::timeout(2ms, weft::sleep(1ms * (i % 5)));
          if (!r) check(r.error() == weft::errc::timed_out, "a timeout's error");
        }
        co_return i;
      }));
    }
    co_await weft::sleep(3ms);
    stop.cancel();
    for (int i = 0; i < n; ++i) check(co_await hs[i] == i, "a join returned another value");
    for (int i = 0; i < n; ++i) check(runs[i] == 1, "a task ran twice or never");
  });
}

// Sync: a semaphore never lets more than its permits in, a mutex never two
// holders, and no permit is lost when waiters time out or are cancelled
// (tests/sync/stress_test.cpp's invariants, on 2 virtual workers).
TEST(SimulationWorkloads, SemaphoreAndMutexKeepTheirCountsWhenWaitersTimeOut) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    weft::semaphore slots(3);
    weft::mutex m;
    int inside = 0;
    int max_inside = 0;
    int holders = 0;
    int done = 0;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 16; ++i) {
      hs.push_back(weft::spawn([&, i]() -> task<> {
        for (int round = 0; round < 3; ++round) {
          auto p = co_await weft::timeout(1ms * (1 + (i + round) % 4), slots.acquire());
          if (!p) continue;  // timed out while waiting: its place is withdrawn
          ++inside;
          max_inside = std::max(max_inside, inside);
          co_await weft::yield_now();
          {
            weft::mutex_guard g = co_await m.lock();
            check(++holders == 1, "two tasks hold the mutex");
            co_await weft::yield_now();
            --holders;
          }
          --inside;
        }
        ++done;
      }));
    }
    for (auto& h : hs) co_await h;
    check(done == 16, "a task did not finish");
    check(max_inside <= 3, "more tasks inside than permits");
    check(slots.try_acquire(3).has_value(), "a permit was lost");
    check(m.try_lock().has_value(), "the mutex stayed locked");
  });
}

// notify: a notify_one racing a waiter about to wait is never lost; the
// consumer ends having seen every item (the stress test's pattern).
TEST(SimulationWorkloads, NotifyLosesNoItemBetweenProducersAndAConsumer) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    weft::notify ready;
    std::vector<int> queue;
    int produced = 0;
    std::vector<weft::join_handle<void>> producers;
    for (int p = 0; p < 3; ++p) {
      producers.push_back(weft::spawn([&, p]() -> task<> {
        for (int k = 0; k < 10; ++k) {
          queue.push_back(p * 100 + k);
          ++produced;
          ready.notify_one();
          if ((k + p) % 3 == 0) co_await weft::yield_now();
        }
      }));
    }
    int consumed = 0;
    while (consumed < 30) {
      while (!queue.empty()) {
        queue.pop_back();
        ++consumed;
      }
      if (consumed < 30) co_await ready.notified();
    }
    for (auto& h : producers) co_await h;
    check(produced == 30 && consumed == 30, "an item was lost or invented");
  });
}

// Channels: bounded mpsc back-pressure with three producers keeps each
// producer's order and delivers every value once; a receiver cancelled by a
// timeout loses no value (it stays queued for the next recv).
TEST(SimulationWorkloads, MpscDeliversEveryValueOnceInPerProducerOrder) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    auto [tx, rx] = weft::mpsc::channel<int>(2);
    std::vector<weft::join_handle<void>> producers;
    for (int p = 0; p < 3; ++p) {
      producers.push_back(weft::spawn([p](weft::mpsc::sender<int> s) -> task<> {
        for (int k = 0; k < 12; ++k) {
          auto r = co_await s.send(p * 1000 + k);
          check(r.has_value(), "send failed while the receiver lives");
        }
      }, tx));
    }
    { auto dropped = std::move(tx); }  // only the producers' copies remain
    std::array<int, 3> next{};
    int received = 0;
    for (;;) {
      auto v = co_await weft::timeout(1ms, rx.recv());
      if (!v) continue;  // timed out: the value (if any) stays queued
      if (!*v) break;    // channel_closed: every sender gone, queue drained
      const int p = **v / 1000;
      check(**v % 1000 == next[p]++, "a producer's values arrived out of order");
      ++received;
    }
    for (auto& h : producers) co_await h;
    check(received == 36, "a value was lost or duplicated");
  });
}

// oneshot: a send racing the receiver's cancellation delivers the value,
// hands it back to the sender, or (sent after the cancel, before the
// receiver went) destroys it with the channel — exactly one of the three,
// and every value is destroyed once (no leak).
TEST(SimulationWorkloads, OneshotValueIsReceivedReturnedOrDroppedExactlyOnce) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    auto live = std::make_shared<int>(0);
    std::array<int, 12> fate{};  // per value: deliveries + returns
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 12; ++i) {
      auto [tx, rx] = weft::oneshot::channel<std::shared_ptr<int>>();
      weft::cancellation_source src;
      hs.push_back(weft::spawn(
          [&fate, i](weft::oneshot::receiver<std::shared_ptr<int>> r,
                     weft::cancellation_token tok) -> task<> {
            auto v = co_await weft::with_cancellation(std::move(tok), std::move(r));
            if (v && *v) ++fate[i];
          },
          std::move(rx), src.token()));
      hs.push_back(weft::spawn(
          [&fate, live, i](weft::oneshot::sender<std::shared_ptr<int>> s,
                           weft::cancellation_source c) -> task<> {
            if (i % 2 == 0) co_await weft::yield_now();
            if (i % 3 == 0) c.cancel();
            if (!s.send(live)) ++fate[i];  // handed back (and destroyed here)
            if (i % 3 == 1) c.cancel();
          },
          std::move(tx), std::move(src)));
    }
    for (auto& h : hs) co_await h;
    for (int i = 0; i < 12; ++i) check(fate[i] <= 1, "a oneshot value was delivered twice");
    check(live.use_count() == 1, "a oneshot value was never destroyed (a leak)");
  });
}

// task_result_bundle: join_all returns the values in spawn order, or the
// first failure with the rest cancelled; every task's frame is destroyed.
TEST(SimulationWorkloads, BundleJoinAllCancelsTheRestAtTheFirstFailure) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    auto alive = std::make_shared<int>(0);
    struct tracker {
      std::shared_ptr<int> n;
      explicit tracker(std::shared_ptr<int> p) : n(std::move(p)) { ++*n; }
      tracker(const tracker&) = delete;
      ~tracker() { --*n; }
    };
    for (int fail_at : {-1, 3}) {
      weft::task_result_bundle<int> bundle;
      for (int i = 0; i < 8; ++i) {
        bundle.spawn([alive, i, fail_at]() -> task<weft::result<int>> {
          tracker t(alive);
          for (int k = 0; k < i % 3; ++k) co_await weft::yield_now();
          if (i == fail_at) co_return weft::result<int>(std::make_error_code(std::errc::io_error));
          co_await weft::sleep(1ms * i);
          co_return i;
        });
      }
      auto all = co_await bundle.join_all();
      if (fail_at < 0) {
        check(all.has_value() && all->size() == 8, "join_all lost a value");
        for (int i = 0; i < 8; ++i) check((*all)[i] == i, "join_all reordered a value");
      } else {
        check(!all.has_value() && all.error() == std::errc::io_error, "the failure is lost");
      }
    }
    check(*alive == 0, "a bundle task's frame outlived join_all");
  });
}

// Dispatcher shutdown: every posted callback is called exactly once (ok or
// canceled), a synchronized dispatcher never runs two at once, and the
// shutdown observer is called once, after the last one.
TEST(SimulationWorkloads, DispatcherShutdownCallsEachCallbackOnceThenTheObserver) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    constexpr int n = 40;
    auto calls = std::make_shared<std::array<int, n>>();
    auto running = std::make_shared<int>(0);
    auto observed = std::make_shared<int>(0);
    auto after_observer = std::make_shared<int>(0);
    weft::event observer_called;
    {
      weft::dispatcher d = weft::dispatcher_builder{}
                               .name("sim")
                               .shutdown_observer([=, &observer_called](weft::dispatcher_ref) {
                                 ++*observed;
                                 observer_called.set();
                               })
                               .create();
      for (int i = 0; i < n; ++i) {
        (void)d.post_task([=](weft::status) {
          check(++*running == 1, "a synchronized dispatcher ran two callbacks at once");
          ++(*calls)[i];
          if (*observed != 0) ++*after_observer;
          --*running;
        });
        if (i == n / 2) co_await weft::yield_now();  // some run, the rest are queued
      }
    }  // ~dispatcher: shutdown begins; queued callbacks are canceled
    co_await observer_called.wait();
    for (int i = 0; i < n; ++i) check((*calls)[i] == 1, "a callback ran twice or never");
    check(*observed == 1, "the observer ran twice");
    check(*after_observer == 0, "a callback ran after the observer");
  });
}

// Cancellation: a token cancelled while tasks wait on a notify, a sleep or a
// join ends each wait with operation_canceled, and nothing it cancels leaks
// a waiter (a later notify_one still reaches a fresh waiter).
TEST(SimulationWorkloads, ATokenCancelsEveryKindOfWaitAndLeavesNoStaleWaiter) {
  expect_all_seeds_pass([](weft::runtime&) -> task<> {
    weft::notify n;
    weft::cancellation_source src;
    int canceled = 0;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 12; ++i) {
      hs.push_back(weft::spawn([&, i]() -> task<> {
        weft::result<void> r;
        switch (i % 3) {
          case 0:
            r = co_await weft::with_cancellation(src.token(), n.notified());
            break;
          case 1:
            r = co_await weft::with_cancellation(src.token(), weft::sleep(1h));
            break;
          default: {
            auto inner = weft::spawn([]() -> task<> { co_await weft::sleep(2h); });
            r = co_await weft::with_cancellation(src.token(), inner);
            break;
          }
        }
        if (!r) {
          check(r.error() == weft::errc::operation_canceled, "a cancel's error");
          ++canceled;
        }
      }));
    }
    co_await weft::yield_now();
    src.cancel();
    for (auto& h : hs) co_await h;
    check(canceled == 12, "a wait survived its token's cancel");
    auto fresh = weft::spawn([&]() -> task<> { co_await n.notified(); });
    co_await weft::yield_now();
    n.notify_one();
    co_await fresh;  // a stale waiter would absorb the notify: a stall
  });
}

}  // namespace
