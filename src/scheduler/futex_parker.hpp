// futex_parker — park a thread until unparked or a deadline passes.
//
// Design
// ------
// One 32-bit futex word per parker: EMPTY, PARKED or NOTIFIED. unpark()
// before park() leaves a NOTIFIED token, so the next park() returns at once —
// an unpark is never lost, whatever the interleaving. Only the owner thread
// parks; any thread unparks. Spurious futex returns are absorbed by the loop.
//
//   park:   EMPTY→PARKED (or consume NOTIFIED→EMPTY and return)
//           futex_wait while PARKED; then PARKED|NOTIFIED→EMPTY
//   unpark: swap(NOTIFIED); if it was PARKED, futex_wake one
//
// This is the runtime's park/unpark *driver* in its simplest form; the I/O
// driver replaces it with one that parks in the kernel's I/O wait.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "scheduler/park_driver.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

class futex_parker final : public park_driver {
 public:
  void park(std::optional<std::chrono::nanoseconds> timeout) override;
  void unpark() noexcept override;

 private:
  static constexpr std::uint32_t empty = 0;
  static constexpr std::uint32_t parked = 1;
  static constexpr std::uint32_t notified = 2;
  sync::atomic<std::uint32_t> state_{empty};
};

}  // namespace weft::detail
