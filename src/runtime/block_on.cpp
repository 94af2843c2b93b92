// weft::block_on without a runtime: the minimal runner.
//
// The loop, in full:
//   1. The root is NOTIFIED: move it to RUNNING and run one step.
//   2. Finished: return. Woken during the step: go to 1.
//   3. Otherwise park on the runner's own futex parker — or in the park hook
//      an awaitable installed (weft/park_hook.hpp) — until a waker calls
//      schedule() (which unparks, or interrupts the hook), then go to 1.
//
// The parker lives in a reference-counted scheduler object that the root's
// header holds, and every waker holds the header: a waker that fires after
// block_on returned finds the root COMPLETE and does nothing, and if it raced
// past that check it unparks a parker that is still alive.
#include <weft/block_on.hpp>
#include <weft/error.hpp>

#include "scheduler/futex_parker.hpp"
#include "scheduler/park_hook_slot.hpp"

namespace weft::detail {
namespace {

class block_on_scheduler final : public scheduler {
 public:
  void schedule(task_header*) noexcept override { parker_.unpark(); }
  bool on_complete(task_header*) noexcept override { return false; }  // block_on keeps its ref
  void retain() noexcept override {
    // ORDERING: relaxed: made from a reference the caller holds.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept override {
    // ORDERING: acq_rel: the last release sees every other holder's writes.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  void park() { parker_.park(std::nullopt); }
  park_hook_slot& hooks() noexcept { return parker_.hooks; }

 private:
  futex_parker parker_;
  sync::atomic<std::uint32_t> refs_{1};
};

class runner_guard {
 public:
  runner_guard() {
    if (in_runner()) {
      throw_error(errc::nested_runtime,
                  "weft::block_on called on a thread that already runs a weft runner (a worker "
                  "thread or another block_on): nested event loops deadlock; co_await the "
                  "operation instead");
    }
    in_runner() = true;
  }
  runner_guard(const runner_guard&) = delete;
  runner_guard& operator=(const runner_guard&) = delete;
  ~runner_guard() { in_runner() = false; }
};

}  // namespace

void run_block_on(task_header* t) {
  runner_guard guard;
  auto* sched = new block_on_scheduler();  // our reference
  sched->retain();                         // the header's
  t->scheduler_ = sched;
  t->prepare_unpublished(task_header::notified, 0);
  const int outer_budget = budget();
  {
    // The root's awaitables may install a park hook; it goes when we return.
    park_hook_scope hooks(&sched->hooks());
    for (;;) {
      if (t->transition_to_running()) {
        budget() = initial_budget;
        const step_result r = run_step(t);
        if (r == step_result::finished) break;
        if (r == step_result::notified) continue;
      }
      sched->park();
    }
  }
  budget() = outer_budget;
  sched->release();
}

}  // namespace weft::detail
