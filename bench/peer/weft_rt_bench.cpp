// weft side of the side-by-side runtime benchmark.
//
// Every benchmark here has a twin in bench/peer/tokio/src/main.rs with the
// same shape: same task counts, same way of signalling completion, same
// timing loop, same output format. Keep the two files in step.
//
// Usage: weft_rt_bench [rt|sync|sleep|idle|idle_sleep] [WORKERS] [REPS]
//   rt          (default) the scheduler micro-benchmarks; one line each:
//               name<TAB>median_ns<TAB>min_ns
//   sync        channels and locks (weft_sync_bench.cpp), same format
//   sleep       1,000,000 tasks sleeping 1..=100 ms; prints
//               sleep_1m<TAB>total_ns<TAB>peak_rss_kib
//   idle        RSS cost of 100,000 parked tasks; prints
//               idle_task_bytes<TAB>bytes_per_task
//               (weft has no notify primitive in this API, so the tasks park
//               in a 1 h sleep that is never awaited to the end: the runtime
//               is shut down instead)
//   idle_sleep  same measurement, printed as idle_task_bytes_sleep, to pair
//               with tokio's sleep-parked variant
//   sweep BENCH SIZE [WORKERS] [REPS], queued_rss SIZE [WORKERS]
//               the scheduler size sweep (weft_sweep_bench.cpp, sweep.sh)
// WORKERS defaults to 2, REPS to 20 (after 2 warm-up runs).

#include <weft/weft.hpp>

#include "bench_common.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using weft_bench::clock_type;
using weft_bench::countdown;
using weft_bench::measure;

constexpr std::size_t spawn_count = 10'000;
constexpr std::size_t yield_tasks = 200;
constexpr std::size_t yields_per_task = 1'000;
constexpr std::size_t chain_depth = 1'000;
constexpr std::size_t sleep_tasks = 1'000'000;
constexpr std::size_t idle_tasks = 100'000;
// Seed of the sleep-duration generator; the Rust twin uses the same value.
constexpr std::uint64_t sleep_seed = 0x5eed0f3ef72024ULL;

struct options {
  std::string mode = "rt";
  std::size_t workers = 2;
  int reps = 20;
};

options parse_options(int argc, char** argv) {
  options opts;
  int numbers = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    char* end = nullptr;
    unsigned long n = std::strtoul(arg.c_str(), &end, 10);
    if (!arg.empty() && end != nullptr && *end == '\0' && n > 0) {
      if (numbers == 0) {
        opts.workers = n;
      } else {
        opts.reps = static_cast<int>(n);
      }
      ++numbers;
    } else {
      opts.mode = arg;
    }
  }
  return opts;
}

weft::runtime build_runtime(std::size_t workers) {
  return weft::runtime_builder{}.worker_threads(workers).build();
}

weft::task<> join_one(weft::join_handle<void> handle) { co_await std::move(handle); }

weft::task<> join_all(std::vector<weft::join_handle<void>>& handles) {
  for (auto& handle : handles) co_await std::move(handle);
  handles.clear();
}

// From inside one task, spawn spawn_count no-op tasks; the last one to run
// signals the waiting (non-runtime) thread.
// The signalling objects used by the benchmarks have static storage: the last
// task may still be inside release() when the measuring thread has returned.
countdown local_spawns_done;
std::counting_semaphore<> yielders_done{0};
std::binary_semaphore chain_done{0};
std::atomic<std::size_t> idle_started{0};

void spawn_many_local(weft::runtime& rt, int reps) {
  measure("spawn_many_local", reps, [&] {
    local_spawns_done.reset(spawn_count);
    (void)rt.spawn([]() -> weft::task<> {
      for (std::size_t i = 0; i < spawn_count; ++i) {
        (void)weft::spawn([]() -> weft::task<> {
          local_spawns_done.arrive();
          co_return;
        });
      }
      co_return;
    });
    local_spawns_done.done.acquire();
  });
}

