// owned_tasks — every task a runtime has spawned and not yet completed.
//
// Shutdown must find tasks that sit in no queue (waiting on a timer, on I/O,
// on another task), so the runtime keeps every spawned task in a table.
//
// The table: 16 shards, each a growable array of slots under its own
// spinlock. A slot holds a task pointer, or — when free — the index of the
// next free slot (tagged with the low bit; task headers are aligned). A task
// records its slot (shard in the low 4 bits, index above) in owned_slot_.
// Insert takes the shard's first free slot (or appends); remove puts the
// slot back on the free list. Neither touches another task: the doubly
// linked list this replaces wrote into both neighbours' headers on every
// removal — cache misses to memory on every completion at a million live
// tasks — and cost 16 bytes of every header, which is now 64 bytes, one
// cache line (docs/design.md, "The scheduler at scale").
//
// Contention: insert and remove happen once per task each, on every thread,
// so nothing here is a single shared counter. A thread picks shards
// round-robin from its own thread-local counter. Only shutdown needs the
// total, and it asks by locking the shards in turn (all_empty).
//
// Memory: a shard's array grows by doubling (an insert may throw
// std::bad_alloc; spawn then fails) and is released when the shard empties,
// so a burst of a million tasks does not pin 8 MB of slots afterwards.
//
// Waiting for idleness (wait_idle) without a shared counter: the waiter sets
// waiting_ and then checks every shard; a remover that empties a shard checks
// waiting_ after releasing the shard lock and, if set, notifies. The shard
// mutex orders the two: if the waiter saw the shard non-empty, the remover's
// critical section came after the waiter's, so the remover sees waiting_.
//
// The owned reference: a task in the table holds one reference for the
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
#include <new>
#include <thread>
#include <vector>

namespace weft::detail {

class owned_tasks {
 public:
  static constexpr std::size_t shard_count = 16;

  /// A simulation's list: shards in the order tasks are spawned (one thread
  /// spawns), so what shutdown destroys, and in which order, follows the seed.
  void use_spawn_order() noexcept { spawn_order_ = true; }

  /// Add `t`. False (not added) once closed. Throws std::bad_alloc if the
  /// shard's array cannot grow.
  [[nodiscard]] bool insert(task_header* t) {
    // ORDERING: relaxed: a counter for spreading tasks over shards; the
    // shard's lock orders everything else.
    const std::size_t i = spawn_order_ ? next_in_order_.fetch_add(1, std::memory_order_relaxed) %
                                             shard_count
                                       : next_shard_index();
    shard& s = shards_[i];
    sync::lock_guard<sync::spinlock> lock(s.mu);
    if (s.closed) return false;
    std::size_t index = s.free_head;
    if (index != no_slot) {
      s.free_head = static_cast<std::size_t>(s.slots[index] >> 1);
    } else {
      if (s.slots.size() >= max_slots_per_shard) throw std::bad_alloc();
      s.slots.push_back(0);  // may throw: nothing changed yet
      index = s.slots.size() - 1;
    }
    s.slots[index] = reinterpret_cast<std::uintptr_t>(t);
    t->owned_slot_ = static_cast<std::uint32_t>(index << shard_bits | i);
    ++s.count;
    return true;
  }

  /// Remove `t` (it must be in the table).
  void remove(task_header* t) noexcept {
    shard& s = shards_[t->owned_slot_ & (shard_count - 1)];
    const std::size_t index = t->owned_slot_ >> shard_bits;
    std::vector<std::uintptr_t> released;  // freed outside the lock
    bool emptied;
    {
      sync::lock_guard<sync::spinlock> lock(s.mu);
      s.slots[index] = free_slot(s.free_head);
      s.free_head = index;
      emptied = --s.count == 0;
      if (emptied && !s.closed && s.slots.capacity() > keep_slots) {
        released.swap(s.slots);
        s.free_head = no_slot;
      }
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

  /// Take one task out (shutdown, after close()), or nullptr when empty.
  /// Each shard is scanned once from the front: after close() nothing is
  /// inserted, so a slot behind the scan stays free.
  task_header* pop() noexcept {
    for (shard& s : shards_) {
      sync::lock_guard<sync::spinlock> lock(s.mu);
      while (s.scan < s.slots.size()) {
        const std::size_t index = s.scan++;
        const std::uintptr_t v = s.slots[index];
        if ((v & 1) != 0) continue;  // free
        s.slots[index] = free_slot(s.free_head);
        s.free_head = index;
        --s.count;
        return reinterpret_cast<task_header*>(v);
      }
    }
    return nullptr;
  }

 private:
  static constexpr unsigned shard_bits = 4;
  static_assert(shard_count == std::size_t{1} << shard_bits);
  static constexpr std::size_t no_slot = ~std::size_t{0} >> 1;
  static constexpr std::size_t max_slots_per_shard = std::size_t{1} << (32 - shard_bits);
  static constexpr std::size_t keep_slots = 1024;  // an emptied shard keeps this much array

  struct alignas(64) shard {
    sync::spinlock mu;  // a few instructions under it, rarely contended
    // Each slot: a task pointer (low bit 0), or (next free index << 1) | 1.
    std::vector<std::uintptr_t> slots;  // guarded by mu
    std::size_t free_head = no_slot;    // first free slot; guarded by mu
    std::size_t count = 0;              // tasks held; guarded by mu
    std::size_t scan = 0;               // pop()'s position (after close); guarded by mu
    bool closed = false;                // guarded by mu
  };

  static std::uintptr_t free_slot(std::size_t next) noexcept {
    return static_cast<std::uintptr_t>(next) << 1 | 1;
  }

  static std::size_t next_shard_index() noexcept {
    // Per-thread round robin, started at a per-thread offset so threads
    // mostly use different shards at any moment.
    static thread_local std::size_t next = std::hash<std::thread::id>{}(std::this_thread::get_id());
    return next++ % shard_count;
  }

  std::array<shard, shard_count> shards_;
  bool spawn_order_ = false;                    // set before the first insert
  sync::atomic<std::size_t> next_in_order_{0};  // spawn_order_ only
  sync::atomic<bool> waiting_{false};
  sync::mutex idle_mu_;
  sync::condition_variable idle_cv_;
};

}  // namespace weft::detail
