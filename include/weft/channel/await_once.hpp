// weft/channel/await_once.hpp — the "awaited once" check of the channel
// awaitables (mpsc send/recv/closed, broadcast recv, watch changed).
//
//   fresh ──begin()──▶ spent          (a second begin() throws)
//   fresh/spent ──moved from──▶ moved (begin() throws; the moved-to one
//                                      takes over fresh or spent)
//
// Awaiting a channel awaitable twice, or after it was moved from, is the
// user's misuse (an mpsc send awaitable would send its moved-out value
// again): begin(), called first in await_suspend, throws std::logic_error in
// every build. Only the awaiting task's thread touches it.
#pragma once

#include <weft/channel/send_result.hpp>  // throw_channel_misuse

#include <cstdint>

namespace weft::chan_detail {

class await_once {
 public:
  await_once() noexcept = default;
  await_once(await_once&& o) noexcept : state_(o.state_ == state::fresh ? state::fresh : state::spent) {
    o.state_ = state::moved;
  }
  await_once& operator=(await_once&&) = delete;

  /// The awaitable is being awaited: throws std::logic_error if it was
  /// before, or if it was moved from.
  void begin() {
    if (state_ == state::spent) {
      weft::detail::throw_channel_misuse(
          "weft: a channel awaitable (mpsc send/recv/closed, broadcast recv, watch changed) was "
          "awaited a second time; each co_await needs a fresh one: call send()/recv()/"
          "closed()/changed() again");
    }
    if (state_ == state::moved) {
      weft::detail::throw_channel_misuse(
          "weft: a channel awaitable (mpsc send/recv/closed, broadcast recv, watch changed) was "
          "awaited after it was moved from; await the object it was moved to");
    }
    state_ = state::spent;
  }

 private:
  enum class state : std::uint8_t { fresh, spent, moved };
  state state_ = state::fresh;
};

}  // namespace weft::chan_detail
