// weft/detail/model/mutex.hpp — the model checker's mutex, condition
// variable, thread and spin hint.
//
// mutex (also spin_mutex and spinlock, which are modeled as a plain mutex):
//
//   free ──lock (a scheduling point; the thread is enabled only while the
//          mutex is free)──> held by t ──unlock by t (a point)──> free
//   unlock by another thread: failure.
//
// condition_variable: wait(lk) releases the mutex and blocks (not enabled)
// until a notify; notify_one wakes the longest waiter (FIFO), notify_all every
// waiter; a woken waiter then waits for the mutex like lock(). Spurious
// wake-ups are not modeled, and there is no timed wait.
//
// thread: spawning is a scheduling point (the new thread may run first); join
// blocks until the target's body returned.
#pragma once

#include <weft/detail/model/execution.hpp>

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

namespace weft::detail::model {

struct mutex_state {
  bool locked = false;
  unsigned owner = execution::none;
  vclock rel{};  // the last unlocker's clock: unlock happens-before lock
};

inline bool execution::enabled(unsigned id) const {
  const mthread& t = threads_[id];
  switch (t.st) {
    case tstate::runnable: return true;
    case tstate::blocked_mutex: return !t.wait_mutex->locked;
    case tstate::blocked_join: return threads_[t.wait_thread].st == tstate::finished;
    case tstate::blocked_cv:
    case tstate::finished: return false;
  }
  return false;
}

class mutex {
 public:
  mutex() {
    if (execution* ex = current()) rec_ = ex->make_record<object_record>();
  }
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;
  ~mutex() {
    execution* ex = current();
    if (ex == nullptr || rec_ == nullptr) return;
    if (s_.locked) ex->fail("mutex obj" + std::to_string(rec_->id) + " destroyed while held");
    ex->destroy_record(*rec_);
  }

  void lock() {
    execution* ex = current();
    if (ex == nullptr) {
      s_.locked = true;
      return;
    }
    check(ex, "mutex lock");
    if (s_.locked && s_.owner == ex->self()) ex->fail("mutex locked twice by the same thread");
    ex->block_on_mutex(&s_);
    ex->point();  // chosen only once the mutex is free
    take(ex);
  }
  bool try_lock() {
    execution* ex = current();
    if (ex == nullptr) return !std::exchange(s_.locked, true);
    check(ex, "mutex try_lock");
    ex->point();
    if (s_.locked) {
      ex->record("mutex try_lock FAIL", id(), 0, 0, 0);
      return false;
    }
    take(ex);
    return true;
  }
  void unlock() {
    execution* ex = current();
    if (ex == nullptr) {
      s_.locked = false;
      return;
    }
    check(ex, "mutex unlock");
    if (!s_.locked || s_.owner != ex->self()) ex->fail("mutex unlocked by a thread that does not hold it");
    ex->point();
    release_now(ex);
  }

  // For condition_variable.
  mutex_state& state() noexcept { return s_; }
  void take(execution* ex) {
    s_.locked = true;
    s_.owner = ex->self();
    join_clock(ex->clock(), s_.rel);
    ex->record("mutex lock", id(), 0, 0, 0);
  }
  void release_now(execution* ex) {
    s_.locked = false;
    s_.owner = execution::none;
    s_.rel = ex->clock();
    ex->record("mutex unlock", id(), 0, 0, 0);
  }

 private:
  std::uint64_t id() const noexcept { return rec_ != nullptr ? rec_->id : 0; }
  void check(execution* ex, const char* op) const {
    if (rec_ != nullptr) ex->check_alive(*rec_, op);
  }
  mutex_state s_;
  object_record* rec_ = nullptr;  // owned by the execution; nullptr outside one
};

class condition_variable {
 public:
  condition_variable() = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  void wait(std::unique_lock<mutex>& lk) {
    execution* ex = current();
    if (ex == nullptr) throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur));
    mutex& m = *lk.mutex();
    waiters_.emplace_back(ex->self(), &m.state());
    m.release_now(ex);
    ex->block_on_cv();
    ex->point();  // chosen once notified and the mutex is free
    m.take(ex);
  }
  template <class Pred>
  void wait(std::unique_lock<mutex>& lk, Pred pred) {
    while (!pred()) wait(lk);
  }
  void notify_one() {
    execution* ex = current();
    if (ex == nullptr) return;
    ex->point();
    ex->record("cv notify_one", 0, waiters_.size(), 0, 1);
    if (waiters_.empty()) return;
    ex->wake_cv_waiter(waiters_.front().first, waiters_.front().second);
    waiters_.pop_front();
  }
  void notify_all() {
    execution* ex = current();
    if (ex == nullptr) return;
    ex->point();
    ex->record("cv notify_all", 0, waiters_.size(), 0, 1);
    for (const auto& w : waiters_) ex->wake_cv_waiter(w.first, w.second);
    waiters_.clear();
  }

 private:
  std::deque<std::pair<unsigned, const mutex_state*>> waiters_;  // FIFO, with their mutex
};

class thread {
 public:
  thread() noexcept = default;
  template <class F, class... A>
  explicit thread(F&& f, A&&... args) {
    execution* ex = current();
    if (ex == nullptr) throw std::system_error(std::make_error_code(std::errc::not_supported));
    id_ = ex->spawn(std::bind(std::forward<F>(f), std::forward<A>(args)...));
    ex->point();
  }
  thread(thread&& o) noexcept : id_(std::exchange(o.id_, execution::none)) {}
  thread& operator=(thread&& o) noexcept {
    if (joinable()) fail_unjoined();
    id_ = std::exchange(o.id_, execution::none);
    return *this;
  }
  thread(const thread&) = delete;
  thread& operator=(const thread&) = delete;
  ~thread() {
    if (joinable()) fail_unjoined();
  }
  [[nodiscard]] bool joinable() const noexcept { return id_ != execution::none; }
  void join() {
    execution* ex = current();
    if (ex == nullptr || !joinable()) throw std::system_error(std::make_error_code(std::errc::invalid_argument));
    ex->join(std::exchange(id_, execution::none));
  }

 private:
  static void fail_unjoined() {
    if (execution* ex = current()) ex->fail("a model thread was destroyed without join");
  }
  unsigned id_ = execution::none;
};

/// A spin-loop turn: a free switch to another enabled thread (see
/// execution.hpp).
inline void spin_hint() {
  execution* ex = current();
  if (ex == nullptr) return;
  ex->set_yield();
  ex->point();
  ex->record("spin_hint", 0, 0, 0, 3);
}

}  // namespace weft::detail::model
