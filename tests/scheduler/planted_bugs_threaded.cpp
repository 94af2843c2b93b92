// Not a test: a measuring program. The planted bugs' workloads on a real
// 2-worker runtime, N runs each with the bug planted, counting the runs that
// hit it (docs/reliability.md, "Planted bugs"). A run that has not finished
// after 2 s counts as a hit; a watchdog thread then cancels it (a lost
// wake-up cannot time itself out). A hit of the join bug aborts the program.
//
//   build/debug/tests/weft_planted_bugs_threaded [runs]   (default 500)
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "scheduler/planted_workloads.hpp"

namespace {

using namespace weft_test::planted_workloads;


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

void report(const char* name, int hits, int runs) {
  std::printf("[threaded %s] %d of %d runs hit it\n", name, hits, runs);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 500;
  report("notify_one_not_passed_on",
         threaded_runs(planted_bug::notify_one_not_passed_on, notify_handoffs, runs), runs);
  report("skip_last_searcher_recheck",
         threaded_runs(planted_bug::skip_last_searcher_recheck, blocking_joins, runs), runs);
  report("barrier_withdraw_any_phase",
         threaded_runs(planted_bug::barrier_withdraw_any_phase, barrier_phases, runs), runs);
  report("join_unref_before_wake",
         threaded_runs(planted_bug::join_unref_before_wake, cancelled_joins, runs), runs);
  return 0;
}
