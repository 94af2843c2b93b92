// A tour of weft's core: spawn and join, sleep, timeout, spawn_blocking, and a
// live measurement of spawn throughput on this machine.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;

namespace {

double ms_since(sclock::time_point t) {
  return std::chrono::duration<double, std::milli>(sclock::now() - t).count();
}

weft::task<int> fib(int n) {
  if (n < 2) co_return n;
  // Two children in parallel: the workers steal them from each other.
  auto a = weft::spawn(fib, n - 1);
  int b = co_await fib(n - 2);
  co_return co_await a + b;
}

weft::task<> tour() {
  std::printf("weft tour\n\n");

  // 1. spawn + join: a handle gives the value (or rethrows).
  auto t0 = sclock::now();
  int f = co_await fib(20);
  std::printf("1. spawn/join: fib(20) = %d with a task per call, %.1f ms\n", f, ms_since(t0));

  // 2. sleep: 100 tasks sleep 20 ms concurrently: ~20 ms in all, not 2 s.
  t0 = sclock::now();
  std::vector<weft::join_handle<void>> sleepers;
  for (int i = 0; i < 100; ++i) {
    sleepers.push_back(weft::spawn([]() -> weft::task<> { co_await weft::sleep(20ms); }));
  }
  for (auto& h : sleepers) co_await h;
  std::printf("2. sleep: 100 concurrent 20 ms sleeps took %.1f ms\n", ms_since(t0));

  // 3. timeout: the slow operation is cancelled (its frame destroyed).
  t0 = sclock::now();
  auto slow = []() -> weft::task<int> {
    co_await weft::sleep(10s);
    co_return 1;
  };
  weft::result<int> r = co_await weft::timeout(30ms, slow());
  std::printf("3. timeout: a 10 s operation under a 30 ms timeout -> %s after %.1f ms\n",
              r ? "value" : r.error().message().c_str(), ms_since(t0));

  // 4. spawn_blocking: blocking work off the async workers.
  t0 = sclock::now();
  auto worker_id = std::this_thread::get_id();
  bool elsewhere = co_await weft::spawn_blocking([worker_id] {
    std::this_thread::sleep_for(10ms);  // a blocking call: fine here
    return std::this_thread::get_id() != worker_id;
  });
  std::printf("4. spawn_blocking: ran on a blocking-pool thread: %s, %.1f ms\n",
              elsewhere ? "yes" : "no", ms_since(t0));

  // 5. spawn throughput, measured now.
  constexpr int n = 200'000;
  std::atomic<int> done{0};
  t0 = sclock::now();
  std::vector<weft::join_handle<void>> hs;
  hs.reserve(n);
  for (int i = 0; i < n; ++i) {
    hs.push_back(weft::spawn([&done]() -> weft::task<> {
      done.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }));
  }
  for (auto& h : hs) co_await h;
  const double ms = ms_since(t0);
  std::printf("5. spawn throughput: %d spawned and joined in %.1f ms = %.2f M tasks/s\n", n, ms,
              n / ms / 1000.0);
}

}  // namespace

int main() {
  auto rt = weft::runtime_builder{}.build();
  std::printf("runtime: multi_thread, %zu workers\n", rt.worker_count());
  rt.block_on(tour());
  return 0;
}
