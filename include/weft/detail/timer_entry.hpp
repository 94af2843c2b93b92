// weft/detail/timer_entry.hpp — the intrusive node a timer wheel links.
//
// It lives inside the waiting awaiter (weft::sleep's, weft::timeout's), so a
// timer allocates nothing. The wheel (src/time/timer_wheel.hpp) owns the
// links while the entry is linked; the time driver's shard lock guards them.
#pragma once

#include <cstdint>

namespace weft::detail {

/// An intrusive timer entry. Lives in the waiting awaiter; the wheel only links it.
/// INVARIANT: an entry is destroyed only when not linked (the owner removes it first).
struct timer_entry {
  std::uint64_t deadline = 0;    // absolute tick (ms since the wheel's epoch)
  timer_entry* prev_ = nullptr;  // intrusive links, wheel-owned while linked
  timer_entry* next_ = nullptr;
  std::uint8_t level_ = 0;  // where it is linked (valid while linked)
  std::uint8_t slot_ = 0;
  bool linked_ = false;
  bool is_linked() const noexcept { return linked_; }
};

}  // namespace weft::detail
