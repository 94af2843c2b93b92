// weft/detail/race.hpp — run an operation against a "stop" branch (a
// deadline, a cancellation token): whichever finishes first decides.
//
// Both are branches of one task (branch_set.hpp). If the operation finishes
// first its value is returned (the stop branch is destroyed: a timer
// unlinks, a token wait unlinks). If the stop branch finishes first, the
// operation is cancelled — destroyed at once, or, when the kernel still owns
// its buffer, once its completion is back — and `lost` is returned. Nothing
// of the operation runs after the race has returned.
#pragma once

#include <weft/detail/branch_set.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

#include <type_traits>

namespace weft::detail {

/// `make_stop()` makes the stop branch (a cell<void> parked at start). The
/// branches are made here, not by the caller, so a race that is never
/// awaited owns nothing but `a`.
template <class R, class A, class MakeStop>
task<result<R>> race_driver(MakeStop make_stop, errc lost, A a) {
  branch_set_owner<2> set({check_created(make_ref_await_cell<R, A>(a)).header,
                           make_stop().header});
  for (;;) {
    set.run_ready();
    if (set.is_finished(0)) {
      if constexpr (std::is_void_v<R>) {
        cell_promise<void>::of_unchecked(set.branch(0)).take();
        co_return result<void>{};
      } else {
        co_return result<R>{cell_promise<R>::of_unchecked(set.branch(0)).take()};
      }
    }
    if (set.is_finished(1)) {
      // The stop branch won: cancel the operation and wait until it is gone
      // (an I/O branch lingers until the kernel gives its buffer back).
      while (!set.cancel_unfinished()) co_await set.wait();
      co_return result<R>{make_error_code(lost)};
    }
    co_await set.wait();
  }
}

}  // namespace weft::detail
