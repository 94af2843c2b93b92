// spawn_blocking's elastic pool: bounded, concurrent, drained at shutdown.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "support/lifetime.hpp"

namespace {

using namespace std::chrono_literals;

TEST(BlockingPool, RunsJobsInParallelUpToTheLimit) {
  auto rt = weft::runtime_builder{}.worker_threads(1).max_blocking_threads(2).build();
  std::atomic<int> active{0}, peak{0};
  std::latch both_running(2);  // the first two jobs meet here: proves two threads
  auto job = [&](bool meet) {
    const int now = active.fetch_add(1) + 1;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    if (meet) both_running.arrive_and_wait();
    active.fetch_sub(1);
  };
  rt.block_on([&]() -> weft::task<> {
    auto a = weft::spawn_blocking(job, true);
    auto b = weft::spawn_blocking(job, true);
    std::vector<weft::join_handle<void>> rest;
    for (int i = 0; i < 20; ++i) rest.push_back(weft::spawn_blocking(job, false));
    co_await a;
    co_await b;
    for (auto& h : rest) co_await h;
  }());
  EXPECT_EQ(peak.load(), 2);  // never more than max_blocking_threads at once
}

TEST(BlockingPool, BlockingJobsDoNotStallTheWorkers) {
  // One worker; a blocking job waits for a task on that worker to signal it.
  // If the job ran on the worker, the task could never run: deadlock.
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  std::atomic<bool> signal{false};
  rt.block_on([&]() -> weft::task<> {
    auto job = weft::spawn_blocking([&] {
      while (!signal.load()) std::this_thread::yield();
      return 1;
    });
    auto setter = weft::spawn([&]() -> weft::task<> {
      signal.store(true);
      co_return;
    });
    co_await setter;
    EXPECT_EQ(co_await job, 1);
  }());
}

TEST(BlockingPool, AJobSubmittedWhileIdleThreadsAreStillWakingGetsAThreadOfItsOwn) {
  // Round k submits k jobs in one step, and each needs all k running at once.
  // The k-1 threads idle from the round before are still waking when the
  // last submits arrive: each job must be matched with an idle thread not yet
  // claimed, or a new one. Counting idle threads that another submit already
  // woke would leave a job queued behind k-1 jobs blocked on it, forever.
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.block_on([&]() -> weft::task<> {
    for (int k = 1; k <= 24; ++k) {
      std::latch all_running(k);
      std::vector<weft::join_handle<void>> jobs;
      for (int i = 0; i < k; ++i) {
        jobs.push_back(weft::spawn_blocking([&] { all_running.arrive_and_wait(); }));
      }
      for (auto& h : jobs) co_await h;
    }
  }());
}

TEST(BlockingPool, QueuedJobsAreDestroyedAtShutdownWithoutRunning) {
  weft_test::counters c;
  std::atomic<int> ran{0};
  std::latch release(1);
  auto rt = weft::runtime_builder{}.worker_threads(1).max_blocking_threads(1).build();
  // The only blocking thread is held until after shutdown starts its wait.
  auto blocker = rt.spawn_blocking([&] { release.wait(); });
  std::vector<weft::join_handle<void>> queued;
  for (int i = 0; i < 10; ++i) {
    queued.push_back(rt.spawn_blocking([&ran, t = weft_test::tracked{c}] { ran.fetch_add(1); }));
  }
  std::thread releaser([&] { release.count_down(); });
  rt.shutdown(10s);
  releaser.join();
  // Either a queued job ran before shutdown took the queue, or it was
  // destroyed unrun; never both, never leaked.
  int finished_unrun = 0;
  for (auto& h : queued) {
    ASSERT_TRUE(h.is_finished());
    try {
      weft::block_on(std::move(h));
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::task_destroyed);
      ++finished_unrun;
    }
  }
  EXPECT_EQ(ran.load() + finished_unrun, 10);
  queued.clear();
  blocker = {};
  EXPECT_EQ(c.alive.load(), 0);
}

}  // namespace
