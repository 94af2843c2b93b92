// weft/embedded/executor.hpp — the heapless, interrupt-driven executor.
//
// Why: on a single-core microcontroller a task must never be pre-empted by
// another task, and waiting must cost nothing but an entry in a list. So:
//   * a task runs with interrupts masked, from a resume until its next
//     suspension; interrupt handlers run only between tasks;
//   * tasks sit in MaxTasks static slots; their frames in static frame_pools;
//     spawn returns an error value when either is full;
//   * a waiting task is linked into the waker list of the interrupt that will
//     end its wait. The handler walks the list (waker_list::poll_waiters) and
//     the executor polls each task whose wait is over *right there, inside the
//     handler*, once — that is wake() with no task running;
//   * a task made ready by another task (wake() while a task runs) and a task
//     just spawned go to the ready queue, which run() drains in thread mode;
//   * when the ready queue is empty, run() sleeps in P::wait_for_interrupt()
//     (WFI on Cortex-M) with interrupts masked, so an interrupt that arrives
//     between the check and the sleep still ends the sleep.
//
// Ownership: the executor owns the slot table, the ready queue and every
// task_header's state_/next_ready_ (see detail/task_header.hpp). A slot owns
// its task's frame from spawn until the task returns or is cancelled; then the
// executor destroys the frame, which returns it to its pool and, through the
// awaiters' destructors, unlinks any waker entry still linked.
//
// Interrupt safety: every member function masks interrupts for its whole
// body (critical_section nests). The one place a task runs, poll_unchecked,
// is therefore always inside a critical section, which is what makes "a task
// runs with interrupts masked" true by construction.
//
// Shutdown: run() returns when no task is left. There is no other shutdown: a
// firmware's executor lives forever; cancel() ends one task.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>

#include <weft/embedded/detail/assert.hpp>
#include <weft/embedded/detail/task_header.hpp>
#include <weft/embedded/frame_pool.hpp>
#include <weft/embedded/platform.hpp>
#include <weft/embedded/task.hpp>

namespace weft::embedded {

/// Names a spawned task for cancel(). Stale once the task ends; the slot's
/// generation (8 bits) makes a stale handle fail unless the slot was reused
/// 256 times since.
struct task_handle {
  std::uint8_t slot = 0xff;
  std::uint8_t generation = 0;
};

struct [[nodiscard]] spawn_result {
  spawn_status status;
  task_handle handle;
  [[nodiscard]] explicit operator bool() const noexcept { return status == spawn_status::spawned; }
};

template <platform P, std::size_t MaxTasks>
class executor {
  static_assert(MaxTasks >= 1 && MaxTasks < 255, "slot indices are 8 bits");
  using header = detail::task_header;

 public:
  constexpr executor() noexcept = default;
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Queue a task; it first runs from run() or run_until_idle(). Reports a
  /// task whose frame could not be allocated, and a full slot table (the
  /// frame is then destroyed).
  template <auto& Pool>
  spawn_result spawn(task<Pool>&& t) noexcept {
    if (!t) return {t.failure(), {}};
    auto h = t.release();
    return adopt(h.promise(), h);
  }

  /// Thread mode: run tasks, sleep when none is ready, return when none is left.
  void run() noexcept {
    for (;;) {
      critical_section<P> cs;
      if (header* t = pop_ready_unchecked()) {
        poll_unchecked(*t);
        continue;
      }
      if (live_ == 0) return;
      // Interrupts are masked: a pending interrupt still ends the sleep, and
      // its handler runs when `cs` ends.
      P::wait_for_interrupt();
    }
  }

  /// Run ready tasks until none is ready; never sleeps (host tests).
  void run_until_idle() noexcept {
    for (;;) {
      critical_section<P> cs;
      header* t = pop_ready_unchecked();
      if (t == nullptr) return;
      poll_unchecked(*t);
    }
  }

