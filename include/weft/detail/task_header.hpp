// weft/detail/task_header.hpp — the header of every schedulable unit.
//
// Design
// ------
// A *runtime task* (what spawn makes), the root of a block_on, a job on the
// blocking pool and a branch of weft::timeout are all "cells": one allocation
// holding a task_header followed by a coroutine frame (task_cell.hpp). The
// header is what schedulers queue and what wakers point to.
//
// The header is reference counted. References are held by: the owner that
// will run it to completion (the runtime's owned-task list, a block_on, a
// branch group), the join_handle, and every waker. The memory is freed when
// the last reference goes, never earlier — so a waker woken long after its
// task finished touches only a live header (bug #1 of "extreme").
//
// State word (one atomic, 64 bits):
//
//   bit 0       RUNNING        a thread is resuming the coroutine right now
//   bit 1       NOTIFIED       the task must run (again); it is in a queue,
//                              or will be re-queued when its current step ends
//   bit 2       COMPLETE       the body has finished (value, exception, or
//                              destroyed); terminal
//   bit 3       CANCELLED      the frame was destroyed before finishing
//                              (runtime shutdown, a cancelled branch)
//   bit 4       JOIN_INTEREST  a join_handle exists
//   bit 5       JOIN_WAKER     join_waker_ holds the waker of a waiting joiner
//   bit 6       JOIN_CLAIM     a joiner is writing join_waker_ (set_join_waker's
//                              first step); a second joiner sees it and is
//                              refused instead of overwriting the first
//   bits 7–31   reference count
//   bits 32–63  suspension epoch
//
// Suspension epochs: a coroutine step ends at exactly one suspension point
// (begin_suspend is called there, by a leaf awaitable through
// weft::suspend_current). begin_suspend bumps the epoch and a waker remembers
// the epoch it was made in. wake() acts only if its epoch is still current, so
// a stale waker — kept by a leaf that already completed, or by user code — can
// never resume the coroutine at a *later* suspension point whose operation has
// not completed. In Rust a stray wake costs one extra poll; with coroutines it
// would resume code whose result is not there, so weft makes it impossible.
//
// Edges (each is one CAS or fetch_* below):
//
//   idle --wake(e)--> NOTIFIED (caller schedules it)          transition_to_notified
//   RUNNING --wake(e)--> RUNNING|NOTIFIED (runner re-queues)    transition_to_notified
//   NOTIFIED --> RUNNING                                      transition_to_running
//   RUNNING --suspend--> RUNNING, epoch+1, NOTIFIED cleared   begin_suspend
//   RUNNING --> idle, or NOTIFIED if woken meanwhile          transition_to_idle
//   RUNNING --body done--> COMPLETE                           transition_to_complete
//   any --frame destroyed--> COMPLETE|CANCELLED               transition_to_cancelled
//
// Field ownership:
//   resume_at_, finished_, suspended_: only the thread that holds RUNNING (or
//     the owner, before first run / after COMPLETE). Published to the next
//     runner by the release in transition_to_idle and the acquire in
//     transition_to_running.
//   join_waker_: the join side while JOIN_WAKER is clear (written only under
//     JOIN_CLAIM); the task side once both JOIN_WAKER and COMPLETE are set
//     (it takes and wakes it, then drops the owner's reference — never in
//     the other order).
//   queue_next_: whoever holds the task in a queue.
//   owned_slot_: the owned-task table, under its shard's lock.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/test_point.hpp>

#include <cassert>
#include <coroutine>
#include <cstdint>

