// dispatcher_state — the shared state of one weft::dispatcher: its queue, its
// pumps, the tasks spawned on it, and its shutdown.
//
// Design
// ------
// Queue. One FIFO of dispatch_items (weft/dispatcher.hpp) under one mutex:
// posted callbacks (dispatch_callback, one allocation each) and woken tasks.
// A task spawned on the dispatcher is a cell whose scheduler is its own small
// record, dispatch_task: the cell's wakers call dispatch_task::schedule,
// which puts the record on the dispatcher's queue — so callbacks and task
// steps share one order. A queued task holds one extra header reference for
// the queue (taken at enqueue, dropped when the pump is done with the entry),
// so an entry never outlives its header.
//
// Pumps. The queue is drained by pump tasks spawned on the dispatcher's
// group (a runtime core): one for a synchronized dispatcher — so its items
// run one at a time, in queue order — and one per worker of the group for an
// unsynchronized one. A pump takes one item at a time under the lock and
// runs it outside the lock: a callback is called with ok; a task is moved to
// RUNNING and stepped inside the pump's own step (run_step), so what the step
// registers (timers, I/O) lands on the pump's worker. After pump_batch items
// it yields (weft::yield_now) so other tasks of the worker run; with nothing
// queued it suspends, its waker kept in idle_pumps_ under the lock, and the
// next enqueue wakes one idle pump.
//
// Tracking. Every task spawned and not finished is on tracked_ (an intrusive
// list through dispatch_task::prev/next, under the mutex); it holds the
// owner's header reference. Completion (on_complete, inside the task's last
// step) unlinks it and the reference goes with the completion.
//
// Shutdown. begin_shutdown() sets shutdown_ (post/spawn refused from now on)
// and wakes every idle pump. A pump that sees shutdown_ before taking an item
// exits; the last one out (live_pumps_ reaches 0) is the *finisher*: no other
// pump runs, so no item of this dispatcher runs and every tracked task is
// idle or queued. It then
//   1. takes the queue: callbacks are called with canceled; a task entry is
//      made idle without a step and cancelled (cell_request_cancel);
//   2. cancels every tracked task not already being cancelled;
//   3. if a task's leaf is kernel-owned (cancel pending), waits for its
//      completion to queue it, and goes back to 1;
//   4. once nothing is tracked or queued: finished_; the observer is called
//      with a dispatcher_ref; the dispatcher leaves its domain; a dedicated
//      group (allow_thread_blocking) is handed to the domain to shut down.
// If runtime shutdown destroys a pump instead (its core stopped; maybe before
// it ever ran), the pump's ticket (pump_ticket, which lives in the pump
// cell's frame from its creation) does the same inline: the last pump gone
// cancels the callbacks and destroys the tasks at once (the I/O drivers have
// been quiesced, so no kernel operation is pending), then step 4 — on the
// thread running the runtime's shutdown.
//
// Locking: mu_ guards the queue, tracked_, idle_pumps_, finisher_waker_,
// shutdown_, finished_, live_pumps_ and observer_. Callbacks, steps, wakes,
// cancels and the observer run outside it. Header references and the
// dispatch_task count are atomic (see their ORDERING comments).
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>
#include <weft/dispatcher.hpp>
#include <weft/task.hpp>
#include <weft/waker.hpp>

#include <coroutine>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace weft::detail {

class runtime_core;
class dispatch_domain;
class dispatcher_state;

/// A task spawned on a dispatcher: the scheduler of its cell, and its queue
/// entry. Lives as long as the cell's header (which holds its one counted
/// reference, as every header holds its scheduler's).
class dispatch_task final : public scheduler, public dispatch_item {
 public:
  dispatch_task(std::shared_ptr<dispatcher_state> s, task_header* t) noexcept;

  void schedule(task_header* t) noexcept override;
  bool on_complete(task_header* t) noexcept override;
  void retain() noexcept override;
  void release() noexcept override;

  task_header* const header;
  const std::shared_ptr<dispatcher_state> state;
  // tracked_ links; guarded by the dispatcher's mutex.
  dispatch_task* prev = nullptr;
  dispatch_task* next = nullptr;
  bool tracked = false;

 private:
  ~dispatch_task() = default;
  sync::atomic<std::size_t> refs_{1};  // the header's
};

/// What a dispatcher was built with.
struct dispatcher_config {
  std::string name;
  std::string role;
  bool unsynchronized = false;
  bool allow_blocking = false;
  std::function<void(dispatcher_ref)> observer;
};

class dispatcher_state : public std::enable_shared_from_this<dispatcher_state> {
 public:
  /// Items a pump runs before it yields to the other tasks of its worker.
  static constexpr std::size_t pump_batch = 64;

