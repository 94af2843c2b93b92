// Model tests of the task state word (include/weft/detail/task_header.hpp):
// NOTIFIED/RUNNING/COMPLETE bits and epochs, the reference count, and the
// JOIN_CLAIM/JOIN_WAKER join protocol, driven through task_header's own
// transition functions by model threads playing the runner, wakers and the
// joiner. The header lives in storage the test owns; cell_release (the
// runtime's "last reference gone", defined here for the model) destroys it,
// so a later access to its state word is reported as a use after free.
#include "model_test_support.hpp"

#include <weft/detail/task_header.hpp>

#include <coroutine>
#include <new>

namespace {

using namespace weft::model_test;
using weft::detail::raw_waker;
using weft::detail::task_header;

// Counts the last-reference releases of the current execution (one model
// body runs at a time; touched only by the running model thread).
int g_releases = 0;

// A header in storage that outlives it.
struct cell {
  alignas(task_header) unsigned char storage[sizeof(task_header)];
  task_header* h = nullptr;
  explicit cell(std::uint64_t initial) {
    g_releases = 0;
    h = ::new (static_cast<void*>(storage)) task_header(initial);
  }
};

constexpr std::uint64_t refs(unsigned n) { return n * task_header::ref_one; }

// A joiner's task: only its address matters (the waker's target).
task_header* joiner_task() {
  static task_header* const fake = reinterpret_cast<task_header*>(alignof(task_header) * 16);
  return fake;
}

}  // namespace

namespace weft::detail {
// The runtime's version frees the cell; the model's destroys the header (its
// state word's record dies) and counts.
void cell_release(task_header* t) noexcept {
  ++g_releases;
  t->~task_header();
}
}  // namespace weft::detail

