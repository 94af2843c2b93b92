// weft/net/accept_backoff.hpp — accepting connections when descriptors or
// memory run out, without spinning a core.
//
// When the process is out of descriptors (EMFILE), the system too (ENFILE),
// or the kernel out of memory for the socket (ENOMEM, ENOBUFS), accept fails
// while the connection stays queued and the listener stays readable. A loop
// that retries at once fails again at once: it burns a core and starves the
// connections it already serves, which are what frees descriptors. So:
//
//   for (;;) {
//     auto s = co_await weft::net::accept_with_backoff(listener);
//     if (!s) { log(s.error()); continue; }   // e.g. a connection reset before
//                                             // its accept (stop on EBADF/EINVAL:
//                                             // the listener is gone)
//     weft::spawn(serve, std::move(*s));
//   }
//
// accept_with_backoff waits between attempts while the error says a resource
// ran out (initial wait, doubling up to max), and returns the next connection
// or any other error. To stop it (Ctrl-C), wrap it:
// `co_await weft::with_cancellation(token, accept_with_backoff(l))`.
#pragma once

#include <weft/result.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weft::net {

/// True for the accept errors that a retry at once cannot cure: EMFILE,
/// ENFILE, ENOMEM, ENOBUFS (weft reports errnos in std::system_category).
/// The category is compared by address, without a call on it, so this works
/// where nothing can be allocated.
[[nodiscard]] inline bool is_resource_exhaustion(std::error_code ec) noexcept {
  if (&ec.category() != &std::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}

/// How accept_with_backoff waits.
struct accept_backoff {
  /// The first wait after a resource error; each further one doubles it.
  std::chrono::milliseconds initial{10};
  /// The longest wait. A descriptor freed meanwhile is used at the next
  /// attempt, so this bounds how late a queued connection is taken.
  std::chrono::milliseconds max{1000};
  /// Called before each wait with the error and the wait (logging, metrics,
  /// tests). May be empty. An exception it throws ends the accept: it comes
  /// out of the co_await.
  std::function<void(std::error_code, std::chrono::milliseconds)> on_wait;
};

/// The next connection from `listener` (a tcp_listener or unix_listener),
/// waiting out resource exhaustion (is_resource_exhaustion) instead of
/// retrying at once.
///
/// - completes with: the connection, or the first accept error that is not a
///   resource error (the listener stays usable).
/// - cancellation: none of its own; under with_cancellation the pending
///   accept or wait is cancelled (an accept that completed as it was
///   cancelled has its connection closed: the client sees a reset).
/// - resumes on: the awaiting task's runtime.
/// - runtime shutdown: as accept and sleep (the task is destroyed).
/// - allocation: this coroutine's frame, and what accept and sleep allocate.
/// `listener` must outlive the await. Misuse (initial <= 0 or max < initial)
/// throws std::invalid_argument from the co_await, before anything is
/// accepted.
template <class Listener>
auto accept_with_backoff(Listener& listener, accept_backoff backoff = {})
    -> task<std::remove_cvref_t<decltype(listener.accept().await_resume())>> {
  if (backoff.initial.count() <= 0 || backoff.max < backoff.initial) {
    throw std::invalid_argument(
        "weft::net::accept_with_backoff: the backoff needs initial > 0 and max >= initial");
  }
  std::chrono::milliseconds wait = backoff.initial;
  for (;;) {
    auto s = co_await listener.accept();
    if (s || !is_resource_exhaustion(s.error())) co_return s;
    if (backoff.on_wait) backoff.on_wait(s.error(), wait);
    co_await weft::sleep(wait);
    wait = wait > backoff.max / 2 ? backoff.max : wait * 2;  // no overflow near max()
  }
}

}  // namespace weft::net
