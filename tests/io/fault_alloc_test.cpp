// operator new failing inside spawn: the spawner gets std::bad_alloc and
// nothing leaks (the asan build's LeakSanitizer checks the heap; the
// captured shared_ptr's count checks that the callable was destroyed).
//
// This binary replaces the global operator new/delete (every form, so that
// the sanitizers see one allocator: malloc/free). An allocation fails only on
// a thread that armed it: the n-th operator new after
// fail_nth_allocation_on_this_thread(n) throws std::bad_alloc.
#include "io/fault_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <new>

namespace {

// Allocations left before the one that fails (-1: none fails). Per thread:
// no other thread of the test (gtest, workers) is affected.
thread_local long allocations_before_failure = -1;

void fail_nth_allocation_on_this_thread(long n) { allocations_before_failure = n - 1; }
void stop_failing_allocations() { allocations_before_failure = -1; }

void* allocate(std::size_t size, std::size_t align) {
  if (allocations_before_failure >= 0 && allocations_before_failure-- == 0) throw std::bad_alloc();
  if (size == 0) size = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(size)
                : std::aligned_alloc(align, (size + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* allocate_nothrow(std::size_t size, std::size_t align) noexcept {
  try {
    return allocate(size, align);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n, alignof(std::max_align_t)); }
void* operator new[](std::size_t n) { return allocate(n, alignof(std::max_align_t)); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return allocate_nothrow(n, alignof(std::max_align_t));
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return allocate_nothrow(n, alignof(std::max_align_t));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_nothrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_nothrow(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using namespace weft_test::faults;
using weft::task;

// A task frame too large for the frame allocator's per-thread pool: its
// allocation always reaches operator new.
struct big {
  std::array<char, 8192> bytes{};
};

class SpawnAllocationFault : public ::testing::TestWithParam<weft::runtime_flavor> {};
INSTANTIATE_TEST_SUITE_P(Flavors, SpawnAllocationFault,
                         ::testing::Values(weft::runtime_flavor::multi_thread,
                                           weft::runtime_flavor::current_thread),
                         [](const auto& info) {
                           return std::string(info.param == weft::runtime_flavor::multi_thread
                                                  ? "multi_thread"
                                                  : "current_thread");
                         });

TEST_P(SpawnAllocationFault, FailedFrameAllocationThrowsBadAllocToTheSpawnerAndLeaksNothing) {
  weft::runtime rt = make_runtime(GetParam(), weft::io_backend_choice::automatic);
  auto witness = std::make_shared<int>(42);
  const int result = rt.block_on([&witness]() -> task<int> {
    int failures = 0;
    // Fail the 1st, 2nd, ... allocation of a spawn until a spawn succeeds.
    for (long n = 1;; ++n) {
      try {
        fail_nth_allocation_on_this_thread(n);
        auto h = weft::spawn([w = witness, b = big{}]() -> task<int> { co_return *w + b.bytes[0]; });
        stop_failing_allocations();
        const int v = co_await h;
        EXPECT_EQ(v, 42);
        break;
      } catch (const std::bad_alloc&) {
        stop_failing_allocations();
        ++failures;
        // The callable (and its copy of the witness) is gone.
        EXPECT_EQ(witness.use_count(), 1) << "allocation " << n;
      }
      if (n > 50) {
        ADD_FAILURE() << "spawn never succeeded";
        break;
      }
    }
    co_return failures;
  }());
  EXPECT_GE(result, 1) << "no allocation of spawn failed";
  EXPECT_EQ(witness.use_count(), 1);
  // The runtime still runs tasks.
  EXPECT_EQ(rt.block_on([]() -> task<int> { co_return 5; }()), 5);
}

TEST_P(SpawnAllocationFault, RuntimeSpawnFromOutsideThrowsBadAllocAndTheRuntimeStaysUsable) {
  weft::runtime rt = make_runtime(GetParam(), weft::io_backend_choice::automatic);
  auto witness = std::make_shared<int>(1);
  int failures = 0;
  for (long n = 1; n <= 50; ++n) {
    try {
      fail_nth_allocation_on_this_thread(n);
      auto h = rt.spawn([w = witness, b = big{}]() -> task<int> { co_return *w + b.bytes[0]; });
      stop_failing_allocations();
      EXPECT_EQ(rt.block_on(std::move(h)), 1);
      break;
    } catch (const std::bad_alloc&) {
      stop_failing_allocations();
      ++failures;
      EXPECT_EQ(witness.use_count(), 1) << "allocation " << n;
    }
  }
  EXPECT_GE(failures, 1);
  EXPECT_EQ(witness.use_count(), 1);
}

}  // namespace
