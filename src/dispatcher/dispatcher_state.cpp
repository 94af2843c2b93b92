// A dispatcher's queue, pumps and shutdown. See dispatcher_state.hpp.
#include "dispatcher/dispatcher_state.hpp"

#include "dispatcher/dispatch_domain.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/runtime.hpp>

#include <cassert>
#include <utility>

namespace weft::detail {

// ---- dispatch_task -----------------------------------------------------------------

dispatch_task::dispatch_task(std::shared_ptr<dispatcher_state> s, task_header* t) noexcept
    : header(t), state(std::move(s)) {
  is_task = true;
}

void dispatch_task::schedule(task_header*) noexcept {
  state->enqueue_task(this);
}

bool dispatch_task::on_complete(task_header*) noexcept {
  state->task_completed(this);
  return true;  // the owner's reference goes with the completion
}

void dispatch_task::retain() noexcept {
  // ORDERING: relaxed: made from a reference the caller holds (the header's).
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void dispatch_task::release() noexcept {
  // ORDERING: acq_rel: the release publishes this holder's last use; the
  // acquire, effective for the last holder, pairs with the other holders'
  // releases so their writes happen before the record is deleted.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

// ---- the state ----------------------------------------------------------------------

dispatcher_state::dispatcher_state(dispatcher_config cfg, std::shared_ptr<dispatch_domain> domain,
                                   runtime_core* group, bool dedicated_group, std::size_t pumps)
    : cfg_(std::move(cfg)),
      domain_(std::move(domain)),
      group_(group),
      dedicated_group_(dedicated_group),
      live_pumps_(pumps) {
  // Each pump keeps at most one waker here: pushes never reallocate.
  idle_pumps_.reserve(pumps);
}

dispatcher_state::~dispatcher_state() {
  // INVARIANT: the shutdown completed (or never had anything to do): nothing
  // is queued or tracked.
  assert(head_ == nullptr && tracked_ == nullptr);
}

void dispatcher_state::push_locked(dispatch_item* it) noexcept {
  it->next_item = nullptr;
  if (tail_ != nullptr) {
    tail_->next_item = it;
  } else {
    head_ = it;
  }
  tail_ = it;
}

waker dispatcher_state::take_waker_locked() noexcept {
  if (finisher_waker_) return std::move(finisher_waker_);
  if (idle_pumps_.empty()) return {};
  waker w = std::move(idle_pumps_.back());
  idle_pumps_.pop_back();
  return w;
}

template <class AlsoLocked>
bool dispatcher_state::enqueue_unless_shut_down(dispatch_item* it, AlsoLocked&& also_locked) {
  waker w;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (shutdown_) return false;
    also_locked();
    push_locked(it);
    w = take_waker_locked();
  }
  w.wake();
  return true;
}

std::error_code dispatcher_state::post(dispatch_callback* cb) noexcept {
  if (enqueue_unless_shut_down(cb, [] {})) return {};
  cb->call_and_delete(cb, status::canceled_status(), /*call=*/false);  // outside the lock
  return make_error_code(errc::dispatcher_shut_down);
}

std::error_code dispatcher_state::spawn(task_header* t) {
  dispatch_task* d = nullptr;
  try {
    d = new dispatch_task(shared_from_this(), t);
  } catch (...) {
    t->unref();  // the creator's: frees the cell
    throw;
  }
  t->scheduler_ = d;
  t->prepare_unpublished(task_header::notified, 0);
  const bool queued = enqueue_unless_shut_down(d, [&] {
    track_locked(d);  // the creator's reference becomes the owner's
    t->ref();         // the queue's
  });
  if (queued) return {};
  t->unref();  // destroys the never-run frame, frees the cell and `d`
  return make_error_code(errc::dispatcher_shut_down);
}

void dispatcher_state::enqueue_task(dispatch_task* d) noexcept {
  waker w;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    assert(!finished_);  // INVARIANT: a finished dispatcher has no live task to wake
    d->header->ref();    // the queue's
    push_locked(d);
    w = take_waker_locked();
  }
  w.wake();
}

void dispatcher_state::task_completed(dispatch_task* d) noexcept {
  (void)untrack(d);
}

void dispatcher_state::track_locked(dispatch_task* d) noexcept {
  d->prev = nullptr;
  d->next = tracked_;
  if (tracked_ != nullptr) tracked_->prev = d;
  tracked_ = d;
  d->tracked = true;
}

bool dispatcher_state::untrack(dispatch_task* d) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (!d->tracked) return false;
  if (d->prev != nullptr) {
    d->prev->next = d->next;
  } else {
    tracked_ = d->next;
  }
  if (d->next != nullptr) d->next->prev = d->prev;
  d->prev = d->next = nullptr;
  d->tracked = false;
  return true;
}

