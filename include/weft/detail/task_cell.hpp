// weft/detail/task_cell.hpp — a runtime task: header and frame in one block.
//
// Design
// ------
// A cell is a coroutine whose promise allocates its own frame with room for a
// task_header in front of it:
//
//   block: [ task_header | pad to 16 ][ coroutine frame (promise, locals…) ]
//           ^ header_of_frame(frame)   ^ what operator new returns
//
// One allocation (from the frame allocator) per spawned task. The body of a
// cell is: take the callable and its arguments (moved into the frame as
// coroutine parameters), move them into locals, call, and co_await the result
// if it is awaitable. The locals die when the body ends, so a capturing
// lambda's captures live exactly as long as the task's work.
//
// Destroying the frame and freeing the block are separate events: runtime
// shutdown or a cancelled branch destroys the frame (destructors run) while a
// join_handle or a waker may still hold the header; the block is freed when
// the last reference goes (task_header::unref → release_cell).
//
// Relies on coroutine_handle::address() being the pointer that the promise's
// operator new returned; true of GCC and Clang, and checked on every cell
// creation (a mismatch aborts with a message rather than corrupting memory).
#pragma once

#include <weft/detail/context.hpp>
#include <weft/detail/result_slot.hpp>
#include <weft/detail/task_header.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft::detail {

inline constexpr std::size_t cell_header_space = (sizeof(task_header) + 15) & ~std::size_t{15};

inline task_header* header_of_frame(void* frame) noexcept {
  return reinterpret_cast<task_header*>(static_cast<char*>(frame) - cell_header_space);
}
inline void* frame_of_header(task_header* h) noexcept {
  return reinterpret_cast<char*>(h) + cell_header_space;
}
/// The cell's own coroutine.
inline std::coroutine_handle<> cell_frame(task_header* h) noexcept {
  return std::coroutine_handle<>::from_address(frame_of_header(h));
}

/// Allocate a block for a frame of `frame_size` bytes and construct its header
/// (one reference: the creator's). Returns the frame address.
void* cell_allocate(std::size_t frame_size);
/// The promise's operator delete: frees the block if the last reference is
/// gone, else only records that the frame is destroyed.
void cell_deallocate(void* frame, std::size_t frame_size) noexcept;
/// Check that the compiler placed the frame where operator new said.
void cell_check_frame(void* frame) noexcept;
/// Destroy the frame of a cell that has not finished (destructors run), mark it
/// COMPLETE|CANCELLED and wake its joiner. The header lives on while referenced.
void cell_cancel(task_header* t) noexcept;
/// Cancel a cell that is not running: destroy its frame now if its current
/// leaf allows (no cancel hook, or the hook says it is safe) and return true;
/// otherwise start the leaf's cancellation, mark the cell cancel_pending_ and
/// return false — the leaf's completion will wake the cell, and the owner
/// then calls this again instead of resuming it.
bool cell_request_cancel(task_header* t) noexcept;
/// The body finished: COMPLETE, wake the joiner, tell the scheduler.
void cell_complete(task_header* t) noexcept;

template <class T>
class cell_promise;

/// The return object of a cell coroutine: its header, with the creator's
/// reference.
template <class T>
struct [[nodiscard]] cell {
  using promise_type = cell_promise<T>;
  task_header* header;
};

template <class T>
class cell_promise : public result_slot<T> {
 public:
  static void* operator new(std::size_t size) { return cell_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { cell_deallocate(p, size); }

  cell<T> get_return_object() noexcept {
    auto h = std::coroutine_handle<cell_promise>::from_promise(*this);
    cell_check_frame(h.address());
    task_header* t = header_of_frame(h.address());
    t->resume_at_ = h;
    return cell<T>{t};
  }

  // Cells start eagerly and park at their first statement, `co_await
  // start_parked{}`, after moving their arguments into body locals: so the
  // arguments can be taken by reference (no second copy in the frame), and
  // they die when the body ends.
  std::suspend_never initial_suspend() const noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<cell_promise> h) const noexcept {
      // The runner sees finished_ after resume() returns and completes the
      // cell; the frame stays (holding the output) until the last reference.
      header_of_frame(h.address())->finished_ = true;
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }

