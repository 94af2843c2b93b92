// Helpers for the tests of weft's synchronisation primitives.
#pragma once

#include <weft/runtime.hpp>
#include <weft/sync.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <cstdint>
#include <exception>
#include <utility>

namespace sync_test {

/// Poll `pred` between yields until it holds. Not a sleep: it lets the other
/// tasks run and waits for a state they reach, whatever the timing.
template <class Pred>
weft::task<> wait_until(Pred pred) {
  while (!pred()) co_await weft::yield_now();
}

/// A bare coroutine driven by hand, to park an awaiter in a frame that the
/// test destroys itself. Start it from inside a weft task and make that task
/// suspend right after (co_await weft::yield_now()): the awaiter's waker then
/// belongs to a past suspension of the task and never resumes anything, so
/// the awaiter stays "completed but never resumed" until destroy() — the
/// "cancel after" case, deterministically.
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

/// xorshift64*: a small deterministic generator per task.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() noexcept {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  /// Uniform-ish in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  std::uint64_t s_;
};

}  // namespace sync_test
