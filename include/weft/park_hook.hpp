// weft/park_hook.hpp — let one runner drive futures from a foreign event source.
//
// A runner (weft::block_on, or a current-thread runtime inside block_on)
// parks its thread when every task waits. An awaitable whose events come from
// somewhere weft has never heard of — GLib's main context, a GUI toolkit, a
// vendor SDK, another library's epoll — can ask the runner, for as long as it
// runs, to park *in that source* instead: it installs a park hook of two
// functions,
//
//   block(request)  wait until something of the source's may be ready (its
//                   callbacks then wake weft wakers), request.timeout passes,
//                   request.runner_fd becomes readable, or interrupt() is
//                   called; returning early is always allowed;
//   interrupt()     make a block in progress return soon — or, if none is in
//                   progress yet, the next one (GLib's g_main_context_wakeup
//                   has exactly this contract). Called from any thread.
//
// and the runner calls block where it would park and interrupt when a wake-up
// arrives from another thread while it is parked. So one thread drives weft
// tasks and the foreign source with no loop nested in another.
//
//   struct glib_source { GMainContext* ctx;
//     void block(const weft::park_request& r);         // g_main_context_iteration
//     void interrupt() noexcept { g_main_context_wakeup(ctx); } };
//   ... in an awaitable's await_suspend, on the runner's thread:
//   if (auto ec = weft::install_park_hook(weft::park_hook::of(src))) { report ec }
//
// Rules:
// - One hook per runner thread. Installing the hook that is already installed
//   is a no-op costing one comparison (do it in every await_suspend);
//   installing a different one fails with errc::park_hook_conflict, which the
//   awaitable reports (two foreign reactors cannot share one thread's block).
// - Only on a runner that supports it: weft::block_on and a current-thread
//   runtime's block_on. A multi_thread worker parks in its own I/O driver and
//   has no hook: installing there fails with errc::park_hook_conflict too.
// - The hook is removed when the runner returns (or by remove_park_hook).
//   After that, neither function is called again and no call is in progress:
//   the source may be destroyed.
// - block runs on the runner's thread and may dispatch the source's callbacks;
//   they may wake weft tasks, but neither function may run a weft runner
//   (a nested block_on is refused) or call install/remove.
// - block must not throw (the runner calls it where it cannot unwind: a throw
//   terminates).
// - interrupt must not block for long: the waker that calls it holds a lock
//   that the runner's hook removal takes.
// - request.runner_fd (current-thread runtime): a descriptor that becomes
//   readable when weft's own I/O has completions; a hook that does not watch
//   it stalls the runtime's sockets until the source wakes for its own
//   reasons. -1 under weft::block_on, which has no I/O driver.
// - request.timeout: the runner's next timer; nullopt: no deadline.
// - allocation: none; the hook is three pointers copied into the runner.
#pragma once

#include <chrono>
#include <optional>
#include <system_error>

namespace weft {

/// What the runner asks of a hook's block function.
struct park_request {
  /// Return by then at the latest (the runner's next timer); nullopt: no deadline.
  std::optional<std::chrono::nanoseconds> timeout;
  /// Also return when this descriptor is readable (the runner's own I/O); -1: none.
  int runner_fd = -1;
};

/// A pair of functions and the object they act on. Compared by identity
/// (the three pointers), like a waker's will_wake.
class park_hook {
 public:
  using block_fn = void (*)(void* context, const park_request& request);
  using interrupt_fn = void (*)(void* context) noexcept;

  constexpr park_hook() noexcept = default;
  constexpr park_hook(void* context, block_fn block, interrupt_fn interrupt) noexcept
      : context_(context), block_(block), interrupt_(interrupt) {}

  /// A hook for `source`, which has `void block(const park_request&)` and
  /// `void interrupt() noexcept`. The same source gives an equal hook.
  template <class Source>
  static park_hook of(Source& source) noexcept {
    return park_hook(static_cast<void*>(&source), &block_thunk<Source>, &interrupt_thunk<Source>);
  }

  [[nodiscard]] explicit operator bool() const noexcept { return block_ != nullptr; }
  void block(const park_request& request) const { block_(context_, request); }
  void interrupt() const noexcept { interrupt_(context_); }
  [[nodiscard]] void* context() const noexcept { return context_; }

  friend bool operator==(const park_hook&, const park_hook&) = default;

 private:
  template <class Source>
  static void block_thunk(void* c, const park_request& r) {
    static_cast<Source*>(c)->block(r);
  }
  template <class Source>
  static void interrupt_thunk(void* c) noexcept {
    static_cast<Source*>(c)->interrupt();
  }

  void* context_ = nullptr;
  block_fn block_ = nullptr;
  interrupt_fn interrupt_ = nullptr;
};

/// Install `hook` on the runner driving this thread (see the header comment).
/// Returns an empty code if it is now installed (or already was);
/// errc::park_hook_conflict if a different hook is installed or this thread
/// runs no runner that takes hooks. A null hook is refused the same way.
[[nodiscard]] std::error_code install_park_hook(const park_hook& hook) noexcept;

/// Remove `hook` if it is the one installed on this thread's runner; true if
/// it was. On return no call of its functions is in progress or will start.
bool remove_park_hook(const park_hook& hook) noexcept;

/// The hook installed on this thread's runner, if any.
[[nodiscard]] std::optional<park_hook> installed_park_hook() noexcept;

}  // namespace weft
