// The frame allocator's producer/consumer path: blocks freed on a thread that
// does not allocate them travel back, in batches through the central pool, to
// the thread that does (include/weft/detail/frame_allocator.hpp).
//
// The order is forced by joining threads: the producer allocates everything,
// then the consumer frees everything, then the producer allocates again.
#include <weft/detail/frame_allocator.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace {

using weft::detail::frame_allocate;
using weft::detail::frame_deallocate;
using weft::detail::frame_pool_blocks_for_tests;

// A size of its own (class 592..640 B), so other tests' frames in the same
// process do not move the pool's count.
constexpr std::size_t block_size = 600;
constexpr std::size_t block_count = 20'000;  // 12 MB: far past a thread's 256 KiB cache

TEST(FrameAllocator, BlocksFreedByAConsumerThreadReturnToTheProducer) {
  const std::size_t pooled_before = frame_pool_blocks_for_tests(block_size);
  std::vector<void*> blocks;
  std::thread producer([&] {
    for (std::size_t i = 0; i < block_count; ++i) {
      void* p = frame_allocate(block_size);
      std::memset(p, 0x5a, block_size);  // the whole block is usable
      blocks.push_back(p);
    }
  });
  producer.join();
  const std::set<void*> first_round(blocks.begin(), blocks.end());
  ASSERT_EQ(first_round.size(), block_count);

  std::thread consumer([&] {
    for (void* p : blocks) frame_deallocate(p, block_size);
  });
  consumer.join();
  blocks.clear();
  // The consumer kept at most 256 KiB and a part-filled batch; the rest is
  // in the pool (its thread's exit returned what it kept to the heap).
  const std::size_t pooled = frame_pool_blocks_for_tests(block_size) - pooled_before;
  EXPECT_GE(pooled, block_count - 256 * 1024 / 640 - 64);

  std::size_t reused = 0;
  std::thread producer_again([&] {
    for (std::size_t i = 0; i < block_count; ++i) {
      void* p = frame_allocate(block_size);
      reused += first_round.count(p);
      blocks.push_back(p);
    }
  });
  producer_again.join();
  EXPECT_GE(reused, pooled);  // every pooled block came back before the heap was asked
  EXPECT_EQ(frame_pool_blocks_for_tests(block_size), 0u);  // all taken: block_count > pooled
  for (void* p : blocks) frame_deallocate(p, block_size);
}

TEST(FrameAllocator, ASizeTooLargeToPoolStillRoundTrips) {
  void* p = frame_allocate(64 * 1024);
  std::memset(p, 1, 64 * 1024);
  frame_deallocate(p, 64 * 1024);
  EXPECT_EQ(frame_pool_blocks_for_tests(64 * 1024), 0u);
}

}  // namespace
