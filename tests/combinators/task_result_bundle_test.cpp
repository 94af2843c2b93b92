// weft::task_result_bundle: join_all (values in spawn order, fail fast on the
// first failure with nothing outliving the join), join_next, cancellation
// from the parent and from cancel(), the drop rule (tasks run on), misuse.
//
// Deterministic: tasks that "run forever" wait on a token nobody cancels or
// on a one-hour sleep that the bundle cancels; tasks that must be running
// before something happens report it through a cancellation_source the test
// awaits. No sleeps as synchronisation, no timing thresholds.
#include <weft/cancellation.hpp>
#include <weft/runtime.hpp>
#include <weft/task_result_bundle.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "support/flavors.hpp"
#include "support/lifetime.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <latch>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::cancellation_source;
using weft::result;
using weft::task;
using weft::task_result_bundle;
using weft_test::counters;
using weft_test::tracked;

class Bundle : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, Bundle, weft_test::each_flavor(), weft_test::flavor_name);

const std::error_code io_error = std::make_error_code(std::errc::io_error);

/// Counts tasks that reached their first wait; the last of `n` cancels
/// `all_there`, so a test can wait until every one of them is suspended.
struct arrival {
  explicit arrival(int n) : expected(n) {}
  void arrive() {
    if (count.fetch_add(1) + 1 == expected) all_there.cancel();
  }
  const int expected;
  std::atomic<int> count{0};
  cancellation_source all_there;
};

// ---- join_all: success ------------------------------------------------------

TEST_P(Bundle, AllSucceedGivesValuesInSpawnOrder) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    constexpr int n = 200;
    for (int i = 0; i < n; ++i) {
      std::size_t index = 0;
      switch (i % 4) {
        case 0:  // a coroutine producing T, finishing after i % 7 yields
          index = bundle.spawn(
              [](int v) -> task<int> {
                for (int k = 0; k < v % 7; ++k) co_await weft::yield_now();
                co_return v;
              },
              i);
          break;
        case 1:  // a coroutine producing result<T>
          index = bundle.spawn(
              [](int v) -> task<result<int>> {
                for (int k = 0; k < 7 - v % 7; ++k) co_await weft::yield_now();
                co_return result<int>{v};
              },
              i);
          break;
        case 2:  // a plain function
          index = bundle.spawn([i] { return i; });
          break;
        default:  // an awaitable (a task) alone
          index = bundle.spawn([](int v) -> task<int> { co_return v; }(i));
          break;
      }
      EXPECT_EQ(index, static_cast<std::size_t>(i));
    }
    EXPECT_LE(bundle.size(), static_cast<std::size_t>(n));
    result<std::vector<int>> all = co_await bundle.join_all();
    EXPECT_TRUE(all.has_value());
    if (all) {
      EXPECT_EQ(all->size(), static_cast<std::size_t>(n));
      for (int i = 0; i < n && i < static_cast<int>(all->size()); ++i) {
        EXPECT_EQ((*all)[i], i);
      }
    }
    EXPECT_EQ(bundle.size(), 0u);
    EXPECT_TRUE(bundle.empty());
    EXPECT_FALSE(bundle.token().is_cancelled());
    // Nothing left: a second join_all is empty, join_next is nullopt.
    result<std::vector<int>> again = co_await bundle.join_all();
    EXPECT_TRUE(again.has_value() && again->empty());
    EXPECT_FALSE((co_await bundle.join_next()).has_value());
  }());
}

TEST_P(Bundle, EmptyBundleJoinsAtOnce) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    EXPECT_TRUE(bundle.empty());
    result<std::vector<int>> all = co_await bundle.join_all();
    EXPECT_TRUE(all.has_value() && all->empty());
    EXPECT_FALSE((co_await bundle.join_next()).has_value());
    EXPECT_FALSE(bundle.try_join_next().has_value());
  }());
}

