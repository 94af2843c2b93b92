// weft/task.hpp — weft::task<T>, the lazy coroutine type.
//
// A task<T> is a coroutine that does nothing until it is awaited. Awaiting it
// starts it; when it finishes, control passes back to the awaiter. A task
// that finishes without suspending returns into the awaiter's await_suspend,
// which resumes the awaiter by returning false; one that finished after
// suspending hands control to its awaiter by symmetric transfer from
// final_suspend. Either way a loop of a million synchronous co_awaits runs in
// constant stack, on every compiler and optimisation level.
//
//   weft::task<int> answer() { co_return 42; }
//   weft::task<> user() { int v = co_await answer(); ... }
//
// - completes with: the value of co_return, or rethrows the exception that
//   escaped the body, in the awaiter.
// - cancellation: destroying a task<T> that has not finished destroys its
//   frame, running the destructors of everything suspended inside it. That is
//   how weft cancels (weft::timeout destroys the operation that timed out).
// - resumes on: the thread that awaited it (it is part of the awaiter's run).
// - runtime shutdown: a task<T> belongs to whichever spawned task awaits it,
//   and is destroyed with it.
// - allocation: one frame per call, from per-thread size-class free lists
//   (weft/detail/frame_allocator.hpp); nothing per await.
//
// To run a task concurrently, hand it to weft::spawn; to run one from plain
// code, use runtime::block_on or weft::block_on.
#pragma once

#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/result_slot.hpp>
#include <weft/error.hpp>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace weft {

template <class T = void>
class task;

namespace detail {

/// Frames of every weft coroutine come from the frame allocator.
struct frame_allocated {
  static void* operator new(std::size_t size) { return frame_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_deallocate(p, size); }
};

template <class T>
class task_promise final : public frame_allocated, public result_slot<T> {
 public:
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<task_promise> h) noexcept {
      task_promise& p = h.promise();
      if (p.starting_) {
        // Finished inside the awaiter's await_suspend (no suspension on the
        // way): tell it, and return there; it resumes the awaiter without
        // nesting. See task::awaiter.
        p.finished_inline_ = true;
        return std::noop_coroutine();
      }
      // Finished after suspending: symmetric transfer to the awaiter.
      return p.continuation_;
    }
    void await_resume() const noexcept {}
  };

  task<T> get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
  }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  /// Run the task from the awaiter's await_suspend. True if it finished
  /// without suspending (the awaiter then continues at once).
  bool start(std::coroutine_handle<> continuation) {
    started_ = true;
    continuation_ = continuation;
    starting_ = true;
    std::coroutine_handle<task_promise>::from_promise(*this).resume();
    starting_ = false;
    return finished_inline_;
  }
  /// True once an awaiter started this task (it can be awaited only once).
  [[nodiscard]] bool started() const noexcept { return started_; }

 private:
  // All three are touched only by the thread running the owning task's step
  // (a task's steps never run concurrently), so they need no atomics.
  std::coroutine_handle<> continuation_;
  bool starting_ = false;
  bool finished_inline_ = false;
  bool started_ = false;
};

/// Throws errc::task_consumed with a message that says what was done wrong.
[[noreturn]] void throw_task_misuse(bool empty);

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using value_type = T;

  task() noexcept = default;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  /// True if this task owns a coroutine (not default-constructed or moved from).
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }

  struct awaiter {
    std::coroutine_handle<promise_type> h_;
    /// Misuse is checked here, in every build: an empty task, or one that
    /// was awaited before (resuming it again would run a finished frame).
    bool await_ready() const {
      if (!h_) detail::throw_task_misuse(/*empty=*/true);
      if (h_.promise().started()) detail::throw_task_misuse(/*empty=*/false);
      return false;
    }
    bool await_suspend(std::coroutine_handle<> awaiting) {
      // Start the task with a plain call rather than a symmetric transfer:
      // if it finishes synchronously, its final_suspend returns here and we
      // return false, resuming the awaiter without a nested frame. The stack
      // stays flat on every compiler and build mode (a symmetric transfer is
      // only a flat jump where the compiler emits a tail call, which GCC does
      // not do at -O0/-O1 or under the sanitizers).
      return !h_.promise().start(awaiting);
    }
    decltype(auto) await_resume() { return h_.promise().take(); }
  };

  /// Start the task and wait for it. A task can be awaited once: awaiting it
  /// again, or awaiting an empty (moved-from, default) task, throws
  /// std::system_error(weft::errc::task_consumed) in every build.
  awaiter operator co_await() && noexcept { return awaiter{h_}; }
  awaiter operator co_await() & noexcept { return awaiter{h_}; }

  /// The underlying coroutine; the task keeps ownership.
  [[nodiscard]] std::coroutine_handle<promise_type> handle() const noexcept { return h_; }

 private:
  void destroy() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }
  std::coroutine_handle<promise_type> h_;
};

}  // namespace weft
