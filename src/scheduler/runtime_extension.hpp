// runtime_extension — what a higher layer attaches to a runtime to take part
// in its shutdown.
//
// The dispatchers (src/dispatcher/dispatch_domain.hpp) attach one per root
// runtime, the first time a dispatcher is created on it. The runtime calls
// begin_shutdown() first thing in its shutdown (runtime_core::shutdown_tree),
// before its child cores and its own workers stop, and then drops it. The
// scheduler knows only this interface: arrows point down.
#pragma once

namespace weft::detail {

class runtime_extension {
 public:
  runtime_extension() = default;
  runtime_extension(const runtime_extension&) = delete;
  runtime_extension& operator=(const runtime_extension&) = delete;
  virtual ~runtime_extension() = default;
  /// The runtime's shutdown begins: refuse new work, start finishing what
  /// is live. Called once, on the thread shutting the runtime down.
  virtual void begin_shutdown() noexcept = 0;
};

}  // namespace weft::detail