TEST_P(Bundle, MoveOnlyValuesWithoutAssignment) {
  // T need only be move-constructible (tracked has no assignment). Every
  // value, moved-from shells included, is gone when join_all's caller is
  // done with it: none is destroyed late on a task's thread.
  counters values;
  rt.block_on([&]() -> task<void> {
    task_result_bundle<tracked> bundle;
    for (int i = 0; i < 10; ++i) {
      (void)bundle.spawn([&values]() -> task<tracked> { co_return tracked{values}; });
    }
    result<std::vector<tracked>> all = co_await bundle.join_all();
    EXPECT_TRUE(all.has_value() && all->size() == 10u);
  }());
  EXPECT_EQ(values.alive.load(), 0);
}

// ---- join_all: the first failure ---------------------------------------------

/// A bundle of `n` tasks: all but one wait for an hour (a tracked local
/// counts their live frames; `after` counts the ones that went past the
/// wait); the one at `failing` waits until every other task is suspended,
/// then fails through `fail`.
template <class Fail>
task<void> first_failure_scenario(int n, int failing, Fail fail, counters& frames,
                                  std::atomic<int>& after,
                                  std::optional<result<std::vector<int>>>& out) {
  task_result_bundle<int> bundle;
  arrival waiting(n - 1);
  for (int i = 0; i < n; ++i) {
    if (i == failing) {
      (void)bundle.spawn([&waiting, fail]() -> task<result<int>> {
        co_await waiting.all_there.token().cancelled();
        co_return fail();
      });
    } else {
      (void)bundle.spawn([&frames, &after, &waiting, i]() -> task<int> {
        tracked frame{frames};
        waiting.arrive();
        co_await weft::sleep(1h);
        after.fetch_add(1);  // never: the bundle cancels the sleep
        co_return i;
      });
    }
  }
  out.emplace(co_await bundle.join_all());
  // join_all waited for every task to end: nothing of them is left.
  EXPECT_EQ(frames.alive.load(), 0);
  EXPECT_EQ(frames.destroyed.load(), n - 1);
  EXPECT_EQ(after.load(), 0);
  EXPECT_EQ(bundle.size(), 0u);
  EXPECT_TRUE(bundle.token().is_cancelled());
}

TEST_P(Bundle, FirstErrorResultInBundleOf1000CancelsTheRestAndNothingOutlivesJoinAll) {
  counters frames;
  std::atomic<int> after{0};
  std::optional<result<std::vector<int>>> out;
  rt.block_on(first_failure_scenario(
      1000, 500, [] { return result<int>{io_error}; }, frames, after, out));
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->has_value());
  EXPECT_EQ(out->error(), io_error);  // not operation_canceled from the others
}

TEST_P(Bundle, FirstExceptionInBundleOf1000IsRethrownAfterEveryTaskEnded) {
  counters frames;
  std::atomic<int> after{0};
  std::optional<result<std::vector<int>>> out;
  try {
    rt.block_on(first_failure_scenario(
        1000, 999, []() -> result<int> { throw std::runtime_error("task 999 failed"); }, frames,
        after, out));
    ADD_FAILURE() << "join_all did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 999 failed");
  }
  EXPECT_FALSE(out.has_value());
  EXPECT_EQ(frames.alive.load(), 0);
  EXPECT_EQ(after.load(), 0);
}

TEST_P(Bundle, FailureBeforeJoinAllIsFoundWhenItStartsAndCancelsTheRest) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    cancellation_source failed;
    (void)bundle.spawn([]() -> task<int> {
      co_await weft::sleep(1h);
      co_return 1;
    });
    (void)bundle.spawn([&failed]() -> task<result<int>> {
      failed.cancel();
      co_return io_error;
    });
    // The failure is in before anyone joins: it cancels nothing by itself.
    co_await failed.token().cancelled();
    while (bundle.size() != 1) co_await weft::yield_now();
    EXPECT_FALSE(bundle.token().is_cancelled());
    result<std::vector<int>> all = co_await bundle.join_all();
    EXPECT_EQ(all.error(), io_error);
    EXPECT_TRUE(bundle.token().is_cancelled());
  }());
}

