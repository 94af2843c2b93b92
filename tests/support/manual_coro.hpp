// A bare coroutine driven by hand, for the "cancel after completion" tests of
// the sync primitives and the channels.
#pragma once

#include <weft/runtime.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <exception>
#include <utility>

namespace weft_test {

/// Let other tasks run until `pred` holds. Not a sleep: it waits for a state
/// the other tasks reach, whatever the timing.
template <class Pred>
weft::task<> wait_until(Pred pred) {
  while (!pred()) co_await weft::yield_now();
}

/// A bare coroutine driven by hand, to park an awaiter in a frame the test
/// destroys itself. Started from inside a weft task, the awaiter's await_suspend
/// registers a waker for the *task's* current suspension point; once the task
/// suspends again elsewhere (co_await weft::yield_now()), that waker is stale
/// and never resumes anything. So after the primitive completes the wait (hands
/// over a value, grants a slot or a permit, fires) the awaiter stays "completed
/// but not resumed" until destroy() — the "cancel after" case, deterministically
/// on every runtime flavour.
class manual_coro {
 public:
  struct promise_type {
    manual_coro get_return_object() noexcept {
      return manual_coro{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  explicit manual_coro(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  manual_coro(manual_coro&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  manual_coro& operator=(manual_coro&&) = delete;
  ~manual_coro() { destroy(); }

  void start() { h_.resume(); }
  [[nodiscard]] bool done() const noexcept { return h_.done(); }
  void destroy() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

}  // namespace weft_test
