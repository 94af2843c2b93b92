// The simulation finds the bugs it exists for. Four bugs are planted behind
// test-only switches (weft/detail/planted_bug.hpp): two that weft really had
// and fixed (the join reference dropped before the joiner is woken; a barrier
// withdrawal counted against the next phase) and two lost wake-ups (a
// notify_one dropped when its waiter is cancelled before it resumes; the last
// searching worker parks without looking at the queues again). For each:
//   - the workload passes every seed with the bug absent (the control);
//   - with the bug planted, the simulation fails within its seeds and names
//     the seed that replays it (printed, for docs/reliability.md);
//   - the same workloads on real threads are a measuring program, not a
//     test (planted_bugs_threaded.cpp: a hit crashes, or hangs until a
//     watchdog ends the run) — docs/reliability.md has the counts.
// How each order is reached: not forced by hand; the seed picks which
// virtual worker acts next, and (this build has test points) whether a step
// is paused at a named point while the other worker acts.
#include <weft/detail/planted_bug.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdio>
#include <string>
#include <vector>

#include "scheduler/planted_workloads.hpp"
#include "scheduler/sim_support.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::planted_bug;
using weft_test::check;
using namespace weft_test::planted_workloads;

constexpr std::uint64_t kSearchSeeds = 1000;  // the budget: every bug is found well within it


#define WEFT_REQUIRE_PLANTABLE()                                                  \
  do {                                                                            \
    if (!weft::detail::test_points_compiled_in()) {                               \
      GTEST_SKIP() << "this build has no test points (planted bugs compile out)"; \
    }                                                                             \
  } while (0)

/// Search the seeds with the bug planted; the first failure, with the time
/// the search took (printed: the figures docs/reliability.md records).
template <class Body>
std::optional<weft::simulation_failure> search(const char* bug, Body body) {
  const auto t0 = std::chrono::steady_clock::now();
  auto failure = weft::simulate({.seeds = kSearchSeeds}, body);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (failure) {
    std::printf("[planted %s] found at seed %llu after %lld ms: %s\n", bug,
                static_cast<unsigned long long>(failure->seed), static_cast<long long>(ms),
                failure->what.c_str());
  } else {
    std::printf("[planted %s] NOT found in %llu seeds (%lld ms)\n", bug,
                static_cast<unsigned long long>(kSearchSeeds), static_cast<long long>(ms));
  }
  return failure;
}

// ---- 1. lost wake-up: the last searcher parks without a second look -------------


TEST(PlantedBugs, WithoutTheBugEverySeedOfTheBlockingJoinWorkloadPasses) {
  weft_test::expect_all_seeds_pass(blocking_joins);
}

TEST(PlantedBugs, TheSimulationFindsTheLostWakeUpOfASkippedLastSearcherRecheck) {
  WEFT_REQUIRE_PLANTABLE();
  planted bug(planted_bug::skip_last_searcher_recheck);
  auto failure = search("skip_last_searcher_recheck", blocking_joins);
  ASSERT_TRUE(failure.has_value()) << "the simulation missed the lost wake-up";
  EXPECT_NE(failure->what.find("stalled"), std::string::npos) << failure->what;
  EXPECT_NE(failure->what.find("inject queue NOT empty"), std::string::npos) << failure->what;
  // The seed replays it: the same seed fails the same way again.
  auto again = weft::simulate({.first_seed = failure->seed, .seeds = 1}, blocking_joins);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->what, failure->what);
}

// ---- 1b. lost wake-up: a notify_one not passed on by a cancelled waiter ---------


TEST(PlantedBugs, WithoutTheBugEverySeedOfTheNotifyHandoffWorkloadPasses) {
  weft_test::expect_all_seeds_pass(notify_handoffs);
}

TEST(PlantedBugs, TheSimulationFindsANotifyOneDroppedByACancelledWaiter) {
  WEFT_REQUIRE_PLANTABLE();
  planted bug(planted_bug::notify_one_not_passed_on);
  auto failure = search("notify_one_not_passed_on", notify_handoffs);
  ASSERT_TRUE(failure.has_value()) << "the simulation missed the lost notify_one";
  EXPECT_NE(failure->what.find("stalled"), std::string::npos) << failure->what;
}

// ---- 2. barrier: a withdrawal counted against the next phase --------------------


TEST(PlantedBugs, WithoutTheBugEverySeedOfTheBarrierWorkloadPasses) {
  weft_test::expect_all_seeds_pass(barrier_phases);
}

TEST(PlantedBugs, TheSimulationFindsABarrierWithdrawalCountedAgainstTheNextPhase) {
  WEFT_REQUIRE_PLANTABLE();
  planted bug(planted_bug::barrier_withdraw_any_phase);
  auto failure = search("barrier_withdraw_any_phase", barrier_phases);
  ASSERT_TRUE(failure.has_value()) << "the simulation missed the barrier bug";
  EXPECT_NE(failure->what.find("stalled"), std::string::npos) << failure->what;
}

// ---- 3. join: the owner's reference dropped before the joiner is woken ---------


TEST(PlantedBugs, WithoutTheBugEverySeedOfTheCancelledJoinWorkloadPasses) {
  weft_test::expect_all_seeds_pass(cancelled_joins);
}

TEST(PlantedBugsDeathTest, TheSimulationFindsTheJoinReferenceDroppedBeforeTheWake) {
  WEFT_REQUIRE_PLANTABLE();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The bug is a use after free: the run dies (weft's check of a freed task
  // header, or ASan's report) and the dying run names its seed.
  EXPECT_DEATH(
      {
        planted bug(planted_bug::join_unref_before_wake);
        (void)search("join_unref_before_wake", cancelled_joins);
        std::fprintf(stderr, "the simulation missed the join bug\n");
        std::exit(0);
      },
      "weft simulation seed [0-9]+");
}

}  // namespace
