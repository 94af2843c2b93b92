// The runtime: its builder, misuse errors, shutdown, and stress across threads.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/lifetime.hpp"

namespace {

using namespace std::chrono_literals;

void expect_error(weft::errc code, auto&& fn) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_GT(std::string(e.what()).size(), 20u) << "the message should say what to do";
  }
}

TEST(RuntimeBuilder, RejectsInvalidSettingsAtTheSetter) {
  expect_error(weft::errc::invalid_builder_setting, [] { weft::runtime_builder{}.worker_threads(0); });
  expect_error(weft::errc::invalid_builder_setting,
               [] { weft::runtime_builder{}.worker_threads(100'000); });
  expect_error(weft::errc::invalid_builder_setting,
               [] { weft::runtime_builder{}.max_blocking_threads(0); });
  expect_error(weft::errc::invalid_builder_setting,
               [] { weft::runtime_builder{}.thread_name_prefix(""); });
  expect_error(weft::errc::invalid_builder_setting,
               [] { weft::runtime_builder{}.event_interval(0); });
  expect_error(weft::errc::invalid_builder_setting,
               [] { weft::runtime_builder{}.shutdown_timeout(-1ms); });
}

TEST(RuntimeBuilder, RejectsWorkerThreadsWithTheCurrentThreadFlavor) {
  expect_error(weft::errc::invalid_builder_setting, [] {
    (void)weft::runtime_builder{}
        .worker_threads(4)
        .flavor(weft::runtime_flavor::current_thread)
        .build();
  });
}

TEST(RuntimeBuilder, NamesWorkerThreadsAndRunsThreadHooks) {
  std::mutex mu;
  std::set<std::string> names;
  std::atomic<int> started{0}, stopped{0};
  {
    auto rt = weft::runtime_builder{}
                  .worker_threads(2)
                  .thread_name_prefix("wt")
                  .on_thread_start([&] {
                    started.fetch_add(1);
                    char buf[16] = {};
                    pthread_getname_np(pthread_self(), buf, sizeof buf);
                    std::lock_guard lock(mu);
                    names.insert(buf);
                  })
                  .on_thread_stop([&] { stopped.fetch_add(1); })
                  .build();
    EXPECT_EQ(rt.worker_count(), 2u);
    rt.block_on([]() -> weft::task<> { co_return; }());
    rt.shutdown(1s);
    EXPECT_EQ(started.load(), 2);
    EXPECT_EQ(stopped.load(), 2);
  }
  // Names are set right after the thread starts; the hook may run first and
  // see the inherited name, so check only that any name we saw is ours.
  for (const auto& n : names) {
    if (n.rfind("wt-", 0) != 0) continue;
    EXPECT_TRUE(n == "wt-0" || n == "wt-1") << n;
  }
}

TEST(Runtime, SpawnAfterShutdownIsRefused) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.shutdown(0ms);
  expect_error(weft::errc::runtime_shut_down,
               [&] { (void)rt.spawn([]() -> weft::task<> { co_return; }); });
  expect_error(weft::errc::runtime_shut_down,
               [&] { rt.block_on([]() -> weft::task<> { co_return; }()); });
  expect_error(weft::errc::runtime_shut_down, [&] { (void)rt.spawn_blocking([] {}); });
}

TEST(Runtime, MovedFromRuntimeIsRefused) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  weft::runtime other = std::move(rt);
  expect_error(weft::errc::runtime_shut_down, [&] {
    rt.block_on([]() -> weft::task<> { co_return; }());  // NOLINT(bugprone-use-after-move)
  });
}

TEST(Runtime, ShutdownIsIdempotent) {
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  rt.shutdown(0ms);
  rt.shutdown(0ms);
}

TEST(Runtime, ShutdownFromOneOfItsTasksIsRefused) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  std::error_code seen;
  rt.block_on([&]() -> weft::task<> {
    try {
      rt.shutdown(0ms);
    } catch (const std::system_error& e) {
      seen = e.code();
    }
    co_return;
  }());
  EXPECT_EQ(seen, weft::errc::nested_runtime);
}

