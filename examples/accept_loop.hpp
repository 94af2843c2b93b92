// accept_loop — the accept loop the example servers share: accept until a
// token fires, each connection served by a detached task, backing off when
// descriptors or memory run out.
#pragma once

#include <weft/cancellation.hpp>
#include <weft/net/accept_backoff.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/with_cancellation.hpp>

#include <chrono>
#include <cstddef>
#include <utility>

namespace examples {

// How an accept loop waits when the process is out of descriptors.
inline const weft::net::accept_backoff accept_backoff{
    std::chrono::milliseconds(10), std::chrono::milliseconds(200), {}};

/// Accept until `stop` fires; each connection goes to `serve(stream, extra...)`
/// in a detached task (a dropped handle never cancels). Out of descriptors or
/// memory (EMFILE and friends) the connection stays queued and the listener
/// ready: accept_with_backoff waits between attempts instead of spinning a
/// core, while the open connections go on being served and free descriptors.
/// Returns how many it accepted. `listener` must outlive it.
template <class Serve, class... Extra>
weft::task<std::size_t> accept_loop(weft::net::tcp_listener& listener,
                                    weft::cancellation_token stop, Serve serve, Extra... extra) {
  std::size_t accepted = 0;
  for (;;) {
    auto s = co_await weft::with_cancellation(
        stop, weft::net::accept_with_backoff(listener, accept_backoff));
    if (!s) break;      // the token fired
    if (!*s) continue;  // another accept error (a connection reset before its accept)
    ++accepted;
    (void)weft::spawn(serve, std::move(**s), extra...);
  }
  co_return accepted;
}

}  // namespace examples
