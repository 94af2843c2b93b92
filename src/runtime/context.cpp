// Thread-local context, the step runner shared by every runner, and cells.
#include <weft/detail/context.hpp>
#include <weft/detail/frame_allocator.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/detail/planted_bug.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/error.hpp>
#include <weft/waker.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace weft::detail {

namespace {
thread_local task_header* tl_current_task = nullptr;
thread_local runtime_core* tl_current_runtime = nullptr;
thread_local bool tl_in_runner = false;
thread_local const scheduler* tl_blocking_pool_owner = nullptr;
thread_local int tl_budget = initial_budget;
// The frame address the last cell_allocate on this thread returned; checked
// against coroutine_handle::address() in get_return_object.
thread_local void* tl_last_cell_frame = nullptr;
}  // namespace

task_header*& current_task() noexcept { return tl_current_task; }
runtime_core*& current_runtime() noexcept { return tl_current_runtime; }
bool& in_runner() noexcept { return tl_in_runner; }
const scheduler*& blocking_pool_owner() noexcept { return tl_blocking_pool_owner; }
int& budget() noexcept { return tl_budget; }

step_result run_step(task_header* t) noexcept {
  task_header* const outer = tl_current_task;
  tl_current_task = t;
  t->suspended_ = false;
  // SAFETY: the caller moved `t` to RUNNING, so no other thread resumes it.
  t->resume_at_.resume();
  tl_current_task = outer;
  if (t->finished_) {
    cell_complete(t);
    return step_result::finished;
  }
  if (!t->suspended_) {
    // The step ended without weft::suspend_current: the coroutine awaited
    // something that is not weft-aware (std::suspend_always, another
    // library's awaitable), and nothing will ever wake it.
    std::fputs(
        "weft: a task suspended on an awaitable that is not weft-aware (it did not call "
        "weft::suspend_current); it can never be resumed. See weft/waker.hpp for writing "
        "leaf awaitables.\n",
        stderr);
    std::abort();
  }
  return t->transition_to_idle() == task_header::idle_result::notified ? step_result::notified
                                                                       : step_result::idle;
}

// ---- cells ---------------------------------------------------------------------

namespace {
/// The frame size as the header keeps it (task_header::frame_size_).
std::uint16_t saturated_frame_size(std::size_t size) noexcept {
  return static_cast<std::uint16_t>(std::min<std::size_t>(size, 0xffff));
}

void free_block(task_header* t) noexcept {
  scheduler* s = t->scheduler_;
  const std::size_t size = cell_header_space + t->frame_size_;
  // Builds with test points: a freed header says so (see
  // check_not_freed); ASan builds also poison the block.
  t->mark_freed_for_tests();
  t->~task_header();
  frame_deallocate(t, size);
  if (s != nullptr) s->release();
}

}  // namespace

void cell_release(task_header* t) noexcept {
  if (t->frame_destroyed_) {
    free_block(t);
    return;
  }
  // The frame still exists (finished, holding its output, or never run):
  // destroying it calls cell_deallocate, which frees the block.
  t->releasing_ = true;
  cell_frame(t).destroy();
}

void* cell_allocate(std::size_t frame_size) {
  void* block = frame_allocate(cell_header_space + frame_size);
  auto* t = ::new (block) task_header(task_header::ref_one);
  t->frame_size_ = saturated_frame_size(frame_size);
  void* frame = frame_of_header(t);
  tl_last_cell_frame = frame;
  return frame;
}

void cell_check_frame(void* frame) noexcept {
  if (frame != tl_last_cell_frame) {
    std::fputs(
        "weft: this compiler does not place a coroutine frame at the address its promise's "
        "operator new returned; weft's task cells cannot work with it\n",
        stderr);
    std::abort();
  }
}

void cell_deallocate(void* frame, std::size_t frame_size) noexcept {
  task_header* t = header_of_frame(frame);
  // INVARIANT: the frame size is the one allocated.
  if (saturated_frame_size(frame_size) != t->frame_size_) std::abort();
  if (t->releasing_) {
    free_block(t);
  } else {
    t->frame_destroyed_ = true;  // references remain: the header lives on
  }
}

namespace {
void wake_joiner(std::uint64_t prev, task_header* t) noexcept {
  if ((prev & task_header::join_waker) != 0) {
    waker joiner{t->take_join_waker_unchecked()};
    joiner.wake();
  }
}
}  // namespace

void cell_complete(task_header* t) noexcept {
  const bool drop_owner_ref = t->scheduler_->on_complete(t);
  const std::uint64_t prev = t->transition_to_complete(drop_owner_ref);
  if ((prev & task_header::join_waker) != 0) {
    // A joiner waits. transition_to_complete kept the owner's reference, so
    // the header outlives this read even if the joiner is cancelled now and
    // drops its handle (the test holds the thread here to open that window).
    if (planted(planted_bug::join_unref_before_wake) && drop_owner_ref) {
      // The bug, re-planted for the tools that must find it: the owner's
      // reference goes first, so a joiner that drops its handle in the
      // window below frees the header this thread is about to read.
      t->unref();
      WEFT_TEST_POINT("cell_complete.before_wake_joiner");
      t->check_not_freed("cell_complete, waking the joiner");
      wake_joiner(prev, t);
      return;
    }
    WEFT_TEST_POINT("cell_complete.before_wake_joiner");
    t->check_not_freed("cell_complete, waking the joiner");
    wake_joiner(prev, t);
    if (drop_owner_ref) t->unref();
    return;
  }
  if (drop_owner_ref && task_header::refs_of(prev) == 1) cell_release(t);
}

void cell_cancel(task_header* t) noexcept {
  // Mark first, so wakes that race with the destruction are no-ops.
  const std::uint64_t prev = t->transition_to_cancelled();
  if ((prev & task_header::complete) != 0) return;  // finished meanwhile: keep its output
  task_header* const outer = tl_current_task;
  tl_current_task = nullptr;  // destructors run outside any task
  cell_frame(t).destroy();    // cell_deallocate records frame_destroyed_
  tl_current_task = outer;
  wake_joiner(prev, t);
}

bool cell_request_cancel(task_header* t) noexcept {
  if (t->is_complete()) return true;
  cancel_hook* const hook = t->cancel_hook_;
  if (hook != nullptr && !hook->fn(hook)) {
    t->cancel_pending_ = true;
    return false;
  }
  cell_cancel(t);
  return true;
}

}  // namespace weft::detail

namespace weft {

namespace {
detail::task_header* running_task() {
  detail::task_header* t = detail::tl_current_task;
  if (t == nullptr) {
    throw_error(errc::not_in_task,
                "a weft awaitable was awaited outside a weft task: run it with "
                "runtime::block_on, weft::block_on or weft::spawn");
  }
  return t;
}
}  // namespace

void detail::suspend_current_and_reschedule(std::coroutine_handle<> h) {
  (void)running_task()->begin_suspend(h, /*woken=*/true);
}

waker suspend_current(std::coroutine_handle<> h) {
  detail::task_header* t = running_task();
  const std::uint32_t epoch = t->begin_suspend(h);
  t->ref();
  return waker{detail::raw_waker{t, epoch}};
}

}  // namespace weft
