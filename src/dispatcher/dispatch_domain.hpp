// dispatch_domain — the dispatchers of one runtime.
//
// Design
// ------
// Every root runtime on which a dispatcher is created gets one domain,
// attached to it as its runtime_extension (src/scheduler/runtime_extension.
// hpp) by the first create(). It holds the live dispatchers (a strong
// reference each, dropped when the dispatcher's shutdown completes), so the
// runtime's shutdown can shut down the released ones too.
//
// The cores dispatchers run on belong to the runtime, not to the domain
// (src/scheduler/child_cores.hpp): a scheduler role's core, the runtime's
// own workers, or a one-worker core of the runtime's for a dispatcher that
// may block its thread, which the domain asks for at create() and hands
// back (retire_dedicated) once that dispatcher has finished.
//
// Finding the domain: create() knows only the calling thread's core (a worker
// of the runtime or of one of its child cores); its root holds the domain.
//
// Runtime shutdown (runtime_core::shutdown_tree):
//   1. begin_shutdown: close the domain — create() now throws
//      errc::runtime_shut_down — and begin the shutdown of every live
//      dispatcher;
//   2. the runtime's child cores shut down: each waits up to the timeout for
//      its tasks — the pumps finishing their dispatchers — then destroys the
//      rest (a destroyed pump finishes its dispatcher inline);
//   3. then the runtime's own workers, the same way.
//
// Lifetime: the root core outlives every child core's threads (its runtime
// object holds it until shutdown, which joins them), so the raw root_ is
// safe wherever a child's or the root's thread uses it.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "scheduler/runtime_extension.hpp"

#include <memory>
#include <string>
#include <unordered_map>

namespace weft::detail {

class runtime_core;
class dispatcher_state;

class dispatch_domain final : public runtime_extension {
 public:
  explicit dispatch_domain(runtime_core* root) noexcept : root_(root) {}

  /// The domain of the runtime `core` belongs to (attached on first use);
  /// nullptr once that runtime's shutdown has begun without one.
  static std::shared_ptr<dispatch_domain> of(runtime_core* core);

  /// The core running `role` ("" = the runtime's own workers). Throws
  /// errc::unknown_scheduler_role, errc::runtime_shut_down.
  [[nodiscard]] runtime_core* group_for(const std::string& role) const;
  /// A dedicated one-worker core for the dispatcher `name` (on `role`'s
  /// thread hooks). Throws errc::runtime_shut_down.
  [[nodiscard]] runtime_core* make_dedicated(const std::string& name, const std::string& role);
  /// Hand a dedicated core back to the runtime to be shut down.
  void retire_dedicated(runtime_core* core) noexcept;

  /// Register a dispatcher; false once the domain is closed.
  [[nodiscard]] bool add(std::shared_ptr<dispatcher_state> s);
  void remove(dispatcher_state* s) noexcept;

  /// Step 1 of runtime shutdown (see the header comment). Idempotent.
  void begin_shutdown() noexcept override;

 private:
  [[noreturn]] static void throw_shutting_down();

  runtime_core* const root_;
  mutable sync::mutex mu_;
  bool closed_ = false;                                                            // guarded by mu_
  std::unordered_map<dispatcher_state*, std::shared_ptr<dispatcher_state>> live_;  // mu_
};

}  // namespace weft::detail
