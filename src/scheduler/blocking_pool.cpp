#include "scheduler/blocking_pool.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/detail/test_point.hpp>

#include <pthread.h>

#include <algorithm>
#include <string>

namespace weft::detail {

namespace {
// The pool whose thread this is (nullptr elsewhere): shutdown run by a job
// on a pool thread must not wait for, or join, that thread.
thread_local const blocking_pool* this_threads_pool = nullptr;
}  // namespace

blocking_pool::blocking_pool(scheduler& owner, config cfg) : owner_(owner), cfg_(std::move(cfg)) {}

blocking_pool::~blocking_pool() {
  // INVARIANT: shutdown() ran. Threads still listed are busy past its
  // deadline (detached there), or the one running this destructor (its
  // release of the core was the last): detach whatever is still joinable.
  for (thread_list* l : {&threads_, &exited_}) {
    for (std::thread& t : *l) {
      if (t.joinable()) t.detach();
    }
  }
}

void blocking_pool::join_exited(thread_list& exited) noexcept {
  for (std::thread& t : exited) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // our own object (on_thread_stop submitted a job): cannot join
    } else {
      t.join();  // it has left the loop: only on_thread_stop and a release remain
    }
  }
}

std::size_t blocking_pool::thread_objects_held() {
  sync::lock_guard<sync::mutex> lock(mu_);
  return threads_.size() + exited_.size();
}

bool blocking_pool::submit(task_header* t) {
  thread_list exited;  // joined after the lock is released
  {
    sync::unique_lock<sync::mutex> lock(mu_);
    if (shutdown_) return false;
    exited.swap(exited_);
    owner_.retain();  // the header's reference to its scheduler
    t->scheduler_ = this;
    t->prepare_unpublished(task_header::notified, 1);  // + the pool's reference
    queue_.push_back(t);
    // Every queued job is matched with an idle thread or a new one. A thread
    // counts as idle until it wakes and takes the lock again, so idle threads
    // that earlier submits already woke are still counted: only idle threads
    // beyond the jobs queued before this one are free to take it.
    if (cfg_.threadless) {
      // Run by the simulation (run_one_here).
    } else if (idle_threads_ >= queue_.size()) {
      work_cv_.notify_one();
    } else if (num_threads_ < cfg_.max_threads) {
      ++num_threads_;
      owner_.retain();  // the thread's
      const std::size_t id = next_name_++;
      // The list node exists before the thread starts; the thread touches it
      // only under mu_, which we hold until the object is in place.
      const thread_list::iterator self = threads_.emplace(threads_.end());
      *self = std::thread([this, self] { thread_main(self); });
      const std::string name = (cfg_.thread_name + "-b" + std::to_string(id)).substr(0, 15);
      pthread_setname_np(self->native_handle(), name.c_str());
    }
    // Otherwise every thread is busy: the job waits for the first one free.
  }
  join_exited(exited);
  return true;
}

void blocking_pool::schedule(task_header* t) noexcept {
  // A blocking job is scheduled only by submit; it never suspends (spawn_blocking
  // refuses awaitables), so there is nothing to re-queue.
  (void)t;
}

bool blocking_pool::on_complete(task_header*) noexcept {
  return true;  // the pool's reference, taken at submit, goes with completion
}

void blocking_pool::thread_main(thread_list::iterator self) {
  this_threads_pool = this;
  blocking_pool_owner() = &owner_;  // for runtime_runs_here
  if (cfg_.on_thread_start) cfg_.on_thread_start();
  sync::unique_lock<sync::mutex> lock(mu_);
  for (;;) {
    if (!queue_.empty()) {
      task_header* t = queue_.front();
      queue_.pop_front();
      lock.unlock();
      if (t->transition_to_running()) {
        budget() = initial_budget;
        (void)run_step(t);  // finishes: the body is a plain call
      }
      lock.lock();
      continue;
    }
    if (shutdown_) break;
    ++idle_threads_;
    // wait_until on a saturated deadline: wait_for would add keep_alive to
    // now() itself and overflow for a keep-alive of "forever".
    const bool woke = work_cv_.wait_until(lock, steady_deadline_after(cfg_.keep_alive),
                                          [&] { return !queue_.empty() || shutdown_; });
    --idle_threads_;
    if (!woke) break;  // idle for keep_alive: exit
  }
  --num_threads_;
  ++stopping_threads_;
  lock.unlock();
  if (cfg_.on_thread_stop) cfg_.on_thread_stop();
  // We cannot join ourselves: hand our std::thread to the next submit or to
  // shutdown, which join it (exited_ is bounded by the threads that exited
  // since the last submit). Only now, after the user's hook: whoever joins
  // us waits for no more than our return.
  lock.lock();
  --stopping_threads_;
  exited_.splice(exited_.end(), threads_, self);
  done_cv_.notify_all();
  lock.unlock();
  WEFT_TEST_POINT("blocking_pool.thread_exited");
  this_threads_pool = nullptr;
  owner_.release();  // may be the core's last reference: touch nothing after
}

bool blocking_pool::has_queued() {
  sync::lock_guard<sync::mutex> lock(mu_);
  return !queue_.empty();
}

bool blocking_pool::run_one_here() {
  task_header* t = nullptr;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (queue_.empty()) return false;
    t = queue_.front();
    queue_.pop_front();
  }
  const blocking_pool* const prev_pool = std::exchange(this_threads_pool, this);
  const scheduler* const prev_owner = std::exchange(blocking_pool_owner(), &owner_);
  const int prev_budget = budget();
  if (t->transition_to_running()) {
    budget() = initial_budget;
    (void)run_step(t);  // finishes: the body is a plain call
  }
  budget() = prev_budget;
  blocking_pool_owner() = prev_owner;
  this_threads_pool = prev_pool;
  return true;
}

void blocking_pool::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  std::deque<task_header*> queued;
  {
    sync::unique_lock<sync::mutex> lock(mu_);
    shutdown_ = true;
    queued.swap(queue_);
    work_cv_.notify_all();
  }
  for (task_header* t : queued) {
    cell_cancel(t);
    t->unref();  // the pool's reference
  }
  // Run by a job on one of our threads (it ended the runtime): that thread
  // is live until the job returns, so wait for the others only.
  const std::size_t mine = this_threads_pool == this ? 1 : 0;
  thread_list exited;
  {
    sync::unique_lock<sync::mutex> lock(mu_);
    // Threads still in on_thread_stop count too: when shutdown returns every
    // hook has run (or the deadline passed).
    done_cv_.wait_until(lock, deadline,
                        [&] { return num_threads_ == mine && stopping_threads_ == 0; });
    exited.swap(exited_);
    if (num_threads_ != mine || stopping_threads_ != 0) {
      // Still busy past the deadline: let them finish on their own (each
      // moves its object to exited_, detached by the destructor).
      for (std::thread& t : threads_) t.detach();
    }
    // Our own thread (if mine) stays in threads_: it moves itself to
    // exited_ when its job returns, and the destructor detaches it.
  }
  join_exited(exited);
}

}  // namespace weft::detail
