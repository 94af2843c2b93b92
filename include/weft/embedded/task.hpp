// weft/embedded/task.hpp — the coroutine type of an embedded task.
//
// Why: a task is a coroutine returning task<Pool>, where Pool is a static
// frame_pool. The promise type is where the "no heap" rule is enforced: its
// class-specific, noexcept operator new takes a slot from Pool, so the global
// operator new is never referenced (the target build links without any C or
// C++ library and would fail to link if it were).
//
//   constinit frame_pool<cortex_m, 96, 2> blink_frames;
//   task<blink_frames> blink(timer<cortex_m>& t) { for (;;) co_await t.sleep(500); }
//
// Ownership: calling blink(...) creates the frame, suspended before its first
// statement, owned by the returned task<>. executor::spawn takes it over; a
// task<> dropped without being spawned destroys its frame. If Pool had no room,
// the task<> is empty and remembers why (failure()), which spawn returns.
//
// The promise is a detail::task_header, so the executor and the waker lists
// reach a task without knowing its promise type. A task returns nothing;
// results travel through channels or events. Exceptions do not exist here
// (-fno-exceptions): unhandled_exception() is unreachable and traps.
#pragma once

#include <coroutine>
#include <cstddef>

#include <weft/embedded/detail/task_header.hpp>
#include <weft/embedded/frame_pool.hpp>

namespace weft::embedded {

template <auto& Pool>
class [[nodiscard]] task {
 public:
  struct promise_type : detail::task_header {
    [[gnu::always_inline]] static void* operator new(std::size_t n) noexcept { return Pool.allocate(n); }
    static void operator delete(void* p, std::size_t) noexcept { Pool.deallocate(p); }
    static task get_return_object_on_allocation_failure() noexcept { return task{Pool.last_failure()}; }
    task get_return_object() noexcept { return task{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { __builtin_trap(); }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  task(task&& other) noexcept : handle_(other.handle_), failure_(other.failure_) { other.handle_ = {}; }
  task& operator=(task&&) = delete;
  ~task() {
    if (handle_) handle_.destroy();
  }

  /// False when the frame could not be allocated.
  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(handle_); }
  /// Why the frame could not be allocated (spawned when it could).
  [[nodiscard]] spawn_status failure() const noexcept { return failure_; }
  /// Hand the frame over (to the executor).
  [[nodiscard]] handle_type release() noexcept {
    handle_type h = handle_;
    handle_ = {};
    return h;
  }

 private:
  explicit task(handle_type h) noexcept : handle_(h) {}
  explicit task(spawn_status why) noexcept : failure_(why) {}

  handle_type handle_{};
  spawn_status failure_ = spawn_status::spawned;
};

}  // namespace weft::embedded