TEST_P(Bundle, ErrorResultAndExceptionAreBothFailuresOfTheirOwnKind) {
  rt.block_on([]() -> task<void> {
    {
      task_result_bundle<int> bundle;
      (void)bundle.spawn([]() -> task<result<int>> { co_return io_error; });
      result<std::vector<int>> all = co_await bundle.join_all();  // an error: no throw
      EXPECT_EQ(all.error(), io_error);
    }
    {
      task_result_bundle<int> bundle;
      (void)bundle.spawn([]() -> task<int> {
        throw std::system_error(io_error, "thrown");
        co_return 0;
      });
      bool thrown = false;
      try {
        (void)co_await bundle.join_all();
      } catch (const std::system_error& e) {
        thrown = true;
        EXPECT_EQ(e.code(), io_error);
      }
      EXPECT_TRUE(thrown);
    }
    {
      // A plain function that throws synchronously.
      task_result_bundle<int> bundle;
      (void)bundle.spawn([]() -> int { throw std::logic_error("plain"); });
      bool thrown = false;
      try {
        (void)co_await bundle.join_all();
      } catch (const std::logic_error& e) {
        thrown = true;
        EXPECT_STREQ(e.what(), "plain");
      }
      EXPECT_TRUE(thrown);
    }
  }());
}

// A task that fails for real, but finishes only after tasks that the bundle's
// cancellation ended with operation_canceled: the real failure is reported,
// not the cancellations before it. It needs a task that keeps running across
// the cancel (a plain function blocked on a latch), so it runs on two
// workers, driven from the test thread.
TEST(BundleMultiThread, CancelledResultsStillInTheBundleDoNotMaskALaterRealFailure) {
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
  task_result_bundle<int> bundle;
  std::latch running(1);
  std::latch release(1);
  rt.block_on([&]() -> task<void> {
    for (int i = 0; i < 5; ++i) {
      (void)bundle.spawn([]() -> task<int> {
        co_await weft::sleep(1h);
        co_return 0;
      });
    }
    (void)bundle.spawn([&]() -> result<int> {
      running.count_down();
      release.wait();
      return io_error;
    });
    co_return;
  }());
  running.wait();
  bundle.cancel();
  while (bundle.size() > 1) std::this_thread::yield();  // 5 cancelled results are in
  release.count_down();                                 // then the real failure
  result<std::vector<int>> all = rt.block_on(bundle.join_all());
  EXPECT_EQ(all.error(), io_error);
  EXPECT_TRUE(bundle.empty());
}

// ---- join_next ---------------------------------------------------------------

TEST_P(Bundle, JoinNextYieldsEachResultExactlyOnceThenNullopt) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    constexpr int n = 100;
    for (int i = 0; i < n; ++i) {
      (void)bundle.spawn(
          [](int v) -> task<int> {
            for (int k = 0; k < (v * 13) % 11; ++k) co_await weft::yield_now();
            co_return v * 2;
          },
          i);
    }
    std::set<std::size_t> seen;
    while (std::optional<task_result_bundle<int>::joined> j = co_await bundle.join_next()) {
      EXPECT_TRUE(seen.insert(j->index).second) << "index " << j->index << " twice";
      EXPECT_TRUE(j->value.has_value());
      if (j->value) {
        EXPECT_EQ(*j->value, static_cast<int>(j->index) * 2);
      }
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
    EXPECT_FALSE((co_await bundle.join_next()).has_value());
    EXPECT_TRUE(bundle.empty());
  }());
}

TEST_P(Bundle, JoinNextGivesErrorsAndRethrowsExceptionsWithoutCancelling) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    cancellation_source go;
    // 0: an error result; 1: an exception; 2: waits for `go`.
    (void)bundle.spawn([]() -> task<result<int>> { co_return io_error; });
    (void)bundle.spawn([]() -> task<int> {
      throw std::runtime_error("one");
      co_return 0;
    });
    (void)bundle.spawn([&go]() -> task<int> {
      co_await go.token().cancelled();
      co_return 7;
    });
    int errors = 0;
    int exceptions = 0;
    for (int k = 0; k < 2; ++k) {
      try {
        std::optional<task_result_bundle<int>::joined> j = co_await bundle.join_next();
        EXPECT_TRUE(j.has_value());
        if (j) {
          EXPECT_EQ(j->index, 0u);
          EXPECT_EQ(j->value.error(), io_error);
          ++errors;
        }
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "one");
        ++exceptions;
      }
    }
    EXPECT_EQ(errors, 1);
    EXPECT_EQ(exceptions, 1);
    EXPECT_FALSE(bundle.token().is_cancelled());  // join_next never cancels
    EXPECT_EQ(bundle.size(), 1u);
    go.cancel();
    std::optional<task_result_bundle<int>::joined> last = co_await bundle.join_next();
    EXPECT_TRUE(last.has_value() && last->index == 2u && last->value && *last->value == 7);
    EXPECT_FALSE((co_await bundle.join_next()).has_value());
  }());
}