TEST(Runtime, ShutdownWaitsForTasksThatFinishInTime) {
  std::atomic<bool> finished{false};
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  rt.spawn([&]() -> weft::task<> {
      co_await weft::sleep(5ms);
      finished.store(true);
    }).detach();
  rt.shutdown(10s);  // returns as soon as the task is done, well before 10 s
  EXPECT_TRUE(finished.load());
}

TEST(Runtime, CurrentThreadShutdownDrivesRemainingTasks) {
  std::atomic<bool> finished{false};
  auto rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  rt.spawn([&]() -> weft::task<> {
      co_await weft::sleep(2ms);
      finished.store(true);
    }).detach();
  rt.shutdown(10s);
  EXPECT_TRUE(finished.load());
}

TEST(Runtime, ShutdownDestroysUnfinishedTasksAndFailsTheirJoins) {
  weft_test::counters c;
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  auto h = rt.spawn([t = weft_test::tracked{c}]() -> weft::task<int> {
    co_await weft::sleep(1h);
    co_return 1;
  });
  rt.shutdown(0ms);
  EXPECT_EQ(c.alive.load(), 0);
  EXPECT_TRUE(h.is_finished());
  // The handle outlives the runtime's tasks; joining reports the destruction.
  expect_error(weft::errc::task_destroyed, [&] { (void)weft::block_on(std::move(h)); });
}

TEST(Runtime, DestructorShutsDownWithTasksBlockedEverywhere) {
  // Tasks waiting on timers, on each other and in queues at destruction:
  // all destroyed, nothing leaks (LSan) or is used after free (ASan).
  weft_test::counters c;
  {
    auto rt = weft::runtime_builder{}.worker_threads(2).shutdown_timeout(0ms).build();
    auto sleeper = rt.spawn([t = weft_test::tracked{c}]() -> weft::task<> {
      co_await weft::sleep(1h);
    });
    for (int i = 0; i < 100; ++i) {
      rt.spawn([t = weft_test::tracked{c}](weft::join_handle<void>* h) -> weft::task<> {
          (void)h;
          co_await weft::sleep(std::chrono::minutes(30));
        }, &sleeper).detach();
    }
    rt.spawn([t = weft_test::tracked{c}]() -> weft::task<> {
        for (;;) co_await weft::yield_now();
      }).detach();
  }
  EXPECT_EQ(c.alive.load(), 0);
}

// ---- wakers ----------------------------------------------------------------

/// The leaf-awaitable pattern from weft/waker.hpp: a callback from "another
/// library" on another thread completes the operation.
struct threaded_callback {
  int input;
  int result = 0;
  std::thread* worker;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    weft::waker w = weft::suspend_current(h);
    *worker = std::thread([this, w = std::move(w)] {
      result = input * 2;  // write the result first...
      w.wake();            // ...then wake
    });
  }
  int await_resume() const noexcept { return result; }
};

TEST(Waker, CustomLeafAwaitableResumesOnTheRuntime) {
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  std::thread t;
  std::thread::id callback_thread, resumed_on;
  int v = rt.block_on([&]() -> weft::task<int> {
    int r = co_await threaded_callback{21, 0, &t};
    resumed_on = std::this_thread::get_id();
    co_return r;
  }());
  callback_thread = t.get_id();
  t.join();
  EXPECT_EQ(v, 42);
  EXPECT_NE(resumed_on, callback_thread);  // never inline on the waking thread
}

TEST(Waker, WakeStormFromEightThreadsResumesOncePerSuspension) {
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  constexpr int rounds = 2000;
  std::atomic<int> resumes{0};
  rt.block_on([&]() -> weft::task<> {
    for (int round = 0; round < rounds; ++round) {
      struct storm {
        std::atomic<int>& resumes;
        std::vector<std::thread> threads;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
          weft::waker w = weft::suspend_current(h);
          for (int i = 0; i < 8; ++i) {
            threads.emplace_back([w] {
              for (int j = 0; j < 4; ++j) w.wake();
            });
          }
        }
        void await_resume() {
          resumes.fetch_add(1);
          for (auto& t : threads) t.join();
        }
      };
      co_await storm{resumes, {}};
    }
  }());
  EXPECT_EQ(resumes.load(), rounds);  // 32 wakes per suspension, one resume each
}

