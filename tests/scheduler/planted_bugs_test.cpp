// The simulation finds the bugs it exists for. Four bugs are planted behind
// test-only switches (weft/detail/planted_bug.hpp): two that weft really had
// and fixed (the join reference dropped before the joiner is woken; a barrier
// withdrawal counted against the next phase) and two lost wake-ups (a
// notify_one dropped when its waiter is cancelled before it resumes; the last
// searching worker parks without looking at the queues again). For each:
//   - the workload passes every seed with the bug absent (the control);
//   - with the bug planted, the simulation fails within its seeds and names
//     the seed that replays it (printed, for docs/reliability.md);
//   - the same workload on real threads (the DISABLED_ tests, run by hand
//     with --gtest_also_run_disabled_tests: a hit crashes, or hangs until a
//     watchdog rescues the run) — docs/reliability.md has the counts: real
//     threads miss three of the four.
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

#include "scheduler/sim_support.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::planted_bug;
using weft_test::check;

constexpr std::uint64_t kSearchSeeds = 1000;  // the budget: every bug is found well within it

class planted {
 public:
  explicit planted(planted_bug b) noexcept
      : prev_(weft::detail::set_planted_bugs(static_cast<std::uint32_t>(b))) {}
  planted(const planted&) = delete;
  planted& operator=(const planted&) = delete;
  ~planted() { (void)weft::detail::set_planted_bugs(prev_); }

 private:
  std::uint32_t prev_;
};

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

/// Tasks that each wait for blocking jobs in turn: a job's completion wakes
/// its task from outside the workers, through the inject queue — while a
/// worker may be between its last look at that queue and its park.
task<> blocking_joins(weft::runtime&) {
  std::vector<weft::join_handle<int>> hs;
  for (int i = 0; i < 8; ++i) {
    hs.push_back(weft::spawn([i]() -> task<int> {
      int sum = 0;
      for (int k = 0; k < 4; ++k) sum += co_await weft::spawn_blocking([k] { return k; });
      co_return sum + i;
    }));
  }
  for (int i = 0; i < 8; ++i) check(co_await hs[i] == 6 + i, "a join returned another value");
}

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

/// A producer hands out 12 notify_one calls one at a time (each waits for an
/// ack); two steady consumers and six flaky ones (each waits once, under a
/// token a canceller cancels after a few yields) take them. A notify_one that
/// reaches a flaky waiter just before its cancel must be passed on: if it is
/// dropped, nobody acks and everything waits.
task<> notify_handoffs(weft::runtime&) {
  constexpr int rounds = 12;
  struct state {
    weft::notify n;
    weft::notify ack;
    int consumed = 0;
    bool done = false;
    std::vector<weft::cancellation_source> flaky_stop{6};
  };
  auto st = std::make_shared<state>();
  std::vector<weft::join_handle<void>> hs;
  for (int f = 0; f < 6; ++f) {
    hs.push_back(weft::spawn([st, f]() -> task<> {
      auto r = co_await weft::with_cancellation(st->flaky_stop[f].token(), st->n.notified());
      if (r && !st->done) {
        ++st->consumed;
        st->ack.notify_one();
      }
    }));
  }
  for (int c = 0; c < 2; ++c) {
    hs.push_back(weft::spawn([st]() -> task<> {
      for (;;) {
        co_await st->n.notified();
        if (st->done) co_return;
        ++st->consumed;
        st->ack.notify_one();
      }
    }));
  }
  hs.push_back(weft::spawn([st]() -> task<> {  // the canceller
    for (int f = 0; f < 6; ++f) {
      for (int k = 0; k < f % 3; ++k) co_await weft::yield_now();
      st->flaky_stop[f].cancel();
    }
  }));
  for (int i = 0; i < rounds; ++i) {
    st->n.notify_one();
    co_await st->ack.notified();
  }
  st->done = true;
  st->n.notify_all();
  for (auto& h : hs) co_await h;
  check(st->consumed == rounds, "a notify_one was consumed twice or lost");
}

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

