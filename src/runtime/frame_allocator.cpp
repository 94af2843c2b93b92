// Per-thread size-class free lists for coroutine frames.
// See include/weft/detail/frame_allocator.hpp for the design.
#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/sync_shim.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <new>
#include <utility>

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

// ---- the central pool ---------------------------------------------------------------
// Whole batches of free blocks, per class, shared by every thread. A thread
// whose cache of a class is full (a consumer: it frees frames others
// allocated) hands its overflow here in batches of batch_of(cls) blocks; a
// thread whose cache is empty (a producer: it spawns) takes a batch from here
// before it asks the heap. One lock per batch on each side, instead of a
// cross-thread heap free (the heap's arena lock) per frame.
//
// A batch is a chain of exactly batch_of(cls) blocks linked through their
// first word; the pool links batches through the second word of each batch's
// first block (every class is at least 16 bytes). The pool holds at most
// max_pooled_bytes in all classes together; past that a batch goes back to
// the heap. It is a global with a trivial destructor, never torn down: frames may
// be freed during static destruction, and what it holds at exit stays
// reachable (leak checkers do not report it).

constexpr std::size_t batch_bytes = 8 * 1024;
constexpr std::size_t max_pooled_bytes = std::size_t{256} << 20;

constexpr std::size_t batch_of(std::size_t cls) noexcept {
  const std::size_t n = batch_bytes / class_size(cls);
  return n < 8 ? 8 : (n > 64 ? 64 : n);
}

struct batch_link {
  free_block* next;        // next block of this batch
  free_block* next_batch;  // first block of the next batch in the pool
};

struct central_class {
  sync::spinlock mu;  // a few instructions under it
  free_block* batches = nullptr;  // guarded by mu
  std::size_t count = 0;          // batches held; guarded by mu
};

struct central_pool {
  std::array<central_class, class_count> classes;
  // Bytes held, all classes: reserved before a batch goes in (and given back
  // if that passes the cap), released when one comes out.
  sync::atomic<std::size_t> bytes{0};
};

central_pool& central() noexcept {
  // Never destroyed (see above); constructed on first use.
  alignas(central_pool) static unsigned char storage[sizeof(central_pool)];
  static central_pool* pool = new (storage) central_pool();
  return *pool;
}

void keep_link_readable(free_block* b) noexcept {
#if defined(WEFT_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(b, sizeof(batch_link));
#else
  (void)b;
#endif
}

/// Hands a chain of batch_of(cls) blocks to the pool; false if it is full.
bool central_put(std::size_t cls, free_block* first) noexcept {
  central_pool& pool = central();
  const std::size_t bytes = batch_of(cls) * class_size(cls);
  // ORDERING: relaxed: a byte count; the class lock orders the batches.
  if (pool.bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes > max_pooled_bytes) {
    pool.bytes.fetch_sub(bytes, std::memory_order_relaxed);  // ORDERING: as above
    return false;
  }
  central_class& c = pool.classes[cls];
  keep_link_readable(first);
  sync::lock_guard<sync::spinlock> lock(c.mu);
  reinterpret_cast<batch_link*>(first)->next_batch = c.batches;
  c.batches = first;
  ++c.count;
  return true;
}

/// Takes one batch (a chain of batch_of(cls) blocks) from the pool, or nullptr.
free_block* central_take(std::size_t cls) noexcept {
  central_pool& pool = central();
  central_class& c = pool.classes[cls];
  {
    sync::lock_guard<sync::spinlock> lock(c.mu);
    free_block* first = c.batches;
    if (first == nullptr) return nullptr;
    c.batches = reinterpret_cast<batch_link*>(first)->next_batch;
    --c.count;
    // ORDERING: relaxed: see central_pool::bytes.
    pool.bytes.fetch_sub(batch_of(cls) * class_size(cls), std::memory_order_relaxed);
    return first;
  }
}

