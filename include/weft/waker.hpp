// weft/waker.hpp — weft::waker, and how to write your own leaf awaitable.
//
// A waker is a counted reference to the task that was running when it was
// made, plus the suspension point it was made for. wake() asks the task's
// scheduler to resume the task at that point.
//
// - wake() is idempotent: two wakes before the task runs schedule it once.
// - wake() is safe from any thread, and safe after the task has finished or
//   been destroyed (then it does nothing): the waker keeps the task's header
//   alive, never its frame.
// - wake() never resumes the task inline: the task runs on its own runtime
//   (or its block_on thread), after wake() has returned.
// - A waker made for one suspension point does nothing once the task has
//   moved past it, so a late or duplicate wake can never resume the task at a
//   later point whose operation has not completed.
//
// Writing a leaf awaitable (a timer, a completion from a foreign library):
//
//   struct callback_awaitable {
//     foreign_lib* lib;
//     int result = 0;
//     bool await_ready() const noexcept { return false; }
//     void await_suspend(std::coroutine_handle<> h) {
//       // Record h as the task's resume point and get a waker for it.
//       weft::waker w = weft::suspend_current(h);
//       lib->start([this, w = std::move(w)](int r) {   // any thread
//         result = r;      // write the result first...
//         w.wake();        // ...then wake: the task resumes at h, later
//       });
//     }
//     int await_resume() const noexcept { return result; }
//   };
//
// The awaitable must complete exactly once per suspension (write the result,
// then wake). If the awaiting coroutine can be destroyed while suspended
// (runtime shutdown, weft::timeout), its destructor must withdraw the
// registration, or make sure the callback no longer touches `this`.
#pragma once

#include <weft/detail/task_header.hpp>

#include <coroutine>
#include <cstdint>
#include <utility>

namespace weft {

class waker {
 public:
  waker() noexcept = default;

  /// Adopt a raw waker whose reference the caller transfers.
  explicit waker(detail::raw_waker raw) noexcept : raw_(raw) {}

  waker(const waker& other) noexcept : raw_(other.raw_) {
    if (raw_.task != nullptr) raw_.task->ref();
  }
  waker(waker&& other) noexcept : raw_(std::exchange(other.raw_, {})) {}
  waker& operator=(const waker& other) noexcept {
    waker(other).swap(*this);
    return *this;
  }
  waker& operator=(waker&& other) noexcept {
    waker(std::move(other)).swap(*this);
    return *this;
  }
  ~waker() {
    if (raw_.task != nullptr) raw_.task->unref();
  }

  void swap(waker& other) noexcept { std::swap(raw_, other.raw_); }

  /// Schedule the task to resume at the point this waker was made for.
  /// Idempotent, any thread, a no-op when the task has moved on or finished.
  void wake() const noexcept { wake_raw(raw_); }

  /// True if both wake the same task at the same suspension point. Lets an
  /// awaitable that is polled again keep its registered waker (no re-register).
  [[nodiscard]] bool will_wake(const waker& other) const noexcept {
    return raw_.task == other.raw_.task && raw_.epoch == other.raw_.epoch;
  }

  /// False for a default-constructed or moved-from waker.
  explicit operator bool() const noexcept { return raw_.task != nullptr; }

  /// Give up ownership of the reference.
  [[nodiscard]] detail::raw_waker release() noexcept { return std::exchange(raw_, {}); }

  /// Wake a raw waker (does not consume its reference).
  static void wake_raw(detail::raw_waker raw) noexcept {
    if (raw.task == nullptr) return;
    if (raw.task->transition_to_notified(raw.epoch) ==
        detail::task_header::notify_action::schedule) {
      raw.task->scheduler_->schedule(raw.task);
    }
  }

 private:
  detail::raw_waker raw_;
};

/// Suspend the task that is running on this thread: `h` becomes its resume
/// point and the returned waker resumes it there. Call it from a leaf
/// awaitable's await_suspend, exactly once per suspension. Throws
/// std::system_error(weft::errc::not_in_task) when no weft task or runner is
/// running on this thread.
waker suspend_current(std::coroutine_handle<> h);

namespace detail {
/// suspend_current followed by wake(), in one state transition and without
/// making a waker: the task is re-queued as soon as its step ends.
void suspend_current_and_reschedule(std::coroutine_handle<> h);
}  // namespace detail

}  // namespace weft