namespace {

// The running task suspends (new epoch, published to a waker as a leaf's
// own synchronisation would) and ends its step while the waker fires: the
// task is handed to the scheduler exactly once — by the waker if the step
// had ended, by the runner (re-queue) if it had not — and never lost.
TEST(TaskStateModel, WakeRacingStepEndSchedulesExactlyOnce) {
  int by_runner = 0;
  int by_waker = 0;
  expect_all_interleavings_pass("task_header: wake vs step end", [&] {
    cell c(task_header::running | refs(2));  // the owner's and the waker's
    task_header* h = c.h;
    sync::atomic<std::uint32_t> published{0};  // epoch + 1 once the leaf published it
    int scheduled_by_runner = 0;
    int scheduled_by_waker = 0;
    sync::thread waker([&] {
      std::uint32_t e1;
      while ((e1 = published.load()) == 0) sync::spin_hint();
      if (h->transition_to_notified(e1 - 1) == task_header::notify_action::schedule) {
        ++scheduled_by_waker;
      }
      h->unref();
    });
    const std::uint32_t e = h->begin_suspend(std::noop_coroutine());
    published.store(e + 1);
    if (h->transition_to_idle() == task_header::idle_result::notified) ++scheduled_by_runner;
    waker.join();
    model::require(scheduled_by_runner + scheduled_by_waker == 1,
                   "a wake racing the step end schedules the task exactly once");
    const std::uint64_t s = h->load_state();
    model::require((s & task_header::notified) != 0 && (s & task_header::running) == 0,
                   "the scheduled task is NOTIFIED and not RUNNING");
    model::require(h->transition_to_running(), "the scheduled task can run");
    by_runner += scheduled_by_runner;
    by_waker += scheduled_by_waker;
    h->unref();
    model::require(g_releases == 1, "the last reference is released once");
  });
  EXPECT_GT(by_runner, 0);
  EXPECT_GT(by_waker, 0);
}

// Two wakers of one suspension (a leaf's waker and a copy of it) fire while
// the task, scheduled by the first, runs again and suspends at a new point:
// the task is scheduled exactly once for the first suspension, and the late
// (now stale) waker never schedules it at the second, whose operation has
// not completed.
TEST(TaskStateModel, StaleWakerNeverSchedulesALaterSuspension) {
  model::options o;
  o.stale_read_bound = 0;  // sequentially consistent: weak memory x 3 threads is too slow for CI
  expect_all_interleavings_pass("task_header: stale waker", [] {
    cell c(task_header::running | refs(3));  // the owner's and two wakers'
    task_header* h = c.h;
    sync::atomic<std::uint32_t> published{0};  // epoch + 1
    sync::atomic<int> queued{0};               // times handed to the scheduler
    auto fire = [&] {
      std::uint32_t e;
      while ((e = published.load()) == 0) sync::spin_hint();
      if (h->transition_to_notified(e - 1) == task_header::notify_action::schedule) {
        queued.fetch_add(1);
      }
      h->unref();
    };
    sync::thread a(fire);
    sync::thread b(fire);
    const std::uint32_t e0 = h->begin_suspend(std::noop_coroutine());
    published.store(e0 + 1);
    if (h->transition_to_idle() == task_header::idle_result::notified) queued.fetch_add(1);
    while (queued.load() == 0) sync::spin_hint();  // the scheduler runs it
    model::require(h->transition_to_running(), "the woken task runs");
    const std::uint32_t e1 = h->begin_suspend(std::noop_coroutine());
    model::require(e1 != e0, "a new suspension has a new epoch");
    model::require(h->transition_to_idle() == task_header::idle_result::idle,
                   "nothing woke the second suspension during its step");
    a.join();
    b.join();
    model::require(queued.load() == 1, "scheduled exactly once, for the first suspension");
    model::require((h->load_state() & task_header::notified) == 0,
                   "a stale waker does not notify the later suspension");
    h->unref();
    model::require(g_releases == 1, "the last reference is released once");
  }, o);
}

// What cell_complete (src/runtime/context.cpp) does when a body finishes
// and its owner's reference goes with the completion, without a joiner.
void complete_like_the_runtime(task_header* h) {
  const std::uint64_t prev = h->transition_to_complete(/*drop_ref=*/true);
  model::require((prev & task_header::join_waker) == 0, "no joiner in this scenario");
  if (task_header::refs_of(prev) == 1) weft::detail::cell_release(h);
}

// The body completes (dropping the owner's reference) while the joiner
// registers its waker (the runner does what cell_complete does): if registration won, the completing thread takes and
// wakes the joiner's waker exactly once; if completion won, the joiner sees
// COMPLETE and is not woken. Then the joiner drops its handle: the last
// reference is released exactly once and nothing touches the state word
// after that (a touch would be a use after free here).
TEST(TaskStateModel, CompletionRacingJoinerRegistrationWakesJoinerExactlyOnce) {
  int registered_runs = 0;
  int complete_runs = 0;
  expect_all_interleavings_pass("task_header: complete vs join registration", [&] {
    cell c(task_header::running | task_header::join_interest | refs(2));
    task_header* h = c.h;
    sync::atomic<int> woken{0};
    sync::thread runner([&] {
      const std::uint64_t prev = h->transition_to_complete(/*drop_ref=*/true);
      if ((prev & task_header::join_waker) != 0) {
        const raw_waker w = h->take_join_waker_unchecked();
        model::require(w.task == joiner_task() && w.epoch == 7, "the joiner's own waker");
        woken.fetch_add(1);
        h->unref();  // the owner's reference, after the waker read
      } else if (task_header::refs_of(prev) == 1) {
        weft::detail::cell_release(h);
      }
    });
    const auto reg = h->set_join_waker(raw_waker{joiner_task(), 7});
    if (reg == task_header::join_registration::registered) {
      while (woken.load() == 0) sync::spin_hint();  // suspended until woken
      ++registered_runs;
    } else {
      model::require(reg == task_header::join_registration::complete,
                     "one joiner is never refused as busy");
      ++complete_runs;
    }
    model::require(h->is_complete(), "the joiner resumes only after completion");
    raw_waker out;
    h->drop_join_handle(out);
    runner.join();
    model::require(out.task == nullptr, "a completed task keeps no waker to hand back");
    model::require(woken.load() == (reg == task_header::join_registration::registered ? 1 : 0),
                   "the joiner is woken exactly once iff it registered");
    model::require(g_releases == 1, "the last reference is released exactly once");
  });
  EXPECT_GT(registered_runs, 0);
  EXPECT_GT(complete_runs, 0);
}

// The joiner registers, then gives up (its await is cancelled: the handle is
// dropped) while the body completes: the waker is either handed back to the
// joiner or woken by the completing thread — exactly one of the two — and
// the last reference goes exactly once.
TEST(TaskStateModel, JoinerDroppingHandleRacingCompletionTakesWakerBackOrIsWokenNotBoth) {
  expect_all_interleavings_pass("task_header: drop handle vs complete", [] {
    cell c(task_header::running | task_header::join_interest | refs(2));
    task_header* h = c.h;
    int woken = 0;
    sync::thread runner([&] {
      const std::uint64_t prev = h->transition_to_complete(/*drop_ref=*/true);
      if ((prev & task_header::join_waker) != 0) {
        const raw_waker w = h->take_join_waker_unchecked();
        model::require(w.task == joiner_task(), "the joiner's own waker");
        ++woken;
        h->unref();
      } else if (task_header::refs_of(prev) == 1) {
        weft::detail::cell_release(h);
      }
    });
    const auto reg = h->set_join_waker(raw_waker{joiner_task(), 3});
    raw_waker back;
    h->drop_join_handle(back);  // the handle (and its reference) goes
    runner.join();
    const int handed_back = back.task != nullptr ? 1 : 0;
    if (reg == task_header::join_registration::registered) {
      model::require(handed_back + woken == 1,
                     "a registered waker is either handed back or woken, exactly once");
    } else {
      model::require(handed_back + woken == 0, "an unregistered waker is never used");
    }
    model::require(g_releases == 1, "the last reference is released exactly once");
  });
}

// Three holders drop references at once (two wakers firing then dropping,
// and the owner completing with drop_ref): the header is released exactly
// once, after every other access.
TEST(TaskStateModel, ConcurrentUnrefsAndCompletionReleaseExactlyOnce) {
  expect_all_interleavings_pass("task_header: refcount", [] {
    cell c(task_header::running | refs(3));
    task_header* h = c.h;
    const std::uint32_t e = h->begin_suspend(std::noop_coroutine(), /*woken=*/false);
    auto waker_fires = [h, e] {
      (void)h->transition_to_notified(e);
      h->unref();
    };
    sync::thread w1(waker_fires);
    sync::thread w2(waker_fires);
    complete_like_the_runtime(h);
    w1.join();
    w2.join();
    model::require(g_releases == 1, "the last reference is released exactly once");
  });
}

}  // namespace
