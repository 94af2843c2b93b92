// Per-thread size-class free lists for coroutine frames.
// See include/weft/detail/frame_allocator.hpp for the design.
#include <weft/detail/frame_allocator.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

#if defined(WEFT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace weft::detail {
namespace {

// Size classes: every 16 bytes up to 256 (a task header plus a small frame
// lands within 16 bytes of its size, not in the next power of two), every 64
// bytes up to 1 KiB, then 2 KiB and 4 KiB.
constexpr std::size_t fine_limit = 256;
constexpr std::size_t fine_step = 16;
constexpr std::size_t medium_limit = 1024;
constexpr std::size_t medium_step = 64;
constexpr std::size_t fine_classes = fine_limit / fine_step;                         // 16
constexpr std::size_t medium_classes = (medium_limit - fine_limit) / medium_step;  // 12
constexpr std::size_t class_count = fine_classes + medium_classes + 2;               // + 2K, 4K
constexpr std::size_t max_pooled = 4096;
// At most this many bytes cached per class per thread: enough to absorb a
// burst of spawns, small enough that a consumer thread cannot hoard a
// producer's memory.
constexpr std::size_t max_cached_bytes_per_class = 256 * 1024;

struct free_block {
  free_block* next;
};

// Class index for a size, or class_count when the size is too large to pool.
constexpr std::size_t class_of(std::size_t size) noexcept {
  if (size <= fine_limit) return size == 0 ? 0 : (size - 1) / fine_step;
  if (size <= medium_limit) return fine_classes + (size - fine_limit - 1) / medium_step;
  if (size <= 2048) return class_count - 2;
  if (size <= max_pooled) return class_count - 1;
  return class_count;
}

constexpr std::size_t class_size(std::size_t cls) noexcept {
  if (cls < fine_classes) return (cls + 1) * fine_step;
  if (cls < fine_classes + medium_classes) return fine_limit + (cls - fine_classes + 1) * medium_step;
  return cls == class_count - 2 ? 2048 : 4096;
}

static_assert(class_of(1) == 0 && class_size(0) == 16);
static_assert(class_of(168) == 10 && class_size(10) == 176);
static_assert(class_of(256) == 15 && class_of(257) == 16 && class_size(16) == 320);
static_assert(class_of(1024) == 27 && class_size(27) == 1024);
static_assert(class_of(1025) == 28 && class_of(4096) == 29 && class_of(4097) == class_count);

void poison(void* p, std::size_t size) noexcept {
#if defined(WEFT_ASAN)
  // Keep the link word readable; everything after it is off limits.
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + sizeof(free_block),
                            size - sizeof(free_block));
#else
  (void)p;
  (void)size;
#endif
}

void unpoison(void* p, std::size_t size) noexcept {
#if defined(WEFT_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
  (void)p;
  (void)size;
#endif
}

// The free lists are a trivially destructible thread_local, so touching them
// is a plain thread-pointer-relative access with no initialisation guard; a
// separate reaper object, constructed on a thread's first allocation,
// returns the cached blocks to the heap when the thread exits.
struct thread_cache {
  std::array<free_block*, class_count> heads;
  std::array<std::size_t, class_count> counts;
  // 0: no reaper yet (lists unused); 1: live; 2: the thread is exiting (the
  // reaper ran), so blocks go straight to the heap.
  unsigned char state;
};

constinit thread_local thread_cache tl_cache{};

void release_all(thread_cache& c) noexcept {
  for (std::size_t cls = 0; cls < class_count; ++cls) {
    while (free_block* b = c.heads[cls]) {
      c.heads[cls] = b->next;
      unpoison(b, class_size(cls));
      ::operator delete(b);
    }
    c.counts[cls] = 0;
  }
}

struct reaper {
  reaper() noexcept { tl_cache.state = 1; }
  reaper(const reaper&) = delete;
  reaper& operator=(const reaper&) = delete;
  ~reaper() {
    tl_cache.state = 2;
    release_all(tl_cache);
  }
};

void start_cache() {
  static thread_local reaper r;  // registers the thread-exit hook once
  (void)r;
}

}  // namespace

void* frame_allocate(std::size_t size) {
  const std::size_t cls = class_of(size);
  if (cls == class_count) return ::operator new(size);
  thread_cache& c = tl_cache;
  if (free_block* b = c.heads[cls]) {
    c.heads[cls] = b->next;
    --c.counts[cls];
    unpoison(b, class_size(cls));
    return b;
  }
  if (c.state == 0) start_cache();
  return ::operator new(class_size(cls));
}

void frame_deallocate(void* p, std::size_t size) noexcept {
  const std::size_t cls = class_of(size);
  thread_cache& c = tl_cache;
  // Too large to pool; or this thread never allocated (no reaper to empty
  // the lists at exit) or is exiting; or the class is full: the heap takes it.
  // Every pooled block is a plain ::operator new block.
  if (cls == class_count || c.state != 1 ||
      c.counts[cls] * class_size(cls) >= max_cached_bytes_per_class) {
    ::operator delete(p);
    return;
  }
  auto* b = static_cast<free_block*>(p);
  b->next = c.heads[cls];
  c.heads[cls] = b;
  ++c.counts[cls];
  poison(p, class_size(cls));
}

}  // namespace weft::detail
