// owned_tasks — every task a runtime has spawned and not yet completed.
//
// Shutdown must find tasks that sit in no queue (waiting on a timer, on I/O,
// on another task), so the runtime keeps them in intrusive doubly linked
// lists through task_header::owned_prev_/owned_next_.
//
// Contention: insert and remove happen once per task each, on every worker,
// so nothing here is a single shared counter. The lists are sharded 16 ways,
// each shard with its own spinlock and count; a thread picks shards round-robin
// from its own thread-local counter. Only shutdown needs the total, and it
// asks by locking the shards in turn (all_empty).
//
// Waiting for idleness (wait_idle) without a shared counter: the waiter sets
// waiting_ and then checks every shard; a remover that empties a shard checks
// waiting_ after releasing the shard lock and, if set, notifies. The shard
// mutex orders the two: if the waiter saw the shard non-empty, the remover's
// critical section came after the waiter's, so the remover sees waiting_.
//
// The owned reference: a task in this list holds one reference for the
// runtime, dropped when it is removed (completion, or destruction at shutdown).
#pragma once

#include <weft/detail/deadline.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>

namespace weft::detail {

class owned_tasks {
 public:
  static constexpr std::size_t shard_count = 16;

  /// Add `t`. False (not added) once closed.
  /// A simulation's list: shards in the order tasks are spawned (one thread
  /// spawns), so what shutdown destroys, and in which order, follows the seed.
  void use_spawn_order() noexcept { spawn_order_ = true; }

  [[nodiscard]] bool insert(task_header* t) {
    // ORDERING: relaxed: a counter for spreading tasks over shards; the
    // shard's lock orders everything else.
    const std::size_t i = spawn_order_ ? next_in_order_.fetch_add(1, std::memory_order_relaxed) %
                                             shard_count
                                       : next_shard_index();
    shard& s = shards_[i];
    sync::lock_guard<sync::spinlock> lock(s.mu);
    if (s.closed) return false;
    t->owned_shard_ = static_cast<std::uint16_t>(i);
    t->owned_prev_ = nullptr;
    t->owned_next_ = s.head;
    if (s.head != nullptr) s.head->owned_prev_ = t;
    s.head = t;
    ++s.count;
    return true;
  }

  /// Remove `t` (it must be in the list).
  void remove(task_header* t) noexcept {
    shard& s = shards_[t->owned_shard_];
    bool emptied;
    {
      sync::lock_guard<sync::spinlock> lock(s.mu);
      unlink(s, t);
      emptied = --s.count == 0;
    }
    // ORDERING: relaxed: the shard mutex orders this after a waiter's check
    // of this shard (see the file comment).
    if (emptied && waiting_.load(std::memory_order_relaxed)) {
      sync::lock_guard<sync::mutex> lock(idle_mu_);
      idle_cv_.notify_all();
    }
  }

  /// Wait until every shard is empty or `timeout` passed. True if empty.
  bool wait_idle(std::chrono::nanoseconds timeout) {
    // ORDERING: relaxed: published to removers by the shard mutexes taken in
    // all_empty().
    waiting_.store(true, std::memory_order_relaxed);
    sync::unique_lock<sync::mutex> lock(idle_mu_);
    // wait_until on a saturated deadline: wait_for would add `timeout` to
    // now() itself and overflow for nanoseconds::max().
    const bool empty = idle_cv_.wait_until(lock, steady_deadline_after(timeout),
                                           [&] { return all_empty(); });
    waiting_.store(false, std::memory_order_relaxed);
    return empty;
  }

  /// True if no task is owned. Locks each shard in turn.
  [[nodiscard]] bool all_empty() {
    for (shard& s : shards_) {
      sync::lock_guard<sync::spinlock> lock(s.mu);
      if (s.count != 0) return false;
    }
    return true;
  }

  /// Refuse further inserts.
  void close() {
    for (shard& s : shards_) {
      sync::lock_guard<sync::spinlock> lock(s.mu);
      s.closed = true;
    }
  }

  /// Take one task out (shutdown), or nullptr when empty.
  task_header* pop() noexcept {
    for (shard& s : shards_) {
      sync::lock_guard<sync::spinlock> lock(s.mu);
      if (task_header* t = s.head) {
        unlink(s, t);
        --s.count;
        return t;
      }
    }
    return nullptr;
  }

 private:
  struct alignas(64) shard {
    sync::spinlock mu;            // a few instructions under it, rarely contended
    task_header* head = nullptr;  // guarded by mu
    std::size_t count = 0;        // guarded by mu
    bool closed = false;          // guarded by mu
  };

  static std::size_t next_shard_index() noexcept {
    // Per-thread round robin, started at a per-thread offset so threads
    // mostly use different shards at any moment.
    static thread_local std::size_t next = std::hash<std::thread::id>{}(std::this_thread::get_id());
    return next++ % shard_count;
  }

  static void unlink(shard& s, task_header* t) noexcept {
    if (t->owned_prev_ != nullptr) {
      t->owned_prev_->owned_next_ = t->owned_next_;
    } else {
      s.head = t->owned_next_;
    }
    if (t->owned_next_ != nullptr) t->owned_next_->owned_prev_ = t->owned_prev_;
    t->owned_prev_ = t->owned_next_ = nullptr;
  }

  std::array<shard, shard_count> shards_;
  bool spawn_order_ = false;                    // set before the first insert
  sync::atomic<std::size_t> next_in_order_{0};  // spawn_order_ only
  sync::atomic<bool> waiting_{false};
  sync::mutex idle_mu_;
  sync::condition_variable idle_cv_;
};

}  // namespace weft::detail