void dispatcher_state::begin_shutdown() noexcept {
  std::vector<waker> wake;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
    // Idle pumps must see shutdown_ and exit; from now on none parks here
    // (a pump's queue_wait is ready once shutdown_ is set).
    wake.swap(idle_pumps_);
  }
  for (const waker& w : wake) w.wake();
}

bool dispatcher_state::is_shut_down() const noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  return shutdown_;
}

void dispatcher_state::arm_observer(std::function<void(dispatcher_ref)> fn) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  observer_ = std::move(fn);
}

void dispatcher_state::abandon(std::size_t never_made) noexcept {
  bool last = false;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    observer_ = nullptr;  // create() failed: nobody asked to observe this one
    if (never_made != 0) {
      live_pumps_ -= never_made;
      last = live_pumps_ == 0;  // only if this call brought it to zero
    }
  }
  begin_shutdown();
  if (last) {
    force_finish();
    complete_shutdown();
  }
}

// ---- pumps --------------------------------------------------------------------------

dispatcher_state::take_result dispatcher_state::take(dispatch_item*& out) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (shutdown_) return take_result::stop;
  if (head_ == nullptr) return take_result::empty;
  out = head_;
  head_ = out->next_item;
  if (head_ == nullptr) tail_ = nullptr;
  out->next_item = nullptr;
  return take_result::item;
}

dispatch_item* dispatcher_state::take_all() noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  dispatch_item* it = head_;
  head_ = tail_ = nullptr;
  return it;
}

void dispatcher_state::run_item(dispatch_item* it) noexcept {
  if (!it->is_task) {
    auto* cb = static_cast<dispatch_callback*>(it);
    cb->call_and_delete(cb, status::ok_status(), /*call=*/true);
    return;
  }
  auto* d = static_cast<dispatch_task*>(it);
  task_header* const t = d->header;
  if (t->transition_to_running()) {
    budget() = initial_budget;
    // The task's step runs inside the pump's: current_task is the task for
    // its duration, and what it registers lands on this worker.
    if (run_step(t) == step_result::notified) enqueue_task(d);  // woken during its step
  }
  t->unref();  // the queue's
}

bool dispatcher_state::pump_exit() noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  return --live_pumps_ == 0;
}

/// A wait checked under the lock the enqueuer takes: a pump waits for work
/// or the start of shutdown (its waker goes to idle_pumps_); the finisher
/// waits for a task whose cancellation is pending to be queued
/// (finisher_waker_).
struct dispatcher_state::queue_wait {
  dispatcher_state& s;
  bool finisher;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waker w = suspend_current(h);
    bool ready;
    {
      sync::lock_guard<sync::mutex> lock(s.mu_);
      ready = s.head_ != nullptr || (!finisher && s.shutdown_);
      if (!ready) {
        if (finisher) {
          s.finisher_waker_ = std::move(w);
        } else {
          s.idle_pumps_.push_back(std::move(w));  // capacity reserved
        }
      }
    }
    if (ready) w.wake();  // re-queued as soon as this step ends
  }
  void await_resume() const noexcept {}
};

dispatcher_state::pump_ticket::~pump_ticket() {
  if (done_) return;
  // The pump is destroyed before it finished on its own: runtime shutdown
  // destroyed its cell (its core stopped), or its spawn was refused.
  if (!exited_) {
    s_->begin_shutdown();
    if (!s_->pump_exit()) return;  // another pump finishes
  }
  s_->force_finish();
  s_->complete_shutdown();
}

