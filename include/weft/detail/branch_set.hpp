// weft/detail/branch_set.hpp — several operations awaited by one task.
//
// Design
// ------
// weft::timeout, with_cancellation, when_all and when_any (branch_drivers.hpp)
// wait for several things at once inside one task. Each is run as a
// *branch*: a cell (task_cell.hpp) whose scheduler is a branch_set rather
// than the runtime. A branch's wakers therefore do not queue it on a worker;
// they put it on the set's ready list and wake the *owning* task, with the
// waker the owner left when it last suspended in wait(). The owner then runs
// the ready branches itself, one step each, inside its own step — so branches
// never run in parallel with their owner or each other, and are resumed on
// the owner's thread.
//
// One mechanism for any number of branches: the set is one allocation, the
// shared part (ready list, owner waker, reference count) followed by an
// array of `capacity` branch pointers sized at run time. A timeout has two
// branches, a when_all over a vector a thousand; the code is the same and
// there is no template over the count.
//
// Lifetime: the set is reference counted (owner + one per branch header) so a
// branch waker firing after the owner is gone finds a live, closed set and
// does nothing.
//
// Running (run_until_finished): the owner takes the branches ready now as one
// *pass* and steps them in the order they became ready (at first: the order
// they were added) until one finishes, which it returns; the rest of the pass
// waits for the next call. Branches that become ready during a pass go to the
// next pass, so a branch that keeps waking itself (yield_now, a spent budget)
// cannot keep the owner in one step forever: the owner's next wait() then
// yields the owner's own task to its scheduler.
//
// Cancelling branches (the losers of a race, the rest of a failed when_all):
// cancel_unfinished() takes every queued branch off the ready lists without
// running it and asks each unfinished branch to cancel (cell_request_cancel).
// A branch waiting on a timer or a join is destroyed at once, its destructors
// withdrawing the wait. A branch whose leaf the kernel still owns (an
// io_uring read into the caller's buffer) cannot be: its leaf starts the
// kernel-side cancel and the branch stays, cancel_pending_, until the
// completion wakes it; it is then destroyed instead of resumed. The owner
// awaits wait() until cancel_unfinished() reports every branch finished, so
// nothing a branch owns is freed while the kernel may still write it. While
// the owner itself waits, its task carries a cancel hook that does the same
// for its branches, so cancelling a combinator nested in another cancels all
// the way down. Destroying the owner side (branch_set_owner) with branches
// still unfinished destroys them at once: that happens only where no kernel
// operation can be pending (runtime shutdown quiesces the I/O drivers first,
// and a branch that never ran has started nothing).
//
// Locking: one mutex guards the ready list, owner_waker_ and closed_. Wakes
// happen outside it. The branch array, the current pass (pending_) and
// yield_ belong to the owner: they are touched only by the owner's steps and
// by its cancel hook, which runs while the owner is not running.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <utility>

namespace weft::detail {

class branch_set final : public scheduler {
 public:
  /// A set with room for `capacity` branches and one reference (the owner's).
  static branch_set* create(std::size_t capacity) {
    if (capacity > (std::numeric_limits<std::size_t>::max() - sizeof(branch_set)) /
                       sizeof(task_header*)) {
      throw std::bad_array_new_length();
    }
    void* block = ::operator new(sizeof(branch_set) + capacity * sizeof(task_header*));
    auto* s = ::new (block) branch_set(capacity);
    std::uninitialized_value_construct_n(s->raw_slots(), capacity);
    return s;
  }
  branch_set(const branch_set&) = delete;
  branch_set& operator=(const branch_set&) = delete;

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
    // ORDERING: relaxed: made from a reference the caller holds (the owner's
    // or a branch header's), so the set is alive and nothing is published.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept override {
    // ORDERING: acq_rel: the release publishes this holder's last use of the
    // set; the acquire, effective for the last holder, pairs with the other
    // holders' releases so their writes happen before the set is destroyed.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~branch_set();
      ::operator delete(static_cast<void*>(this));
    }
  }

  /// Take the whole ready list (linked through queue_next_), or nullptr.
  task_header* take_ready() noexcept {
    sync::lock_guard<sync::mutex> lock(mu_);
    task_header* t = head_;
    head_ = tail_ = nullptr;
    return t;
  }

  /// The owner is about to wait: `w` (its waker for this suspension) is what
  /// a branch becoming ready wakes from now on. False if a branch is ready
  /// already (the caller must not sleep on it).
  bool register_owner(const waker& w) noexcept {
    sync::lock_guard<sync::mutex> lock(mu_);
    owner_waker_ = w;
    return head_ == nullptr;
  }

  /// No more wakes are accepted; the ready list and owner waker are dropped.
  void close() noexcept {
    waker dropped;
    sync::lock_guard<sync::mutex> lock(mu_);
    closed_ = true;
    head_ = tail_ = nullptr;
    dropped = std::move(owner_waker_);
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// The branch array (owner-only data; see the header comment).
  [[nodiscard]] task_header** slots() noexcept { return std::launder(raw_slots()); }

 private:
  explicit branch_set(std::size_t capacity) noexcept : capacity_(capacity) {}
  ~branch_set() = default;
  task_header** raw_slots() noexcept {
    static_assert(sizeof(branch_set) % alignof(task_header*) == 0,
                  "the branch array follows the set, suitably aligned");
    return reinterpret_cast<task_header**>(reinterpret_cast<char*>(this) + sizeof(branch_set));
  }

  sync::mutex mu_;
  task_header* head_ = nullptr;
  task_header* tail_ = nullptr;
  waker owner_waker_;
  bool closed_ = false;
  sync::atomic<std::size_t> refs_{1};  // the owner's
  std::size_t capacity_;
};

