// time_driver — a worker's timers: one timing wheel behind one lock.
//
// Design
// ------
// Each worker owns a timer_shard. A task's sleep registers on the shard of
// the worker it runs on (no cross-worker traffic when it is set), the owning
// worker advances its shard each maintenance tick and before it parks, and it
// parks no longer than the shard's next expiration.
//
// Why a lock when only the owner inserts and fires: a task can migrate (be
// stolen) and then be cancelled — its awaiter destroyed — on another worker,
// and shutdown destroys tasks from the shutting-down thread. Those unlink
// from the shard they registered on. The lock is uncontended in the common
// case (same thread).
//
// Firing protocol (under the lock): the wheel unlinks the node; we store
// fired_ (release) and take its waker; we wake it *under the lock*. A
// concurrent canceller blocks on the lock, then sees the node unlinked, so it
// never frees a node we are still touching; after the lock is released the
// node is not touched again. Waking under the lock is safe because schedule
// never takes a shard lock.
//
// Ticks: milliseconds since the runtime's start on steady_clock; a deadline
// is rounded up, "now" down, so nothing fires early.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/time.hpp>

#include "time/timer_wheel.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

struct timer_shard {
  sync::mutex mu;
  timer_wheel wheel;  // guarded by mu
  // The earliest tick at which anything may fire (max: nothing linked). Owner
  // worker only: only the owner inserts and fires, so it is the only writer; a
  // cancel from elsewhere leaves it early, which costs one needless look.
  // Lets the worker skip the clock read and the lock when nothing is due.
  std::uint64_t due_hint = no_timer;
  static constexpr std::uint64_t no_timer = ~std::uint64_t{0};

  /// Link `n` unless already due. True if linked. Owner worker only.
  bool insert(timer_node& n) {
    sync::lock_guard<sync::mutex> lock(mu);
    if (!wheel.insert(n)) return false;
    due_hint = wheel.next_expiration().value_or(no_timer);
    return true;
  }

  /// Unlink `n` if still linked. True if it was (it will never fire).
  bool cancel(timer_node& n) noexcept {
    sync::lock_guard<sync::mutex> lock(mu);
    if (!n.is_linked()) return false;
    wheel.remove(n);
    return true;
  }

  /// Fire everything due at `now_tick`. Returns how many fired. Owner only.
  std::size_t fire_due(std::uint64_t now_tick) {
    sync::lock_guard<sync::mutex> lock(mu);
    const std::size_t fired = wheel.advance(now_tick, [](timer_entry& e) {
      auto& n = static_cast<timer_node&>(e);
      raw_waker w = n.waker_;
      n.waker_ = {};
      // ORDERING: release: the awaiter's destructor acquires fired_ and then
      // skips the lock; it must see the waker already taken.
      n.fired_.store(true, std::memory_order_release);
      waker owned{w};
      owned.wake();
    });
    due_hint = wheel.next_expiration().value_or(no_timer);
    return fired;
  }

  /// The earliest tick at which something may fire.
  std::optional<std::uint64_t> next_expiration() {
    sync::lock_guard<sync::mutex> lock(mu);
    return wheel.next_expiration();
  }
};

/// The runtime's clock: steady_clock ticks of 1 ms from `start`.
///
/// Paused (runtime_builder::start_paused, current-thread runtimes only): time
/// is virtual. It stands still from the runtime's start; the single worker
/// moves it forward to its next timer when it has nothing else to run
/// (advance_to), so timer tests run instantly and in a fixed order. The
/// virtual offset is written only by that worker; other threads may read it.
class tick_clock {
 public:
  explicit tick_clock(bool paused = false)
      : start_(std::chrono::steady_clock::now()), paused_(paused) {}

  [[nodiscard]] bool paused() const noexcept { return paused_; }

  [[nodiscard]] std::chrono::steady_clock::time_point now() const noexcept {
    if (!paused_) return std::chrono::steady_clock::now();
    // ORDERING: relaxed: a monotonic value with no data attached to it.
    return start_ + std::chrono::nanoseconds(virtual_ns_.load(std::memory_order_relaxed));
  }

  /// Paused only: move virtual time forward to `tp` (never backward).
  void advance_to(std::chrono::steady_clock::time_point tp) noexcept {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp - start_).count();
    // ORDERING: relaxed: see now().
    if (ns > virtual_ns_.load(std::memory_order_relaxed)) {
      virtual_ns_.store(ns, std::memory_order_relaxed);
    }
  }

  /// Ticks elapsed now (rounded down).
  [[nodiscard]] std::uint64_t now_tick() const { return to_tick_floor(now()); }
  /// The first tick at or after `tp` (rounded up). Saturating: no tick lies
  /// past last_tick() (the last whole millisecond before time_point::max()),
  /// so a deadline of "forever" (time_point::max()) gets last_tick() and
  /// time_of() of any tick is representable.
  [[nodiscard]] std::uint64_t tick_for(std::chrono::steady_clock::time_point tp) const {
    if (tp <= start_) return 0;
    const auto up = static_cast<std::uint64_t>(
        std::chrono::ceil<std::chrono::milliseconds>(tp - start_).count());
    return up < last_tick_ ? up : last_tick_;
  }
  [[nodiscard]] std::chrono::steady_clock::time_point time_of(std::uint64_t tick) const {
    if (tick > last_tick_) tick = last_tick_;
    return start_ + std::chrono::milliseconds(static_cast<std::int64_t>(tick));
  }
  [[nodiscard]] std::uint64_t last_tick() const noexcept { return last_tick_; }

 private:
  [[nodiscard]] std::uint64_t to_tick_floor(std::chrono::steady_clock::time_point tp) const {
    if (tp <= start_) return 0;
    return static_cast<std::uint64_t>(
        std::chrono::floor<std::chrono::milliseconds>(tp - start_).count());
  }
  const std::chrono::steady_clock::time_point start_;
  // tp - start_ cannot overflow: start_ >= 0 on steady_clock.
  const std::uint64_t last_tick_ = static_cast<std::uint64_t>(
      std::chrono::floor<std::chrono::milliseconds>(std::chrono::steady_clock::time_point::max() -
                                                    start_)
          .count());
  const bool paused_;
  sync::atomic<std::int64_t> virtual_ns_{0};
};

}  // namespace weft::detail
