// weft/sync/queued_awaiter.hpp — the awaiter state machine shared by every
// sync primitive whose wait either completes at once or queues a node:
// notify::notified, event::wait, latch::wait, barrier::arrive_and_wait and
// (through permit_acquire) mutex, shared_mutex and semaphore.
//
// The awaiter owns its queue node. Its states, all owned by the awaiting
// task's thread:
//   idle    nothing taken (never awaited)
//   held    the wait completed at once (a permit, a set state, an open
//           latch...) but the caller has not resumed yet: maybe yielding for
//           the cooperative budget
//   queued  the node was linked; under the primitive's lock, linked == still
//           waiting, unlinked == released (whatever it waited for is ours)
//   done    await_resume ran
//   moved   moved from: the wait, if any, belongs to the awaiter it moved to
//
//   idle ──ready()/suspend() takes──▶ held ──resume()──▶ done
//     │                                 ▲                  ▲
//     └──suspend() links──▶ queued ─────┴─(released)───────┘ resume()
//   idle/done ──moved from──▶ moved
// Awaiting in any state but idle (a second co_await, or a moved-from
// awaitable) is the user's misuse: it throws std::logic_error in every build
// (a second wait would re-link the node or take the primitive twice).
// The destructor is the cancellation path: held → give back what was taken;
// queued → the primitive's withdraw (unlink if still linked, else pass the
// release on). Both hooks are the primitive's, passed as callables, so the
// whole machine inlines: no virtual call, no allocation.
//
// Budget: a wait that completes at once counts against the cooperative
// budget; when it is spent the task yields first, keeping what it took.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/waker.hpp>

#include <cassert>
#include <coroutine>
#include <cstdint>

namespace weft::detail {

/// Throws std::logic_error saying the sync awaitable was awaited a second
/// time (`moved_from` false) or after it was moved from. Out of line
/// (src/sync/misuse.cpp).
[[noreturn]] void throw_sync_awaitable_reused(bool moved_from);

/// `Node` is the primitive's queue node (a waiter_node). Movable only before
/// it is awaited (with_cancellation and timeout move the awaitable in).
template <class Node>
class queued_awaiter {
 public:
  queued_awaiter() noexcept = default;
  /// The new awaiter takes `o`'s place: awaitable if `o` was (idle), spent
  /// otherwise (awaiting it throws); `o` becomes moved-from (awaiting it
  /// throws). An awaiter that is held or queued belongs to its suspended
  /// coroutine; it is left as it is.
  queued_awaiter(queued_awaiter&& o) noexcept
      : state_(o.state_ == state::idle || o.state_ == state::moved ? o.state_ : state::done) {
    if (o.state_ == state::idle || o.state_ == state::done) o.state_ = state::moved;
  }
  queued_awaiter(const queued_awaiter&) = delete;
  queued_awaiter& operator=(const queued_awaiter&) = delete;
  queued_awaiter& operator=(queued_awaiter&&) = delete;
  ~queued_awaiter() = default;  // the owner calls cancel() from its destructor

  [[nodiscard]] Node& node() noexcept { return node_; }
  [[nodiscard]] const Node& node() const noexcept { return node_; }

  /// await_ready: `try_take()` completes the wait at once or not (false:
  /// await_suspend follows). Keeps what it took and yields instead of
  /// completing when the step's budget is spent.
  /// Throws std::logic_error if it was awaited before, or moved from.
  template <class TryTake>
  bool ready(TryTake&& try_take) {
    check_awaitable();
    if (!try_take()) return false;
    state_ = state::held;
    yield_ = !consume_budget();
    return !yield_;
  }

  /// await_suspend: `take_or_enqueue(node, wk)` completes the wait at once
  /// (true; `wk` untouched) or links `node` with `wk` moved into it (false).
  /// Throws std::logic_error (nothing taken) if it was awaited before, or
  /// moved from (for owners that go straight here: barrier).
  template <class TakeOrEnqueue>
  bool suspend(std::coroutine_handle<> h, TakeOrEnqueue&& take_or_enqueue) {
    if (yield_ && state_ == state::held) {
      detail::suspend_current_and_reschedule(h);  // budget spent: let others run
      return true;
    }
    check_awaitable();
    waker w = suspend_current(h);  // may throw (not in a task): nothing taken yet
    if (!take_or_enqueue(node_, w)) {
      state_ = state::queued;  // a release may already have woken us: we are RUNNING,
      return true;             // so the runner re-queues us when this step ends
    }
    state_ = state::held;  // freed between await_ready and here
    if (consume_budget()) return false;
    w.wake();  // budget spent: we are RUNNING, so this re-queues us after the step
    return true;
  }

  /// await_resume: the wait completed and the caller has it now.
  void resume() noexcept {
    assert(!node_.linked);  // INVARIANT: resumed only once released
    state_ = state::done;
  }

  /// The owner's destructor: held → `give_back()` (taken, never handed out);
  /// queued → `withdraw(node)` (still queued, or released but never resumed).
  template <class GiveBack, class Withdraw>
  void cancel(GiveBack&& give_back, Withdraw&& withdraw) noexcept {
    if (state_ == state::held) {
      give_back();
    } else if (state_ == state::queued) {
      withdraw(node_);
    }
  }

 private:
  enum class state : std::uint8_t { idle, held, queued, done, moved };

  void check_awaitable() const {
    if (state_ != state::idle) throw_sync_awaitable_reused(state_ == state::moved);
  }

  Node node_;
  state state_ = state::idle;
  bool yield_ = false;
};

}  // namespace weft::detail
