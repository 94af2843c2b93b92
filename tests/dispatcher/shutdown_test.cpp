// weft::dispatcher shutdown: canceled callbacks, destroyed tasks, the
// observer, refusal after shutdown, runtime shutdown.
#include <weft/channel.hpp>
#include <weft/dispatcher.hpp>
#include <weft/runtime.hpp>

#include "dispatcher_support.hpp"
#include "support/flavors.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <latch>
#include <memory>
#include <thread>

namespace {

using dispatcher_test::chan;
using dispatcher_test::destroy_counter;
using dispatcher_test::observe_into;
using dispatcher_test::recv_on;

/// Per-callback call counts and the totals.
struct call_log {
  explicit call_log(std::size_t n) : calls(std::make_unique<std::atomic<int>[]>(n)), size(n) {}
  std::unique_ptr<std::atomic<int>[]> calls;
  std::size_t size;
  std::atomic<int> ok{0};
  std::atomic<int> canceled{0};
  std::atomic<int> observed{0};
  std::atomic<int> done_when_observed{-1};  // ok + canceled seen by the observer

  auto callback(std::size_t i) {
    return [this, i](weft::status s) {
      calls[i].fetch_add(1, std::memory_order_relaxed);
      (s.ok() ? ok : canceled).fetch_add(1, std::memory_order_relaxed);
    };
  }
  auto observer(weft::mpsc::unbounded_sender<int> tx) {
    return [this, tx](weft::dispatcher_ref) {
      observed.fetch_add(1, std::memory_order_relaxed);
      done_when_observed.store(ok.load() + canceled.load());
      (void)tx.send(1);
    };
  }
  void expect_each_called_once() const {
    for (std::size_t i = 0; i < size; ++i) {
      ASSERT_EQ(calls[i].load(), 1) << "callback " << i;
    }
    EXPECT_EQ(static_cast<std::size_t>(ok.load() + canceled.load()), size);
    EXPECT_EQ(observed.load(), 1);
    EXPECT_EQ(done_when_observed.load(), static_cast<int>(size));  // the observer came last
  }
};

/// The three kinds of dispatcher a blocked first callback can hold busy
/// without stalling the runtime: a synchronized one on a two-worker runtime,
/// and an allow_thread_blocking one on either flavour.
enum class kind { synchronized_two_workers, blocking_multi_thread, blocking_current_thread };

std::string kind_name(const ::testing::TestParamInfo<kind>& info) {
  switch (info.param) {
    case kind::synchronized_two_workers:
      return "synchronized_two_workers";
    case kind::blocking_multi_thread:
      return "blocking_multi_thread";
    case kind::blocking_current_thread:
      return "blocking_current_thread";
  }
  return "unknown";
}

class HeldDispatcher : public ::testing::TestWithParam<kind> {
 protected:
  weft::runtime rt =
      GetParam() == kind::blocking_current_thread
          ? weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build()
          : weft::runtime_builder{}.worker_threads(2).build();
  weft::dispatcher_builder builder() const {
    weft::dispatcher_builder b;
    b.name("held");
    if (GetParam() != kind::synchronized_two_workers) b.allow_thread_blocking();
    return b;
  }
};

TEST_P(HeldDispatcher, ShutdownCancelsEachQueuedCallbackOnceThenCallsTheObserverOnce) {
  constexpr std::size_t queued = 10'000;
  constexpr std::size_t n = queued + 1;  // and the one holding the dispatcher
  call_log log(n);
  chan<int> observed;
  std::latch running(1);
  std::latch release(1);
  {
    weft::dispatcher d = builder().shutdown_observer(log.observer(observed.tx)).create(rt);
    // The first callback holds the (synchronized) dispatcher busy...
    ASSERT_FALSE(d.post_task([&, first = log.callback(0)](weft::status s) {
      running.count_down();
      release.wait();
      first(s);
    }));
    running.wait();  // (a blocking dispatcher runs it on its own thread, any flavour)
    // ...while 10,000 more are queued behind it.
    for (std::size_t i = 1; i < n; ++i) ASSERT_FALSE(d.post_task(log.callback(i)));
  }  // the owner goes: shutdown begins while the first still runs
  release.count_down();
  EXPECT_EQ(recv_on(rt, observed.rx), 1);
  log.expect_each_called_once();
  EXPECT_EQ(log.ok.load(), 1);  // only the one that was running
  EXPECT_EQ(log.canceled.load(), static_cast<int>(queued));
}

weft::task<> wait_for_wake(weft::mpsc::receiver<int> rx, destroy_counter,
                           std::atomic<bool>* resumed) {
  auto v = co_await rx.recv();
  resumed->store(true);  // must never run: the dispatcher shut down before the wake
  (void)v;
}

TEST_P(HeldDispatcher, TaskWokenAfterShutdownIsDestroyedNotResumed) {
  std::atomic<int> destroyed{0};
  std::atomic<bool> resumed{false};
  chan<int> observed;
  chan<int> wake;
  std::latch holding(1);
  std::latch release(1);
  {
    weft::dispatcher d = builder().shutdown_observer(observe_into(observed.tx)).create(rt);
    ASSERT_FALSE(
        d.spawn_task(wait_for_wake(std::move(wake.rx), destroy_counter(&destroyed), &resumed)));
    // Queued after the task's first step: once it runs, the task is
    // suspended in recv().
    ASSERT_FALSE(d.post_task([&](weft::status) {
      holding.count_down();
      release.wait();
    }));
    holding.wait();
    d.shutdown();
    (void)wake.tx.send(7);  // wakes the task: queued on a dispatcher shutting down
    release.count_down();
    EXPECT_EQ(recv_on(rt, observed.rx), 1);
  }
  EXPECT_FALSE(resumed.load());
  EXPECT_EQ(destroyed.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Kinds, HeldDispatcher,
                         ::testing::Values(kind::synchronized_two_workers,
                                           kind::blocking_multi_thread,
                                           kind::blocking_current_thread),
                         kind_name);

class DispatcherShutdown : public weft_test::on_each_flavor {};

TEST_P(DispatcherShutdown, WaitingTaskIsDestroyedAtShutdownAndNeverResumed) {
  std::atomic<int> destroyed{0};
  std::atomic<bool> resumed{false};
  chan<int> observed;
  chan<int> wake;
  chan<int> after_first_step;
  weft::dispatcher d =
      weft::dispatcher_builder{}.shutdown_observer(observe_into(observed.tx)).create(rt);
  ASSERT_FALSE(
      d.spawn_task(wait_for_wake(std::move(wake.rx), destroy_counter(&destroyed), &resumed)));
  // Synchronized: this runs after the task's first step, which suspended it.
  ASSERT_FALSE(d.post_task([tx = after_first_step.tx](weft::status) { (void)tx.send(1); }));
  EXPECT_EQ(recv_on(rt, after_first_step.rx), 1);
  d.shutdown();
  (void)wake.tx.send(7);
  EXPECT_EQ(recv_on(rt, observed.rx), 1);
  EXPECT_FALSE(resumed.load());
  EXPECT_EQ(destroyed.load(), 1);
}

TEST_P(DispatcherShutdown, PostAndSpawnAfterShutdownAreRefusedAndNeverRun) {
  chan<int> observed;
  weft::dispatcher d =
      weft::dispatcher_builder{}.shutdown_observer(observe_into(observed.tx)).create(rt);
  weft::dispatcher_ref r = d.as_ref();
  d.shutdown();
  EXPECT_TRUE(d.is_shut_down());
  EXPECT_TRUE(r.is_shut_down());

  std::atomic<int> destroyed{0};
  std::atomic<bool> called{false};
  std::error_code ec = r.post_task([&called, c = std::make_shared<destroy_counter>(&destroyed)](
                                       weft::status) { called = true; });
  EXPECT_EQ(ec, weft::errc::dispatcher_shut_down);
  EXPECT_EQ(destroyed.load(), 1);  // the callable is destroyed at once, uncalled

  std::atomic<bool> resumed{false};
  chan<int> never;
  ec = d.spawn_task(wait_for_wake(std::move(never.rx), destroy_counter(&destroyed), &resumed));
  EXPECT_EQ(ec, weft::errc::dispatcher_shut_down);
  EXPECT_EQ(destroyed.load(), 2);  // the task is destroyed, never run

  EXPECT_EQ(recv_on(rt, observed.rx), 1);
  // And after the observer: the ref still works, and still refuses.
  EXPECT_EQ(r.post_task([&called](weft::status) { called = true; }),
            weft::errc::dispatcher_shut_down);
  EXPECT_FALSE(called.load());
  EXPECT_FALSE(resumed.load());
}

TEST_P(DispatcherShutdown, ObserverMayPostToAnotherDispatcher) {
  chan<weft::status> got;
  weft::dispatcher other = weft::dispatcher_builder{}.name("other").create(rt);
  {
    weft::dispatcher_ref other_ref = other.as_ref();
    weft::dispatcher d =
        weft::dispatcher_builder{}
            .name("first")
            .shutdown_observer([other_ref, tx = got.tx](weft::dispatcher_ref self) {
              EXPECT_EQ(self.name(), "first");
              const std::error_code ec =
                  other_ref.post_task([tx](weft::status s) { (void)tx.send(s); });
              EXPECT_FALSE(ec);
            })
            .create(rt);
  }
  EXPECT_TRUE(recv_on(rt, got.rx).ok());
}

TEST_P(DispatcherShutdown, ObserverMayCreateADispatcherAndPostToIt) {
  chan<weft::status> got;
  chan<weft::dispatcher> made;
  {
    weft::dispatcher d =
        weft::dispatcher_builder{}
            .name("first")
            .shutdown_observer([got_tx = got.tx, out = made.tx](weft::dispatcher_ref) {
              // On the finisher's worker: create() finds the runtime there.
              weft::dispatcher next = weft::dispatcher_builder{}.name("successor").create();
              EXPECT_FALSE(next.post_task([got_tx](weft::status s) { (void)got_tx.send(s); }));
              (void)out.send(std::move(next));
            })
            .create(rt);
  }
  EXPECT_TRUE(recv_on(rt, got.rx).ok());
  weft::dispatcher next = recv_on(rt, made.rx);
  EXPECT_EQ(next.name(), "successor");
}

TEST_P(DispatcherShutdown, ReleasedDispatcherIsShutDownByRuntimeShutdown) {
  constexpr std::size_t n = 100;
  call_log log(n);
  chan<int> observed;
  std::atomic<int> destroyed{0};
  std::atomic<bool> resumed{false};
  chan<int> never;  // its sender outlives the runtime: the task waits forever
  const bool current = GetParam() == weft::runtime_flavor::current_thread;
  weft::dispatcher_ref r = weft::dispatcher_builder{}
                               .name("released")
                               .shutdown_observer(log.observer(observed.tx))
                               .create_released(rt);
  ASSERT_FALSE(
      r.spawn_task(wait_for_wake(std::move(never.rx), destroy_counter(&destroyed), &resumed)));
  for (std::size_t i = 0; i < n; ++i) ASSERT_FALSE(r.post_task(log.callback(i)));
  { weft::runtime dying(std::move(rt)); }  // shuts down the runtime, and the dispatcher
  EXPECT_TRUE(r.is_shut_down());
  log.expect_each_called_once();
  // A current-thread runtime never ran the dispatcher before its shutdown.
  if (current) {
    EXPECT_EQ(log.canceled.load(), static_cast<int>(n));
  }
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_FALSE(resumed.load());
  EXPECT_EQ(r.post_task([](weft::status) {}), weft::errc::dispatcher_shut_down);
}

INSTANTIATE_TEST_SUITE_P(Flavors, DispatcherShutdown, weft_test::each_flavor(),
                         weft_test::flavor_name);

TEST(DispatcherShutdownByRuntime, PumpDestroyedByRuntimeShutdownStillCancelsEveryCallbackOnce) {
  // A current-thread runtime that does not wait at shutdown: the pump never
  // runs; shutdown destroys it, and its guard finishes the dispatcher inline
  // on this thread.
  constexpr std::size_t n = 1'000;
  call_log log(n);
  chan<int> observed;
  std::atomic<int> destroyed{0};
  std::atomic<bool> resumed{false};
  std::thread::id observer_thread;
  chan<int> never;
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .shutdown_timeout(std::chrono::milliseconds(0))
                         .build();
  auto observe = log.observer(observed.tx);
  weft::dispatcher_ref r =
      weft::dispatcher_builder{}
          .shutdown_observer([&observer_thread, observe](weft::dispatcher_ref s) {
            observer_thread = std::this_thread::get_id();
            observe(std::move(s));
          })
          .create_released(rt);
  ASSERT_FALSE(
      r.spawn_task(wait_for_wake(std::move(never.rx), destroy_counter(&destroyed), &resumed)));
  for (std::size_t i = 0; i < n; ++i) ASSERT_FALSE(r.post_task(log.callback(i)));
  { weft::runtime dying(std::move(rt)); }
  log.expect_each_called_once();
  EXPECT_EQ(log.canceled.load(), static_cast<int>(n));
  EXPECT_EQ(observer_thread, std::this_thread::get_id());
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_FALSE(resumed.load());
}

}  // namespace
