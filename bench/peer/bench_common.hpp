// What weft's side-by-side benchmarks share: the timing loop (the twin of
// `measure` in tokio/src/main.rs) and the countdown that tells a measuring
// thread the last task has run.
#pragma once

#include <weft/runtime.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <semaphore>
#include <string>
#include <utility>
#include <vector>

namespace weft_bench {

using clock_type = std::chrono::steady_clock;
inline constexpr int warmups = 2;

/// The median and the fastest of a set of timed runs.
struct timing {
  std::int64_t median_ns;
  std::int64_t fastest_ns;
};

/// Runs `body` `warmups` times untimed, then `reps` times timed.
template <class Body>
timing time_runs(int reps, Body&& body) {
  for (int i = 0; i < warmups; ++i) body();
  std::vector<std::int64_t> samples;
  samples.reserve(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i) {
    auto started = clock_type::now();
    body();
    samples.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - started).count());
  }
  std::sort(samples.begin(), samples.end());
  std::size_t n = samples.size();
  std::int64_t median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  return {median, samples[0]};
}

/// time_runs, then prints name<TAB>median_ns<TAB>fastest_ns.
template <class Body>
void measure(const char* name, int reps, Body&& body) {
  const timing t = time_runs(reps, std::forward<Body>(body));
  std::printf("%s\t%lld\t%lld\n", name, static_cast<long long>(t.median_ns),
              static_cast<long long>(t.fastest_ns));
  std::fflush(stdout);
}

/// The task that brings `remaining` to zero releases `done` once; the
/// measuring (non-runtime) thread waits on it. The stand-in for tokio's bench
/// pairing of an atomic counter with a std channel. Give it static storage:
/// the last task may still be inside release() when the measuring thread
/// has returned.
struct countdown {
  std::atomic<std::size_t> remaining{0};
  std::binary_semaphore done{0};

  void reset(std::size_t n) {
    // ORDERING: relaxed: published to the tasks by the spawn that follows
    // (its queue push releases).
    remaining.store(n, std::memory_order_relaxed);
  }
  void arrive() {
    // ORDERING: acq_rel: each arrival's work is visible to the last one,
    // whose release() publishes it all to the waiting thread.
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) done.release();
  }
};

/// The channel and lock benchmarks (weft_sync_bench.cpp).
void run_sync_benchmarks(weft::runtime& rt, int reps);

/// The scheduler size sweep and the queued-task memory probe
/// (weft_sweep_bench.cpp).
int run_sweep(const std::string& bench, std::size_t size, std::size_t workers, int reps);
int run_queued_rss(std::size_t size, std::size_t workers, bool lambda_form);

}  // namespace weft_bench
