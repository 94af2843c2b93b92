// owned_blocks — the 16 KiB blocks a buffered read owns where there are no
// provided buffers (the epoll backend; io_uring when the kernel refuses
// them; the simulation), kept in a small per-thread cache.
//
// Why: a block per message, new[] then delete[] on the worker's thread, made
// glibc grow and trim its thread arena over and over (each trim an madvise,
// each growth page faults and zeroing): an epoll echo of 64-byte messages at
// 64 connections spent 13 % of its CPU in sysmalloc and 11 % copying into
// fresh pages, and served half of tokio's messages per second. Reusing the
// blocks a thread freed keeps them hot and mapped.
//
// A thread keeps at most max_cached free blocks (1 MiB); more are deleted.
// A block freed on another thread (a recv_buffer moved there) joins that
// thread's cache: the blocks are plain memory, owned by no one. The cache
// is freed when its thread exits; a block freed after that is deleted. No
// locks: each cache is its thread's own.
#include <weft/detail/io_op.hpp>

#include <cstddef>
#include <new>

namespace weft::detail {
namespace {

constexpr std::size_t max_cached = 64;

// Trivially destructible, so it stays usable until the thread is gone: a
// block freed after drain's destructor ran (another thread_local's
// destructor, the main thread's static destructors) is deleted at once.
struct block_cache {
  std::byte* free[max_cached];
  std::size_t count;
  bool closed;
};
thread_local block_cache tl_cache{};

struct cache_drain {
  cache_drain() = default;
  cache_drain(const cache_drain&) = delete;
  cache_drain& operator=(const cache_drain&) = delete;
  ~cache_drain() {
    for (std::size_t i = 0; i < tl_cache.count; ++i) delete[] tl_cache.free[i];
    tl_cache.count = 0;
    tl_cache.closed = true;
  }
};
thread_local cache_drain tl_drain;

// The cache, its drain registered for this thread's exit (constructing
// tl_drain at its first use here does that).
block_cache& cache() noexcept {
  [[maybe_unused]] cache_drain& d = tl_drain;
  return tl_cache;
}

}  // namespace

std::byte* alloc_owned_block() noexcept {
  block_cache& c = cache();
  if (c.count > 0) return c.free[--c.count];
  return new (std::nothrow) std::byte[owned_block_size];
}

void free_owned_block(std::byte* block) noexcept {
  if (block == nullptr) return;
  block_cache& c = cache();
  if (!c.closed && c.count < max_cached) {
    c.free[c.count++] = block;
    return;
  }
  delete[] block;
}

}  // namespace weft::detail
