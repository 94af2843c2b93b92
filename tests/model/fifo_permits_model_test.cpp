// Model tests of the permit word of fifo_permits (weft::mutex, semaphore and
// shared_mutex's core): include/weft/sync/fifo_permits.hpp with its
// functions from src/sync/fifo_permits.cpp, compiled into this executable
// under the model shim (the spinlock is a model mutex). Each contender is a
// model task (a task_header with a counting scheduler) that acquires the way
// permit_acquire does — the lock-free fast path, else acquire_or_enqueue,
// then end its step and wait to be scheduled — and releases. Checked in
// every interleaving: mutual exclusion, no lost grant (a waiter that is
// never woken spins until the checker reports a livelock), and the permits
// all come back with no waiter left.
#include "model_test_support.hpp"

#include <weft/sync/fifo_permits.hpp>

#include "sync/misuse.hpp"

namespace weft::detail {
void sync_misuse(const char* what) noexcept {
  model::require(false, what);
  std::abort();
}
void cell_release(task_header*) noexcept {}
}  // namespace weft::detail

namespace {

using namespace weft::model_test;
using weft::waker;
using weft::detail::fifo_permits;
using weft::detail::permit_waiter;
using weft::detail::raw_waker;
using weft::detail::task_header;

class counting_scheduler final : public weft::detail::scheduler {
 public:
  sync::atomic<int> scheduled{0};
  void schedule(task_header*) noexcept override { scheduled.fetch_add(1); }
  bool on_complete(task_header*) noexcept override { return false; }
  void retain() noexcept override {}
  void release() noexcept override {}
};

// One contending task.
struct contender {
  counting_scheduler sched;
  task_header task{task_header::running | task_header::ref_one};
  permit_waiter node;
  contender() { task.scheduler_ = &sched; }

  // permit_acquire's path. Returns true if it had to wait.
  bool acquire(fifo_permits& p, std::size_t n) {
    if (p.try_acquire(n)) return false;
    node.wanted = n;
    const std::uint32_t e = task.begin_suspend(std::noop_coroutine());
    task.ref();
    waker wk(raw_waker{&task, e});
    if (p.acquire_or_enqueue(node, wk)) {
      return false;  // taken under the lock: await_suspend returns false, the
                     // step goes on; wk is still ours (dropped here)
    }
    if (task.transition_to_idle() == task_header::idle_result::notified) {
      sched.scheduled.fetch_add(1);  // woken during the step: re-queued
    }
    while (sched.scheduled.load() == 0) sync::spin_hint();
    model::require(task.transition_to_running(), "the granted task runs");
    model::require(!node.linked, "a woken waiter was granted (unlinked)");
    return true;
  }
};

// Two tasks and the body's own thread contend for a mutex (one permit).
TEST(FifoPermitsModel, MutexOfOnePermitExcludesAndNeverLosesAGrant) {
  int waited = 0;
  expect_all_interleavings_pass("fifo_permits: 2 contenders, 1 permit", [&waited] {
    fifo_permits p(1);
    sync::atomic<int> inside{0};
    contender a;
    contender b;
    auto use = [&](contender& c) {
      const bool w = c.acquire(p, 1);
      model::require(inside.fetch_add(1) == 0, "two holders of a one-permit mutex");
      inside.fetch_sub(1);
      p.release(1);
      return w;
    };
    bool wa = false;
    sync::thread ta([&] { wa = use(a); });
    const bool wb = use(b);
    ta.join();
    waited += wa + wb;
    model::require(p.available() == 1, "the permit came back");
    model::require(p.waiters() == 0, "no waiter is left queued");
  });
  EXPECT_GT(waited, 0);  // the slow path (queue, grant, wake) was explored
}

// A queued waiter is cancelled (its awaiter destroyed: withdraw) while the
// holder releases: the permit ends up free either way — granted then given
// back by withdraw, or never granted — and the queue is empty.
TEST(FifoPermitsModel, WithdrawRacingReleaseNeverLeaksThePermit) {
  expect_all_interleavings_pass("fifo_permits: withdraw vs release", [] {
    fifo_permits p(1);
    model::require(p.try_acquire(1), "the holder takes the permit");
    contender c;
    c.node.wanted = 1;
    const std::uint32_t e = c.task.begin_suspend(std::noop_coroutine());
    c.task.ref();
    waker wk(raw_waker{&c.task, e});
    sync::thread holder([&] { p.release(1); });
    if (!p.acquire_or_enqueue(c.node, wk)) {
      p.withdraw(c.node);  // cancelled while queued (or just granted)
    } else {
      p.release(1);  // took it at once: give it back
    }
    holder.join();
    model::require(p.available() == 1, "the permit is free again");
    model::require(p.waiters() == 0, "no waiter is left queued");
  });
}

// A semaphore with 2 permits, one held: a request for 2 queues; a later
// request for 1 must not take the free permit past it (FIFO, no barging),
// and when the holder releases, the head's 2 are granted and it completes.
TEST(FifoPermitsModel, LaterSmallRequestDoesNotOvertakeQueuedLargeHeadWhichCompletes) {
  expect_all_interleavings_pass("fifo_permits: FIFO head of 2", [] {
    fifo_permits p(2);
    model::require(p.try_acquire(1), "the first holder takes 1");
    contender big;
    sync::atomic<int> held{1};  // permits held right now
    sync::thread tb([&] {
      big.acquire(p, 2);
      model::require(held.fetch_add(2) == 0, "2 permits granted while others are held");
      held.fetch_sub(2);
      p.release(2);
    });
    while (p.waiters() == 0) sync::spin_hint();  // the big request is queued
    model::require(!p.try_acquire(1), "a later request of 1 overtook the queued head");
    held.fetch_sub(1);
    p.release(1);
    tb.join();
    model::require(p.available() == 2, "all permits came back");
  });
}

}  // namespace
