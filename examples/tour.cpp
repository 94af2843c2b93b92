// A tour of weft's core: spawn and join, sleep, timeout, spawn_blocking, a
// live measurement of spawn throughput on this machine, a bounded channel
// raced against a deadline, and a task_result_bundle whose first failure
// cancels the rest.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
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

weft::task<> produce(weft::mpsc::sender<int> tx, int count) {
  for (int i = 1; i <= count; ++i) (void)co_await tx.send(i);  // waits while the channel is full
}

// 6. A bounded channel with back-pressure, and when_any racing a receive
// against a sleep: the loser is cancelled and gone before when_any returns.
weft::task<> channels_and_select() {
  auto [tx, rx] = weft::mpsc::channel<int>(8);
  const auto t0 = sclock::now();
  (void)weft::spawn(produce, std::move(tx), 100'000);
  long long sum = 0;
  for (;;) {
    weft::result<int> v = co_await rx.recv();
    if (!v) break;  // every sender gone and the queue drained: channel_closed
    sum += *v;
  }
  const double ms = ms_since(t0);
  // Nobody sends on `idle`: the sleep wins and the pending receive is withdrawn.
  auto [idle_tx, idle_rx] = weft::mpsc::channel<int>(1);
  auto won = co_await weft::when_any(idle_rx.recv(), weft::sleep(5ms));
  std::printf("6. channel: 100000 values through bounded(8), sum %lld, %.1f ms; "
              "when_any(recv on a silent channel, sleep 5 ms) -> %s won\n",
              sum, ms, won.index == 1 ? "the sleep" : "the receive");
}

weft::task<int> may_fail(int i) {
  if (i == 7) throw std::runtime_error("task 7 failed");
  co_await weft::sleep(10s);  // the others would wait 10 s: the failure cancels them
  co_return i;
}

// 7. task_result_bundle: the first failure cancels the other tasks through
// the bundle's token, and join_all returns once all of them have ended.
weft::task<> bundle_first_failure() {
  weft::task_result_bundle<int> bundle;
  for (int i = 0; i < 100; ++i) bundle.spawn(may_fail, i);
  const auto t0 = sclock::now();
  try {
    (void)co_await bundle.join_all();
  } catch (const std::exception& e) {
    std::printf("7. task_result_bundle: 100 tasks, join_all -> \"%s\", the other 99 cancelled "
                "and ended in %.1f ms\n",
                e.what(), ms_since(t0));
  }
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

  co_await channels_and_select();
  co_await bundle_first_failure();
}

}  // namespace

int main() {
  auto rt = weft::runtime_builder{}.build();
  std::printf("runtime: multi_thread, %zu workers\n", rt.worker_count());
  rt.block_on(tour());
  return 0;
}
