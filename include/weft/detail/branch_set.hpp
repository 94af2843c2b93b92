// weft/detail/branch_set.hpp — several operations awaited by one task.
//
// Design
// ------
// weft::timeout (and the combinators that build on it) must wait for two
// things at once inside one task: the operation and a timer. Each is run as a
// *branch*: a cell (task_cell.hpp) whose scheduler is this set rather than the
// runtime. A branch's wakers therefore do not queue it on a worker; they put
// it on the set's ready list and wake the *owning* task, with the waker the
// owner left when it last suspended in wait(). The owner then runs the ready
// branches itself, one step each, inside its own step — so branches never run
// in parallel with their owner or each other, and are resumed on the owner's
// thread.
//
// Lifetime: the set is reference counted (owner + one per branch header) so a
// branch waker firing after the owner is gone finds a live, closed set and
// does nothing.
//
// Cancelling branches (the losers of a timeout): cancel_unfinished() asks
// each unfinished branch to cancel (cell_request_cancel). A branch waiting on
// a timer or a join is destroyed at once, its destructors withdrawing the
// wait. A branch whose leaf the kernel still owns (an io_uring read into the
// caller's buffer) cannot be: its leaf starts the kernel-side cancel and the
// branch stays, cancel_pending_, until the completion wakes it; run_ready()
// then destroys it instead of resuming it. The owner awaits wait() until
// cancel_unfinished() reports every branch finished, so nothing a branch
// owns is freed while the kernel may still write it. While the owner itself
// waits, its task carries a cancel hook that does the same for its branches,
// so cancelling a timeout nested in another cancels all the way down.
// Destroying the owner side (branch_set_owner) with branches still
// unfinished destroys them at once: that happens only where no kernel
// operation can be pending (runtime shutdown quiesces the I/O drivers first).
//
// Locking: one mutex guards ready_, owner_waker_ and closed_. Wakes happen
// outside it.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/waker.hpp>

#include <array>
#include <coroutine>
#include <cstddef>

namespace weft::detail {

class branch_set final : public scheduler {
 public:
  branch_set() = default;

  void schedule(task_header* t) noexcept override {
    waker to_wake;
    {
      sync::lock_guard<sync::mutex> lock(mu_);
      if (closed_) return;
      t->queue_next_ = nullptr;
      if (tail_ != nullptr) {
        tail_->queue_next_ = t;
      } else {
        head_ = t;
      }
      tail_ = t;
      to_wake = owner_waker_;
    }
    to_wake.wake();
  }
  bool on_complete(task_header*) noexcept override { return false; }  // owner keeps its ref
  void retain() noexcept override {
    // ORDERING: relaxed: made from a reference the caller holds.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept override {
    // ORDERING: acq_rel: the last release sees every other holder's writes.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  /// Next ready branch, or nullptr.
  task_header* pop_ready() noexcept {
    sync::lock_guard<sync::mutex> lock(mu_);
    task_header* t = head_;
    if (t != nullptr) {
      head_ = t->queue_next_;
      if (head_ == nullptr) tail_ = nullptr;
      t->queue_next_ = nullptr;
    }
    return t;
  }

  /// Suspend the owner until a branch is ready. Not ready-checked by the
  /// budget: the owner always makes progress by running branches.
  struct wait_awaiter {
    branch_set& set;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      waker w = suspend_current(h);
      sync::lock_guard<sync::mutex> lock(set.mu_);
      if (set.head_ != nullptr) return false;  // a branch became ready meanwhile
      set.owner_waker_ = std::move(w);
      return true;
    }
    void await_resume() const noexcept {}
  };
  wait_awaiter wait() noexcept { return wait_awaiter{*this}; }

  /// No more wakes are accepted; the ready list and owner waker are dropped.
  void close() noexcept {
    waker dropped;
    sync::lock_guard<sync::mutex> lock(mu_);
    closed_ = true;
    head_ = tail_ = nullptr;
    dropped = std::move(owner_waker_);
  }

 private:
  ~branch_set() = default;
  sync::mutex mu_;
  task_header* head_ = nullptr;
  task_header* tail_ = nullptr;
  waker owner_waker_;
  bool closed_ = false;
  sync::atomic<std::size_t> refs_{1};  // the owner's
};

/// The owner's side: N branches, run by the owner, cancelled on destruction.
template <std::size_t N>
class branch_set_owner {
 public:
  explicit branch_set_owner(std::array<task_header*, N> cells) noexcept
      : set_(new branch_set()), branches_(cells) {
    for (task_header* b : branches_) {
      set_->retain();
      b->scheduler_ = set_;
      b->prepare_unpublished(task_header::notified, 0);
      set_->schedule(b);  // ready for the first step
    }
  }
  branch_set_owner(const branch_set_owner&) = delete;
  branch_set_owner& operator=(const branch_set_owner&) = delete;
  ~branch_set_owner() {
    set_->close();
    for (task_header* b : branches_) {
      if (!b->is_complete()) cell_cancel(b);
      b->unref();
    }
    set_->release();
  }

  /// Run every ready branch one step (more if it woke itself). A branch
  /// being cancelled is not resumed: it is destroyed once its leaf allows.
  void run_ready() noexcept {
    while (task_header* b = set_->pop_ready()) {
      if (!b->transition_to_running()) continue;  // cancelled meanwhile
      if (b->cancel_pending_) {
        // Woken by its leaf's completion. Clear RUNNING|NOTIFIED without a
        // step (the epoch stays, so the leaf's waker stays valid), then ask
        // again.
        if (b->transition_to_idle() == task_header::idle_result::notified) set_->schedule(b);
        (void)cell_request_cancel(b);
        continue;
      }
      if (run_step(b) == step_result::notified) set_->schedule(b);
    }
  }

  /// Cancel every unfinished branch (see the header comment). True once all
  /// are finished; otherwise await wait() and call it again.
  [[nodiscard]] bool cancel_unfinished() noexcept {
    run_ready();
    bool all = true;
    for (task_header* b : branches_) {
      if (b->is_complete()) continue;
      if (!cell_request_cancel(b)) all = false;
    }
    return all;
  }

  [[nodiscard]] task_header* branch(std::size_t i) const noexcept { return branches_[i]; }
  [[nodiscard]] bool is_finished(std::size_t i) const noexcept {
    return branches_[i]->is_complete();
  }
  /// Suspend the owner until a branch is ready. While suspended here the
  /// owner's task can be cancelled: its hook cancels the branches.
  struct wait_awaiter : cancel_hook {
    branch_set_owner& owner;
    explicit wait_awaiter(branch_set_owner& o) noexcept
        : cancel_hook{&cancel_branches}, owner(o) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!branch_set::wait_awaiter{*owner.set_}.await_suspend(h)) return false;
      current_task()->cancel_hook_ = this;
      return true;
    }
    void await_resume() const noexcept {}
    static bool cancel_branches(cancel_hook* self) noexcept {
      return static_cast<wait_awaiter*>(self)->owner.cancel_unfinished();
    }
  };
  wait_awaiter wait() noexcept { return wait_awaiter{*this}; }

 private:
  branch_set* set_;
  std::array<task_header*, N> branches_;
};

}  // namespace weft::detail