TEST(Waker, WillWakeIdentifiesTheSameSuspension) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.block_on([]() -> weft::task<> {
    struct probe {
      bool await_ready() const noexcept { return false; }
      bool await_suspend(std::coroutine_handle<> h) {
        weft::waker a = weft::suspend_current(h);
        weft::waker b = a;
        EXPECT_TRUE(a.will_wake(b));
        weft::waker c = weft::suspend_current(h);  // a new suspension point
        EXPECT_FALSE(a.will_wake(c));
        EXPECT_FALSE(weft::waker{}.will_wake(a));
        return false;  // do not actually suspend
      }
      void await_resume() const noexcept {}
    };
    co_await probe{};
  }());
}

TEST(Waker, WakeAfterTheTaskFinishedIsANoOp) {
  weft::waker kept;
  {
    auto rt = weft::runtime_builder{}.worker_threads(2).build();
    rt.block_on([&]() -> weft::task<> {
      struct keep {
        weft::waker* out;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
          *out = weft::suspend_current(h);
          out->wake();
        }
        void await_resume() const noexcept {}
      };
      co_await keep{&kept};
    }());
  }
  kept.wake();  // the runtime is gone too; the header is alive and complete
}

// ---- stress ------------------------------------------------------------------

TEST(RuntimeStress, SpawnsFromFourOutsideThreadsWhileWorkersSteal) {
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  std::atomic<long> sum{0};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<weft::join_handle<void>> handles;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        // Each task fans out locally so workers have queues to steal from.
        auto h = rt.spawn([&sum]() -> weft::task<> {
          auto a = weft::spawn([&sum]() -> weft::task<> {
            sum.fetch_add(1);
            co_return;
          });
          co_await weft::yield_now();
          sum.fetch_add(1);
          co_await a;
        });
        std::lock_guard lock(mu);
        handles.push_back(std::move(h));
      }
    });
  }
  for (auto& t : threads) t.join();
  rt.block_on([&]() -> weft::task<> {
    for (auto& h : handles) co_await h;
  }());
  EXPECT_EQ(sum.load(), 4 * 5000 * 2);
}

}  // namespace

namespace {

// The runtime parks its workers in the chosen I/O backend; both run tasks
// and timers. (The whole suite also runs with WEFT_IO_BACKEND=epoll in CI.)
class Backends : public ::testing::TestWithParam<weft::io_backend_choice> {};

TEST_P(Backends, RuntimeRunsTasksAndTimersOnTheChosenBackend) {
  auto rt = weft::runtime_builder{}.worker_threads(2).io_backend(GetParam()).build();
  const auto expected = GetParam() == weft::io_backend_choice::epoll ? weft::io_backend::epoll
                                                                      : weft::io_backend::io_uring;
  EXPECT_EQ(rt.io_backend(), expected);
  int v = rt.block_on([]() -> weft::task<int> {
    auto h = weft::spawn([]() -> weft::task<int> {
      co_await weft::sleep(std::chrono::milliseconds(2));
      co_return 5;
    });
    co_return co_await h;
  }());
  EXPECT_EQ(v, 5);
}

INSTANTIATE_TEST_SUITE_P(All, Backends,
                         ::testing::Values(weft::io_backend_choice::io_uring,
                                           weft::io_backend_choice::epoll),
                         [](const auto& info) {
                           return info.param == weft::io_backend_choice::epoll
                                      ? std::string("epoll")
                                      : std::string("io_uring");
                         });

TEST(Backends, CurrentThreadRuntimeCanBeDrivenFromDifferentThreads) {
  // A current-thread runtime's ring is not single-issuer: block_on from a
  // second thread must work.
  auto rt = weft::runtime_builder{}
                .flavor(weft::runtime_flavor::current_thread)
                .io_backend(weft::io_backend_choice::io_uring)
                .build();
  auto nap = []() -> weft::task<int> {
    co_await weft::sleep(std::chrono::milliseconds(1));
    co_return 1;
  };
  EXPECT_EQ(rt.block_on(nap()), 1);
  int from_other = 0;
  std::thread t([&] { from_other = rt.block_on(nap()); });
  t.join();
  EXPECT_EQ(from_other, 1);
}

}  // namespace