  /// The promise of the cell whose header is `t`.
  /// SAFETY: `t` is a cell<T> header and its frame is not destroyed.
  static cell_promise& of_unchecked(task_header* t) noexcept {
    return std::coroutine_handle<cell_promise>::from_address(frame_of_header(t)).promise();
  }
};

template <class A>
concept has_member_co_await = requires(A&& a) { static_cast<A&&>(a).operator co_await(); };
template <class A>
concept has_free_co_await = requires(A&& a) { operator co_await(static_cast<A&&>(a)); };
template <class A>
concept is_awaiter = requires(A& a, std::coroutine_handle<> h) {
  { a.await_ready() } -> std::convertible_to<bool>;
  a.await_resume();
};

/// Anything `co_await` accepts.
template <class A>
concept awaitable = has_member_co_await<A> || has_free_co_await<A> || is_awaiter<A>;

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (has_member_co_await<A>) {
    return static_cast<A&&>(a).operator co_await();
  } else if constexpr (has_free_co_await<A>) {
    return operator co_await(static_cast<A&&>(a));
  } else {
    return static_cast<A&&>(a);
  }
}

template <class A>
using await_result_t = decltype(std::declval<decltype(get_awaiter(std::declval<A>()))&>().await_resume());

/// What a cell running `F(Args...)` produces: the awaited result if the call
/// returns an awaitable, else the call's own result.
template <class R, bool IsAwaitable = awaitable<R>>
struct awaited_or_plain {
  using type = R;
};
template <class R>
struct awaited_or_plain<R, true> {
  using type = await_result_t<R>;
};
template <class F, class... Args>
struct call_result {
  using type = typename awaited_or_plain<std::invoke_result_t<F&, Args&&...>>::type;
};
template <class F, class... Args>
using call_result_t = typename call_result<F, Args...>::type;

/// The first suspension of every cell: its arguments are in locals now; the
/// scheduler resumes it from here on its first run.
struct start_parked {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const noexcept {}
};

/// A cell must be parked at start_parked after creation. If moving its
/// arguments threw, it finished instead: release it and rethrow.
template <class R>
cell<R> check_created(cell<R> c) {
  if (c.header->finished_) {
    task_header* t = c.header;
    struct release_on_exit {
      task_header* t;
      ~release_on_exit() { t->unref(); }
    } guard{t};
    (void)cell_promise<R>::of_unchecked(t).take();  // rethrows
  }
  return c;
}

template <class R, class F, class... Args>
cell<R> make_cell(F&& f, Args&&... args) {
  // Move the callable and arguments into body locals before parking: they
  // are destroyed when the body ends (not when the frame is freed), while
  // whatever the call returns can still refer to them.
  std::decay_t<F> fn(static_cast<F&&>(f));
  std::tuple<std::decay_t<Args>...> params(static_cast<Args&&>(args)...);
  co_await start_parked{};
  using call_t = decltype(std::apply(fn, std::move(params)));
  if constexpr (awaitable<call_t>) {
    if constexpr (std::is_void_v<R>) {
      co_await std::apply(fn, std::move(params));
    } else {
      co_return co_await std::apply(fn, std::move(params));
    }
  } else {
    if constexpr (std::is_void_v<R>) {
      std::apply(fn, std::move(params));
    } else {
      co_return std::apply(fn, std::move(params));
    }
  }
}

/// A cell awaiting `a`, moved in.
template <class R, class A>
cell<R> make_await_cell(A&& a) {
  std::decay_t<A> aw(static_cast<A&&>(a));
  co_await start_parked{};
  if constexpr (std::is_void_v<R>) {
    co_await std::move(aw);
  } else {
    co_return co_await std::move(aw);
  }
}

/// A cell awaiting `a` where it is: an lvalue is referred to (it must outlive
/// the cell), an rvalue is awaited as an rvalue (it must too).
template <class R, class A>
cell<R> make_ref_await_cell(A& a) {
  co_await start_parked{};
  if constexpr (std::is_void_v<R>) {
    co_await static_cast<A&&>(a);
  } else {
    co_return co_await static_cast<A&&>(a);
  }
}

}  // namespace weft::detail

