// weft/detail/branch_drivers.hpp — the two ways a task awaits a branch set.
//
// Every combinator is one driver coroutine over a branch_set_owner
// (branch_set.hpp) and a *state* object that knows the awaitables and where
// their results go:
//
//   first_finished_driver   weft::when_any / select, and through race.hpp
//                           weft::timeout and weft::with_cancellation: the
//                           first branch to finish wins, the others are
//                           cancelled and awaited until gone.
//   all_finished_driver     weft::when_all: every branch must finish; the
//                           first exception cancels the others the same way.
//
// A state is moved into the driver's frame (a coroutine parameter, destroyed
// after the driver's locals, so after the branch set) and provides:
//
//   using result_type;
//   std::size_t branch_count();                  // fixed before any branch runs
//   void add_branches(branch_set_owner&);        // make and add the cells
//   result_type finish(std::size_t winner);      // first_finished_driver
//   result_type finish();                        // all_finished_driver
//
// The branches are made by the driver, not by the call that returns it, so a
// combinator that is never awaited owns nothing but its arguments.
//
// A branch is a cell<void> (make_branch_cell) that awaits its operation and
// hands the result to a *sink* that writes it straight into the state: no
// result is kept in the cell, and only an exception is taken from it.
#pragma once

#include <weft/detail/branch_set.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/task.hpp>

#include <cassert>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft::detail {

/// What a combinator hands back for an awaited result R: void becomes
/// std::monostate, an lvalue reference a std::reference_wrapper, an rvalue
/// reference the value type (moved from).
template <class R>
struct branch_value {
  using type = R;
};
template <>
struct branch_value<void> {
  using type = std::monostate;
};
template <class T>
struct branch_value<T&> {
  using type = std::reference_wrapper<T>;
};
template <class T>
struct branch_value<T&&> {
  using type = T;
};
template <class R>
using branch_value_t = typename branch_value<R>::type;

/// A sink storing a branch's result in an optional (void: std::monostate).
template <class V>
struct store_in {
  std::optional<V>* out;
  template <class... X>
  void operator()(X&&... x) const {
    out->emplace(static_cast<X&&>(x)...);
  }
};

/// A sink storing a branch's result as alternative I of a variant (so the
/// same type may appear twice).
template <std::size_t I, class Variant>
struct store_alternative {
  std::optional<Variant>* out;
  template <class... X>
  void operator()(X&&... x) const {
    assert(!out->has_value());  // INVARIANT: one winner; losers never finish
    out->emplace(std::in_place_index<I>, static_cast<X&&>(x)...);
  }
};

/// A sink dropping a branch's (void) result.
struct discard_result {
  void operator()() const noexcept {}
};

/// A branch: a cell awaiting `a` and handing the result to `sink` (nothing
/// for a void result). A is an lvalue reference type (the awaitable is
/// referred to where it is and must outlive the branch) or an object type
/// (it is moved into the cell, so cancelling the branch destroys it, and
/// with it e.g. a task's whole frame).
template <class A, class Sink>
cell<void> make_branch_cell(A&& a, Sink sink) {
  using stored_t = std::conditional_t<std::is_lvalue_reference_v<A>, A, std::remove_cvref_t<A>>;
  stored_t aw(static_cast<A&&>(a));
  co_await start_parked{};
  if constexpr (std::is_void_v<await_result_t<A>>) {
    co_await static_cast<A&&>(aw);
    sink();
  } else {
    sink(co_await static_cast<A&&>(aw));
  }
}

/// Make a branch of `a` and add it to `set` (see make_branch_cell).
template <class A, class Sink>
void add_branch(branch_set_owner& set, A&& a, Sink sink) {
  set.add(check_created(make_branch_cell<A>(static_cast<A&&>(a), sink)));
}

/// How a range's elements are handed to their branches: referred to (an
/// lvalue reference type) when the range is an lvalue or borrowed and yields
/// lvalues; otherwise moved in (the element's object type).
template <class Range>
using range_branch_arg_t = std::conditional_t<
    std::is_lvalue_reference_v<std::ranges::range_reference_t<Range>> &&
        (std::is_lvalue_reference_v<Range> || std::ranges::borrowed_range<Range>),
    std::ranges::range_reference_t<Range>,
    std::remove_cvref_t<std::ranges::range_reference_t<Range>>>;

/// A range the range overloads of when_all / when_any accept.
template <class Range>
concept awaitable_range = std::ranges::forward_range<Range> && !awaitable<Range> &&
                          awaitable<range_branch_arg_t<Range>>;

/// Run the branches until the first finishes; cancel the others and wait
/// until they are gone; rethrow the winner's exception, or return
/// st.finish(its position). Nothing of a loser runs after this returns.
template <class State>
task<typename State::result_type> first_finished_driver(State st) {
  branch_set_owner set(st.branch_count());
  st.add_branches(set);
  task_header* first = nullptr;
  while ((first = set.run_until_finished()) == nullptr) co_await set.wait();
  std::exception_ptr failure = branch_set_owner::failure_of(first);
  const std::size_t winner = set.index_of(first);
  while (!set.cancel_unfinished()) co_await set.wait();
  if (failure) std::rethrow_exception(std::move(failure));
  co_return st.finish(winner);
}

/// Run every branch to the end and return st.finish(). If one throws, cancel
/// the others, wait until they are gone and rethrow that (first) exception.
template <class State>
task<typename State::result_type> all_finished_driver(State st) {
  const std::size_t n = st.branch_count();
  std::exception_ptr failure;
  if (n != 0) {
    branch_set_owner set(n);
    st.add_branches(set);
    for (std::size_t remaining = n; remaining != 0;) {
      task_header* done = set.run_until_finished();
      if (done == nullptr) {
        co_await set.wait();
        continue;
      }
      --remaining;
      failure = branch_set_owner::failure_of(done);
      if (failure) break;
    }
    if (failure) {
      while (!set.cancel_unfinished()) co_await set.wait();
    }
  }
  if (failure) std::rethrow_exception(std::move(failure));
  co_return st.finish();
}

}  // namespace weft::detail
