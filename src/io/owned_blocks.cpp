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
// thread's cache if that thread has one (it allocated a block before): the
// blocks are plain memory, owned by no one. The cache is freed when its
// thread exits; a block freed after that is deleted. No locks: each cache
// is its thread's own. Under ASan there is no cache, so a use of a
// recv_buffer's bytes after its reset is still reported.
#include <weft/detail/io_op.hpp>

#include <cstddef>
#include <new>

namespace weft::detail {
namespace {

// Under ASan every block is new[] and delete[], so a use after free is caught.
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_OWNED_BLOCK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_OWNED_BLOCK_CACHE 0
#endif
#endif
#ifndef WEFT_OWNED_BLOCK_CACHE
#define WEFT_OWNED_BLOCK_CACHE 1
#endif
constexpr bool use_cache = WEFT_OWNED_BLOCK_CACHE != 0;

constexpr std::size_t max_cached = 64;

// Trivially destructible, so it stays usable until the thread is gone.
// `registered`: this thread's drain exists (only alloc_owned_block makes
// it, never a free, which may run after the thread's thread_local
// destructors, when a new one would never be destroyed); `closed`: it has
// run. A block freed when the cache is not registered or closed is deleted.
struct block_cache {
  std::byte* free[max_cached];
  std::size_t count;
  bool registered;
  bool closed;
};
thread_local block_cache tl_cache{};

struct cache_drain {
  cache_drain() noexcept { tl_cache.registered = true; }
  cache_drain(const cache_drain&) = delete;
  cache_drain& operator=(const cache_drain&) = delete;
  ~cache_drain() {
    for (std::size_t i = 0; i < tl_cache.count; ++i) delete[] tl_cache.free[i];
    tl_cache.count = 0;
    tl_cache.closed = true;
  }
};
thread_local cache_drain tl_drain;

}  // namespace

std::byte* alloc_owned_block() noexcept {
  if constexpr (use_cache) {
    [[maybe_unused]] cache_drain& d = tl_drain;  // registers this thread's drain
    block_cache& c = tl_cache;
    if (!c.closed && c.count > 0) return c.free[--c.count];
  }
  return new (std::nothrow) std::byte[owned_block_size];
}

void free_owned_block(std::byte* block) noexcept {
  if (block == nullptr) return;
  block_cache& c = tl_cache;
  if (use_cache && c.registered && !c.closed && c.count < max_cached) {
    c.free[c.count++] = block;
    return;
  }
  delete[] block;
}

}  // namespace weft::detail