TEST_P(Bundle, JoinAllAfterJoinNextReturnsOnlyTheRest) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    cancellation_source go;
    (void)bundle.spawn([]() -> task<int> { co_return 10; });
    for (int i = 1; i < 5; ++i) {
      (void)bundle.spawn(
          [&go](int v) -> task<int> {
            co_await go.token().cancelled();
            co_return v * 10;
          },
          i);
    }
    std::optional<task_result_bundle<int>::joined> j = co_await bundle.join_next();
    EXPECT_TRUE(j.has_value() && j->index == 0u);
    go.cancel();
    result<std::vector<int>> rest = co_await bundle.join_all();
    EXPECT_TRUE(rest.has_value());
    if (rest) {
      EXPECT_EQ(*rest, (std::vector<int>{10, 20, 30, 40}));
    }
  }());
}

// ---- cancellation --------------------------------------------------------------

TEST_P(Bundle, ParentCancellationCancelsEveryTask) {
  counters frames;
  std::atomic<int> after{0};
  rt.block_on([&]() -> task<void> {
    cancellation_source parent;
    task_result_bundle<int> bundle(parent.token());
    constexpr int n = 50;
    arrival waiting(n);
    for (int i = 0; i < n; ++i) {
      (void)bundle.spawn([&]() -> task<int> {
        tracked frame{frames};
        waiting.arrive();
        co_await weft::sleep(1h);
        after.fetch_add(1);
        co_return 0;
      });
    }
    co_await waiting.all_there.token().cancelled();
    EXPECT_EQ(frames.alive.load(), n);
    parent.cancel();
    EXPECT_TRUE(bundle.token().is_cancelled());
    result<std::vector<int>> all = co_await bundle.join_all();
    EXPECT_EQ(all.error(), weft::errc::operation_canceled);
    EXPECT_EQ(frames.alive.load(), 0);
    EXPECT_EQ(after.load(), 0);
    // Tasks spawned into a cancelled bundle never start their work.
    bool started = false;
    (void)bundle.spawn([&started]() -> task<int> {
      started = true;
      co_return 1;
    });
    std::optional<task_result_bundle<int>::joined> j = co_await bundle.join_next();
    EXPECT_TRUE(j.has_value() && j->value.error() == weft::errc::operation_canceled);
    EXPECT_FALSE(started);
  }());
}

TEST_P(Bundle, CancelCancelsEveryTaskButNeverTheParent) {
  rt.block_on([]() -> task<void> {
    cancellation_source parent;
    task_result_bundle<void> bundle(parent.token());
    arrival waiting(3);
    for (int i = 0; i < 3; ++i) {
      (void)bundle.spawn([&waiting]() -> task<void> {
        waiting.arrive();
        co_await weft::sleep(1h);
      });
    }
    co_await waiting.all_there.token().cancelled();
    EXPECT_TRUE(bundle.cancel());
    EXPECT_FALSE(bundle.cancel());  // idempotent
    result<void> all = co_await bundle.join_all();
    EXPECT_EQ(all.error(), weft::errc::operation_canceled);
    EXPECT_FALSE(parent.is_cancelled());
  }());
}

