// owned_tasks — every task a runtime has spawned and not yet completed.
//
// Shutdown must find tasks that sit in no queue (waiting on a timer, on I/O,
// on another task), so the runtime keeps them in intrusive doubly linked
// lists through task_header::owned_prev_/owned_next_. The list is sharded by a
// spawn counter to spread lock contention; each shard has its own mutex. The
// count is one atomic, read to wait for idleness.
//
// The owned reference: a task in this list holds one reference for the
// runtime, dropped when it is removed (completion, or destruction at shutdown).
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

class owned_tasks {
 public:
  static constexpr std::size_t shard_count = 16;

  /// Add `t`. False (not added) once closed.
  [[nodiscard]] bool insert(task_header* t) {
    // ORDERING: relaxed: only spreads tasks over shards.
    const auto n = next_shard_.fetch_add(1, std::memory_order_relaxed);
    const std::size_t i = n % shard_count;
    shard& s = shards_[i];
    sync::lock_guard<sync::mutex> lock(s.mu);
    // ORDERING: relaxed: closed_ is set under every shard lock (close()).
    if (closed_.load(std::memory_order_relaxed)) return false;
    t->owned_shard_ = static_cast<std::uint16_t>(i);
    t->owned_prev_ = nullptr;
    t->owned_next_ = s.head;
    if (s.head != nullptr) s.head->owned_prev_ = t;
    s.head = t;
    // ORDERING: relaxed: the count is only a hint for wait_idle, which
    // re-checks under idle_mu_.
    count_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Remove `t` (it must be in the list).
  void remove(task_header* t) noexcept {
    shard& s = shards_[t->owned_shard_];
    {
      sync::lock_guard<sync::mutex> lock(s.mu);
      unlink(s, t);
    }
    // ORDERING: acq_rel: the waiter in wait_idle acquires the count.
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      sync::lock_guard<sync::mutex> lock(idle_mu_);
      idle_cv_.notify_all();
    }
  }

  /// Wait until empty or `timeout` passed. True if empty.
  bool wait_idle(std::chrono::nanoseconds timeout) {
    sync::unique_lock<sync::mutex> lock(idle_mu_);
    return idle_cv_.wait_for(lock, timeout, [&] {
      // ORDERING: acquire: pairs with remove's release.
      return count_.load(std::memory_order_acquire) == 0;
    });
  }

  /// Refuse further inserts.
  void close() {
    for (shard& s : shards_) s.mu.lock();
    closed_.store(true, std::memory_order_relaxed);
    for (shard& s : shards_) s.mu.unlock();
  }

  /// Take one task out (shutdown), or nullptr when empty.
  task_header* pop() noexcept {
    for (shard& s : shards_) {
      sync::lock_guard<sync::mutex> lock(s.mu);
      if (task_header* t = s.head) {
        unlink(s, t);
        count_.fetch_sub(1, std::memory_order_acq_rel);
        return t;
      }
    }
    return nullptr;
  }

  [[nodiscard]] std::size_t size() const noexcept {
    return count_.load(std::memory_order_acquire);
  }

 private:
  struct alignas(64) shard {
    sync::mutex mu;
    task_header* head = nullptr;
  };

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
  sync::atomic<std::uint64_t> next_shard_{0};
  sync::atomic<std::size_t> count_{0};
  sync::atomic<bool> closed_{false};
  sync::mutex idle_mu_;
  sync::condition_variable idle_cv_;
};

}  // namespace weft::detail
