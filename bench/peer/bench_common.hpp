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
#include <vector>

namespace weft_bench {

using clock_type = std::chrono::steady_clock;
inline constexpr int warmups = 2;

/// Runs `body` `warmups` times untimed, then `reps` times timed, and prints
/// name<TAB>median_ns<TAB>fastest_ns.
template <class Body>
void measure(const char* name, int reps, Body&& body) {
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
  std::printf("%s\t%lld\t%lld\n", name, static_cast<long long>(median),
              static_cast<long long>(samples[0]));
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

}  // namespace weft_bench
