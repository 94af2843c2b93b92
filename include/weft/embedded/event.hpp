// weft/embedded/event.hpp — an event an interrupt handler signals.
//
// Why: the simplest way for a handler to end a task's wait ("the DMA transfer
// is done", "the button was pressed"). The task arms the hardware, then awaits
// wait(); the handler acknowledges the hardware and calls signal(), which
// polls the event's waiters once: every wait created before the signal ends.
//
// A signal is counted, not latched per waiter: the event keeps an epoch that
// signal() increments, and a wait_awaiter remembers the epoch it was created
// at. So a signal that arrives between creating the awaiter and awaiting it is
// not lost, and one signal wakes every waiter (broadcast). Because a task runs
// with interrupts masked, "arm the hardware, then co_await ev.wait()" cannot
// miss an interrupt that fires in between: it can only be taken once the task
// has suspended.
//
// Ownership: the event owns its waker_list (one per interrupt source), each
// awaiter its entry. Interrupt safety: epoch_ is written only inside
// critical sections and read by ready(), which runs masked (in a task, or in
// the walk); see waker_list.hpp for the list itself.
#pragma once

#include <coroutine>
#include <cstdint>

#include <weft/embedded/detail/task_header.hpp>
#include <weft/embedded/platform.hpp>
#include <weft/embedded/waker_list.hpp>

namespace weft::embedded {

template <platform P>
class irq_event {
 public:
  constexpr irq_event() noexcept = default;
  irq_event(const irq_event&) = delete;
  irq_event& operator=(const irq_event&) = delete;

  /// From the interrupt handler (or a task): end every wait created before
  /// this call. Waiting tasks are polled now (from a handler) or queued (from
  /// a task).
  void signal() noexcept {
    {
      critical_section<P> cs;
      ++epoch_;
    }
    waiters_.poll_waiters();
  }

  /// Awaitable returned by wait().
  ///  - Completes with: nothing (void), once signal() has been called after
  ///    this awaiter was created or last completed (it can be awaited again:
  ///    each completion consumes the signals seen so far).
  ///  - Cancellation: destroying it while it waits unlinks it; a signal it
  ///    missed is not kept for anyone else.
  ///  - Resumes in: the handler that signalled (polled inline), or the run
  ///    loop if a task signalled.
  ///  - Shutdown: none; events are static.
  ///  - Allocates: nothing.
  class [[nodiscard]] wait_awaiter : private waker_entry<P> {
   public:
    explicit wait_awaiter(irq_event& ev) noexcept : waker_entry<P>(&poll), event_(ev), seen_(ev.epoch()) {}

    [[nodiscard]] bool ready() const noexcept { return event_.epoch() != seen_; }
    void arm(detail::task_header& t) noexcept { this->link(event_.waiters_, t); }
    void disarm() noexcept { this->unlink(); }

    [[nodiscard]] bool await_ready() const noexcept { return ready(); }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> h) noexcept {
      arm(detail::header_of(h));
    }
    void await_resume() noexcept {
      disarm();
      seen_ = event_.epoch();
    }

   private:
    static bool poll(waker_entry<P>& e) noexcept { return static_cast<wait_awaiter&>(e).ready(); }
    irq_event& event_;
    std::uint32_t seen_;
  };

  [[nodiscard]] wait_awaiter wait() noexcept { return wait_awaiter{*this}; }

 private:
  std::uint32_t epoch() const noexcept {
    critical_section<P> cs;
    return epoch_;
  }

  waker_list<P> waiters_;
  std::uint32_t epoch_ = 0;
};

}  // namespace weft::embedded