// Spawn spawn_count no-op tasks from the main thread with rt.spawn, then
// block_on a task that awaits every handle.
void spawn_remote_and_join(weft::runtime& rt, std::vector<weft::join_handle<void>>& handles) {
  for (std::size_t i = 0; i < spawn_count; ++i) {
    handles.push_back(rt.spawn([]() -> weft::task<> { co_return; }));
  }
  rt.block_on(join_all(handles));
}

void spawn_many_remote_idle(weft::runtime& rt, int reps) {
  std::vector<weft::join_handle<void>> handles;
  handles.reserve(spawn_count);
  measure("spawn_many_remote_idle", reps, [&] { spawn_remote_and_join(rt, handles); });
}

// As spawn_many_remote_idle, while `workers` tasks keep every worker busy by
// looping on yield_now until told to stop.
void spawn_many_remote_busy(weft::runtime& rt, std::size_t workers, int reps) {
  std::atomic<bool> keep_spinning{true};
  std::vector<weft::join_handle<void>> spinners;
  for (std::size_t i = 0; i < workers; ++i) {
    spinners.push_back(rt.spawn([&keep_spinning]() -> weft::task<> {
      while (keep_spinning.load(std::memory_order_relaxed)) co_await weft::yield_now();
    }));
  }

  std::vector<weft::join_handle<void>> handles;
  handles.reserve(spawn_count);
  measure("spawn_many_remote_busy", reps, [&] { spawn_remote_and_join(rt, handles); });

  keep_spinning.store(false, std::memory_order_relaxed);
  rt.block_on(join_all(spinners));
}

// yield_tasks tasks, each yielding yields_per_task times, then posting once;
// the main thread takes yield_tasks posts.
void yield_many(weft::runtime& rt, int reps) {
  measure("yield_many", reps, [&] {
    for (std::size_t i = 0; i < yield_tasks; ++i) {
      (void)rt.spawn([]() -> weft::task<> {
        for (std::size_t y = 0; y < yields_per_task; ++y) co_await weft::yield_now();
        yielders_done.release();
      });
    }
    for (std::size_t i = 0; i < yield_tasks; ++i) yielders_done.acquire();
  });
}

// Each link spawns the next; the innermost one signals.
void chain(std::binary_semaphore* done, std::size_t remaining) {
  if (remaining == 0) {
    done->release();
  } else {
    (void)weft::spawn([done, remaining]() -> weft::task<> {
      chain(done, remaining - 1);
      co_return;
    });
  }
}

void chained_spawn(weft::runtime& rt, int reps) {
  measure("chained_spawn", reps, [&] {
    (void)rt.spawn([]() -> weft::task<> {
      chain(&chain_done, chain_depth);
      co_return;
    });
    chain_done.acquire();
  });
}

// splitmix64: a tiny, fully specified generator, so the Rust twin draws the
// exact same sequence of sleep durations.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Current resident set size in bytes, from /proc/self/statm.
long long current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long long size_pages = 0;
  long long resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) throw std::runtime_error("read /proc/self/statm");
  return resident_pages * static_cast<long long>(sysconf(_SC_PAGESIZE));
}

// One task spawns sleep_tasks tasks, each sleeping 1..=100 ms (uniform, from
// splitmix64{sleep_seed}), keeps their handles and awaits them in order.
void sleep_1m(std::size_t workers) {
  auto rt = build_runtime(workers);
  auto started = clock_type::now();
  auto driver = rt.spawn([]() -> weft::task<> {
    splitmix64 rng{sleep_seed};
    std::vector<weft::join_handle<void>> handles;
    handles.reserve(sleep_tasks);
    for (std::size_t i = 0; i < sleep_tasks; ++i) {
      auto ms = static_cast<std::int64_t>(1 + rng.next() % 100);
      handles.push_back(weft::spawn([ms]() -> weft::task<> {
        co_await weft::sleep(std::chrono::milliseconds(ms));
      }));
    }
    for (auto& handle : handles) co_await std::move(handle);
  });
  rt.block_on(join_one(std::move(driver)));
  auto total = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - started);
  std::printf("sleep_1m\t%lld\t%ld\n", static_cast<long long>(total.count()), peak_rss_kib());
  std::fflush(stdout);
}

