// weft/channel/broadcast_send_result.hpp — weft::broadcast::send_result<T>:
// the outcome of a broadcast send.
//
//   weft::broadcast::send_result<event> r = tx.send(std::move(e));
//   if (r) log("reached", r.receivers());
//   else if (r.error() == weft::errc::channel_closed) keep(r.take_value());
//
// A send either reaches the current receivers (how many: receivers(), also
// value()) or fails with an error_code and hands the value back, as every
// weft channel's failed send does (weft::send_result), so nothing is lost.
#pragma once

#include <weft/channel/send_result.hpp>

#include <cstddef>
#include <system_error>
#include <utility>

namespace weft::broadcast {

template <class T>
class [[nodiscard]] send_result {
 public:
  using value_type = T;

  /// Success: the value went to `reached` receivers (at least 1).
  explicit send_result(std::size_t reached) noexcept : reached_(reached) {}
  /// Failure: `ec` and the value handed back.
  send_result(std::error_code ec, T value) : failed_(ec, std::move(value)) {}

  /// True when the send reached at least one receiver.
  [[nodiscard]] bool has_value() const noexcept { return failed_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  /// The failure; a default (success) error_code when the send succeeded.
  [[nodiscard]] std::error_code error() const noexcept { return failed_.error(); }

  /// How many receivers the value went to; 0 if the send failed.
  [[nodiscard]] std::size_t receivers() const noexcept { return reached_; }

  /// How many receivers the value went to; throws std::system_error with
  /// error() if the send failed (the value stays here: take_value()).
  [[nodiscard]] std::size_t value() const {
    failed_.value();
    return reached_;
  }

  /// The value handed back by a failed send, moved out. Misuse throws
  /// std::logic_error: on a successful send, or a second time.
  [[nodiscard]] T take_value() { return failed_.take_value(); }

 private:
  weft::send_result<T> failed_;  // success, or the error and the value handed back
  std::size_t reached_ = 0;
};

}  // namespace weft::broadcast
