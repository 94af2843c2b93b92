// weft/with_cancellation.hpp — await anything under a cancellation token.
//
//   weft::cancellation_source stop;
//   auto conn = co_await weft::with_cancellation(stop.token(), listener.accept());
//   if (!conn) ...  // errc::operation_canceled once stop.cancel() ran
//
// Works for every weft awaitable — an accept, a read, a sleep, a join, a
// channel — because the operation runs as a branch of the awaiting task next
// to a branch waiting for the token, exactly as weft::timeout does with its
// deadline.
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/race.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {
inline cell<void> make_cancelled_branch(cancellation_token token) {
  co_await start_parked{};
  co_await token.cancelled();
}

template <class R>
task<result<R>> already_cancelled() {
  co_return result<R>{make_error_code(errc::operation_canceled)};
}
}  // namespace detail

/// Await `a` unless `token` is cancelled first.
///
/// - completes with: result<R> holding a's value, or errc::operation_canceled
///   (also at once, without starting `a`, if the token is already
///   cancelled). An exception from `a` propagates.
/// - cancellation: when the token fires, `a` is cancelled — its coroutine
///   destroyed, an I/O operation cancelled in the kernel first — before this
///   returns, so nothing of it runs afterwards. If `a` had already completed
///   when the token fired, its value wins.
/// - resumes on: the awaiting task's runtime.
/// - allocation: the driver coroutine, one cell for the operation and one for
///   the token wait (none if the token is already cancelled).
/// `a` is moved in if it is an rvalue, and referred to if it is an lvalue (it
/// must then outlive the await).
template <class A>
  requires detail::awaitable<A>
task<result<detail::await_result_t<A>>> with_cancellation(cancellation_token token, A&& a) {
  using R = detail::await_result_t<A>;
  if (token.is_cancelled()) return detail::already_cancelled<R>();
  return detail::race_driver<R, A>(
      [token = std::move(token)] { return detail::make_cancelled_branch(token); },
      errc::operation_canceled, static_cast<A&&>(a));
}

}  // namespace weft
