// weft/embedded/timer.hpp — sleep(ticks) on the platform's tick interrupt.
//
// Why: the SysTick interrupt advances the platform's tick (P::now()); its
// handler then calls timer::on_tick(), which polls every sleeping task once.
// A sleeper's entry lives in its sleep_awaiter, in the task's frame ("the
// timer node inside the task"): no timer wheel, no allocation, O(sleepers)
// cheap deadline checks per tick, and only the tasks whose deadline is reached
// are resumed.
//
//   constinit timer<cortex_m> systick_timer;
//   extern "C" void SysTick_Handler() { cortex_m::on_systick(); systick_timer.on_tick(); }
//   ... co_await sleep(systick_timer, 3);
//
// Ownership: the timer owns its waker_list (one per tick source); each
// sleep_awaiter owns its entry. Interrupt safety: see waker_list.hpp; the
// deadline is read-only after construction and P::now() is interrupt-safe.
#pragma once

#include <coroutine>

#include <weft/embedded/detail/task_header.hpp>
#include <weft/embedded/platform.hpp>
#include <weft/embedded/waker_list.hpp>

namespace weft::embedded {

template <platform P>
class timer {
 public:
  constexpr timer() noexcept = default;
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  /// Awaitable returned by sleep() and sleep_until().
  ///  - Completes with: nothing (void), at the first tick handler that runs
  ///    with P::now() at or past the deadline; at once if already past.
  ///  - The deadline is fixed at creation, so awaiting it again (after a
  ///    select) completes at once once it is reached.
  ///  - Cancellation: destroying it while it waits (its task cancelled, or
  ///    the other side of a select won) unlinks it; nothing else happens.
  ///  - Resumes in: the tick interrupt's handler (polled inline, masked).
  ///  - Shutdown: none; a timer lives as long as the program.
  ///  - Allocates: nothing; the list entry is this object.
  class [[nodiscard]] sleep_awaiter : private waker_entry<P> {
   public:
    sleep_awaiter(timer& owner, tick_type deadline) noexcept
        : waker_entry<P>(&poll), timer_(owner), deadline_(deadline) {}

    [[nodiscard]] bool ready() const noexcept { return tick_reached(P::now(), deadline_); }
    void arm(detail::task_header& t) noexcept { this->link(timer_.waiters_, t); }
    void disarm() noexcept { this->unlink(); }
    [[nodiscard]] tick_type deadline() const noexcept { return deadline_; }

    [[nodiscard]] bool await_ready() const noexcept { return ready(); }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> h) noexcept {
      arm(detail::header_of(h));
    }
    void await_resume() noexcept { disarm(); }

   private:
    static bool poll(waker_entry<P>& e) noexcept { return static_cast<sleep_awaiter&>(e).ready(); }
    timer& timer_;
    tick_type deadline_;
  };

  [[nodiscard]] sleep_awaiter sleep(tick_type ticks) noexcept { return {*this, P::now() + ticks}; }
  [[nodiscard]] sleep_awaiter sleep_until(tick_type deadline) noexcept { return {*this, deadline}; }

  /// Call from the tick interrupt's handler, after the tick has advanced.
  void on_tick() noexcept { waiters_.poll_waiters(); }

 private:
  waker_list<P> waiters_;
};

/// `co_await sleep(t, n)`: the free-function spelling of t.sleep(n).
template <platform P>
[[nodiscard]] typename timer<P>::sleep_awaiter sleep(timer<P>& t, tick_type ticks) noexcept {
  return t.sleep(ticks);
}

}  // namespace weft::embedded
