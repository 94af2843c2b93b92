// weft/detail/race.hpp — run an operation against a "stop" branch (a
// deadline, a cancellation token): whichever finishes first decides.
//
// This is weft::when_any of two branches (first_finished_driver in
// branch_drivers.hpp, the same code), with the answer shaped as a result<R>:
// if the operation finishes first its value is returned (the stop branch is
// cancelled: a timer unlinks, a token wait unlinks). If the stop branch
// finishes first, the operation is cancelled — destroyed at once, or, when
// the kernel still owns its buffer, once its completion is back — and `lost`
// is returned. Nothing of the operation runs after the race has returned. An
// exception from the operation propagates (the stop branch is cancelled
// first).
#pragma once

#include <weft/detail/branch_drivers.hpp>
#include <weft/detail/branch_set.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// The state of a race (see branch_drivers.hpp). A is the operation's type as
/// forwarded: an lvalue reference (referred to) or an object type (moved into
/// its branch).
template <class R, class A, class MakeStop>
struct race_state {
  using result_type = result<R>;
  using value_type = branch_value_t<R>;

  MakeStop make_stop;
  errc lost;
  A op;
  std::optional<value_type> out{};

  [[nodiscard]] std::size_t branch_count() const noexcept { return 2; }
  void add_branches(branch_set_owner& set) {
    add_branch<A>(set, static_cast<A&&>(op), store_in<value_type>{&out});
    set.add(check_created(make_stop()));
  }
  result_type finish(std::size_t winner) {
    if (winner == 1) return result_type{make_error_code(lost)};
    if constexpr (std::is_void_v<R>) {
      return result_type{};
    } else {
      return result_type{std::move(*out)};
    }
  }
};

/// `make_stop()` makes the stop branch (a cell<void> parked at start). The
/// branches are made when the race is first awaited, not here, so a race
/// that is never awaited owns nothing but `a`.
template <class R, class A, class MakeStop>
task<result<R>> race_driver(MakeStop make_stop, errc lost, A&& a) {
  return first_finished_driver(
      race_state<R, A, MakeStop>{std::move(make_stop), lost, static_cast<A&&>(a)});
}

}  // namespace weft::detail
