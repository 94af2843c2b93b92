// join_handle under races and misuse: a join abandoned while its task
// completes, two tasks awaiting one handle. The windows are forced with
// weft's test points (tests/support/test_points.hpp), not left to luck.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <semaphore>
#include <system_error>

#include "support/flavors.hpp"
#include "support/test_points.hpp"

namespace {

using namespace std::chrono_literals;

constexpr const char* before_wake_joiner = "cell_complete.before_wake_joiner";

// Bug 1: cell_complete released the owner's reference in the step that
// marked the task COMPLETE and read the joiner's waker afterwards. A joiner
// cancelled in that gap dropped the handle — the last reference — and the
// completing thread then read freed memory (ASan: heap-use-after-free).
//
// How the order is forced: the joined task is a spawn_blocking job, so it
// completes on a blocking-pool thread while the current-thread runtime's
// thread goes on. The test holds the blocking thread at the test point
// between COMPLETE and the joiner's wake, cancels the joiner there (its
// branch, which owns the handle, is destroyed), and only then lets the
// blocking thread go on.
TEST(JoinRace, AJoinerCancelledAsItsTaskCompletesNeverFreesTheTaskUnderTheCompletingThread) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;  // outlives the runtime: its threads reach points
  std::binary_semaphore go{0};
  {
    weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
    const std::error_code ec = rt.block_on([&]() -> weft::task<std::error_code> {
      weft::cancellation_source src;
      script.hold(before_wake_joiner);
      auto job = weft::spawn_blocking([&] {
        (void)go.try_acquire_for(30s);
        return 7;
      });
      bool waiting = false;
      auto joiner = weft::spawn(
          [](weft::cancellation_token tok, weft::join_handle<int> h,
             bool& waiting) -> weft::task<std::error_code> {
            auto r = co_await weft::with_cancellation(
                std::move(tok),
                [](weft::join_handle<int> h, bool& waiting) -> weft::task<int> {
                  waiting = true;
                  co_return co_await h;  // registers the join waker: the job is blocked
                }(std::move(h), waiting));
            co_return r ? std::error_code{} : r.error();
          },
          src.token(), std::move(job), std::ref(waiting));
      // One thread: after the yield the joiner's first step has ended, so
      // it is suspended in `co_await h` with its waker registered.
      while (!waiting) co_await weft::yield_now();
      go.release();
      EXPECT_TRUE(script.wait_held(before_wake_joiner));  // the job is COMPLETE, held
      src.cancel();
      // The joiner runs now: it destroys its branch, whose handle was the
      // last reference but for the one the completing thread still needs.
      std::error_code result = co_await joiner;
      script.release(before_wake_joiner);
      co_return result;
    }());
    EXPECT_EQ(ec, weft::errc::operation_canceled);
  }
  EXPECT_FALSE(script.held_too_long());
  // The job's completion was held; the joiner's own completion (awaited by
  // the root) passes the same point afterwards.
  EXPECT_GE(script.reached_count(before_wake_joiner), 1);
}

// The same window with the joiner still waiting: it is woken with the value.
// Order: as above — one runtime thread, so once the joiner's flag is seen
// after a yield its waker is registered; the job's completion is held at the
// test point until the test has seen it there.
TEST(JoinRace, AJoinerWaitingAsItsTaskCompletesGetsTheValue) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  std::binary_semaphore go{0};
  {
    weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
    const int v = rt.block_on([&]() -> weft::task<int> {
      script.hold(before_wake_joiner);
      auto job = weft::spawn_blocking([&] {
        (void)go.try_acquire_for(30s);
        return 7;
      });
      bool waiting = false;
      auto joiner = weft::spawn([](weft::join_handle<int> h, bool& waiting) -> weft::task<int> {
        waiting = true;
        co_return co_await h;
      }(std::move(job), waiting));
      while (!waiting) co_await weft::yield_now();
      go.release();
      EXPECT_TRUE(script.wait_held(before_wake_joiner, 30s));
      script.release(before_wake_joiner);
      co_return co_await joiner;
    }());
    EXPECT_EQ(v, 7);
  }
  EXPECT_FALSE(script.held_too_long());
}

class JoinMisuse : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, JoinMisuse, weft_test::each_flavor(), weft_test::flavor_name);

// Bug 6: the second registration overwrote the first joiner's waker (an
// assert was the only check), so the first joiner hung forever and its
// waker's reference leaked. Now the second await is refused at once.
// Order: the first joiner records its own task before `co_await h`; the test
// point after a join waker's registration tells, on the registering thread,
// when that task's registration is done (other registrations, such as the
// test thread's block_on, are not counted). The root yields until then; the
// joined task waits on an event the root sets last.
TEST_P(JoinMisuse, ASecondTaskAwaitingTheSameHandleIsRefusedAndTheFirstGetsTheValue) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  std::atomic<const void*> first_task{nullptr};
  std::atomic<bool> first_registered{false};
  script.on_each("join_handle.registered", [&] {
    // ORDERING: acquire pairs with the joiner's release store below (same
    // thread here, but the script may run on any); release pairs with the
    // root's acquire loads.
    const void* me = first_task.load(std::memory_order_acquire);
    if (me != nullptr && me == weft::detail::current_task()) {
      first_registered.store(true, std::memory_order_release);
    }
  });
  const int v = rt.block_on([&]() -> weft::task<int> {
    weft::event ev;
    auto h = weft::spawn([](weft::event& ev) -> weft::task<int> {
      co_await ev.wait();
      co_return 42;
    }(ev));
    auto first = weft::spawn(
        [](weft::join_handle<int>& h, std::atomic<const void*>& me) -> weft::task<int> {
          me.store(weft::detail::current_task(), std::memory_order_release);
          co_return co_await h;
        }(h, first_task));
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!first_registered.load(std::memory_order_acquire) &&
           std::chrono::steady_clock::now() < deadline) {
      co_await weft::yield_now();
    }
    if (!first_registered.load(std::memory_order_acquire)) {
      ADD_FAILURE() << "the first joiner never registered";
      ev.set();
      (void)co_await first;
      co_return -1;
    }
    std::error_code second;
    try {
      (void)co_await h;
    } catch (const std::system_error& e) {
      second = e.code();
    }
    EXPECT_EQ(second, weft::errc::join_handle_consumed);
    ev.set();
    co_return co_await first;
  }());
  EXPECT_EQ(v, 42);
}

TEST_P(JoinMisuse, AwaitingAHandleAfterItsValueWasTakenThrows) {
  rt.block_on([]() -> weft::task<> {
    auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
    EXPECT_EQ(co_await h, 1);
    EXPECT_THROW((void)co_await h, std::system_error);
  }());
}

}  // namespace
