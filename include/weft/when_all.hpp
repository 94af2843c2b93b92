// weft/when_all.hpp — await several operations at once, all of them.
//
//   auto [user, _, posts] = co_await weft::when_all(fetch_user(id), weft::sleep(10ms),
//                                                   fetch_posts(id));
//   std::vector<int> sizes = co_await weft::when_all(tasks);   // a range
//
// Each operation runs as a *branch* of the awaiting task (see
// weft/detail/branch_set.hpp): concurrently with the others, interleaved at
// their suspension points, but never in parallel — branches are stepped by
// the awaiting task itself, inside its own steps.
//
// when_all(a, b, c...) — any awaitables (tasks, join handles, sleeps, I/O,
// other combinators), each of its own type:
// - completes with: std::tuple<R1, R2, ...> of their results in argument
//   order, once all have finished. A void result is std::monostate, an lvalue
//   reference result a std::reference_wrapper. when_all() with no argument
//   completes at once with std::tuple<>.
// - failure: if an operation throws, the others are cancelled — their
//   coroutines destroyed, an io_uring operation cancelled in the kernel and
//   its completion awaited — and only then is that (first) exception rethrown.
//   Nothing of any operation runs after when_all has returned or thrown.
//
// when_all(range) — a forward range (std::vector, std::span, a view, ...) of
// awaitables of one type:
// - completes with: std::vector<R> of the results in range order; if R is
//   void, when_all returns void. An empty range completes at once with an
//   empty vector (or nothing), without suspending.
// - failure: as above.
// - the elements: an lvalue range, or a view / borrowed range (std::span), is
//   referred to: its elements are awaited where they are and must outlive the
//   await. An owning range passed as an rvalue is moved in and each element
//   is moved into its branch; so is each element of a range that yields
//   prvalues (e.g. std::views::transform making tasks).
//
// Both forms:
// - arguments: lvalues are referred to (they must outlive the await), rvalues
//   are moved in — as with weft::timeout. Nothing starts until the result is
//   awaited; a when_all that is never awaited only owns its arguments.
// - cancellation: destroying the awaiting coroutine destroys every branch. If
//   the awaiting task is cancelled while it waits (it is itself the branch of
//   a timeout, with_cancellation, when_any or a failed when_all), every
//   branch is cancelled first, I/O in the kernel included, all the way down.
//   An operation referred to as an lvalue is left cancelled: a weft::task
//   must then only be destroyed, not awaited again; a join_handle stays
//   usable (the joined task runs on — cancelling a join never cancels the
//   task).
// - resumes on: the awaiting task's runtime (its worker, or its block_on
//   thread); every branch runs inside the awaiting task's steps, on the
//   thread running it.
// - runtime shutdown: the awaiting task is destroyed with every branch (the
//   I/O drivers are quiesced first).
// - allocation: one cell per operation (header + its awaiting frame; a
//   weft::task operation also has its own frame, as when awaited directly)
//   plus the driver coroutine; also one branch-set block sized by the number
//   of operations (ready list, a pointer per branch), and for a range the
//   vector of results (built in place, then moved into the returned vector).
// - budget: every branch's ready awaits count against the awaiting task's
//   cooperative budget; a branch that yields makes the awaiting task yield.
#pragma once

#include <weft/detail/branch_drivers.hpp>
#include <weft/detail/branch_set.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <iterator>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

namespace detail {

template <class... As>
struct all_of_args_state {
  using result_type = std::tuple<branch_value_t<await_result_t<As>>...>;

  std::tuple<As...> args;
  std::tuple<std::optional<branch_value_t<await_result_t<As>>>...> out{};

  [[nodiscard]] std::size_t branch_count() const noexcept { return sizeof...(As); }
  void add_branches(branch_set_owner& set) { add(set, std::index_sequence_for<As...>{}); }
  result_type finish() {
    return std::apply([](auto&... o) { return result_type(std::move(*o)...); }, out);
  }

 private:
  template <std::size_t... I>
  void add(branch_set_owner& set, std::index_sequence<I...>) {
    (add_branch<As>(set, static_cast<As&&>(std::get<I>(args)),
                    store_in<branch_value_t<await_result_t<As>>>{&std::get<I>(out)}),
     ...);
  }
};

template <class Range>
struct all_of_range_state {
  using arg_t = range_branch_arg_t<Range>;
  using awaited_t = await_result_t<arg_t>;
  static constexpr bool is_void = std::is_void_v<awaited_t>;
  using value_type = branch_value_t<awaited_t>;
  using result_type = std::conditional_t<is_void, void, std::vector<value_type>>;

  Range range;  // a reference, or the moved-in range
  std::vector<std::optional<value_type>> out{};

  [[nodiscard]] std::size_t branch_count() {
    return static_cast<std::size_t>(std::ranges::distance(range));
  }
  void add_branches(branch_set_owner& set) {
    if constexpr (!is_void) out.resize(branch_count());
    std::size_t i = 0;
    for (auto&& e : range) {
      if constexpr (is_void) {
        add_branch<arg_t>(set, static_cast<arg_t&&>(e), discard_result{});
      } else {
        add_branch<arg_t>(set, static_cast<arg_t&&>(e), store_in<value_type>{&out[i]});
      }
      ++i;
    }
  }
  result_type finish() {
    if constexpr (!is_void) {
      std::vector<value_type> values;
      values.reserve(out.size());
      for (auto& o : out) values.push_back(std::move(*o));
      return values;
    }
  }
};

}  // namespace detail

/// Await every one of `as` concurrently (see the header comment).
template <class... As>
  requires(detail::awaitable<As> && ...)
task<std::tuple<detail::branch_value_t<detail::await_result_t<As>>...>> when_all(As&&... as) {
  return detail::all_finished_driver(
      detail::all_of_args_state<As...>{std::tuple<As...>(static_cast<As&&>(as)...)});
}

/// Await every awaitable of `range` concurrently (see the header comment).
template <class Range>
  requires detail::awaitable_range<Range>
task<typename detail::all_of_range_state<Range>::result_type> when_all(Range&& range) {
  return detail::all_finished_driver(
      detail::all_of_range_state<Range>{static_cast<Range&&>(range)});
}

}  // namespace weft
