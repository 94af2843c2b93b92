// weft side of the scheduler size sweep (bench/peer/sweep.sh); the tokio twin
// is bench/peer/tokio/src/sweep.rs. Same shapes, same finish line, same output.
//
//   weft_rt_bench sweep BENCH SIZE [WORKERS] [REPS]
//     BENCH: spawn_local   one task spawns SIZE no-op tasks (weft::spawn)
//            spawn_remote  the main thread spawns SIZE no-op tasks (rt.spawn)
//            yield_many    SIZE tasks (rt.spawn) each yield 1,000 times
//            chain         SIZE links, each spawning the next from its task
//     Every task drops its join handle; the last task to finish counts a
//     std::atomic down to zero and releases a semaphore the main thread waits
//     on. Prints BENCH<TAB>SIZE<TAB>median_ns<TAB>fastest_ns (per run of the
//     whole shape, after 2 warm-ups).
//
//   weft_rt_bench queued_rss SIZE [WORKERS] [call|lambda]
//     Peak RSS of SIZE spawned-but-not-yet-run no-op tasks: every worker is
//     held in a spinning task, the main thread spawns SIZE tasks (they all
//     wait in the queues), reads the peak RSS, lets the workers go and waits
//     for the tasks. Prints queued_rss<TAB>SIZE<TAB>peak_rss_kib<TAB>
//     rss_before_spawning_kib (queued_rss_lambda for the lambda form:
//     rt.spawn([] () -> task<> {...}) instead of rt.spawn(no_op())).
#include <weft/weft.hpp>

#include "bench_common.hpp"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

namespace weft_bench {
namespace {

constexpr std::size_t yields_per_task = 1'000;

// Static storage: the last task may still be inside arrive() when the
// measuring thread has returned (see countdown).
countdown sweep_done;

weft::task<> no_op() {
  sweep_done.arrive();
  co_return;
}

weft::task<> yielder() {
  for (std::size_t y = 0; y < yields_per_task; ++y) co_await weft::yield_now();
  sweep_done.arrive();
}

void chain_link(std::size_t remaining) {
  if (remaining == 0) {
    sweep_done.arrive();
    return;
  }
  (void)weft::spawn([remaining]() -> weft::task<> {
    chain_link(remaining - 1);
    co_return;
  });
}

void print_row(const std::string& bench, std::size_t size, const timing& t) {
  std::printf("%s\t%zu\t%lld\t%lld\n", bench.c_str(), size, static_cast<long long>(t.median_ns),
              static_cast<long long>(t.fastest_ns));
  std::fflush(stdout);
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int run_sweep(const std::string& bench, std::size_t size, std::size_t workers, int reps) {
  auto rt = weft::runtime_builder{}.worker_threads(workers).build();
  timing t{};
  if (bench == "spawn_local") {
    t = time_runs(reps, [&] {
      sweep_done.reset(size);
      (void)rt.spawn([](std::size_t n) -> weft::task<> {
        for (std::size_t i = 0; i < n; ++i) (void)weft::spawn(no_op());
        co_return;
      }, size);
      sweep_done.done.acquire();
    });
  } else if (bench == "spawn_remote") {
    t = time_runs(reps, [&] {
      sweep_done.reset(size);
      for (std::size_t i = 0; i < size; ++i) (void)rt.spawn(no_op());
      sweep_done.done.acquire();
    });
  } else if (bench == "yield_many") {
    t = time_runs(reps, [&] {
      sweep_done.reset(size);
      for (std::size_t i = 0; i < size; ++i) (void)rt.spawn(yielder());
      sweep_done.done.acquire();
    });
  } else if (bench == "chain") {
    t = time_runs(reps, [&] {
      sweep_done.reset(1);
      (void)rt.spawn([](std::size_t n) -> weft::task<> {
        chain_link(n);
        co_return;
      }, size);
      sweep_done.done.acquire();
    });
  } else {
    std::fprintf(stderr, "unknown sweep benchmark \"%s\"; expected spawn_local, spawn_remote, "
                         "yield_many or chain\n", bench.c_str());
    return 2;
  }
  print_row(bench, size, t);
  return 0;
}

int run_queued_rss(std::size_t size, std::size_t workers, bool lambda_form) {
  auto rt = weft::runtime_builder{}.worker_threads(workers).build();
  static std::atomic<std::size_t> holding{0};
  static std::atomic<bool> release{false};
  // Warm the runtime (threads, thread-locals) before the baseline.
  sweep_done.reset(1);
  (void)rt.spawn(no_op());
  sweep_done.done.acquire();
  const long before = peak_rss_kib();

  for (std::size_t i = 0; i < workers; ++i) {
    (void)rt.spawn([]() -> weft::task<> {
      // ORDERING: relaxed: a counter and a flag, no data published through them.
      holding.fetch_add(1, std::memory_order_relaxed);
      while (!release.load(std::memory_order_relaxed)) std::this_thread::yield();
      co_return;
    });
  }
  const auto deadline = clock_type::now() + std::chrono::seconds(60);
  while (holding.load(std::memory_order_relaxed) < workers) {  // ORDERING: as above
    if (clock_type::now() > deadline) throw std::runtime_error("workers were not all held in 60 s");
    std::this_thread::yield();
  }
  sweep_done.reset(size);
  if (lambda_form) {
    // The callable form: the frame of the lambda's coroutine is made when the
    // task first runs, so a queued task is one block.
    for (std::size_t i = 0; i < size; ++i) (void)rt.spawn([]() -> weft::task<> { return no_op(); });
  } else {
    // The call form: no_op()'s frame exists already, and the task awaiting
    // it is a second block.
    for (std::size_t i = 0; i < size; ++i) (void)rt.spawn(no_op());
  }
  const long peak = peak_rss_kib();
  release.store(true, std::memory_order_relaxed);  // ORDERING: as above
  sweep_done.done.acquire();
  std::printf("%s\t%zu\t%ld\t%ld\n", lambda_form ? "queued_rss_lambda" : "queued_rss", size, peak,
              before);
  std::fflush(stdout);
  return 0;
}

}  // namespace weft_bench
