// weft/time.hpp — sleep, sleep_until, timeout, interval.
//
// Timers live on the timer wheel of the worker the waiting task runs on
// (6 levels × 64 slots, 1 ms ticks; see src/time/). A deadline is rounded up
// to the next millisecond tick, so a sleep never ends early; it ends when the
// worker next looks at its wheel at or after the deadline (a parked worker
// sleeps exactly until its next deadline).
#pragma once

#include <weft/detail/branch_set.hpp>
#include <weft/detail/context.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/race.hpp>
#include <weft/detail/runtime_api.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/detail/timer_entry.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>
#include <weft/waker.hpp>

#include <chrono>
#include <coroutine>
#include <type_traits>
#include <utility>

namespace weft {

/// weft measures time on std::chrono::steady_clock.
using steady_clock = std::chrono::steady_clock;

namespace detail {
/// The time of the runtime running on this thread (virtual when it was built
/// with start_paused), else steady_clock::now().
steady_clock::time_point runtime_now() noexcept;
}  // namespace detail

/// Now, as the runtime's timers see it: steady_clock::now(), except on a
/// runtime built with runtime_builder::start_paused, whose clock is virtual
/// (it stands still while tasks run and jumps to the next timer when every
/// task waits). Deadlines for sleep_until/timeout_at should come from here.
inline steady_clock::time_point now() noexcept { return detail::runtime_now(); }

namespace detail {
/// A timer entry that wakes a task when it fires.
struct timer_node : timer_entry {
  raw_waker waker_;                       // counted; taken by the firing thread
  sync::atomic<bool> fired_{false};        // set under the shard lock, then woken
};
}  // namespace detail

/// The awaitable returned by sleep and sleep_until.
///
/// - completes with: nothing (void), at or after the deadline.
/// - cancellation: destroying the waiting coroutine (weft::timeout, shutdown)
///   unlinks the timer; nothing fires afterwards. A sleep passed by reference
///   into a race it lost may be awaited again: it waits for the same deadline.
///   Destroying the sleep unlinks it too.
/// - resumes on: the runtime's workers (the same task, possibly another worker).
/// - runtime shutdown: the waiting task is destroyed with the timer unlinked.
/// - allocation: none; the timer node lives in this awaiter.
/// - needs a runtime: awaiting it outside one throws errc::no_runtime.
/// A deadline already passed completes at once (counted against the budget).
class [[nodiscard]] sleep_awaiter {
 public:
  explicit sleep_awaiter(steady_clock::time_point deadline) noexcept : deadline_(deadline) {}
  sleep_awaiter(const sleep_awaiter&) = delete;
  sleep_awaiter& operator=(const sleep_awaiter&) = delete;
  sleep_awaiter(sleep_awaiter&& o) noexcept : deadline_(o.deadline_) {}  // only before awaiting
  ~sleep_awaiter() { cancel(); }

  bool await_ready() {
    // Awaited again after losing a race (weft::timeout or when_any around a
    // reference to this sleep): its timer may still be registered, with the
    // lost branch's waker. Withdraw it; this await registers afresh for the
    // same deadline.
    cancel();
    if (detail::runtime_now() < deadline_) return false;
    yield_ = !detail::consume_budget();
    return !yield_;
  }

  bool await_suspend(std::coroutine_handle<> h) {
    detail::runtime_core& rt = detail::runtime_for("weft::sleep");
    if (yield_) {
      detail::suspend_current_and_reschedule(h);  // budget spent: let others run
      return true;
    }
    waker w = suspend_current(h);
    // ORDERING: relaxed: the node is unlinked (cancel above, or never
    // registered), so no firing thread can see it until timer_register
    // publishes it under the shard's lock.
    node_.fired_.store(false, std::memory_order_relaxed);
    node_.deadline = detail::timer_tick_for(rt, deadline_);
    node_.waker_ = w.release();
    if (!detail::timer_register(rt, node_, shard_)) {
      waker dropped{std::exchange(node_.waker_, {})};
      return false;  // already due
    }
    registered_ = true;
    return true;
  }

  void await_resume() noexcept { registered_ = false; }

  [[nodiscard]] steady_clock::time_point deadline() const noexcept { return deadline_; }

 private:
  void cancel() noexcept {
    if (!registered_) return;
    registered_ = false;
    // ORDERING: acquire: pairs with the firing thread's release store; if it
    // fired, the node is unlinked and its waker taken: nothing to do.
    if (node_.fired_.load(std::memory_order_acquire)) return;
    if (detail::timer_cancel(shard_, node_)) {
      waker dropped{std::exchange(node_.waker_, {})};
    }
  }

