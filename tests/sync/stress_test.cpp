// No lost wake-up: millions of randomized signal/wait rounds through
// weft::semaphore, weft::notify and an automatic weft::event, across worker
// threads and a plain thread.
//
// Each round is one unit signalled (a permit released, an item announced by
// notify_one or by set()) and consumed by a waiting task. A lost wake-up
// leaves a consumer waiting while units are pending and nobody will signal
// again: the run hangs. The hang guard (a weft::timeout of 120 s around the
// whole run, not a timing assertion) turns that into a failure with the
// progress counters. The counting invariants (units signalled == units
// consumed, nothing left over) catch the opposite bug: a wake-up fabricated
// or delivered twice.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "sync_support.hpp"

#if defined(__SANITIZE_THREAD__)
#define WEFT_SYNC_STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_SYNC_STRESS_TSAN 1
#endif
#endif

namespace {

using namespace std::chrono_literals;
using weft::task;

#if defined(WEFT_SYNC_STRESS_TSAN)
// ThreadSanitizer slows every lock and wake about tenfold: the same mix,
// scaled down so the run stays well under a minute. (ASan runs the full count.)
constexpr std::int64_t kTotalRounds = 1'000'000;
#else
constexpr std::int64_t kTotalRounds = 10'000'000;
#endif

constexpr int kProducerTasks = 2;
constexpr int kConsumersPerKind = 2;

enum kind : int { k_semaphore = 0, k_notify = 1, k_event = 2 };
constexpr int kKinds = 3;

struct shared_state {
  weft::semaphore sem{0};
  weft::notify note;
  weft::event ev{weft::event_mode::automatic};

  // Units announced but not yet taken (notify and event kinds).
  std::array<std::atomic<std::int64_t>, kKinds> pending{};
  // Units signalled / consumed per kind.
  std::array<std::atomic<std::int64_t>, kKinds> signalled{};
  std::array<std::atomic<std::int64_t>, kKinds> consumed{};
  // Waits that actually went through the primitive (awaits), per kind.
  std::array<std::atomic<std::int64_t>, kKinds> awaits{};
  std::array<std::atomic<bool>, kKinds> done{};
  std::array<std::int64_t, kKinds> target{};

  void signal(int k, std::int64_t n) {
    signalled[k].fetch_add(n, std::memory_order_relaxed);
    switch (k) {
      case k_semaphore:
        sem.release(static_cast<std::size_t>(n));
        break;
      case k_notify:
        pending[k].fetch_add(n);
        note.notify_one();
        break;
      default:
        pending[k].fetch_add(n);
        ev.set();
        break;
    }
  }

  bool take_one(int k) {
    std::int64_t p = pending[k].load();
    while (p > 0) {
      if (pending[k].compare_exchange_weak(p, p - 1)) return true;
    }
    return false;
  }
};

// A producer's share of the units: for each kind, how many it signals.
using quota = std::array<std::int64_t, kKinds>;

// Signal every unit of `q`, in random kinds and batch sizes.
template <class Yield>
void produce_plan(shared_state& st, quota q, std::uint64_t seed, Yield&& yield) {
  sync_test::rng r(seed);
  std::int64_t left = q[0] + q[1] + q[2];
  std::uint64_t until_yield = 1 + r.below(64);
  while (left > 0) {
    int k = static_cast<int>(r.below(kKinds));
    while (q[k] == 0) k = (k + 1) % kKinds;
    const std::int64_t n =
        std::min<std::int64_t>(q[k], k == k_semaphore ? 1 + static_cast<std::int64_t>(r.below(4)) : 1);
    st.signal(k, n);
    q[k] -= n;
    left -= n;
    if (--until_yield == 0) {
      yield();
      until_yield = 1 + r.below(64);
    }
  }
}

task<> producer_task(shared_state& st, quota q, std::uint64_t seed) {
  // produce_plan is synchronous; split it into slices so the task can yield.
  sync_test::rng r(seed);
  std::int64_t left = q[0] + q[1] + q[2];
  while (left > 0) {
    const std::int64_t slice = std::min<std::int64_t>(left, 1 + static_cast<std::int64_t>(r.below(16)));
    quota part{};
    std::int64_t need = slice;
    for (int k = 0; k < kKinds && need > 0; ++k) {
      const std::int64_t take = std::min(q[k], need);
      part[k] = take;
      q[k] -= take;
      need -= take;
    }
    produce_plan(st, part, r.next(), [] {});
    left -= slice;
    co_await weft::yield_now();
  }
}

task<> semaphore_consumer(shared_state& st, std::int64_t quota_units, std::uint64_t seed) {
  sync_test::rng r(seed);
  while (quota_units > 0) {
    const std::int64_t n = std::min<std::int64_t>(quota_units, 1 + static_cast<std::int64_t>(r.below(3)));
    weft::semaphore_permit p = co_await st.sem.acquire(static_cast<std::size_t>(n));
    st.awaits[k_semaphore].fetch_add(1, std::memory_order_relaxed);
    p.forget();
    st.consumed[k_semaphore].fetch_add(n, std::memory_order_relaxed);
    quota_units -= n;
  }
}

// notify / event consumers: take announced units; wait when there are none.
// When the last unit is consumed, `done` is set and every exiting consumer
// passes one more signal on, so the others wake and leave too.
template <class Wait, class Pass>
task<> counting_consumer(shared_state& st, int k, Wait wait, Pass pass) {
  for (;;) {
    if (st.take_one(k)) {
      if (st.consumed[k].fetch_add(1) + 1 == st.target[k]) {
        st.done[k].store(true);
        pass();
        co_return;
      }
      continue;
    }
    if (st.done[k].load()) {
      pass();
      co_return;
    }
    co_await wait();
    st.awaits[k].fetch_add(1, std::memory_order_relaxed);
  }
}

struct run_report {
  bool finished = false;
  double seconds = 0;
};

run_report run_stress(weft::runtime& rt, shared_state& st, std::int64_t total, bool plain_thread) {
  // Split the rounds: 40% semaphore permits, 30% notify items, 30% event items.
  st.target = {total * 4 / 10, total * 3 / 10, 0};
  st.target[k_event] = total - st.target[0] - st.target[1];
  // Producers: the plain thread (if any) takes a tenth, the tasks the rest.
  quota thread_q{};
  if (plain_thread) {
    for (int k = 0; k < kKinds; ++k) thread_q[k] = st.target[k] / 10;
  }
  std::array<quota, kProducerTasks> task_q{};
  for (int k = 0; k < kKinds; ++k) {
    const std::int64_t rest = st.target[k] - thread_q[k];
    for (int p = 0; p < kProducerTasks; ++p) {
      task_q[p][k] = rest / kProducerTasks + (p < rest % kProducerTasks ? 1 : 0);
    }
  }

  const auto start = std::chrono::steady_clock::now();
  std::thread thread_producer;
  auto body = [&]() -> task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int c = 0; c < kConsumersPerKind; ++c) {
      const std::int64_t share =
          st.target[k_semaphore] / kConsumersPerKind + (c < st.target[k_semaphore] % kConsumersPerKind ? 1 : 0);
      hs.push_back(weft::spawn(semaphore_consumer(st, share, 100 + c)));
      hs.push_back(weft::spawn(counting_consumer(
          st, k_notify, [&st] { return st.note.notified(); }, [&st] { st.note.notify_one(); })));
      hs.push_back(weft::spawn(counting_consumer(
          st, k_event, [&st] { return st.ev.wait(); }, [&st] { st.ev.set(); })));
    }
    for (int p = 0; p < kProducerTasks; ++p) {
      hs.push_back(weft::spawn(producer_task(st, task_q[p], 200 + p)));
    }
    if (plain_thread) {
      thread_producer = std::thread([&st, thread_q] {
        produce_plan(st, thread_q, 300, [] { std::this_thread::yield(); });
      });
    }
    for (auto& h : hs) co_await h;
  };
  auto guarded = weft::timeout(120s, body());
  const weft::result<void> r = rt.block_on(std::move(guarded));
  if (thread_producer.joinable()) thread_producer.join();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return run_report{r.has_value(), took.count()};
}