// ---- the thread caches -----------------------------------------------------------------
// The free lists are a trivially destructible thread_local, so touching them
// is a plain thread-pointer-relative access with no initialisation guard; a
// separate reaper object, constructed on a thread's first allocation,
// returns the cached blocks to the heap when the thread exits.
//
// Per class: `heads` holds up to cache_limit(cls) blocks for this thread's
// own allocations; a free past that goes onto `spill`, which is handed to
// the central pool as soon as it holds a batch.
struct thread_cache {
  std::array<free_block*, class_count> heads;
  std::array<std::uint32_t, class_count> counts;
  std::array<free_block*, class_count> spill;
  std::array<std::uint32_t, class_count> spill_counts;
  // 0: no reaper yet (lists unused); 1: live; 2: the thread is exiting (the
  // reaper ran), so blocks go straight to the heap.
  unsigned char state;
};

constinit thread_local thread_cache tl_cache{};

constexpr std::size_t cache_limit(std::size_t cls) noexcept {
  return max_cached_bytes_per_class / class_size(cls);
}

void release_chain(free_block* b, std::size_t cls) noexcept {
  while (b != nullptr) {
    unpoison(b, class_size(cls));
    free_block* next = b->next;
    ::operator delete(b);
    b = next;
  }
}

void release_all(thread_cache& c) noexcept {
  for (std::size_t cls = 0; cls < class_count; ++cls) {
    release_chain(c.heads[cls], cls);
    c.heads[cls] = nullptr;
    c.counts[cls] = 0;
    release_chain(c.spill[cls], cls);
    c.spill[cls] = nullptr;
    c.spill_counts[cls] = 0;
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

free_block* pop_local(thread_cache& c, std::size_t cls) noexcept {
  free_block* b = c.heads[cls];
  if (b == nullptr) return nullptr;
  unpoison(b, class_size(cls));
  c.heads[cls] = b->next;
  --c.counts[cls];
  return b;
}

}  // namespace

void* frame_allocate(std::size_t size) {
  const std::size_t cls = class_of(size);
  if (cls == class_count) return ::operator new(size);
  thread_cache& c = tl_cache;
  if (free_block* b = pop_local(c, cls)) return b;
  if (c.state == 0) start_cache();
  // Refill: this thread's own spill first, then a batch from the pool.
  free_block* batch = std::exchange(c.spill[cls], nullptr);
  std::uint32_t n = std::exchange(c.spill_counts[cls], 0);
  if (batch == nullptr && c.state == 1) {
    batch = central_take(cls);
    n = static_cast<std::uint32_t>(batch_of(cls));
  }
  if (batch != nullptr) {
    c.heads[cls] = batch;
    c.counts[cls] = n;
    return pop_local(c, cls);
  }
  return ::operator new(class_size(cls));
}

void frame_deallocate(void* p, std::size_t size) noexcept {
  const std::size_t cls = class_of(size);
  thread_cache& c = tl_cache;
  // Too large to pool, or this thread is exiting (its reaper ran): the heap
  // takes it. Every pooled block is a plain ::operator new block. A thread
  // that only frees (a worker running tasks others spawned) starts its cache
  // here, so its frees reach the allocating threads through the pool.
  if (cls == class_count || c.state == 2) {
    ::operator delete(p);
    return;
  }
  if (c.state == 0) start_cache();
  auto* b = static_cast<free_block*>(p);
  if (c.counts[cls] < cache_limit(cls)) {
    b->next = c.heads[cls];
    c.heads[cls] = b;
    ++c.counts[cls];
    poison(p, class_size(cls));
    return;
  }
  // The cache is full: this thread frees more of this class than it
  // allocates. Collect a batch for the threads that allocate.
  b->next = c.spill[cls];
  c.spill[cls] = b;
  poison(p, class_size(cls));
  if (++c.spill_counts[cls] < batch_of(cls)) return;
  free_block* batch = std::exchange(c.spill[cls], nullptr);
  c.spill_counts[cls] = 0;
  if (!central_put(cls, batch)) release_chain(batch, cls);
}

std::size_t frame_pool_blocks_for_tests(std::size_t size) noexcept {
  const std::size_t cls = class_of(size);
  if (cls == class_count) return 0;
  central_class& c = central().classes[cls];
  sync::lock_guard<sync::spinlock> lock(c.mu);
  return c.count * batch_of(cls);
}

}  // namespace weft::detail
