// weft/embedded/channel.hpp — a fixed-capacity channel from an interrupt
// handler to one task.
//
// Why: a handler that produces data (a received byte, an ADC sample, a
// "transfer done" count) must hand it over without blocking and without
// allocating. irq_channel is a ring of Capacity values in static storage. The
// handler calls try_send(), which stores the value and polls the receiver; the
// task awaits receive(), which completes with the oldest value.
//
// Single consumer: one task receives (several senders are fine: every send is
// a critical section). With one receiver, "not empty" stays true from the
// poll that wakes it until it takes the value, so the wake-up is never stale.
//
// Ownership: the channel owns the ring and its waker_list (one per interrupt
// source); the receive_awaiter owns its entry. Interrupt safety: the ring
// indices change only inside critical sections.
#pragma once

#include <coroutine>
#include <cstddef>
#include <type_traits>

#include <weft/embedded/detail/assert.hpp>
#include <weft/embedded/detail/task_header.hpp>
#include <weft/embedded/platform.hpp>
#include <weft/embedded/waker_list.hpp>

namespace weft::embedded {

template <platform P, class T, std::size_t Capacity>
class irq_channel {
  static_assert(Capacity >= 1, "a channel holds at least one value");
  static_assert(std::is_trivially_copyable_v<T>, "values are copied inside interrupt handlers");

 public:
  constexpr irq_channel() noexcept = default;
  irq_channel(const irq_channel&) = delete;
  irq_channel& operator=(const irq_channel&) = delete;

  /// From an interrupt handler (or a task): store `value` and poll the
  /// receiver. False, and `value` dropped, when the channel is full: a handler
  /// cannot wait, so it must count or signal the overrun itself.
  bool try_send(const T& value) noexcept {
    {
      critical_section<P> cs;
      if (count_ == Capacity) return false;
      ring_[(head_ + count_) % Capacity] = value;
      ++count_;
    }
    waiters_.poll_waiters();
    return true;
  }

  /// Take the oldest value without waiting; false when empty.
  bool try_receive(T& out) noexcept {
    critical_section<P> cs;
    if (count_ == 0) return false;
    out = pop_unchecked();
    return true;
  }

  /// Awaitable returned by receive().
  ///  - Completes with: the oldest value (T). At once if one is there.
  ///  - Cancellation: destroying it while it waits unlinks it; values stay in
  ///    the channel for the next receive.
  ///  - Resumes in: the handler that sent (polled inline), or the run loop if
  ///    a task sent.
  ///  - Shutdown: none; channels are static.
  ///  - Allocates: nothing.
  class [[nodiscard]] receive_awaiter : private waker_entry<P> {
   public:
    explicit receive_awaiter(irq_channel& ch) noexcept : waker_entry<P>(&poll), channel_(ch) {}

    [[nodiscard]] bool ready() const noexcept {
      critical_section<P> cs;
      return channel_.count_ != 0;
    }
    void arm(detail::task_header& t) noexcept { this->link(channel_.waiters_, t); }
    void disarm() noexcept { this->unlink(); }

    [[nodiscard]] bool await_ready() const noexcept { return ready(); }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> h) noexcept {
      arm(detail::header_of(h));
    }
    T await_resume() noexcept {
      disarm();
      critical_section<P> cs;
      // INVARIANT: single consumer, so the value that woken us is still there.
      WEFT_EMBEDDED_ASSERT(channel_.count_ != 0);
      return channel_.pop_unchecked();
    }

   private:
    static bool poll(waker_entry<P>& e) noexcept { return static_cast<receive_awaiter&>(e).ready(); }
    irq_channel& channel_;
  };

  [[nodiscard]] receive_awaiter receive() noexcept { return receive_awaiter{*this}; }

  [[nodiscard]] std::size_t size() const noexcept {
    critical_section<P> cs;
    return count_;
  }

 private:
  // SAFETY: interrupts masked; count_ != 0.
  T pop_unchecked() noexcept {
    T value = ring_[head_];
    head_ = (head_ + 1) % Capacity;
    --count_;
    return value;
  }

  T ring_[Capacity]{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  waker_list<P> waiters_;
};

}  // namespace weft::embedded
