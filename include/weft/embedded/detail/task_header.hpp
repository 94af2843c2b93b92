// weft/embedded/detail/task_header.hpp — the raw per-task record the executor
// and the waker lists share.
//
// Why a header of its own: the waker lists must be able to wake a task without
// knowing which executor (or which platform) owns it, and the executor must
// run a task without knowing its coroutine's promise type. task_header is that
// common ground; it is the base class of every task promise, so it lives inside
// the coroutine frame, in the frame pool's static storage. Nothing here is
// allocated.
//
// Ownership and who touches what:
//   handle_, wake_, executor_, slot_  written once by executor::spawn before the
//                                     task first runs, then read-only.
//   next_ready_, state_               owned by the executor; read and written
//                                     only with interrupts masked.
//
// State (state_), all transitions under a critical section in executor.hpp:
//   idle ──wake──▶ queued ──run loop──▶ running ──suspends──▶ idle
//   idle ──wake from an interrupt──▶ running (polled inline by the handler)
//   running ──returns──▶ (frame destroyed, slot freed)
// A wake of a queued or running task changes nothing: the task will look at
// its wait conditions again anyway (all waits are level-checked).
#pragma once

#include <coroutine>
#include <cstdint>
#include <type_traits>

namespace weft::embedded::detail {

enum class task_state : std::uint8_t { idle, queued, running };

struct task_header {
  using wake_fn = void (*)(task_header&) noexcept;

  /// Resume point of the task's coroutine (type-erased).
  std::coroutine_handle<> handle_{};
  /// Intrusive link of the executor's ready queue.
  task_header* next_ready_ = nullptr;
  /// The owning executor's wake entry point and its `this`.
  wake_fn wake_ = nullptr;
  void* executor_ = nullptr;
  task_state state_ = task_state::idle;
  /// Index in the owning executor's slot table.
  std::uint8_t slot_ = 0;
};

/// Ask the task's executor to poll it (see executor::wake for the rules).
/// SAFETY: `t` belongs to a spawned, not yet destroyed task.
inline void wake_unchecked(task_header& t) noexcept { t.wake_(t); }

/// The header of the task awaiting through `h`. Awaitables of weft::embedded
/// can only be awaited directly by an embedded task (no nested coroutines).
template <class Promise>
task_header& header_of(std::coroutine_handle<Promise> h) noexcept {
  static_assert(std::is_base_of_v<task_header, Promise>, "only a weft::embedded::task can await this");
  return h.promise();
}

}  // namespace weft::embedded::detail
