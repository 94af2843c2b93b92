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

constexpr std::size_t min_class_shift = 6;  // 64 B
constexpr std::size_t max_class_shift = 12;  // 4 KiB
constexpr std::size_t class_count = max_class_shift - min_class_shift + 1;
// At most this many bytes cached per class per thread (so 64 KiB of 64 B
// frames, 256 KiB of 4 KiB ones): enough to absorb a burst of spawns, small
// enough that a consumer thread cannot hoard a producer's memory.
constexpr std::size_t max_cached_bytes_per_class = 256 * 1024;

struct free_block {
  free_block* next;
};

// Class index for a size, or class_count when the size is too large.
constexpr std::size_t class_of(std::size_t size) noexcept {
  if (size <= (std::size_t{1} << min_class_shift)) return 0;
  const std::size_t shift = std::bit_width(size - 1);  // ceil(log2(size))
  return shift > max_class_shift ? class_count : shift - min_class_shift;
}

constexpr std::size_t class_size(std::size_t cls) noexcept {
  return std::size_t{1} << (cls + min_class_shift);
}

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

class thread_cache {
 public:
  thread_cache() noexcept { alive_ = true; }
  thread_cache(const thread_cache&) = delete;
  thread_cache& operator=(const thread_cache&) = delete;

  ~thread_cache() {
    alive_ = false;
    for (std::size_t c = 0; c < class_count; ++c) {
      while (free_block* b = heads_[c]) {
        heads_[c] = b->next;
        unpoison(b, class_size(c));
        ::operator delete(b);
      }
    }
  }

  void* allocate(std::size_t cls) {
    if (free_block* b = heads_[cls]) {
      heads_[cls] = b->next;
      --counts_[cls];
      unpoison(b, class_size(cls));
      return b;
    }
    return ::operator new(class_size(cls));
  }

  void deallocate(void* p, std::size_t cls) noexcept {
    if (counts_[cls] * class_size(cls) >= max_cached_bytes_per_class) {
      ::operator delete(p);
      return;
    }
    auto* b = static_cast<free_block*>(p);
    b->next = heads_[cls];
    heads_[cls] = b;
    ++counts_[cls];
    poison(p, class_size(cls));
  }

  // False before construction (zero-initialised thread_local storage) and
  // after destruction: the caller then uses the heap directly.
  static thread_local bool alive_;

 private:
  std::array<free_block*, class_count> heads_{};
  std::array<std::size_t, class_count> counts_{};
};

thread_local bool thread_cache::alive_ = false;

thread_cache& cache() {
  static thread_local thread_cache c;
  return c;
}

}  // namespace

void* frame_allocate(std::size_t size) {
  const std::size_t cls = class_of(size);
  if (cls == class_count) return ::operator new(size);
  thread_cache& c = cache();  // constructs on first use on this thread
  if (!thread_cache::alive_) return ::operator new(class_size(cls));
  return c.allocate(cls);
}

void frame_deallocate(void* p, std::size_t size) noexcept {
  const std::size_t cls = class_of(size);
  if (cls == class_count || !thread_cache::alive_) {
    // Too large to pool, or this thread's cache is gone (thread exit): every
    // pooled block is a plain ::operator new block, so the heap takes it.
    ::operator delete(p);
    return;
  }
  cache().deallocate(p, cls);
}

}  // namespace weft::detail