  /// Destroy a task that is not running; its waits are unlinked by the
  /// destructors of its awaiters. False if the handle is stale or the task
  /// is the one calling.
  bool cancel(task_handle h) noexcept {
    critical_section<P> cs;
    if (h.slot >= MaxTasks) return false;
    header* t = slots_[h.slot];
    if (t == nullptr || generation_[h.slot] != h.generation || t->state_ == detail::task_state::running) {
      return false;
    }
    if (t->state_ == detail::task_state::queued) remove_ready_unchecked(*t);
    release_unchecked(*t);
    return true;
  }

  [[nodiscard]] std::size_t live_tasks() const noexcept {
    critical_section<P> cs;
    return live_;
  }

 private:
  spawn_result adopt(header& t, std::coroutine_handle<> h) noexcept {
    critical_section<P> cs;
    for (std::uint8_t i = 0; i < MaxTasks; ++i) {
      if (slots_[i] != nullptr) continue;
      slots_[i] = &t;
      t.handle_ = h;
      t.wake_ = &wake_thunk;
      t.executor_ = this;
      t.slot_ = i;
      t.state_ = detail::task_state::idle;
      enqueue_unchecked(t);
      ++live_;
      return {spawn_status::spawned, {i, generation_[i]}};
    }
    h.destroy();
    return {spawn_status::executor_full, {}};
  }

  static void wake_thunk(header& t) noexcept { static_cast<executor*>(t.executor_)->wake(t); }

  // A wait of `t` is over. With no task running we are in an interrupt handler
  // (or in main, outside run()): poll the task here, once. With a task running,
  // that task woke `t`: queue it, tasks never run inside each other.
  void wake(header& t) noexcept {
    critical_section<P> cs;
    if (t.state_ != detail::task_state::idle) return;  // it will look again anyway
    if (running_ == nullptr) {
      poll_unchecked(t);
    } else {
      enqueue_unchecked(t);
    }
  }

  // SAFETY: interrupts masked; no task running; `t` alive and not queued.
  void poll_unchecked(header& t) noexcept {
    WEFT_EMBEDDED_ASSERT(running_ == nullptr);  // INVARIANT: see SAFETY
    running_ = &t;
    t.state_ = detail::task_state::running;
    t.handle_.resume();
    running_ = nullptr;
    if (t.handle_.done()) {
      release_unchecked(t);
    } else {
      t.state_ = detail::task_state::idle;
    }
  }

  // SAFETY: interrupts masked; `t` occupies its slot and is not running or queued.
  void release_unchecked(header& t) noexcept {
    const std::uint8_t slot = t.slot_;
    WEFT_EMBEDDED_ASSERT(slots_[slot] == &t);  // INVARIANT: see SAFETY
    slots_[slot] = nullptr;
    ++generation_[slot];
    --live_;
    t.handle_.destroy();  // `t` lives in the frame: gone after this line
  }

  // SAFETY: interrupts masked; `t` idle.
  void enqueue_unchecked(header& t) noexcept {
    t.state_ = detail::task_state::queued;
    t.next_ready_ = nullptr;
    if (ready_tail_ != nullptr) {
      ready_tail_->next_ready_ = &t;
    } else {
      ready_head_ = &t;
    }
    ready_tail_ = &t;
  }

  // SAFETY: interrupts masked.
  header* pop_ready_unchecked() noexcept {
    header* t = ready_head_;
    if (t == nullptr) return nullptr;
    ready_head_ = t->next_ready_;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    t->next_ready_ = nullptr;
    t->state_ = detail::task_state::idle;
    return t;
  }

  // SAFETY: interrupts masked; `t` queued.
  void remove_ready_unchecked(header& t) noexcept {
    header* prev = nullptr;
    for (header* cur = ready_head_; cur != &t; cur = cur->next_ready_) prev = cur;
    (prev != nullptr ? prev->next_ready_ : ready_head_) = t.next_ready_;
    if (ready_tail_ == &t) ready_tail_ = prev;
    t.next_ready_ = nullptr;
    t.state_ = detail::task_state::idle;
  }

  header* slots_[MaxTasks]{};
  std::uint8_t generation_[MaxTasks]{};
  header* ready_head_ = nullptr;
  header* ready_tail_ = nullptr;
  header* running_ = nullptr;
  std::uint8_t live_ = 0;
};

}  // namespace weft::embedded
