// Micro-benchmarks of weft's core paths. Run from a Release build:
//   cmake --preset release && cmake --build --preset release --target weft_micro_bench
//   ./build/release/bench/weft_micro_bench
#include <weft/weft.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <vector>

namespace {

weft::task<int> leaf(int v) { co_return v; }

// A synchronous co_await of a task: frame allocation + start + finish.
void task_await(benchmark::State& state) {
  weft::block_on([&]() -> weft::task<> {
    for (auto _ : state) benchmark::DoNotOptimize(co_await leaf(1));
  }());
}
BENCHMARK(task_await);

// block_on of a ready task: the minimal runner's fixed cost.
void block_on_ready(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(weft::block_on(leaf(1)));
}
BENCHMARK(block_on_ready);

// spawn + join of a no-op task from inside a task.
void spawn_join(benchmark::State& state) {
  auto rt = weft::runtime_builder{}.worker_threads(static_cast<std::size_t>(state.range(0))).build();
  rt.block_on([&]() -> weft::task<> {
    for (auto _ : state) {
      auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
      benchmark::DoNotOptimize(co_await h);
    }
  }());
}
BENCHMARK(spawn_join)->Arg(1)->Arg(2);

// A batch of 1,000 spawns, joined together.
void spawn_batch(benchmark::State& state) {
  auto rt = weft::runtime_builder{}.worker_threads(2).build();
  rt.block_on([&]() -> weft::task<> {
    std::vector<weft::join_handle<void>> hs;
    hs.reserve(1000);
    for (auto _ : state) {
      for (int i = 0; i < 1000; ++i) hs.push_back(weft::spawn([]() -> weft::task<> { co_return; }));
      for (auto& h : hs) co_await h;
      hs.clear();
    }
  }());
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(spawn_batch);

// yield_now round trip through the scheduler.
void yield_now(benchmark::State& state) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.block_on([&]() -> weft::task<> {
    for (auto _ : state) co_await weft::yield_now();
  }());
}
BENCHMARK(yield_now);

// A zero-length sleep in a hot loop (budget-limited ready path).
void sleep_ready(benchmark::State& state) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.block_on([&]() -> weft::task<> {
    for (auto _ : state) co_await weft::sleep(std::chrono::nanoseconds(0));
  }());
}
BENCHMARK(sleep_ready);

// timeout around a ready task: branch cells + timer set and cancelled.
void timeout_ready(benchmark::State& state) {
  auto rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.block_on([&]() -> weft::task<> {
    for (auto _ : state) {
      auto r = co_await weft::timeout(std::chrono::seconds(1), leaf(1));
      benchmark::DoNotOptimize(r);
    }
  }());
}
BENCHMARK(timeout_ready);

}  // namespace