namespace weft::detail {

class task_header;

/// Called when a cell's last reference is released: destroys its frame if
/// still there and frees the block (src/runtime/context.cpp).
void cell_release(task_header* t) noexcept;

/// A scheduler runs headers. Implemented by the runtime, the blocking pool,
/// block_on's runner and a branch group.
class scheduler {
 public:
  /// Run `t` soon. `t` is NOTIFIED and not RUNNING; the caller holds a
  /// reference for the duration of the call.
  virtual void schedule(task_header* t) noexcept = 0;
  /// `t`'s body finished; it is not yet marked COMPLETE. Drop the owner's
  /// bookkeeping. Return true if the owner's reference goes with the
  /// completion (it is then released in the same atomic step that marks the
  /// task COMPLETE); false if the owner keeps it (to read the result).
  [[nodiscard]] virtual bool on_complete(task_header* t) noexcept = 0;
  /// Every header holds one counted reference to its scheduler.
  virtual void retain() noexcept = 0;
  virtual void release() noexcept = 0;

 protected:
  ~scheduler() = default;
};

/// How a leaf whose memory the kernel (or another thread) still uses is
/// cancelled. A leaf that cannot simply be destroyed while suspended — an
/// io_uring operation, whose buffer the kernel writes until its completion
/// arrives — sets one on its task for the suspension (see
/// cell_request_cancel in task_cell.hpp). The leaf embeds the hook and the
/// task points at it. `fn(self)` starts cancelling, may be called again after
/// any wake, and returns true once destroying the frame is safe. Called only
/// while the task is not running.
struct cancel_hook {
  bool (*fn)(cancel_hook* self) noexcept = nullptr;
};

/// An uncounted (task, epoch) pair; weft::waker is the counted public form.
struct raw_waker {
  task_header* task = nullptr;
  std::uint32_t epoch = 0;
};

class task_header {
 public:
  static constexpr std::uint64_t running = 1u << 0;
  static constexpr std::uint64_t notified = 1u << 1;
  static constexpr std::uint64_t complete = 1u << 2;
  static constexpr std::uint64_t cancelled = 1u << 3;
  static constexpr std::uint64_t join_interest = 1u << 4;
  static constexpr std::uint64_t join_waker = 1u << 5;
  static constexpr std::uint64_t join_claim = 1u << 6;
  static constexpr unsigned ref_shift = 7;
  static constexpr std::uint64_t ref_one = std::uint64_t{1} << ref_shift;
  static constexpr std::uint64_t ref_mask = ((std::uint64_t{1} << 25) - 1) << ref_shift;
  static constexpr unsigned epoch_shift = 32;
  static constexpr std::uint64_t epoch_one = std::uint64_t{1} << epoch_shift;
  static constexpr std::uint64_t flag_mask =
      running | notified | complete | cancelled | join_interest | join_waker | join_claim;
  static_assert((flag_mask & ref_mask) == 0 && (ref_mask >> 32) == 0 && flag_mask < ref_one,
                "flags, reference count and epoch must not overlap");

  explicit task_header(std::uint64_t initial_state) noexcept : state_(initial_state) {}
  task_header(const task_header&) = delete;
  task_header& operator=(const task_header&) = delete;

