// weft/block_on.hpp — weft::block_on(awaitable) without a runtime.
//
// The smallest runner there is: it runs the awaitable on the calling thread
// and, whenever it suspends, parks the thread until a waker fires. It is the
// C++ form of the "extreme" runner (see docs/design.md), with the four bugs
// found there designed out:
//   1. a waker kept and woken after block_on returned: the runner's parker is
//      reference-counted and owned by the root cell, which every waker keeps
//      alive, so a late wake touches live memory and does nothing;
//   2. waker clone/drop counting: wakers count references on the header with
//      one atomic; the last drop frees;
//   3. thread-park races: the runner parks on its own futex word, never on a
//      thread-global park token that other code may consume;
//   4. a result consumed twice: the root's outcome is taken once, by
//      block_on, before the root is released.
//
// - completes with: the awaitable's result, or rethrows its exception.
// - which thread: everything runs on the calling thread.
// - misuse: calling it on a thread that already runs a weft runner (a worker,
//   or inside another block_on) throws std::system_error(errc::nested_runtime):
//   nested event loops deadlock. co_await the operation instead.
// - timers and spawn need a runtime: use runtime::block_on for those.
// - allocation: one root cell and one parker per call.
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/join_handle.hpp>

#include <utility>

namespace weft {

namespace detail {
/// Run the root cell `t` (one reference, owned by the caller) to completion on
/// this thread. Throws errc::nested_runtime if this thread already runs one.
void run_block_on(task_header* t);

}  // namespace detail

template <class A>
  requires detail::awaitable<A>
decltype(auto) block_on(A&& a) {
  using R = detail::await_result_t<A>;
  // The root refers to `a`, which lives in our caller until we return.
  detail::cell<R> root = detail::check_created(detail::make_ref_await_cell<R, A>(a));
  // The root's creator reference becomes a join_handle: it takes the outcome
  // once and releases the root on every path.
  root.header->prepare_unpublished(detail::task_header::join_interest, 0);
  join_handle<R> h{root.header};
  detail::run_block_on(root.header);
  return h.take_ready();
}

}  // namespace weft
