// weft/embedded/frame_pool.hpp — static storage for coroutine frames.
//
// Why: a C++ coroutine's frame is allocated when the coroutine function is
// called. There is no heap here, so every task's promise has its own
// `noexcept operator new` that takes a slot from a frame_pool: a fixed array
// of equal slots in .bss, sized at compile time by its template arguments.
// When no slot fits, operator new returns nullptr, the compiler calls
// get_return_object_on_allocation_failure(), and the resulting empty task
// carries last_failure() to executor::spawn, which returns it as an error
// value. Nothing crashes, nothing falls back to malloc.
//
// A frame's size is known to the compiler only (it is not a constant
// expression in C++), so a pool cannot static_assert on it. Instead allocate()
// hands the size to P::note_frame_size, inlined into the coroutine's ramp
// function where the size *is* a constant. On Cortex-M that hook records the
// size in a non-allocated ELF section (printed by `make frames`, see
// docs/embedded.md) and turns "frame larger than its slot" into a link error.
//
// Ownership: the pool owns the bytes; a slot belongs to one coroutine frame
// from operator new to operator delete. Interrupt safety: allocation happens in
// thread mode or in a task, deallocation wherever a task completes (possibly
// in an interrupt handler that polled it), so both mask interrupts around the
// bitmap update.
#pragma once

#include <cstddef>
#include <cstdint>

#include <weft/embedded/detail/assert.hpp>
#include <weft/embedded/platform.hpp>

namespace weft::embedded {

/// What spawn reports. Everything but `spawned` is an error value.
enum class spawn_status : std::uint8_t {
  spawned,          // the task is queued and will run
  pool_exhausted,   // every slot of the task's frame_pool is in use
  frame_too_large,  // the coroutine frame is bigger than a slot
  executor_full,    // the executor has no free task slot
};

template <platform P, std::size_t SlotBytes, std::size_t SlotCount>
class frame_pool {
  static_assert(SlotCount >= 1 && SlotCount <= 32, "one 32-bit word tracks the slots");

 public:
  static constexpr std::size_t alignment = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
  static constexpr std::size_t slot_bytes = SlotBytes;
  static constexpr std::size_t slot_count = SlotCount;
  static constexpr std::size_t stride = (SlotBytes + alignment - 1) / alignment * alignment;

  constexpr frame_pool() noexcept = default;
  frame_pool(const frame_pool&) = delete;
  frame_pool& operator=(const frame_pool&) = delete;

  /// Called by a promise's operator new; nullptr when no slot fits.
  /// always_inline so that `n` stays a constant for P::note_frame_size.
  [[gnu::always_inline]] void* allocate(std::size_t n) noexcept {
    P::note_frame_size(n, SlotBytes);
    return allocate_slot(n);
  }

  void deallocate(void* p) noexcept {
    const auto offset = static_cast<std::size_t>(static_cast<unsigned char*>(p) - &storage_[0][0]);
    const std::size_t index = offset / stride;
    critical_section<P> cs;
    // INVARIANT: p came from allocate() and was not freed since.
    WEFT_EMBEDDED_ASSERT(index < SlotCount && offset % stride == 0 && (used_ >> index & 1u) != 0);
    used_ &= ~(std::uint32_t{1} << index);
  }

  /// Why the last failed allocation failed.
  [[nodiscard]] spawn_status last_failure() const noexcept { return last_failure_; }
  /// The largest frame ever requested (a run-time cross-check of the report).
  [[nodiscard]] std::size_t largest_request() const noexcept { return largest_; }
  [[nodiscard]] std::size_t in_use() const noexcept {
    critical_section<P> cs;
    return static_cast<std::size_t>(__builtin_popcount(used_));
  }

 private:
  void* allocate_slot(std::size_t n) noexcept {
    critical_section<P> cs;
    if (n > largest_) largest_ = n;
    if (n > SlotBytes) {
      last_failure_ = spawn_status::frame_too_large;
      return nullptr;
    }
    for (std::size_t i = 0; i < SlotCount; ++i) {
      const std::uint32_t bit = std::uint32_t{1} << i;
      if ((used_ & bit) == 0) {
        used_ |= bit;
        return storage_[i];
      }
    }
    last_failure_ = spawn_status::pool_exhausted;
    return nullptr;
  }

  alignas(alignment) unsigned char storage_[SlotCount][stride]{};
  std::uint32_t used_ = 0;
  std::size_t largest_ = 0;
  spawn_status last_failure_ = spawn_status::spawned;
};

}  // namespace weft::embedded