/// The owner's side: up to `capacity` branches (fixed when it is made), run by
/// the owner, cancelled on request or on destruction.
class branch_set_owner {
 public:
  explicit branch_set_owner(std::size_t capacity) : set_(branch_set::create(capacity)) {}
  branch_set_owner(const branch_set_owner&) = delete;
  branch_set_owner& operator=(const branch_set_owner&) = delete;
  ~branch_set_owner() {
    set_->close();
    for (task_header* b : branches()) {
      if (!b->is_complete()) cell_cancel(b);
      b->unref();
    }
    set_->release();
  }

  /// Add a branch: a cell parked at start_parked whose creator's reference
  /// moves to the owner. It is ready for its first step. At most capacity().
  void add(cell<void> c) noexcept {
    assert(size_ < set_->capacity());  // INVARIANT: sized when made
    task_header* b = c.header;
    set_->slots()[size_++] = b;
    set_->retain();  // the header's reference to its scheduler
    b->scheduler_ = set_;
    b->prepare_unpublished(task_header::notified, 0);
    set_->schedule(b);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<task_header* const> branches() const noexcept {
    return {set_->slots(), size_};
  }
  [[nodiscard]] task_header* branch(std::size_t i) const noexcept { return set_->slots()[i]; }
  /// The position of branch `b` (linear: called once per race).
  [[nodiscard]] std::size_t index_of(const task_header* b) const noexcept {
    std::size_t i = 0;
    while (set_->slots()[i] != b) ++i;
    return i;
  }

  /// Step ready branches (see the header comment) until one finishes; return
  /// it. nullptr: every branch of this pass has had its step; await wait().
  /// A branch being cancelled is not resumed: it is destroyed once its leaf
  /// allows.
  [[nodiscard]] task_header* run_until_finished() noexcept {
    if (pending_ == nullptr) pending_ = set_->take_ready();
    while (task_header* b = pending_) {
      // Unlink before making it runnable: once NOTIFIED is cleared, a waker
      // may put it on the set's list again, through queue_next_.
      pending_ = b->queue_next_;
      b->queue_next_ = nullptr;
      if (!b->transition_to_running()) continue;  // cancelled meanwhile
      if (b->cancel_pending_) {
        // Woken by its leaf's completion. Clear RUNNING|NOTIFIED without a
        // step (the epoch stays, so the leaf's waker stays valid), then ask
        // again.
        if (b->transition_to_idle() == task_header::idle_result::notified) set_->schedule(b);
        (void)cell_request_cancel(b);
        continue;
      }
      switch (run_step(b)) {
        case step_result::finished:
          return b;
        case step_result::notified:
          // It woke itself (yield_now, spent budget) or was woken during its
          // step: next pass, and the owner lets others run first.
          yield_ = true;
          set_->schedule(b);
          break;
        case step_result::idle:
          break;
      }
    }
    return nullptr;
  }

  /// Cancel every unfinished branch (see the header comment). True once all
  /// are finished; otherwise await wait() and call it again.
  [[nodiscard]] bool cancel_unfinished() noexcept {
    settle(std::exchange(pending_, nullptr));
    settle(set_->take_ready());
    bool all = true;
    for (task_header* b : branches()) {
      if (b->is_complete()) continue;
      if (!cell_request_cancel(b)) all = false;
    }
    return all;
  }

  /// The exception a finished branch ended with, taken out of it (null if it
  /// returned normally).
  [[nodiscard]] static std::exception_ptr failure_of(task_header* finished) noexcept {
    try {
      cell_promise<void>::of_unchecked(finished).take();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

  /// Suspend the owner until a branch is ready. While suspended here the
  /// owner's task can be cancelled: its hook cancels the branches. If a
  /// branch is ready already the owner goes on in the same step (counted
  /// against the cooperative budget), unless the budget is spent or a branch
  /// yielded: then the owner's task yields, and runs again after others.
  struct wait_awaiter : cancel_hook {
    branch_set_owner& owner;
    explicit wait_awaiter(branch_set_owner& o) noexcept
        : cancel_hook{&cancel_branches}, owner(o) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      waker w = suspend_current(h);
      if (!owner.set_->register_owner(w)) {
        if (!owner.yield_ && consume_budget()) return false;  // run the ready ones now
        w.wake();  // woken during our own step: re-queued when the step ends
      }
      owner.yield_ = false;
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
  // Take queued branches off a ready list without running them: each is
  // made idle (RUNNING then not, no step, the epoch kept) so it can be
  // cancelled; one woken again meanwhile goes back on the set's list.
  void settle(task_header* b) noexcept {
    while (b != nullptr) {
      task_header* next = b->queue_next_;
      b->queue_next_ = nullptr;
      if (b->transition_to_running() &&
          b->transition_to_idle() == task_header::idle_result::notified) {
        set_->schedule(b);
      }
      b = next;
    }
  }

  branch_set* set_;
  std::size_t size_ = 0;
  task_header* pending_ = nullptr;  // the rest of the current pass
  bool yield_ = false;              // a branch woke itself in a pass: yield at the next wait
};

}  // namespace weft::detail
