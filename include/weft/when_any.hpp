// weft/when_any.hpp — await several operations at once, the first to finish.
//
//   weft::any_of<std::string, void> r =
//       co_await weft::when_any(conn.read_line(), weft::sleep(5s));
//   if (r.index == 0) use(std::get<0>(r.value));
//
//   auto [i, value] = co_await weft::when_any(tasks);      // a range
//
// Each operation runs as a *branch* of the awaiting task (see
// weft/detail/branch_set.hpp): concurrently with the others, interleaved at
// their suspension points, but never in parallel — branches are stepped by
// the awaiting task itself, inside its own steps. weft::timeout and
// weft::with_cancellation are this same mechanism with two branches.
//
// when_any(a, b, c...) — any awaitables, each of its own type:
// - completes with: weft::any_of<R1, R2, ...>: `index`, the position of the
//   winner, and `value`, a std::variant<R1, R2, ...> holding its result as
//   alternative `index` (std::in_place_index, so the same type may appear
//   twice; a void result is std::monostate, an lvalue reference result a
//   std::reference_wrapper).
// when_any(range) — a forward range (std::vector, std::span, a view, ...) of
// awaitables of one type (elements referred to or moved in exactly as for
// weft::when_all(range)):
// - completes with: std::pair<std::size_t, R>: the winner's position in the
//   range and its result (void: std::monostate).
// - misuse: an empty range throws std::invalid_argument from the call (there
//   would be nothing to wait for, forever).
//
// Both forms:
// - the winner is the first branch to finish. Branches are stepped in the
//   order they become ready, at first in argument (range) order, and the
//   first step that finishes a branch decides; no other branch takes a step
//   after that. So among operations that finish without waiting, the
//   leftmost wins and the ones after it never start.
// - the losers are cancelled AND awaited until they are gone before
//   when_any returns: a loser waiting on a timer, a token, a join, a channel
//   is destroyed at once (its destructors withdraw the wait); an io_uring
//   operation is cancelled in the kernel and its completion awaited first
//   (on epoll cancelling is synchronous). A moved-in loser is destroyed
//   whole (a weft::task's frame with it); one referred to as an lvalue is
//   left cancelled: a weft::task must then only be destroyed, not awaited
//   again; a join_handle stays usable (the joined task runs on — cancelling
//   a join never cancels the task). Nothing of a loser runs after when_any
//   has returned.
// - a loser whose operation had completed, but whose branch had not yet
//   taken the step that finishes it when the winner was chosen, is cancelled
//   all the same: its value is dropped (for an io_uring read the bytes are
//   lost, as with weft::timeout; an accepted socket is closed).
// - failure: if the winner throws, the losers are cancelled as above, then
//   the exception is rethrown.
// - arguments: lvalues are referred to (they must outlive the await), rvalues
//   are moved in — as with weft::timeout. Nothing starts until the result is
//   awaited.
// - cancellation: destroying the awaiting coroutine destroys every branch. If
//   the awaiting task is cancelled while it waits (it is itself the branch of
//   a timeout, with_cancellation, another when_any or a failed when_all),
//   every branch is cancelled first, I/O in the kernel included, all the way
//   down.
// - resumes on: the awaiting task's runtime (its worker, or its block_on
//   thread); every branch runs inside the awaiting task's steps, on the
//   thread running it.
// - runtime shutdown: the awaiting task is destroyed with every branch (the
//   I/O drivers are quiesced first).
// - allocation: one cell per operation (header + its awaiting frame; a
//   weft::task operation also has its own frame, as when awaited directly)
//   plus the driver coroutine; also one branch-set block sized by the number
//   of operations (ready list, a pointer per branch).
// - budget: every branch's ready awaits count against the awaiting task's
//   cooperative budget; a branch that yields makes the awaiting task yield.
//
// weft::select(...) is the same function under another name.
#pragma once

#include <weft/detail/branch_drivers.hpp>
#include <weft/detail/branch_set.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/task.hpp>

#include <cassert>
#include <cstddef>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {

