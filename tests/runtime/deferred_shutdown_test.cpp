// A runtime whose last owner is one of its own tasks, blocking jobs or
// dispatcher callbacks: the destructor runs on one of the runtime's threads,
// where shutting down would wait for that very thread. The shutdown then runs
// on a reaper thread (src/runtime/deferred_shutdown.hpp).
//
// How the order is forced: the task (or job) waits until the test has let go
// of its own shared_ptr (spawn has returned by then), then drops the last
// one, so ~runtime runs on that thread by construction. The test waits for
// the reaper's test point "runtime.deferred_shutdown.done" with a deadline
// instead of sleeping.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <system_error>
#include <thread>

#include "runtime/deferred_shutdown.hpp"
#include "support/test_points.hpp"

namespace {

using namespace std::chrono_literals;

// Until the caller's copy is gone: spawn has returned, so nothing but this
// task touches the runtime object any more.
// Deadline-bounded: a copy kept elsewhere fails the test instead of hanging it.
weft::task<> until_sole_owner(const std::shared_ptr<weft::runtime>& keep) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (keep.use_count() > 1) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the test's copy of the runtime was never dropped";
      co_return;
    }
    co_await weft::yield_now();
  }
}

constexpr const char* reaped = "runtime.deferred_shutdown.done";

std::shared_ptr<weft::runtime> shared_runtime(weft::runtime_flavor f) {
  weft::runtime_builder b;
  b.flavor(f).shutdown_timeout(std::chrono::hours(1));  // a self-wait would hang, not time out
  if (f == weft::runtime_flavor::multi_thread) b.worker_threads(2);
  return std::make_shared<weft::runtime>(b.build());
}

// Before: the worker's ~runtime joined its own std::thread, which threw
// EDEADLK out of a noexcept destructor: std::terminate.
TEST(RuntimeDestroyedOnItsOwnThread, ATaskDroppingTheLastOwnerGoesOnAndTheRuntimeShutsDownElsewhere) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  std::atomic<bool> went_on{false};
  {
    auto rt = shared_runtime(weft::runtime_flavor::multi_thread);
    (void)rt->spawn(
        [](std::shared_ptr<weft::runtime> keep, std::atomic<bool>* flag) -> weft::task<> {
          co_await until_sole_owner(keep);
          keep.reset();  // ~runtime on this worker
          co_await weft::yield_now();
          flag->store(true, std::memory_order_release);  // pairs with the acquire below
        },
        rt, &went_on);
  }
  ASSERT_TRUE(script.wait_reached(reaped, 1, 60s)) << "the runtime was never shut down";
  // The runtime waited for the task (shutdown_timeout is an hour) before it
  // stopped its workers.
  EXPECT_TRUE(went_on.load(std::memory_order_acquire));
}

// Before: ~runtime inside block_on waited for the driver lock that block_on
// itself holds (a self-deadlock).
TEST(RuntimeDestroyedOnItsOwnThread, ACurrentThreadRootTaskDroppingTheLastOwnerFinishesBlockOn) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  auto rt = shared_runtime(weft::runtime_flavor::current_thread);
  weft::runtime* raw = rt.get();
  // SAFETY: raw->block_on must not touch the runtime object after its root
  // task completes; the runtime's core lives on until the reaper is done.
  const int v = raw->block_on([](std::shared_ptr<weft::runtime> keep) -> weft::task<int> {
    keep.reset();
    co_await weft::yield_now();
    co_return 7;
  }(std::move(rt)));
  EXPECT_EQ(v, 7);
  ASSERT_TRUE(script.wait_reached(reaped, 1, 60s)) << "the runtime was never shut down";
}

// Before: the blocking thread's ~runtime waited for the blocking pool to
// empty, which it never does while that thread runs (an hour here).
TEST(RuntimeDestroyedOnItsOwnThread, ABlockingJobDroppingTheLastOwnerGoesOn) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  std::atomic<bool> went_on{false};
  {
    auto rt = shared_runtime(weft::runtime_flavor::multi_thread);
    (void)rt->spawn_blocking(
        [](std::shared_ptr<weft::runtime> keep, std::atomic<bool>* flag) {
          const auto deadline = std::chrono::steady_clock::now() + 60s;
          while (keep.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();  // until the caller lets go
          }
          keep.reset();
          flag->store(true, std::memory_order_release);  // pairs with the acquire below
        },
        rt, &went_on);
  }
  ASSERT_TRUE(script.wait_reached(reaped, 1, 60s)) << "the runtime was never shut down";
  EXPECT_TRUE(went_on.load(std::memory_order_acquire));
}

// runtime::shutdown from a blocking job: tests/runtime/blocking_pool_test.cpp.

TEST(RuntimeDestroyedOnItsOwnThread, ReaperThreadsAreJoinedAndDoNotPileUp) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  constexpr int rounds = 20;
  for (int i = 0; i < rounds; ++i) {
    {
      auto rt = shared_runtime(weft::runtime_flavor::multi_thread);
      (void)rt->spawn(
          [](std::shared_ptr<weft::runtime> keep) -> weft::task<> {
            co_await until_sole_owner(keep);
            keep.reset();
          },
          rt);
    }
    ASSERT_TRUE(script.wait_reached(reaped, i + 1, 60s)) << "round " << i;
    // Each start joins the reapers that finished; the point is reached only
    // once a reaper is listed as finished, so only this round's remains.
    EXPECT_LE(weft::detail::reaper_threads_for_test(), 1u) << "round " << i;
  }
}

}  // namespace