  /// `pumps` pump tasks will be spawned on `group` (pump_main); a dedicated
  /// group belongs to this dispatcher alone.
  dispatcher_state(dispatcher_config cfg, std::shared_ptr<dispatch_domain> domain,
                   runtime_core* group, bool dedicated_group, std::size_t pumps);
  dispatcher_state(const dispatcher_state&) = delete;
  dispatcher_state& operator=(const dispatcher_state&) = delete;
  ~dispatcher_state();

  [[nodiscard]] const dispatcher_config& config() const noexcept { return cfg_; }

  /// dispatcher_ref::post_task: queue `cb`, or free it uncalled when shut down.
  std::error_code post(dispatch_callback* cb) noexcept;
  /// dispatcher_ref::spawn_task: adopt the fresh cell `t` (its creator's
  /// reference becomes the owner's) and queue its first step.
  std::error_code spawn(task_header* t);
  /// Start the shutdown (idempotent, any thread).
  void begin_shutdown() noexcept;
  [[nodiscard]] bool is_shut_down() const noexcept;

  /// create(): the observer, set once every pump is spawned and before the
  /// dispatcher is visible to anyone who could shut it down.
  void arm_observer(std::function<void(dispatcher_ref)> fn) noexcept;
  /// create() failed: `never_made` pumps were not even created (a pump
  /// created and not started accounts for itself through its ticket). Shut
  /// down without calling the observer.
  void abandon(std::size_t never_made) noexcept;

  /// One pump's share of the dispatcher, made before its cell (so it lives in
  /// the cell's frame from the start): if runtime shutdown or a refused spawn
  /// destroys the pump before it finished on its own, its destructor does the
  /// pump's part of the shutdown inline — the last pump gone finishes the
  /// dispatcher. Moved-from tickets do nothing.
  class pump_ticket {
   public:
    explicit pump_ticket(std::shared_ptr<dispatcher_state> s) noexcept : s_(std::move(s)) {}
    pump_ticket(pump_ticket&& o) noexcept
        : s_(std::move(o.s_)), exited_(o.exited_), done_(std::exchange(o.done_, true)) {}
    pump_ticket& operator=(pump_ticket&&) = delete;
    ~pump_ticket();
    [[nodiscard]] dispatcher_state& state() const noexcept { return *s_; }
    void set_exited() noexcept { exited_ = true; }
    void set_done() noexcept { done_ = true; }

   private:
    std::shared_ptr<dispatcher_state> s_;
    bool exited_ = false;  // pump_exit done
    bool done_ = false;    // nothing left for this pump to do
  };

  /// The body of a pump task.
  static task<void> pump_main(pump_ticket ticket);

  // dispatch_task's side.
  void enqueue_task(dispatch_task* d) noexcept;
  void task_completed(dispatch_task* d) noexcept;

 private:
  enum class take_result { item, empty, stop };
  struct queue_wait;

  take_result take(dispatch_item*& out) noexcept;
  /// Unless shutdown began: under mu_ run also_locked(), queue `it` and wake
  /// an idle pump (after unlocking). False if refused (nothing done).
  template <class AlsoLocked>
  bool enqueue_unless_shut_down(dispatch_item* it, AlsoLocked&& also_locked);
  void push_locked(dispatch_item* it) noexcept;  // mu_ held
  waker take_waker_locked() noexcept;            // mu_ held: one idle pump, or the finisher
  void run_item(dispatch_item* it) noexcept;
  bool pump_exit() noexcept;  // true: the caller is the last pump, the finisher
  void track_locked(dispatch_task* d) noexcept;
  bool untrack(dispatch_task* d) noexcept;  // true if it was tracked
  dispatch_item* take_all() noexcept;
  void cancel_queued(dispatch_item* items, bool force) noexcept;
  void cancel_task(dispatch_task* d, bool force) noexcept;
  void cancel_tracked(bool force) noexcept;
  bool try_finish() noexcept;  // nothing tracked or queued: finished_
  void force_finish() noexcept;
  void complete_shutdown() noexcept;

  const dispatcher_config cfg_;
  const std::shared_ptr<dispatch_domain> domain_;
  runtime_core* const group_;  // an identity only once the pumps are spawned
  const bool dedicated_group_;

  mutable sync::mutex mu_;
  dispatch_item* head_ = nullptr;
  dispatch_item* tail_ = nullptr;
  dispatch_task* tracked_ = nullptr;
  std::vector<waker> idle_pumps_;  // capacity reserved for every pump
  waker finisher_waker_;
  std::function<void(dispatcher_ref)> observer_;
  std::size_t live_pumps_;
  bool shutdown_ = false;
  bool finished_ = false;
};

}  // namespace weft::detail