/// The result of when_any(a, b, c...): which operation won and its value.
/// `value` holds alternative `index` (void results are std::monostate).
template <class... Rs>
struct any_of {
  using variant_type = std::variant<detail::branch_value_t<Rs>...>;

  std::size_t index;
  variant_type value;

  /// The winner's value, if it was operation I (std::get<I>: throws
  /// std::bad_variant_access otherwise).
  template <std::size_t I>
  decltype(auto) get() & {
    return std::get<I>(value);
  }
  template <std::size_t I>
  decltype(auto) get() const& {
    return std::get<I>(value);
  }
  template <std::size_t I>
  decltype(auto) get() && {
    return std::get<I>(std::move(value));
  }
};

namespace detail {

template <class... As>
struct any_of_args_state {
  using result_type = any_of<await_result_t<As>...>;
  using variant_type = typename result_type::variant_type;

  std::tuple<As...> args;
  std::optional<variant_type> out{};

  [[nodiscard]] std::size_t branch_count() const noexcept { return sizeof...(As); }
  void add_branches(branch_set_owner& set) { add(set, std::index_sequence_for<As...>{}); }
  result_type finish(std::size_t winner) {
    assert(out.has_value() && out->index() == winner);  // INVARIANT: the winner stored it
    return result_type{winner, std::move(*out)};
  }

 private:
  template <std::size_t... I>
  void add(branch_set_owner& set, std::index_sequence<I...>) {
    (add_branch<As>(set, static_cast<As&&>(std::get<I>(args)),
                    store_alternative<I, variant_type>{&out}),
     ...);
  }
};

template <class Range>
struct any_of_range_state {
  using arg_t = range_branch_arg_t<Range>;
  using value_type = branch_value_t<await_result_t<arg_t>>;
  using result_type = std::pair<std::size_t, value_type>;

  Range range;  // a reference, or the moved-in range
  std::optional<value_type> out{};

  [[nodiscard]] std::size_t branch_count() {
    return static_cast<std::size_t>(std::ranges::distance(range));
  }
  void add_branches(branch_set_owner& set) {
    // Only the winner stores its value: a loser never takes the step that
    // would finish it.
    for (auto&& e : range) {
      add_branch<arg_t>(set, static_cast<arg_t&&>(e), store_in<value_type>{&out});
    }
  }
  result_type finish(std::size_t winner) {
    assert(out.has_value());  // INVARIANT: the winner stored it
    return result_type{winner, std::move(*out)};
  }
};

}  // namespace detail

/// Await the first of `as` to finish; cancel the others (see the header
/// comment).
template <class... As>
  requires(sizeof...(As) > 0 && (detail::awaitable<As> && ...))
task<any_of<detail::await_result_t<As>...>> when_any(As&&... as) {
  return detail::first_finished_driver(
      detail::any_of_args_state<As...>{std::tuple<As...>(static_cast<As&&>(as)...)});
}

/// when_any() with nothing to wait for is refused at compile time.
template <class... As>
  requires(sizeof...(As) == 0)
void when_any(As&&...) {
  static_assert(sizeof...(As) != 0, "weft::when_any needs at least one awaitable");
}

/// Await the first awaitable of `range` to finish; cancel the others (see
/// the header comment). Throws std::invalid_argument if the range is empty.
template <class Range>
  requires detail::awaitable_range<Range>
task<typename detail::any_of_range_state<Range>::result_type> when_any(Range&& range) {
  if (std::ranges::empty(range)) {
    throw std::invalid_argument(
        "weft::when_any: the range of awaitables is empty, so no operation could ever win; "
        "check for an empty range before calling (weft::when_all accepts one)");
  }
  return detail::first_finished_driver(
      detail::any_of_range_state<Range>{static_cast<Range&&>(range)});
}

/// The same as weft::when_any.
template <class... Args>
  requires requires(Args&&... args) { weft::when_any(static_cast<Args&&>(args)...); }
auto select(Args&&... args) {
  return weft::when_any(static_cast<Args&&>(args)...);
}

}  // namespace weft
