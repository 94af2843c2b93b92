#include "scheduler/blocking_pool.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>

#include <pthread.h>

#include <algorithm>
#include <string>

namespace weft::detail {

blocking_pool::blocking_pool(scheduler& owner, config cfg) : owner_(owner), cfg_(std::move(cfg)) {}

blocking_pool::~blocking_pool() {
  // INVARIANT: shutdown() ran and every thread is gone (they hold the core).
  for (std::thread& t : threads_) {
    if (t.joinable()) t.detach();
  }
}

bool blocking_pool::submit(task_header* t) {
  sync::unique_lock<sync::mutex> lock(mu_);
  if (shutdown_) return false;
  owner_.retain();  // the header's reference to its scheduler
  t->scheduler_ = this;
  t->prepare_unpublished(task_header::notified, 1);  // + the pool's reference
  queue_.push_back(t);
  // Every queued job is matched with an idle thread or a new one. A thread
  // counts as idle until it wakes and takes the lock again, so idle threads
  // that earlier submits already woke are still counted: only idle threads
  // beyond the jobs queued before this one are free to take it.
  if (idle_threads_ >= queue_.size()) {
    work_cv_.notify_one();
    return true;
  }
  if (num_threads_ < cfg_.max_threads) {
    ++num_threads_;
    owner_.retain();  // the thread's
    const std::size_t id = next_name_++;
    std::thread th([this] { thread_main(); });
    const std::string name = (cfg_.thread_name + "-b" + std::to_string(id)).substr(0, 15);
    pthread_setname_np(th.native_handle(), name.c_str());
    threads_.push_back(std::move(th));
  }
  // Otherwise every thread is busy: the job waits for the first one free.
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

void blocking_pool::thread_main() {
  blocking_pool_owner() = &owner_;
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
  // Leave our std::thread to be joined by shutdown (or detached if the pool
  // dies first); waiting on ourselves is not possible.
  done_cv_.notify_all();
  lock.unlock();
  if (cfg_.on_thread_stop) cfg_.on_thread_stop();
  owner_.release();
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
  std::vector<std::thread> threads;
  {
    sync::unique_lock<sync::mutex> lock(mu_);
    done_cv_.wait_until(lock, deadline, [&] { return num_threads_ == 0; });
    threads.swap(threads_);
    if (num_threads_ != 0) {
      // Still busy past the deadline: let them finish on their own.
      for (std::thread& t : threads) t.detach();
      return;
    }
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace weft::detail
