// weft/embedded/select.hpp — wait for whichever of two waits ends first.
//
// Why: "the byte, or a timeout" is the most common embedded wait. A task can
// sit in two waker lists at once because each wait awaiter carries its own
// entry; select links both to the task and, when the task resumes, unlinks
// both. If the two interrupts fire back to back, the second one finds the task
// already woken (queued or running) and its wake changes nothing.
//
// select does not consume the winner's result: it completes with the index of
// the wait that is over (0 for `a`, checked first, or 1), and since every wait
// here is level-checked (a deadline passed, an epoch moved, a channel not
// empty) the winner stays ready, so `co_await` on it then completes at once
// with its value:
//
//   auto byte = rx.receive();
//   auto timeout = t.sleep(10);
//   if (co_await select(byte, timeout) == 0) { std::uint8_t b = co_await byte; }
//
// Ownership: select only refers to the two awaiters, which must outlive it (they
// are locals of the task, as above). Interrupt safety: arm/disarm mask
// interrupts (waker_entry::link/unlink).
#pragma once

#include <concepts>
#include <coroutine>
#include <cstdint>

#include <weft/embedded/detail/assert.hpp>
#include <weft/embedded/detail/task_header.hpp>

namespace weft::embedded {

/// What select needs of a wait: sleep_awaiter, wait_awaiter, receive_awaiter.
template <class W>
concept wait_operation = requires(W& w, detail::task_header& t) {
  { w.ready() } noexcept -> std::same_as<bool>;
  { w.arm(t) } noexcept;
  { w.disarm() } noexcept;
};

/// Awaitable returned by select().
///  - Completes with: 0 if `a`'s wait is over (checked first), else 1.
///  - Cancellation: destroying the waiting task unlinks both waits (their own
///    destructors); the losing wait is unlinked when select completes, and
///    can be awaited again later.
///  - Resumes in: whichever handler (or run loop) woke the task first.
///  - Shutdown: none.
///  - Allocates: nothing.
template <wait_operation A, wait_operation B>
class [[nodiscard]] select_awaiter {
 public:
  select_awaiter(A& a, B& b) noexcept : a_(a), b_(b) {}

  [[nodiscard]] bool await_ready() const noexcept { return a_.ready() || b_.ready(); }
  template <class Promise>
  void await_suspend(std::coroutine_handle<Promise> h) noexcept {
    detail::task_header& t = detail::header_of(h);
    a_.arm(t);
    b_.arm(t);
  }
  std::uint8_t await_resume() noexcept {
    a_.disarm();
    b_.disarm();
    if (a_.ready()) return 0;
    // INVARIANT: the task was woken because one wait is over, and waits stay over.
    WEFT_EMBEDDED_ASSERT(b_.ready());
    return 1;
  }

 private:
  A& a_;
  B& b_;
};

template <wait_operation A, wait_operation B>
[[nodiscard]] select_awaiter<A, B> select(A& a, B& b) noexcept {
  return {a, b};
}

}  // namespace weft::embedded
