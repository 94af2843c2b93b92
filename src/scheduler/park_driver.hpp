// park_driver — how a worker waits for work.
//
// The scheduler parks an idle worker in its driver with the timeout of the
// worker's next timer, and unparks it (from any thread) when work arrives.
// It knows nothing else about the driver: the default is futex_parker; an I/O
// driver that waits in the kernel's I/O wait implements the same two calls.
// A runner's driver may be asked to wait in a foreign event source instead
// (weft/park_hook.hpp): `hooks` holds that source's hook.
#pragma once

#include "scheduler/park_hook_slot.hpp"

#include <chrono>
#include <optional>

namespace weft::detail {

/// What a worker parks in: the scheduler knows only this interface, so the
/// I/O driver can take over parking without touching the scheduler.
class park_driver {
 public:
  /// Block until unpark() is called or `timeout` passes (no timeout: until
  /// unparked). May return spuriously.
  virtual void park(std::optional<std::chrono::nanoseconds> timeout) = 0;
  /// Wake the parked owner, or make its next park() return at once. Any thread.
  virtual void unpark() noexcept = 0;
  /// Owner thread, between tasks: hand queued I/O to the kernel and deliver
  /// what is ready, without waiting. True if I/O completed.
  virtual bool poll() { return false; }
  /// Owner thread, once, before the worker stops for good: end every I/O
  /// operation in flight (cancel, then wait for the kernel to give each
  /// back), so no task is destroyed while the kernel may write its memory.
  virtual void quiesce() noexcept {}

  virtual ~park_driver() = default;

  /// The park hook installed on this driver's runner (park_hook_slot.hpp).
  /// Drivers that run a runner's loop (block_on's futex parker, a
  /// current-thread runtime's I/O driver) block in it instead of their own
  /// wait while it is active, and unpark() interrupts it.
  park_hook_slot hooks;
};

}  // namespace weft::detail
