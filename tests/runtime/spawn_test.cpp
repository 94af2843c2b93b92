// spawn, join_handle, yield_now, spawn_blocking on both runtime flavours.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/flavors.hpp"
#include "support/lifetime.hpp"

namespace {

using namespace std::chrono_literals;

class Spawn : public weft_test::on_each_flavor {};

INSTANTIATE_TEST_SUITE_P(Flavors, Spawn, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Spawn, JoinGivesTheTasksValue) {
  int v = rt.block_on([]() -> weft::task<int> {
    auto h = weft::spawn([]() -> weft::task<int> { co_return 41; });
    co_return co_await h + 1;
  }());
  EXPECT_EQ(v, 42);
}

TEST_P(Spawn, JoinRethrowsTheTasksException) {
  auto body = []() -> weft::task<> {
    auto h = weft::spawn([]() -> weft::task<int> {
      throw std::runtime_error("inside");
      co_return 0;
    });
    co_await h;
  };
  EXPECT_THROW(rt.block_on(body()), std::runtime_error);
}

TEST_P(Spawn, SpawnAcceptsATask) {
  auto make = [](int x) -> weft::task<int> { co_return x * 2; };
  int v = rt.block_on([&]() -> weft::task<int> { co_return co_await weft::spawn(make(21)); }());
  EXPECT_EQ(v, 42);
}

TEST_P(Spawn, SpawnMovesArgumentsIntoTheTask) {
  auto v = rt.block_on([]() -> weft::task<int> {
    auto p = std::make_unique<int>(7);
    auto h = weft::spawn(
        [](std::unique_ptr<int> q, int add) -> weft::task<int> { co_return *q + add; },
        std::move(p), 3);
    co_return co_await h;
  }());
  EXPECT_EQ(v, 10);
}

TEST_P(Spawn, SpawnRunsAPlainFunction) {
  int v = rt.block_on([]() -> weft::task<int> { co_return co_await weft::spawn([] { return 5; }); }());
  EXPECT_EQ(v, 5);
}

TEST_P(Spawn, CapturesLiveUntilTheTaskFinishesThenDie) {
  // The classic trap: a capturing lambda coroutine called as a temporary
  // dangles. spawn keeps the lambda in the task, and destroys it when the
  // task's work ends (not when the handle goes).
  weft_test::counters c;
  rt.block_on([&]() -> weft::task<> {
    auto h = weft::spawn([t = weft_test::tracked{c}]() -> weft::task<> {
      co_await weft::yield_now();
      co_await weft::yield_now();
    });
    co_await h;
    EXPECT_EQ(c.alive.load(), 0);  // gone although the handle is alive
  }());
  EXPECT_EQ(c.alive.load(), 0);
}

TEST_P(Spawn, DroppedHandleDoesNotCancel) {
  std::atomic<bool> finished{false};
  rt.block_on([&]() -> weft::task<> {
    auto probe = weft::spawn([&]() -> weft::task<> {
      co_await weft::sleep(5ms);
      finished.store(true);
    });
    probe.detach();  // dropped
    // Wait for it through a second task that polls the flag cooperatively.
    while (!finished.load()) co_await weft::sleep(1ms);
  }());
  EXPECT_TRUE(finished.load());
}

TEST_P(Spawn, IsFinishedReportsCompletion) {
  rt.block_on([]() -> weft::task<> {
    auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
    while (!h.is_finished()) co_await weft::yield_now();
    EXPECT_TRUE(h.is_finished());
    EXPECT_EQ(co_await h, 1);
  }());
}

TEST_P(Spawn, AwaitingAHandleTwiceIsRefused) {
  rt.block_on([]() -> weft::task<> {
    auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
    EXPECT_EQ(co_await h, 1);
    try {
      (void)co_await h;
      ADD_FAILURE() << "second await did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::join_handle_consumed);
    }
  }());
}

TEST_P(Spawn, AwaitingAMovedFromHandleIsRefused) {
  rt.block_on([]() -> weft::task<> {
    auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
    auto h2 = std::move(h);
    EXPECT_FALSE(h.valid());  // NOLINT(bugprone-use-after-move)
    try {
      (void)co_await h;  // NOLINT(bugprone-use-after-move)
      ADD_FAILURE() << "awaiting a moved-from handle did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::join_handle_consumed);
    }
    EXPECT_EQ(co_await h2, 1);
  }());
}

TEST_P(Spawn, RuntimeSpawnFromAnyThread) {
  std::vector<weft::join_handle<int>> handles;
  std::vector<std::thread> threads;
  std::mutex mu;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        auto h = rt.spawn([](int v) -> weft::task<int> { co_return v; }, t * 1000 + i);
        std::lock_guard lock(mu);
        handles.push_back(std::move(h));
      }
    });
  }
  for (auto& t : threads) t.join();
  long sum = rt.block_on([&]() -> weft::task<long> {
    long s = 0;
    for (auto& h : handles) s += co_await h;
    co_return s;
  }());
  long expected = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 250; ++i) expected += t * 1000 + i;
  }
  EXPECT_EQ(sum, expected);
}