TEST_P(Bundle, WithdrawnJoinLeavesTasksRunningAndResultsInPlace) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    cancellation_source go;
    (void)bundle.spawn([&go]() -> task<int> {
      co_await go.token().cancelled();
      co_return 5;
    });
    cancellation_source give_up;
    give_up.cancel();
    // Already cancelled: join_next is not even started.
    auto r1 = co_await weft::with_cancellation(give_up.token(), bundle.join_next());
    EXPECT_EQ(r1.error(), weft::errc::operation_canceled);
    // A join that really waits, then is withdrawn by its token.
    cancellation_source stop_waiting;
    auto stopper = weft::spawn([&]() -> task<void> {
      while (!bundle.join_pending()) co_await weft::yield_now();
      stop_waiting.cancel();
    });
    auto r2 = co_await weft::with_cancellation(stop_waiting.token(), bundle.join_all());
    EXPECT_EQ(r2.error(), weft::errc::operation_canceled);
    co_await stopper;
    EXPECT_FALSE(bundle.join_pending());  // the withdrawn wait released its claim
    EXPECT_FALSE(bundle.token().is_cancelled());
    EXPECT_EQ(bundle.size(), 1u);
    go.cancel();
    result<std::vector<int>> all = co_await bundle.join_all();
    EXPECT_TRUE(all.has_value() && *all == std::vector<int>{5});
  }());
}

// ---- the drop rule ---------------------------------------------------------------

TEST_P(Bundle, DroppedBundleLetsItsTasksRunToCompletionAndDiscardsResults) {
  counters frames;
  counters values;
  std::atomic<int> finished{0};
  constexpr int n = 20;
  cancellation_source gate;      // the tasks wait for it
  cancellation_source all_done;  // the last task to finish cancels it
  weft::cancellation_token bundle_token;
  rt.block_on([&]() -> task<void> {
    {
      task_result_bundle<tracked> bundle;
      bundle_token = bundle.token();
      // One finishes before the drop: its result is discarded with the bundle.
      (void)bundle.spawn([&values] { return tracked{values}; });
      while (bundle.size() != 0) co_await weft::yield_now();
      EXPECT_EQ(values.alive.load(), 1);
      for (int i = 0; i < n; ++i) {
        (void)bundle.spawn([&]() -> task<tracked> {
          tracked frame{frames};
          co_await gate.token().cancelled();  // under the bundle's token
          if (finished.fetch_add(1) + 1 == n) all_done.cancel();
          co_return tracked{values};
        });
      }
    }  // dropped with every task running
    EXPECT_EQ(values.alive.load(), 0);
    EXPECT_FALSE(bundle_token.is_cancelled());  // the drop cancels nothing
    gate.cancel();
    co_await all_done.token().cancelled();
    EXPECT_EQ(finished.load(), n);  // none was cancelled
  }());
  // Wait for the tasks to wind down (they finish; nothing is destroyed).
  rt.shutdown(std::chrono::minutes(1));
  EXPECT_EQ(frames.alive.load(), 0);
  EXPECT_EQ(frames.destroyed.load(), n);
  EXPECT_EQ(values.alive.load(), 0);  // results discarded
  EXPECT_FALSE(bundle_token.is_cancelled());
  // The shared state is gone with the last task: nothing is registered on
  // the bundle's token any more (ASan's leak check covers the state itself).
  EXPECT_EQ(weft::detail::cancellation_registrations(bundle_token), 0u);
}

TEST_P(Bundle, DroppedBundleTasksAreStillCancelledByTheParent) {
  counters frames;
  rt.block_on([&]() -> task<void> {
    cancellation_source parent;
    arrival waiting(10);
    {
      task_result_bundle<int> bundle(parent.token());
      for (int i = 0; i < 10; ++i) {
        (void)bundle.spawn([&]() -> task<int> {
          tracked frame{frames};
          waiting.arrive();
          co_await weft::sleep(1h);
          co_return 0;
        });
      }
    }
    co_await waiting.all_there.token().cancelled();
    parent.cancel();
    co_return;
  }());
  rt.shutdown(std::chrono::minutes(1));
  EXPECT_EQ(frames.alive.load(), 0);
  EXPECT_EQ(frames.destroyed.load(), 10);
}

// ---- misuse ------------------------------------------------------------------

