// Allocation behaviour of the channels, counted by replacing the global
// operator new in this test binary. Counting is per thread (the test's), so
// these run on a current_thread runtime, where every task runs on the test's
// thread.
#include <weft/channel.hpp>
#include <weft/runtime.hpp>

#include "channel_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace {

std::atomic<std::int64_t> g_allocations{0};
std::atomic<std::int64_t> g_bytes{0};
thread_local bool t_counting = false;

void* counted_alloc(std::size_t n, std::size_t align) {
  if (t_counting) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  }
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

/// Counts the allocations made on this thread while it lives.
class counting {
 public:
  counting() noexcept {
    g_allocations.store(0);
    g_bytes.store(0);
    t_counting = true;
  }
  counting(const counting&) = delete;
  counting& operator=(const counting&) = delete;
  ~counting() { t_counting = false; }
  [[nodiscard]] std::int64_t allocations() const noexcept { return g_allocations.load(); }
  [[nodiscard]] std::int64_t bytes() const noexcept { return g_bytes.load(); }
};

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, alignof(std::max_align_t)); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using weft::task;

weft::runtime one_thread() {
  return weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
}

TEST(ChannelAllocation, BoundedChannelDoesNotAllocatePerMessageInSteadyState) {
  auto ch = weft::mpsc::channel<std::uint64_t>(100);
  auto fill_and_drain = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(ch.first.try_send(i).has_value());
      for (std::uint64_t i = 0; i < 100; ++i) ASSERT_EQ(ch.second.try_recv().value(), i);
    }
  };
  fill_and_drain(1);  // warm-up (the blocks are made up front anyway)
  counting c;
  fill_and_drain(1000);  // 100'000 messages, the buffer full and empty 1000 times
  EXPECT_EQ(c.allocations(), 0);
}

TEST(ChannelAllocation, SendersWaitingOnAFullBoundedChannelDoNotAllocate) {
  weft::runtime rt = one_thread();
  rt.block_on([]() -> task<void> {
    constexpr int n = 20'000;
    auto ch = weft::mpsc::channel<int>(8);
    auto producer = weft::spawn([tx = std::move(ch.first)]() mutable -> task<void> {
      for (int i = 0; i < n; ++i) EXPECT_TRUE((co_await tx.send(i)).has_value());
    });
    for (int i = 0; i < 1000; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);  // warm-up
    std::int64_t allocations = 0;
    {
      counting c;  // both tasks block and wake each other ~2000 times in here
      for (int i = 1000; i < n; ++i) EXPECT_EQ((co_await ch.second.recv()).value(), i);
      allocations = c.allocations();
    }
    EXPECT_EQ(allocations, 0);
    co_await producer;
  }());
}

TEST(ChannelAllocation, AHugeCapacityIsNotAllocatedUpFront) {
  std::int64_t at_creation = 0;
  std::int64_t while_filling = 0;
  std::int64_t refilling = 0;
  {
    counting c;
    auto ch = weft::mpsc::channel<std::uint64_t>(1'000'000);
    at_creation = c.bytes();
    for (std::uint64_t i = 0; i < 5000; ++i) ASSERT_TRUE(ch.first.try_send(i).has_value());
    while_filling = c.allocations();
    for (std::uint64_t i = 0; i < 5000; ++i) ASSERT_EQ(ch.second.try_recv().value(), i);
    for (std::uint64_t i = 0; i < 5000; ++i) ASSERT_TRUE(ch.first.try_send(i).has_value());
    refilling = c.allocations() - while_filling;
  }
  EXPECT_LT(at_creation, 16 * 1024);      // not 8 MB of slots
  EXPECT_LE(while_filling, 5000 / 32 + 4);  // one block per 32 values
  EXPECT_EQ(refilling, 0);                  // the blocks are kept and reused
}

TEST(ChannelAllocation, UnboundedChannelAllocatesOneBlockPer32Messages) {
  auto ch = weft::mpsc::unbounded_channel<std::uint64_t>();
  counting c;
  for (std::uint64_t i = 0; i < 3200; ++i) ASSERT_TRUE(ch.first.send(i).has_value());
  EXPECT_LE(c.allocations(), 3200 / 32 + 1);
  // Keeping pace (a receiver draining as values come) reuses one block.
  for (std::uint64_t i = 0; i < 3200; ++i) ASSERT_EQ(ch.second.try_recv().value(), i);
  const std::int64_t before = c.allocations();
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(ch.first.send(i).has_value());
    ASSERT_EQ(ch.second.try_recv().value(), i);
  }
  EXPECT_EQ(c.allocations(), before);
}

TEST(ChannelAllocation, AOneshotChannelIsAtMostOneAllocationAndItsWaitsNone) {
  weft::runtime rt = one_thread();
  rt.block_on([]() -> task<void> {
    // Warm-up: the first channels may fill the thread's pools.
    for (int i = 0; i < 10; ++i) {
      auto ch = weft::oneshot::channel<int>();
      EXPECT_TRUE(ch.first.send(i).has_value());
      EXPECT_EQ((co_await ch.second).value(), i);
    }
    std::int64_t allocations = 0;
    {
      counting c;
      for (int i = 0; i < 1000; ++i) {
        auto ch = weft::oneshot::channel<int>();
        EXPECT_TRUE(ch.first.send(i).has_value());
        EXPECT_EQ((co_await ch.second).value(), i);
      }
      allocations = c.allocations();
    }
    EXPECT_LE(allocations, 1000);
  }());
}

TEST(ChannelAllocation, BroadcastAndWatchSendsDoNotAllocate) {
  auto b = weft::broadcast::channel<std::uint64_t>(16);
  auto w = weft::watch::channel<std::uint64_t>(0);
  counting c;
  for (std::uint64_t i = 0; i < 10'000; ++i) {
    ASSERT_TRUE(b.first.send(i).has_value());
    ASSERT_EQ(b.second.try_recv().value(), i);
    ASSERT_TRUE(w.first.send(i).has_value());
  }
  EXPECT_EQ(c.allocations(), 0);
}

}  // namespace
