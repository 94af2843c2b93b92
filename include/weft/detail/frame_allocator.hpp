// weft/detail/frame_allocator.hpp — where coroutine frames come from.
//
// Design
// ------
// Every weft coroutine frame (task<T>, and the runtime's own task cells) is
// allocated through frame_allocate / frame_deallocate. Sizes are rounded up to
// a size class (16-byte steps to 256 B, 64-byte steps to 1 KiB, then 2 and
// 4 KiB); each thread keeps one singly linked free list per class. Allocation pops from the calling
// thread's list, deallocation pushes onto the *calling* thread's list: a frame
// freed on another thread than the one that allocated it simply joins that
// thread's cache. No list is ever touched by two threads, so there is no
// atomic on this path and no ABA problem. Larger frames go to ::operator new.
//
// Why not return a block to its allocating thread? That needs a remote-free
// queue per thread and an owner pointer per block; the simple scheme is safe by
// construction and the imbalance it allows (a producer thread allocating, a
// consumer thread freeing) is bounded by the per-class cap below: past it,
// blocks go back to the global heap.
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

}  // namespace weft::detail
