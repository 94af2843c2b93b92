// weft::block_on without a runtime, and the four bugs of "extreme" as
// regression tests (docs/design.md explains each).
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <coroutine>
#include <thread>
#include <vector>

#include "support/lifetime.hpp"

namespace {

/// A leaf awaitable whose waker is handed to the test, which fires it from
/// wherever it likes. The result is written before the wake.
struct manual_event {
  weft::waker w;
  std::atomic<bool> ready{false};

  struct awaiter {
    manual_event& ev;
    bool await_ready() const noexcept { return ev.ready.load(std::memory_order_acquire); }
    void await_suspend(std::coroutine_handle<> h) { ev.w = weft::suspend_current(h); }
    void await_resume() const noexcept {}
  };
  awaiter operator co_await() noexcept { return awaiter{*this}; }
};

/// Suspends, hands its waker to a thread that wakes it once, and resumes.
struct wake_from_thread {
  std::thread* t;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    weft::waker w = weft::suspend_current(h);
    *t = std::thread([w = std::move(w)] { w.wake(); });
  }
  void await_resume() const noexcept {}
};

TEST(BlockOn, RunsAReadyTaskToCompletion) {
  EXPECT_EQ(weft::block_on([]() -> weft::task<int> { co_return 5; }()), 5);
}

TEST(BlockOn, ParksUntilWokenFromAnotherThread) {
  std::thread t;
  weft::block_on([&]() -> weft::task<> { co_await wake_from_thread{&t}; }());
  t.join();
}

TEST(BlockOn, AcceptsAnLvalueAwaitable) {
  auto t = []() -> weft::task<int> { co_return 8; }();
  EXPECT_EQ(weft::block_on(t), 8);
}

// Bug 1 of "extreme": a waker kept and woken after the runner returned was a
// use-after-free of the runner's stack. Here the kept waker outlives block_on
// and is woken (and dropped) afterwards; ASan reports any stale access.
TEST(BlockOnRegression, WakerWokenAfterRunnerReturnedIsHarmless) {
  weft::waker kept;
  std::thread t;
  weft::block_on([&]() -> weft::task<> {
    struct keep {
      weft::waker* out;
      std::thread* t;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        weft::waker w = weft::suspend_current(h);
        *out = w;  // a clone that outlives the runner
        *t = std::thread([w = std::move(w)] { w.wake(); });
      }
      void await_resume() const noexcept {}
    };
    co_await keep{&kept, &t};
  }());
  t.join();
  ASSERT_TRUE(static_cast<bool>(kept));
  kept.wake();  // the task is complete: a no-op on a live header
  kept.wake();
  weft::waker copy = kept;
  kept = weft::waker{};
  copy.wake();
}

// Bug 2: a reference-count slip in waker clone freed the runner early. Clone
// and drop a waker many times from many threads while the task waits; the
// count must come out exact (ASan/LSan catch an early free or a leak).
TEST(BlockOnRegression, WakerClonedAndDroppedFromManyThreads) {
  manual_event ev;
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  weft::block_on([&]() -> weft::task<> {
    struct start_cloners {
      manual_event& ev;
      std::vector<std::thread>& threads;
      std::atomic<int>& done;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        ev.w = weft::suspend_current(h);
        for (int i = 0; i < 8; ++i) {
          threads.emplace_back([&, w = ev.w] {
            for (int j = 0; j < 10'000; ++j) {
              weft::waker a = w;
              weft::waker b = std::move(a);
              weft::waker c;
              c = b;
            }
            if (done.fetch_add(1) + 1 == 8) w.wake();  // the last one wakes
          });
        }
      }
      void await_resume() const noexcept {}
    };
    co_await start_cloners{ev, threads, done};
  }());
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 8);
}