  steady_clock::time_point deadline_;
  detail::timer_node node_;
  detail::timer_shard* shard_ = nullptr;
  bool registered_ = false;
  bool yield_ = false;
};

/// Complete at or after `deadline`.
inline sleep_awaiter sleep_until(steady_clock::time_point deadline) noexcept {
  return sleep_awaiter{deadline};
}

/// Complete after `d` has elapsed (measured from this call, on weft::now()).
/// A duration past the clock's range (hours::max(), say) waits until
/// steady_clock::time_point::max(), i.e. forever; a negative one means now.
template <class Rep, class Period>
sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) noexcept {
  return sleep_awaiter{detail::deadline_after(weft::now(), d)};
}

namespace detail {
inline cell<void> make_deadline_branch(steady_clock::time_point deadline) {
  co_await start_parked{};
  co_await sleep_until(deadline);
}

}  // namespace detail

/// Await `a`, but give up at `deadline`.
///
/// - completes with: result<R> holding a's value, or errc::timed_out. An
///   exception from `a` propagates.
/// - cancellation: on timeout the operation is cancelled — its coroutine is
///   destroyed, which withdraws whatever it waited on — before this returns,
///   so nothing of it runs afterwards. Destroying the awaiting coroutine
///   cancels both.
/// - resumes on: the awaiting task's runtime.
/// - allocation: the driver coroutine, one cell for the operation and one for
///   the timer.
/// `a` is moved in if it is an rvalue, and referred to if it is an lvalue (it
/// must then outlive the await). A referred-to operation that loses is not
/// destroyed — the caller owns it: a `sleep` may be awaited again; a lock,
/// semaphore or channel awaitable throws std::logic_error if awaited again
/// and holds what it was granted until destroyed; a `task` keeps waiting on
/// whatever it awaits (a lock is granted to it) until the caller destroys it.
/// Pass an rvalue to have the loser cancelled.
template <class A>
  requires detail::awaitable<A>
task<result<detail::await_result_t<A>>> timeout_at(steady_clock::time_point deadline, A&& a) {
  using R = detail::await_result_t<A>;
  return detail::race_driver<R, A>([deadline] { return detail::make_deadline_branch(deadline); },
                                   errc::timed_out, static_cast<A&&>(a));
}

template <class Rep, class Period, class A>
  requires detail::awaitable<A>
task<result<detail::await_result_t<A>>> timeout(std::chrono::duration<Rep, Period> d, A&& a) {
  // Saturating: timeout(nanoseconds::max(), a) never times out; a negative
  // `d` times out at once (unless `a` is ready first).
  return timeout_at(detail::deadline_after(weft::now(), d), static_cast<A&&>(a));
}

/// What an interval does when ticks were missed (the task ran late).
enum class missed_tick_behavior {
  burst,  // fire the missed ticks back to back, then keep the original schedule
  delay,  // next tick one period after the late one
  skip,   // skip the missed ticks; next tick on the original grid
};

/// Ticks every `period`, the first at `start`.
///
///   weft::interval iv(100ms);
///   for (;;) { co_await iv.tick(); ... }
///
/// tick() returns a sleep_awaiter, so it completes, cancels and resumes as
/// weft::sleep does.
class interval {
 public:
  /// `period` in any unit; one past steady_clock's range saturates (ticks
  /// after the first then never come).
  template <class Rep, class Period>
  explicit interval(std::chrono::duration<Rep, Period> period,
                    steady_clock::time_point start = weft::now(),
                    missed_tick_behavior behavior = missed_tick_behavior::burst)
      : period_(detail::saturating_ceil<steady_clock::duration>(period)),
        next_(start),
        behavior_(behavior) {
    if (period_ <= steady_clock::duration::zero()) {
      throw_error(errc::invalid_builder_setting, "weft::interval: the period must be positive");
    }
  }

  /// Wait for the next tick.
  sleep_awaiter tick() {
    const steady_clock::time_point due = next_;
    const steady_clock::time_point now = weft::now();
    // Saturating: a period of years must not wrap the next tick into the past.
    const steady_clock::time_point after_due = detail::saturating_add(due, period_);
    if (now > after_due) {
      switch (behavior_) {
        case missed_tick_behavior::burst:
          next_ = after_due;
          break;
        case missed_tick_behavior::delay:
          next_ = detail::saturating_add(now, period_);
          break;
        case missed_tick_behavior::skip:
          // now > due + period_, so (now - due) / period_ >= 1 periods fit
          // before now: the product is below now - due, no overflow.
          next_ = detail::saturating_add(due, period_ * ((now - due) / period_ + 1));
          break;
      }
    } else {
      next_ = after_due;
    }
    return sleep_awaiter{due};
  }

  [[nodiscard]] steady_clock::duration period() const noexcept { return period_; }
  void reset() { next_ = detail::saturating_add(weft::now(), period_); }

 private:
  steady_clock::duration period_;
  steady_clock::time_point next_;
  missed_tick_behavior behavior_;
};

}  // namespace weft