/// 40 parties, three phases. Each phase's waits can be cancelled by its own
/// token, which the first party to return from that phase cancels: by then
/// the phase is complete, so a cancelled waiter only leaves a completed
/// phase, and every party goes on to the next. The leader wakes the 39 in
/// rounds of 32; a party of the first round that runs on the other worker
/// while the leader is between rounds cancels waiters still linked.
task<> barrier_phases(weft::runtime&) {
  constexpr int parties = 40;
  constexpr int phases = 3;
  // Shared with the parties: when a failing seed ends the run with them
  // still waiting, shutdown destroys them after this frame.
  struct state {
    weft::barrier b{parties};
    std::vector<weft::cancellation_source> phase_stop{phases};
    std::vector<bool> stopped = std::vector<bool>(phases, false);
    int finished = 0;
  };
  auto st = std::make_shared<state>();
  std::vector<weft::join_handle<void>> hs;
  for (int p = 0; p < parties; ++p) {
    hs.push_back(weft::spawn([st]() -> task<> {
      for (int k = 0; k < phases; ++k) {
        auto r = co_await weft::with_cancellation(st->phase_stop[k].token(),
                                                  st->b.arrive_and_wait());
        if (r && !st->stopped[k]) {
          st->stopped[k] = true;
          st->phase_stop[k].cancel();
        }
      }
      ++st->finished;
    }));
  }
  for (auto& h : hs) co_await h;
  check(st->finished == parties, "a party did not finish");
}

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

/// Eight times: a task that yields a few times and completes; a joiner that
/// awaits it under a token; a canceller that yields a few times and cancels.
/// When the cancel lands while the task's worker is waking the joiner, the
/// joiner drops its handle in that window.
task<> cancelled_joins(weft::runtime&) {
  for (int rep = 0; rep < 8; ++rep) {
    weft::cancellation_source stop;
    auto target = weft::spawn([rep]() -> task<int> {
      for (int k = 0; k < rep % 3; ++k) co_await weft::yield_now();
      co_return rep;
    });
    auto joiner = weft::spawn(
        [](weft::join_handle<int> h, weft::cancellation_token tok) -> task<> {
          auto r = co_await weft::with_cancellation(std::move(tok), h);
          if (r) check(*r >= 0, "a join returned garbage");
        },
        std::move(target), stop.token());
    auto canceller = weft::spawn([&stop, rep]() -> task<> {
      for (int k = 0; k < (rep + 1) % 4; ++k) co_await weft::yield_now();
      stop.cancel();
    });
    co_await joiner;
    co_await canceller;
  }
}

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

// ---- the same workloads on real threads (run by hand) ---------------------------

/// Runs `body` on a real 2-worker runtime `runs` times with `b` planted. A
/// run not finished after 2 s is counted as a hit and ended: the watchdog
/// thread cancels the body (a lost wake-up cannot time itself out: the lost
/// task may be the one that holds the timer) and spawns a task, whose push
/// wakes a worker if the lost one sits in a queue. Manual tests only.
template <class Body>
int threaded_runs(planted_bug b, Body body, int runs) {
  planted bug(b);
  int hits = 0;
  for (int i = 0; i < runs; ++i) {
    weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
    weft::cancellation_source stop;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool hung = false;
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lk(mu);
      while (!done) {
        if (!cv.wait_for(lk, 2s, [&] { return done; })) {
          hung = true;
          lk.unlock();
          stop.cancel();
          rt.spawn([]() -> task<> { co_return; }).detach();
          lk.lock();
        }
      }
    });
    try {
      auto r = rt.block_on(weft::with_cancellation(stop.token(), body(rt)));
      if (!r) hung = true;
    } catch (const std::exception&) {
      hung = true;
    }
    {
      std::lock_guard<std::mutex> lk(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
    if (hung) ++hits;
  }
  return hits;
}

TEST(PlantedBugsThreaded, DISABLED_NotifyOneDroppedOnRealThreads) {
  const int runs = 500;
  const int hits = threaded_runs(planted_bug::notify_one_not_passed_on, notify_handoffs, runs);
  std::printf("[threaded notify_one_not_passed_on] %d of %d runs hit it\n", hits, runs);
}

TEST(PlantedBugsThreaded, DISABLED_LostWakeUpOnRealThreads) {
  const int runs = 500;
  const int failures =
      threaded_runs(planted_bug::skip_last_searcher_recheck, blocking_joins, runs);
  std::printf("[threaded skip_last_searcher_recheck] %d of %d runs hit it\n", failures, runs);
}

TEST(PlantedBugsThreaded, DISABLED_BarrierBugOnRealThreads) {
  const int runs = 500;
  const int failures =
      threaded_runs(planted_bug::barrier_withdraw_any_phase, barrier_phases, runs);
  std::printf("[threaded barrier_withdraw_any_phase] %d of %d runs hit it\n", failures, runs);
}

TEST(PlantedBugsThreaded, DISABLED_JoinBugOnRealThreads) {
  const int runs = 500;
  const int failures = threaded_runs(planted_bug::join_unref_before_wake, cancelled_joins, runs);
  std::printf("[threaded join_unref_before_wake] %d of %d runs hit it (a hit aborts)\n", failures, runs);
}

}  // namespace