  static std::uint32_t epoch_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s >> epoch_shift);
  }
  static std::uint64_t refs_of(std::uint64_t s) noexcept { return (s & ref_mask) >> ref_shift; }

  [[nodiscard]] std::uint64_t load_state() const noexcept {
    // ORDERING: acquire: a caller that sees COMPLETE reads the output written
    // before transition_to_complete's release.
    return state_.load(std::memory_order_acquire);
  }
  [[nodiscard]] bool is_complete() const noexcept { return (load_state() & complete) != 0; }

  /// Before the header is published to any other thread: add flags and
  /// references (spawn: NOTIFIED|JOIN_INTEREST and the owner's reference).
  void prepare_unpublished(std::uint64_t flags, unsigned extra_refs) noexcept {
    // ORDERING: relaxed load and store, no read-modify-write: nobody else can
    // see the header yet; publication (a queue push, a thread start) carries
    // the release.
    state_.store(state_.load(std::memory_order_relaxed) + flags + extra_refs * ref_one,
                 std::memory_order_relaxed);
  }

  // ---- references ----------------------------------------------------------
  void ref() noexcept {
    // ORDERING: relaxed: a reference is only made from one the caller already
    // holds, so the header is alive and nothing needs publishing (as with
    // shared_ptr copies).
    [[maybe_unused]] auto prev = state_.fetch_add(ref_one, std::memory_order_relaxed);
    assert(refs_of(prev) > 0 && refs_of(prev) < (ref_mask >> ref_shift));  // INVARIANT
  }
  void unref() noexcept {
    // ORDERING: acq_rel: release publishes this holder's last writes to the
    // thread that frees; acquire (effective for the last holder) sees all
    // other holders' writes before the cell is destroyed.
    auto prev = state_.fetch_sub(ref_one, std::memory_order_acq_rel);
    assert(refs_of(prev) > 0);  // INVARIANT: no unref without a ref
    if (refs_of(prev) == 1) cell_release(this);
  }

  // ---- use-after-free detection (builds with test points) -----------------
  // A header being freed takes a state no live task can have; code that a
  // bug could make read a freed header checks for it (in ASan builds the
  // freed block is poisoned as well, so the check's own read is reported).
  static constexpr std::uint64_t freed_pattern = 0xdeadfa11deadfa11ull;
  void mark_freed_for_tests() noexcept {
#if defined(WEFT_TEST_POINTS)
    // ORDERING: relaxed: read only by check_not_freed, on a thread that
    // (because of a bug) still uses the header; no order can be relied on.
    state_.store(freed_pattern, std::memory_order_relaxed);
#endif
  }
  void check_not_freed([[maybe_unused]] const char* where) const noexcept {
#if defined(WEFT_TEST_POINTS)
    // ORDERING: relaxed: see mark_freed_for_tests.
    if (state_.load(std::memory_order_relaxed) == freed_pattern) report_fatal_in_test(where);
#endif
  }

  // ---- running -------------------------------------------------------------
  enum class notify_action { none, schedule };

  /// A waker of epoch `e` fires. Returns schedule if the caller must hand the
  /// task to its scheduler (it was idle); none if it is stale, already
  /// notified, complete, or running (the runner re-queues it).
  [[nodiscard]] notify_action transition_to_notified(std::uint32_t e) noexcept {
    // ORDERING: acquire load, then acq_rel CAS: release publishes whatever
    // the waker's owner wrote (an operation's result) before waking; the
    // runner's acquire in transition_to_running / transition_to_idle pairs
    // with it.
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    for (;;) {
      if (epoch_of(cur) != e || (cur & (notified | complete)) != 0) return notify_action::none;
      const std::uint64_t next = cur | notified;
      if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return (cur & running) != 0 ? notify_action::none : notify_action::schedule;
      }
    }
  }

  /// A runner takes a NOTIFIED task. False if it completed meanwhile (a
  /// cancelled branch): the runner just drops it.
  [[nodiscard]] bool transition_to_running() noexcept {
    // ORDERING: acq_rel: acquire pairs with the release of the step that last
    // suspended this task (transition_to_idle) and of the waker
    // (transition_to_notified), so resume_at_ and the woken operation's result
    // are visible before we resume.
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((cur & complete) != 0) return false;
      assert((cur & notified) && !(cur & running));  // INVARIANT: queued tasks are notified
      const std::uint64_t next = (cur & ~notified) | running;
      if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return true;
      }
    }
  }

  /// Called (through weft::suspend_current) at the suspension point that ends
  /// this step. Returns the new epoch for the waker.
  /// `woken`: the suspension is already woken (yield_now): NOTIFIED is set
  /// in the same step, with no waker made.
  [[nodiscard]] std::uint32_t begin_suspend(std::coroutine_handle<> resume_at,
                                            bool woken = false) noexcept {
    resume_at_ = resume_at;
    suspended_ = true;
    cancel_hook_ = nullptr;  // a leaf that needs one sets it after suspending
    // Any NOTIFIED set so far was for an earlier suspension point: clear it.
    // ORDERING: acq_rel: release so a waker that loads the new epoch (through
    // the leaf's own synchronisation) also sees resume_at_; acquire to keep
    // the CAS loop's view current.
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    std::uint64_t next;
    do {
      assert(cur & running);  // INVARIANT: only the running thread suspends
      next = (cur + epoch_one) & ~notified;  // epoch wraps out of the top bits
      if (woken) next |= notified;
    } while (!state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
    return epoch_of(next);
  }

  enum class idle_result { idle, notified };

  /// The step ended at a suspension point. notified: it was woken during the
  /// step; the runner must re-queue it (it stays NOTIFIED).
  [[nodiscard]] idle_result transition_to_idle() noexcept {
    // ORDERING: acq_rel: release publishes resume_at_ and the frame's state to
    // the next runner (its transition_to_running acquires).
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    while (!state_.compare_exchange_weak(cur, cur & ~running, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
    }
    return (cur & notified) != 0 ? idle_result::notified : idle_result::idle;
  }

  /// The body finished: mark COMPLETE and, if `drop_ref` and no joiner's
  /// waker is registered, release one reference in the same step. Returns
  /// the previous state. If JOIN_WAKER was set, the reference was *not*
  /// released: the caller takes and wakes the joiner's waker, then releases
  /// it with unref(). (Releasing first would let the joiner — cancelled in
  /// that gap — drop the handle and free the header under the waker read:
  /// bug 1 of docs/design.md's list.)
  std::uint64_t transition_to_complete(bool drop_ref) noexcept {
    // ORDERING: acq_rel: release publishes the output to a joiner that
    // acquires COMPLETE; acquire makes join_waker_ (published by
    // set_join_waker's release) visible here, and, for a last reference,
    // every other holder's writes before the cell is freed.
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t sub = (drop_ref && (cur & join_waker) == 0) ? ref_one : 0;
      const std::uint64_t next = ((cur | complete) & ~(running | notified)) - sub;
      if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        return cur;
      }
    }
  }

  /// The frame was destroyed before finishing (shutdown, cancelled branch).
  std::uint64_t transition_to_cancelled() noexcept {
    // ORDERING: acq_rel, as transition_to_complete.
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    while (!state_.compare_exchange_weak(cur,
                                         (cur | complete | cancelled) & ~(running | notified),
                                         std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
    return cur;
  }

  // ---- joining ---------------------------------------------------------------
  enum class join_registration { registered, complete, busy };

  /// Store the joiner's waker (its reference moves in only on `registered`).
  /// complete: the task already finished; the caller keeps the waker.
  /// busy: another joiner is registered (or registering) — two awaits of one
  /// join_handle at once, a misuse the caller reports; the first joiner's
  /// waker is untouched.
  ///
  /// Two steps, so the fields are never written by a joiner that then loses:
  ///   1. CAS: claim (JOIN_CLAIM) unless COMPLETE, JOIN_CLAIM or JOIN_WAKER;
  ///   2. write the fields, then CAS: JOIN_CLAIM -> JOIN_WAKER (or, if
  ///      COMPLETE arrived meanwhile, drop the claim: the completing thread
  ///      saw no JOIN_WAKER and never reads the fields).
  [[nodiscard]] join_registration set_join_waker(raw_waker w) noexcept {
    // ORDERING: acquire: pairs with the completing thread's release, so a
    // joiner that sees COMPLETE here reads the output.
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((cur & complete) != 0) return join_registration::complete;
      if ((cur & (join_claim | join_waker)) != 0) return join_registration::busy;
      if (state_.compare_exchange_weak(cur, cur | join_claim, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
        break;
      }
    }
    set_join_waker_fields(w);
    for (;;) {
      const bool done = (cur & complete) != 0;
      const std::uint64_t next = done ? (cur & ~join_claim) : ((cur & ~join_claim) | join_waker);
      // ORDERING: acq_rel: release publishes join_waker_ to the completing
      // thread (transition_to_complete/cancelled acquire); acquire, for the
      // COMPLETE case, makes the output visible.
      if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        if (done) {
          set_join_waker_fields({});
          return join_registration::complete;
        }
        return join_registration::registered;
      }
    }
  }

  /// Take the join waker back (a joiner gave up waiting). True: it is the
  /// caller's again (returned in `out`). False: the task completed and owns
  /// (and wakes, and drops) it.
  [[nodiscard]] bool unset_join_waker(raw_waker& out) noexcept {
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((cur & complete) != 0) return false;
      if (state_.compare_exchange_weak(cur, cur & ~join_waker, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        out = join_waker_fields();
        set_join_waker_fields({});
        return true;
      }
    }
  }

  /// The join_handle is dropped: take back a registered join waker if the
  /// task has not completed, then clear JOIN_INTEREST and release the
  /// handle's reference. Frees the cell if that was the last one.
  void drop_join_handle(raw_waker& out) noexcept {
    // Two steps. First take a registered waker back while the handle's
    // reference still keeps the header alive: the fields are read only after
    // the CAS that clears JOIN_WAKER made them ours (reading them earlier
    // raced with a completing thread taking them). Then release interest
    // and the reference; nothing is touched after that CAS unless it was the
    // last reference.
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    if ((cur & join_waker) != 0) {
      raw_waker taken;
      if (unset_join_waker(taken)) out = taken;
      cur = state_.load(std::memory_order_acquire);
    }
    for (;;) {
      const std::uint64_t next = (cur & ~join_interest) - ref_one;
      // ORDERING: acq_rel: as unref for the release of the reference.
      if (state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        if (refs_of(cur) == 1) cell_release(this);
        return;
      }
    }
  }

  /// SAFETY: only after transition_to_complete/cancelled returned a state with
  /// JOIN_WAKER set; the join side no longer touches join_waker_.
  raw_waker take_join_waker_unchecked() noexcept {
    raw_waker w = join_waker_fields();
    set_join_waker_fields({});
    return w;
  }

  // ---- fields ----------------------------------------------------------------
  // Laid out so the header is 64 bytes, one cache line: five pointers, the
  // cancel hook, the small fields packed into 16 bytes, the state word.
  // Intrusive link for run queues. Owned by whoever holds the task queued.
  task_header* queue_next_ = nullptr;
  // Counted (see scheduler::retain). Set once before the first schedule.
  scheduler* scheduler_ = nullptr;
  // Where the next step resumes (the cell's own coroutine, or an inner one).
  std::coroutine_handle<> resume_at_;
  // Cancellation of a suspended cell that cannot be destroyed at once: the
  // leaf's hook for the current suspension (set by the running thread, read
  // by the canceller while the cell is not running) and whether a cancel is
  // under way (set and read by the one owner that cancels, e.g. a branch set's
  // owner, whose steps are ordered).
  cancel_hook* cancel_hook_ = nullptr;
  // Where the task sits in its runtime's owned-task table (owned_tasks.hpp);
  // written under the table's lock.
  std::uint32_t owned_slot_ = 0;
  // Bytes of the coroutine frame, saturated at 65,535: every size from
  // 4,097 up is freed the same way (frame_allocator.hpp), so a saturated
  // size still frees the block right.
  std::uint16_t frame_size_ = 0;
  bool finished_ = false;          // body reached final_suspend (running thread)
  bool suspended_ = false;         // begin_suspend called in this step (running thread)
  bool frame_destroyed_ = false;   // frame destroyed while references remain
  bool releasing_ = false;         // last reference dropped: free the block
  bool cancel_pending_ = false;

 private:
  raw_waker join_waker_fields() const noexcept { return {join_waker_task_, join_waker_epoch_}; }
  void set_join_waker_fields(raw_waker w) noexcept {
    join_waker_task_ = w.task;
    join_waker_epoch_ = w.epoch;
  }

  std::uint32_t join_waker_epoch_ = 0;  // with join_waker_task_: the joiner's waker
  sync::atomic<std::uint64_t> state_;
  task_header* join_waker_task_ = nullptr;
};

static_assert(sizeof(void*) != 8 || sizeof(task_header) == 64,
              "task_header is laid out to be 64 bytes (one cache line) on 64-bit targets");

}  // namespace weft::detail
