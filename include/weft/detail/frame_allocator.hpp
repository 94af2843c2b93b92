// weft/detail/frame_allocator.hpp — where coroutine frames come from.
//
// Design
// ------
// Every weft coroutine frame (task<T>, and the runtime's own task cells) is
// allocated through frame_allocate / frame_deallocate. Sizes are rounded up to
// a size class (16-byte steps to 256 B, 64-byte steps to 1 KiB, then 2 and
// 4 KiB); each thread keeps one singly linked free list per class, up to
// 256 KiB per class. Allocation pops from the calling thread's list,
// deallocation pushes onto the *calling* thread's list: a frame freed on
// another thread than the one that allocated it joins that thread's cache.
// No list is ever touched by two threads, so there is no atomic on this path
// and no ABA problem. Larger frames go to ::operator new.
//
// Producers and consumers. A thread that spawns (the main thread calling
// rt.spawn, a task fanning out) allocates more than it frees; a worker that
// runs those tasks frees more than it allocates. Past its 256 KiB, a
// consumer collects freed blocks into batches (8 KiB, 8 to 64 blocks) and
// hands each to a central pool under a spinlock; a producer whose list is
// empty takes a whole batch from there before it asks the heap. One lock per
// batch on each side. (The first version sent the overflow to the heap one
// block at a time: every such free took the allocating thread's malloc
// arena lock, and at 1,000,000 spawns half the run went to that lock and to
// the futex sleeps it caused; see docs/design.md.) The pool holds at most
// 256 MiB in all (the frames of a burst of a million spawned tasks fit);
// beyond that batches go back to the heap.
//
// Sizes are known on both sides: coroutine promises declare the sized
// operator delete, so the block carries no header.
//
// Thread exit: the cache's thread_local destructor returns every block to the
// heap and marks the cache dead; a frame freed later on that thread (by
// another thread_local's destructor) goes straight to the heap.
//
// Sanitizers: under AddressSanitizer a cached block is poisoned (but for the
// link word), so a use-after-free of a pooled frame is still reported.
#pragma once

#include <cstddef>

namespace weft::detail {

/// Allocate a frame of `size` bytes, aligned to alignof(std::max_align_t).
/// Throws std::bad_alloc like ::operator new.
void* frame_allocate(std::size_t size);

/// Return a frame obtained from frame_allocate with the same `size`.
/// SAFETY: `p` came from frame_allocate(size) and is not used afterwards.
void frame_deallocate(void* p, std::size_t size) noexcept;

/// For tests: how many free blocks the central pool holds for frames of
/// `size` bytes.
std::size_t frame_pool_blocks_for_tests(std::size_t size) noexcept;

}  // namespace weft::detail
