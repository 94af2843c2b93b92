// The cooperative budget: a task whose waits are always ready still lets the
// other ready tasks of a current-thread runtime run. Observed by counting
// the other task's turns, not by time.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "sync_support.hpp"

namespace {

using weft::task;

constexpr int kIterations = 10'000;

struct interleaving {
  int other_turns_during_loop = 0;  // turns the other task had while the loop ran
  int longest_run = 0;              // most loop iterations between two such turns
};

// Run `one_ready_wait` kIterations times in a task on a current-thread
// runtime, next to a task that only counts its turns.
template <class OneReadyWait>
interleaving run_hot_loop(OneReadyWait one_ready_wait) {
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  interleaving out;
  rt.block_on([&]() -> task<> {
    int turns = 0;
    bool loop_done = false;
    auto other = weft::spawn([&]() -> task<> {
      while (!loop_done) {
        ++turns;
        co_await weft::yield_now();
      }
    });
    int run = 0;
    int seen = turns;  // 0: the spawned task has not run yet
    for (int i = 0; i < kIterations; ++i) {
      co_await one_ready_wait();
      if (turns != seen) {
        seen = turns;
        run = 0;
      }
      out.longest_run = std::max(out.longest_run, ++run);
    }
    out.other_turns_during_loop = turns;
    loop_done = true;
    co_await other;
  }());
  return out;
}

void expect_interleaved(const interleaving& r, const std::string& what) {
  // Without the budget the loop would finish before the other task ran once.
  EXPECT_GE(r.other_turns_during_loop, kIterations / (weft::detail::initial_budget + 1) - 1) << what;
  // And it yields at least once per budget's worth of ready waits.
  EXPECT_LE(r.longest_run, weft::detail::initial_budget + 1) << what;
}

TEST(SyncBudget, AnUncontendedMutexLockLoopLetsAnotherReadyTaskRun) {
  weft::mutex m;
  expect_interleaved(run_hot_loop([&m]() -> task<> { weft::mutex_guard g = co_await m.lock(); }),
                     "mutex");
  EXPECT_TRUE(m.try_lock().has_value());
}

TEST(SyncBudget, EveryKindOfReadyWaitCountsAgainstTheBudget) {
  weft::shared_mutex rw;
  expect_interleaved(run_hot_loop([&rw]() -> task<> { auto g = co_await rw.lock_shared(); }),
                     "shared_mutex::lock_shared");
  expect_interleaved(run_hot_loop([&rw]() -> task<> { auto g = co_await rw.lock(); }),
                     "shared_mutex::lock");
  weft::semaphore s(3);
  expect_interleaved(run_hot_loop([&s]() -> task<> { auto p = co_await s.acquire(2); }),
                     "semaphore");
  EXPECT_EQ(s.available(), 3u);
  weft::notify n;
  expect_interleaved(run_hot_loop([&n]() -> task<> {
                       n.notify_one();
                       co_await n.notified();
                     }),
                     "notify");
  weft::event manual(weft::event_mode::manual, true);
  expect_interleaved(run_hot_loop([&manual]() -> task<> { co_await manual.wait(); }),
                     "manual event");
  weft::event automatic(weft::event_mode::automatic);
  expect_interleaved(run_hot_loop([&automatic]() -> task<> {
                       automatic.set();
                       co_await automatic.wait();
                     }),
                     "automatic event");
  weft::latch open(0);
  expect_interleaved(run_hot_loop([&open]() -> task<> { co_await open.wait(); }), "latch");
  weft::barrier alone(1);
  expect_interleaved(run_hot_loop([&alone]() -> task<> { (void)co_await alone.arrive_and_wait(); }),
                     "barrier");
}

}  // namespace