TEST_P(Spawn, YieldNowLetsOthersRun) {
  // Two tasks on one worker alternate through yield_now; each sees the
  // other's progress.
  rt.block_on([]() -> weft::task<> {
    std::atomic<int> a{0}, b{0};
    auto ha = weft::spawn([&]() -> weft::task<> {
      for (int i = 0; i < 100; ++i) {
        a.fetch_add(1);
        co_await weft::yield_now();
      }
    });
    auto hb = weft::spawn([&]() -> weft::task<> {
      for (int i = 0; i < 100; ++i) {
        b.fetch_add(1);
        co_await weft::yield_now();
      }
    });
    co_await ha;
    co_await hb;
    EXPECT_EQ(a.load() + b.load(), 200);
  }());
}

TEST_P(Spawn, SpawnBlockingRunsOffTheWorkersAndReturns) {
  auto [v, same_thread] = rt.block_on([]() -> weft::task<std::pair<int, bool>> {
    const auto worker = std::this_thread::get_id();
    auto h = weft::spawn_blocking([worker] {
      return std::pair<int, bool>{6 * 7, std::this_thread::get_id() == worker};
    });
    co_return co_await h;
  }());
  EXPECT_EQ(v, 42);
  EXPECT_FALSE(same_thread);
}

TEST_P(Spawn, SpawnBlockingRethrows) {
  EXPECT_THROW(rt.block_on([]() -> weft::task<> {
    co_await weft::spawn_blocking([] { throw std::runtime_error("blocking"); });
  }()),
               std::runtime_error);
}

TEST_P(Spawn, RuntimeSpawnBlockingFromOutside) {
  auto h = rt.spawn_blocking([] { return std::string("done"); });
  EXPECT_EQ(rt.block_on(std::move(h)), "done");
}

TEST_P(Spawn, ChainedSpawnThousandDeep) {
  struct chain {
    static weft::task<int> link(int depth) {
      if (depth == 0) co_return 0;
      co_return 1 + co_await weft::spawn(link, depth - 1);
    }
  };
  EXPECT_EQ(rt.block_on(chain::link(1000)), 1000);
}

TEST_P(Spawn, SpawnOutsideARuntimeSaysSo) {
  try {
    (void)weft::spawn([]() -> weft::task<> { co_return; });
    FAIL() << "expected no_runtime";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::no_runtime);
  }
}

TEST_P(Spawn, NestedBlockOnOnAWorkerIsRefused) {
  std::error_code seen;
  rt.block_on([&]() -> weft::task<> {
    try {
      rt.block_on([]() -> weft::task<> { co_return; }());
    } catch (const std::system_error& e) {
      seen = e.code();
    }
    co_return;
  }());
  EXPECT_EQ(seen, weft::errc::nested_runtime);
}

// ---- stress ------------------------------------------------------------------

TEST_P(Spawn, MillionSpawnedTasksAllRun) {
  std::atomic<int> ran{0};
  rt.block_on([&]() -> weft::task<> {
    constexpr int total = 1'000'000;
    constexpr int batch = 10'000;
    std::vector<weft::join_handle<void>> hs;
    hs.reserve(batch);
    for (int b = 0; b < total / batch; ++b) {
      for (int i = 0; i < batch; ++i) {
        hs.push_back(weft::spawn([&ran]() -> weft::task<> {
          ran.fetch_add(1, std::memory_order_relaxed);
          co_return;
        }));
      }
      for (auto& h : hs) co_await h;
      hs.clear();
    }
  }());
  EXPECT_EQ(ran.load(), 1'000'000);
}

TEST_P(Spawn, DetachedTasksAllRunBeforeTheLastJoin) {
  std::atomic<int> ran{0};
  rt.block_on([&]() -> weft::task<> {
    for (int i = 0; i < 10'000; ++i) {
      weft::spawn([&ran]() -> weft::task<> {
        co_await weft::yield_now();
        ran.fetch_add(1);
      }).detach();
    }
    while (ran.load() < 10'000) co_await weft::yield_now();
  }());
  EXPECT_EQ(ran.load(), 10'000);
}

}  // namespace