// Bug 3: parking with a thread-global park token raced with other code that
// parks the same thread. weft's runner parks on its own futex word, and a
// wake that is unrelated (a stale waker from an earlier suspension) or
// spurious (a second wake of the same waker) never resumes the task at a
// point whose operation has not completed.
TEST(BlockOnRegression, StaleAndSpuriousWakesDoNotResumeEarly) {
  manual_event first;
  manual_event second;
  std::thread t;
  int stage = 0;
  weft::block_on([&]() -> weft::task<> {
    co_await wake_from_thread{&t};  // a real wait first
    t.join();
    stage = 1;
    struct complete_later {
      manual_event& ev;
      std::thread& t;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        ev.w = weft::suspend_current(h);
        t = std::thread([&e = ev] {
          e.ready.store(true, std::memory_order_release);
          e.w.wake();
        });
      }
      void await_resume() const noexcept {}
    };
    co_await complete_later{first, t};
    t.join();
    stage = 2;
    // Now suspend on `second` and fire the *stale* waker of `first` plus a
    // duplicate: neither may resume us; only second's own wake does.
    struct stale_then_real {
      manual_event& old_ev;
      manual_event& ev;
      std::thread& t;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        ev.w = weft::suspend_current(h);
        old_ev.w.wake();  // stale: an earlier suspension point
        old_ev.w.wake();
        // Capture the events, not `this`: the awaiter dies with the frame
        // as soon as the task resumes and finishes.
        t = std::thread([&old = old_ev, &e = ev] {
          old.w.wake();  // stale, from another thread too
          e.ready.store(true, std::memory_order_release);
          e.w.wake();
          e.w.wake();  // spurious duplicate: idempotent
        });
      }
      void await_resume() const noexcept {
        // Resumed only after the real completion.
        EXPECT_TRUE(ev.ready.load(std::memory_order_acquire));
      }
    };
    co_await stale_then_real{first, second, t};
    stage = 3;
  }());
  t.join();
  EXPECT_EQ(stage, 3);
}

}  // namespace

namespace {

// Bug 4: a pinning mistake let the future be polled after it was moved or
// consumed. In weft the root's outcome is taken exactly once: awaiting the
// join handle of a finished task a second time is refused with a clear error,
// and the root of block_on is released after its single take.
TEST(BlockOnRegression, ResultIsConsumedExactlyOnce) {
  weft_test::counters c;
  auto make = [&]() -> weft::task<weft_test::tracked> { co_return weft_test::tracked{c}; };
  {
    weft_test::tracked r = weft::block_on(make());
    EXPECT_EQ(c.alive.load(), 1);  // exactly one live result: moved out, not copied
  }
  EXPECT_EQ(c.alive.load(), 0);
}

TEST(BlockOn, NestedBlockOnIsRefused) {
  bool refused = false;
  weft::block_on([&]() -> weft::task<> {
    try {
      weft::block_on([]() -> weft::task<> { co_return; }());
    } catch (const std::system_error& e) {
      refused = e.code() == weft::errc::nested_runtime;
    }
    co_return;
  }());
  EXPECT_TRUE(refused);
}

TEST(BlockOn, EveryRunnerRefusesToStartInsideAnother) {
  // weft::block_on, a current-thread runtime's block_on and a multi-thread
  // runtime's block_on, each started inside each runner: one loop per thread.
  auto current = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  auto other_current =
      weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  auto multi = weft::runtime_builder{}.worker_threads(1).build();
  auto noop = []() -> weft::task<> { co_return; };
  auto refused = [&](auto&& start_inner) {
    try {
      start_inner();
    } catch (const std::system_error& e) {
      return e.code() == weft::errc::nested_runtime;
    }
    return false;
  };
  auto inner_runners = [&]() -> weft::task<int> {
    int n = 0;
    n += refused([&] { weft::block_on(noop()); });
    n += refused([&] { other_current.block_on(noop()); });
    n += refused([&] { multi.block_on(noop()); });
    co_return n;
  };
  EXPECT_EQ(weft::block_on(inner_runners()), 3);
  EXPECT_EQ(current.block_on(inner_runners()), 3);
  EXPECT_EQ(multi.block_on(inner_runners()), 3);  // on a worker
  // Each runner still works afterwards.
  current.block_on(noop());
  other_current.block_on(noop());
  multi.block_on(noop());
}

TEST(BlockOn, SleepWithoutARuntimeSaysSo) {
  try {
    weft::block_on(weft::sleep(std::chrono::hours(1)));  // not yet due: it must register
    FAIL() << "expected no_runtime";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::no_runtime);
    EXPECT_NE(std::string(e.what()).find("runtime"), std::string::npos);
  }
}

TEST(BlockOn, ForeignAwaitableOutsideATaskIsRefused) {
  struct leaf {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { (void)weft::suspend_current(h); }
    void await_resume() const noexcept {}
  };
  // Not inside a weft task: suspend_current has nothing to suspend.
  EXPECT_THROW((void)weft::suspend_current(std::noop_coroutine()), std::system_error);
}

}  // namespace