void check_and_print(const shared_state& st, const run_report& rep, std::int64_t total,
                     const char* name) {
  std::int64_t awaits = 0;
  for (int k = 0; k < kKinds; ++k) awaits += st.awaits[k].load();
  std::printf("[ stress   ] %s: %lld rounds (%lld signals consumed + %lld awaits) in %.2f s\n", name,
              static_cast<long long>(total), static_cast<long long>(total),
              static_cast<long long>(awaits), rep.seconds);
  EXPECT_TRUE(rep.finished) << "lost wake-up: the run hung. signalled/consumed/pending per kind "
                               "(semaphore, notify, event): "
                            << st.signalled[0].load() << "/" << st.consumed[0].load() << "/"
                            << st.sem.available() << ", " << st.signalled[1].load() << "/"
                            << st.consumed[1].load() << "/" << st.pending[1].load() << ", "
                            << st.signalled[2].load() << "/" << st.consumed[2].load() << "/"
                            << st.pending[2].load();
  if (!rep.finished) return;
  for (int k = 0; k < kKinds; ++k) {
    EXPECT_EQ(st.signalled[k].load(), st.target[k]) << "kind " << k;
    EXPECT_EQ(st.consumed[k].load(), st.target[k]) << "kind " << k;
  }
  EXPECT_EQ(st.signalled[0].load() + st.signalled[1].load() + st.signalled[2].load(), total);
  EXPECT_EQ(st.sem.available(), 0u);
  EXPECT_EQ(st.pending[k_notify].load(), 0);
  EXPECT_EQ(st.pending[k_event].load(), 0);
  EXPECT_EQ(weft::detail::waiter_count(st.sem), 0u);
  EXPECT_EQ(weft::detail::waiter_count(st.note), 0u);
  EXPECT_EQ(weft::detail::waiter_count(st.ev), 0u);
}

TEST(SyncStress, NoLostWakeupInTenMillionRandomizedRoundsAcrossWorkersAndAPlainThread) {
  shared_state st;  // outlives the runtime: a hung run's tasks are destroyed at shutdown
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
  const run_report rep = run_stress(rt, st, kTotalRounds, /*plain_thread=*/true);
  check_and_print(st, rep, kTotalRounds, "multi_thread, 2 workers + plain thread");
}

TEST(SyncStress, NoLostWakeupOnTheCurrentThreadRuntimeWithAPlainThreadSignalling) {
  shared_state st;
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  const run_report rep = run_stress(rt, st, kTotalRounds / 10, /*plain_thread=*/true);
  check_and_print(st, rep, kTotalRounds / 10, "current_thread + plain thread");
}

}  // namespace