TEST_P(Bundle, JoinWhileAnotherJoinIsPendingIsAClearError) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    cancellation_source go;
    (void)bundle.spawn([&go]() -> task<int> {
      co_await go.token().cancelled();
      co_return 1;
    });
    // Another task joins first and waits.
    auto joiner = weft::spawn(
        [&bundle]() -> task<result<std::vector<int>>> { co_return co_await bundle.join_all(); });
    while (!bundle.join_pending()) co_await weft::yield_now();
    std::string message;
    try {
      (void)co_await bundle.join_next();
    } catch (const std::logic_error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("another join"), std::string::npos) << message;
    message.clear();
    try {
      (void)co_await bundle.join_all();
    } catch (const std::logic_error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("only one task may join"), std::string::npos) << message;
    EXPECT_THROW((void)bundle.try_join_next(), std::logic_error);
    go.cancel();
    result<std::vector<int>> first = co_await joiner;  // unaffected by the misuse
    EXPECT_TRUE(first.has_value() && *first == std::vector<int>{1});
  }());
}

TEST_P(Bundle, AnAwaiterStillAliveKeepsTheClaimUntilDestroyed) {
  rt.block_on([]() -> task<void> {
    task_result_bundle<int> bundle;
    (void)bundle.spawn([]() -> task<int> { co_return 3; });
    {
      auto held = bundle.join_next();
      (void)held.await_ready();  // claims the bundle (as a co_await starts)
      EXPECT_TRUE(bundle.join_pending());
      bool thrown = false;
      try {
        (void)co_await bundle.join_all();
      } catch (const std::logic_error&) {
        thrown = true;
      }
      EXPECT_TRUE(thrown);
    }  // destroyed unresumed: claim released, any result it held given back
    EXPECT_FALSE(bundle.join_pending());
    result<std::vector<int>> all = co_await bundle.join_all();
    EXPECT_TRUE(all.has_value() && *all == std::vector<int>{3});
  }());
}

TEST(BundleOutsideRuntime, SpawnThrowsNoRuntimeAndCountsNothing) {
  task_result_bundle<int> bundle;
  try {
    (void)bundle.spawn([]() -> task<int> { co_return 1; });
    ADD_FAILURE() << "spawn outside a runtime did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::no_runtime);
  }
  EXPECT_EQ(bundle.size(), 0u);
  EXPECT_TRUE(bundle.empty());
}

// ---- void --------------------------------------------------------------------

TEST_P(Bundle, VoidBundle) {
  rt.block_on([]() -> task<void> {
    std::atomic<int> ran{0};
    {
      task_result_bundle<void> bundle;
      (void)bundle.spawn([&ran]() -> task<void> {
        co_await weft::yield_now();
        ran.fetch_add(1);
      });
      (void)bundle.spawn([&ran]() -> task<result<void>> {
        ran.fetch_add(1);
        co_return result<void>{};
      });
      (void)bundle.spawn([&ran] { ran.fetch_add(1); });
      result<void> all = co_await bundle.join_all();
      EXPECT_TRUE(all.has_value());
      EXPECT_EQ(ran.load(), 3);
    }
    {
      task_result_bundle<void> bundle;
      (void)bundle.spawn([]() -> task<void> { co_await weft::sleep(1h); });
      (void)bundle.spawn([]() -> task<result<void>> { co_return io_error; });
      result<void> all = co_await bundle.join_all();
      EXPECT_EQ(all.error(), io_error);
    }
    {
      task_result_bundle<void> bundle;
      (void)bundle.spawn([]() -> task<void> { co_return; });
      (void)bundle.spawn([]() -> task<result<void>> { co_return io_error; });
      int ok = 0;
      int failed = 0;
      while (auto j = co_await bundle.join_next()) (j->value ? ok : failed) += 1;
      EXPECT_EQ(ok, 1);
      EXPECT_EQ(failed, 1);
    }
  }());
}

// ---- runtime shutdown ------------------------------------------------------------

TEST_P(Bundle, TaskDestroyedByShutdownIsReportedAsTaskDestroyed) {
  task_result_bundle<int> bundle;
  rt.block_on([&]() -> task<void> {
    (void)bundle.spawn([]() -> task<int> {
      co_await weft::sleep(1h);
      co_return 0;
    });
    co_return;
  }());
  rt.shutdown(std::chrono::milliseconds(0));  // destroys the sleeping task
  EXPECT_EQ(bundle.size(), 0u);
  std::optional<task_result_bundle<int>::joined> j = bundle.try_join_next();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->value.error(), weft::errc::task_destroyed);
  EXPECT_TRUE(bundle.empty());
}

}  // namespace