task<void> dispatcher_state::pump_main(pump_ticket ticket) {
  dispatcher_state& s = ticket.state();
  for (;;) {
    std::size_t n = 0;
    take_result r = take_result::empty;
    dispatch_item* it = nullptr;
    while (n < pump_batch && (r = s.take(it)) == take_result::item) {
      s.run_item(it);
      ++n;
    }
    if (r == take_result::stop) break;
    if (n == pump_batch) {
      co_await yield_now();  // a full batch: let the worker's other tasks run
    } else {
      co_await queue_wait{s, /*finisher=*/false};
    }
  }
  ticket.set_exited();
  if (!s.pump_exit()) {
    ticket.set_done();
    co_return;
  }
  // The last pump out: no item of this dispatcher runs any more.
  for (;;) {
    s.cancel_queued(s.take_all(), /*force=*/false);
    s.cancel_tracked(/*force=*/false);
    if (s.try_finish()) break;
    co_await queue_wait{s, /*finisher=*/true};  // a pending cancel completes and queues its task
  }
  s.complete_shutdown();
  ticket.set_done();
}

// ---- shutdown -----------------------------------------------------------------------

void dispatcher_state::cancel_task(dispatch_task* d, bool force) noexcept {
  task_header* const t = d->header;
  if (!t->is_complete()) {
    if (force) {
      cell_cancel(t);  // runtime shutdown: the drivers are quiesced, nothing is in flight
    } else if (!cell_request_cancel(t)) {
      return;  // its leaf's completion will queue it; cancelled again then
    }
  }
  if (untrack(d)) t->unref();  // the owner's
}

void dispatcher_state::cancel_queued(dispatch_item* it, bool force) noexcept {
  while (it != nullptr) {
    dispatch_item* const next = it->next_item;
    it->next_item = nullptr;
    if (!it->is_task) {
      auto* cb = static_cast<dispatch_callback*>(it);
      cb->call_and_delete(cb, status::canceled_status(), /*call=*/true);
    } else {
      auto* d = static_cast<dispatch_task*>(it);
      task_header* const t = d->header;
      if (force) {
        cancel_task(d, true);
      } else if (t->transition_to_running()) {
        // Take it without a step (RUNNING then idle, the epoch kept so its
        // leaf's waker stays valid); woken again meanwhile: queued again.
        if (t->transition_to_idle() == task_header::idle_result::notified) enqueue_task(d);
        cancel_task(d, false);
      }
      t->unref();  // the queue's
    }
    it = next;
  }
}

void dispatcher_state::cancel_tracked(bool force) noexcept {
  for (;;) {
    dispatch_task* d;
    {
      sync::lock_guard<sync::mutex> lock(mu_);
      // Only the finisher cancels, so cancel_pending_ is its own field. A
      // task whose cancel is pending waits for its completion to be queued.
      d = tracked_;
      while (!force && d != nullptr && d->header->cancel_pending_) d = d->next;
    }
    if (d == nullptr) return;
    cancel_task(d, force);
  }
}

bool dispatcher_state::try_finish() noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (tracked_ != nullptr || head_ != nullptr) return false;
  finished_ = true;
  return true;
}

void dispatcher_state::force_finish() noexcept {
  do {
    cancel_queued(take_all(), /*force=*/true);
    cancel_tracked(/*force=*/true);
    // Destructors run by the cancels may have queued wakes of cancelled
    // tasks: drained on the next round.
  } while (!try_finish());
}

void dispatcher_state::complete_shutdown() noexcept {
  std::function<void(dispatcher_ref)> observer;
  std::vector<waker> stale;
  waker finisher;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    observer = std::move(observer_);
    observer_ = nullptr;
    stale.swap(idle_pumps_);  // wakers of pumps destroyed while parked
    finisher = std::move(finisher_waker_);
  }
  // After the last of its work: every callback called, every task gone.
  if (observer) observer(dispatcher_ref(shared_from_this()));
  domain_->remove(this);
  if (dedicated_group_) domain_->retire_dedicated(group_);
}

}  // namespace weft::detail
