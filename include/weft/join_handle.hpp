// weft/join_handle.hpp — weft::join_handle<T>, the result of spawn.
//
//   weft::join_handle<int> h = weft::spawn([]() -> weft::task<int> { co_return 1; });
//   int v = co_await h;            // or co_await std::move(h), or co_await h.join()
//
// - completes with: the task's value, or rethrows the exception that escaped
//   it. If the task was destroyed by runtime shutdown before it finished, the
//   await throws std::system_error(weft::errc::task_destroyed).
// - cancellation: destroying the awaiting coroutine while it waits withdraws
//   the registration (the handle can be awaited again); the joined task is not
//   affected. Dropping the handle *detaches*: the task runs to completion and
//   is never cancelled by the drop (a spawned task is a critical section).
// - resumes on: the runtime of the awaiting task (its worker, or its block_on
//   thread), never inline on the thread where the joined task finished.
// - runtime shutdown: see completes-with.
// - allocation: none (the waiting coroutine's waker is stored in the task).
// - misuse: awaiting again after the value was taken, awaiting an empty
//   (moved-from, default) handle, or awaiting it from a second task while one
//   already waits on it throws std::system_error(weft::errc::
//   join_handle_consumed) in every build. A second task that arrives while
//   the first waits is refused and the first gets the value; if the task has
//   completed by the time the second one awaits, whichever takes the value
//   first gets it and the other is refused.
//
// A ready handle awaited in a hot loop counts against the cooperative budget.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/error.hpp>
#include <weft/waker.hpp>

#include <coroutine>
#include <utility>

namespace weft {

template <class T>
class [[nodiscard]] join_handle {
 public:
  join_handle() noexcept = default;
  /// Adopt `t` with one reference and JOIN_INTEREST set (spawn does this).
  explicit join_handle(detail::task_header* t) noexcept : t_(t) {}
  join_handle(join_handle&& o) noexcept
      : t_(std::exchange(o.t_, nullptr)), consumed_(std::exchange(o.consumed_, false)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      reset();
      t_ = std::exchange(o.t_, nullptr);
      consumed_ = std::exchange(o.consumed_, false);
    }
    return *this;
  }
  join_handle(const join_handle&) = delete;
  join_handle& operator=(const join_handle&) = delete;
  ~join_handle() { reset(); }

  /// True once the task has finished (or was destroyed by shutdown).
  [[nodiscard]] bool is_finished() const noexcept { return t_ != nullptr && t_->is_complete(); }

  /// False for a default-constructed or moved-from handle.
  [[nodiscard]] bool valid() const noexcept { return t_ != nullptr; }

  /// Let the task run on without a handle. Same as destroying the handle.
  void detach() noexcept { reset(); }

  class [[nodiscard]] awaiter {
   public:
    explicit awaiter(join_handle& h) noexcept : h_(h) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() {
      if (registered_) {
        // Destroyed while waiting: take our waker back, unless the task has
        // completed and owns (wakes and drops) it.
        detail::raw_waker w;
        if (h_.t_->unset_join_waker(w)) waker dropped{w};
      }
    }

    bool await_ready() {
      h_.check_awaitable();
      if (!h_.t_->is_complete()) return false;
      // Ready: go on unless this step's budget is spent.
      yield_ = !detail::consume_budget();
      return !yield_;
    }

    bool await_suspend(std::coroutine_handle<> h) {
      if (yield_) {
        // Budget spent: run again after others had a turn.
        detail::suspend_current_and_reschedule(h);
        return true;
      }
      waker w = suspend_current(h);
      detail::raw_waker raw = w.release();
      switch (h_.t_->set_join_waker(raw)) {
        case detail::task_header::join_registration::registered:
          registered_ = true;
          WEFT_TEST_POINT("join_handle.registered");
          return true;
        case detail::task_header::join_registration::complete:
          break;  // completed in between: go on at once
        case detail::task_header::join_registration::busy:
          busy_ = true;  // another task awaits this handle: refused in await_resume
          break;
      }
      waker dropped{raw};
      return false;
    }

    T await_resume() {
      registered_ = false;
      if (busy_) {
        throw_error(errc::join_handle_consumed,
                    "join_handle awaited by two tasks at once: only one may wait for a task; "
                    "share the result through a channel or weft::event instead");
      }
      return h_.take_ready();
    }

   private:
    join_handle& h_;
    bool registered_ = false;
    bool yield_ = false;
    bool busy_ = false;
  };

  awaiter operator co_await() & noexcept { return awaiter{*this}; }
  awaiter operator co_await() && noexcept { return awaiter{*this}; }
  /// The same as co_await on the handle.
  awaiter join() noexcept { return awaiter{*this}; }

  /// The finished task's outcome. Precondition: is_finished().
  /// Used by runners that waited for completion themselves.
  T take_ready() {
    check_awaitable();
    consumed_ = true;
    if ((t_->load_state() & detail::task_header::cancelled) != 0) {
      throw_error(errc::task_destroyed,
                  "the joined task was destroyed by runtime shutdown before it finished");
    }
    return detail::cell_promise<T>::of_unchecked(t_).take();
  }

  /// The task's header (for runners). Null when empty.
  [[nodiscard]] detail::task_header* header() const noexcept { return t_; }

 private:
  void check_awaitable() const {
    if (t_ == nullptr) {
      throw_error(errc::join_handle_consumed,
                  "awaited an empty join_handle (moved from or default-constructed)");
    }
    if (consumed_) {
      throw_error(errc::join_handle_consumed,
                  "join_handle awaited twice: its value was already taken; keep the value, or "
                  "share it through a channel");
    }
  }

  void reset() noexcept {
    if (t_ == nullptr) return;
    detail::raw_waker w;
    std::exchange(t_, nullptr)->drop_join_handle(w);
    if (w.task != nullptr) waker dropped{w};  // drop the waker's reference
    consumed_ = false;
  }

  detail::task_header* t_ = nullptr;
  bool consumed_ = false;
};

}  // namespace weft
