// Waiting allocates nothing: the awaiter is the queue node and wakes are
// batched on the stack. Counted with a replaced global operator new while two
// tasks ping-pong through each primitive (so most waits really queue), on
// both runtime flavours.
//
// On the current-thread runtime the count is exactly zero. On the
// multi-thread runtime the scheduler itself may allocate a few times, once,
// in a window (measured: a worker's deferred-task vector growing the first
// time that worker defers a task, and block_on's parker the first time the
// test thread parks); those do not grow with the number of waits. So there
// the bound is a small constant against thousands of waits.
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "support/flavors.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t n) {
  // ORDERING: relaxed: the flag is flipped by the test thread around windows
  // that it orders with its own awaits; counting is all we need.
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using weft::task;

class SyncAllocation : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, SyncAllocation, weft_test::each_flavor(),
                         weft_test::flavor_name);

constexpr int kWarmup = 200;
constexpr int kMeasured = 5000;  // per side: 10,000 waits per window, most of them queued

// Run side(0, iters) and side(1, iters) as two tasks: first kWarmup
// iterations (caches and queues reach their steady size), then kMeasured
// iterations with allocations counted. Returns the count.
template <class Side>
long allocations_while(weft::runtime& rt, Side side);

// The allowed count: see the file comment.
long allowed(const weft::runtime& rt) {
  return rt.flavor() == weft::runtime_flavor::current_thread ? 0 : 4;
}

template <class Side>
long allocations_while(weft::runtime& rt, Side side) {
  long counted = -1;
  rt.block_on([&]() -> task<> {
    weft::latch warm(2);
    weft::event go;
    weft::latch finished(2);
    auto run = [&](int who) -> task<> {
      co_await side(who, kWarmup);
      task<> measured = side(who, kMeasured);  // its frame is allocated here, not counted
      warm.count_down();
      co_await go.wait();
      co_await measured;
      finished.count_down();
    };
    auto a = weft::spawn(run, 0);
    auto b = weft::spawn(run, 1);
    co_await warm.wait();
    g_allocations.store(0);
    g_counting.store(true);
    go.set();
    co_await finished.wait();
    g_counting.store(false);
    counted = g_allocations.load();
    co_await a;
    co_await b;
  }());
  return counted;
}

TEST_P(SyncAllocation, ContendedMutexAndSharedMutexWaitsAllocateNothing) {
  weft::mutex m;
  EXPECT_LE(allocations_while(rt, [&m](int, int iters) -> task<> {
              for (int i = 0; i < iters; ++i) {
                weft::mutex_guard g = co_await m.lock();
                co_await weft::yield_now();  // hold it across a suspension: the other queues
              }
            }),
            allowed(rt));
  weft::shared_mutex rw;
  EXPECT_LE(allocations_while(rt, [&rw](int who, int iters) -> task<> {
              for (int i = 0; i < iters; ++i) {
                if (who == 0) {
                  weft::unique_guard g = co_await rw.lock();
                  co_await weft::yield_now();
                } else {
                  weft::shared_guard g = co_await rw.lock_shared();
                  co_await weft::yield_now();
                }
              }
            }),
            allowed(rt));
}

TEST_P(SyncAllocation, SemaphoreNotifyAndEventPingPongAllocatesNothing) {
  weft::semaphore ping(0);
  weft::semaphore pong(0);
  EXPECT_LE(allocations_while(rt, [&](int who, int iters) -> task<> {
              for (int i = 0; i < iters; ++i) {
                if (who == 0) {
                  ping.release(1);
                  (co_await pong.acquire()).forget();
                } else {
                  (co_await ping.acquire()).forget();
                  pong.release(1);
                }
              }
            }),
            allowed(rt));
  weft::notify n0;
  weft::notify n1;
  EXPECT_LE(allocations_while(rt, [&](int who, int iters) -> task<> {
              for (int i = 0; i < iters; ++i) {
                if (who == 0) {
                  n0.notify_one();
                  co_await n1.notified();
                } else {
                  co_await n0.notified();
                  n1.notify_one();
                }
              }
            }),
            allowed(rt));
  weft::event e0(weft::event_mode::automatic);
  weft::event e1(weft::event_mode::automatic);
  EXPECT_LE(allocations_while(rt, [&](int who, int iters) -> task<> {
              for (int i = 0; i < iters; ++i) {
                if (who == 0) {
                  e0.set();
                  co_await e1.wait();
                } else {
                  co_await e0.wait();
                  e1.set();
                }
              }
            }),
            allowed(rt));
}

TEST_P(SyncAllocation, BarrierPhasesAllocateNothing) {
  weft::barrier b(2);
  EXPECT_LE(allocations_while(rt, [&b](int, int iters) -> task<> {
              for (int i = 0; i < iters; ++i) (void)co_await b.arrive_and_wait();
            }),
            allowed(rt));
}

}  // namespace