void wait_until(const std::atomic<std::size_t>& counter, std::size_t target) {
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  while (counter.load(std::memory_order_acquire) < target) {
    if (clock_type::now() >= deadline) throw std::runtime_error("tasks did not all start within 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Resident bytes per parked task: RSS after idle_tasks tasks have started and
// parked on something that does not fire, minus RSS before spawning them.
void idle_task_bytes(std::size_t workers, const char* name) {
  auto rt = build_runtime(workers);
  // Touch the runtime (thread-locals, timer wheel) before the baseline.
  rt.block_on(join_one(rt.spawn([]() -> weft::task<> {
    co_await weft::sleep(std::chrono::milliseconds(1));
  })));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  long long before = current_rss_bytes();
  for (std::size_t i = 0; i < idle_tasks; ++i) {
    (void)rt.spawn([]() -> weft::task<> {
      idle_started.fetch_add(1, std::memory_order_release);
      co_await weft::sleep(std::chrono::hours(1));
    });
  }
  wait_until(idle_started, idle_tasks);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  long long after = current_rss_bytes();
  std::printf("%s\t%lld\n", name, (after - before) / static_cast<long long>(idle_tasks));
  std::fflush(stdout);
  rt.shutdown(std::chrono::seconds(1));
}

}  // namespace

int main(int argc, char** argv) {
  // The sweep modes take a benchmark name and a size before the numbers.
  if (argc >= 3 && std::string(argv[1]) == "queued_rss") {
    return weft_bench::run_queued_rss(std::stoul(argv[2]), argc > 3 ? std::stoul(argv[3]) : 2,
                                      argc > 4 && std::string(argv[4]) == "lambda");
  }
  if (argc >= 4 && std::string(argv[1]) == "sweep") {
    return weft_bench::run_sweep(argv[2], std::stoul(argv[3]), argc > 4 ? std::stoul(argv[4]) : 2,
                                 argc > 5 ? std::stoi(argv[5]) : 10);
  }
  options opts = parse_options(argc, argv);
  if (opts.mode == "rt") {
    // WEFT_BENCH_ONLY=name runs one benchmark (for profiling).
    const char* only_env = std::getenv("WEFT_BENCH_ONLY");
    const std::string only = only_env != nullptr ? only_env : "";
    auto want = [&](const char* name) { return only.empty() || only == name; };
    auto rt = build_runtime(opts.workers);
    if (want("spawn_many_local")) spawn_many_local(rt, opts.reps);
    if (want("spawn_many_remote_idle")) spawn_many_remote_idle(rt, opts.reps);
    if (want("spawn_many_remote_busy")) spawn_many_remote_busy(rt, opts.workers, opts.reps);
    if (want("yield_many")) yield_many(rt, opts.reps);
    if (want("chained_spawn")) chained_spawn(rt, opts.reps);
  } else if (opts.mode == "sync") {
    auto rt = build_runtime(opts.workers);
    weft_bench::run_sync_benchmarks(rt, opts.reps);
  } else if (opts.mode == "sleep") {
    sleep_1m(opts.workers);
  } else if (opts.mode == "idle") {
    idle_task_bytes(opts.workers, "idle_task_bytes");
  } else if (opts.mode == "idle_sleep") {
    idle_task_bytes(opts.workers, "idle_task_bytes_sleep");
  } else {
    std::fprintf(stderr, "unknown mode \"%s\"; expected rt, sync, sleep, idle or idle_sleep\n",
                 opts.mode.c_str());
    return 2;
  }
  return 0;
}
