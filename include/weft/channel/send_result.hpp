// weft/channel/send_result.hpp — weft::send_result<T>: the outcome of a send.
//
//   weft::send_result<job> r = co_await tx.send(std::move(j));
//   if (!r) {
//     if (r.error() == weft::errc::channel_closed) requeue(r.take_value());
//   }
//
// A send either succeeds (the channel took the value) or fails with an
// error_code and hands the value back, so nothing is lost when the other side
// is gone (errc::channel_closed) or a bounded channel is full
// (errc::would_block, from try_send).
#pragma once

#include <weft/error.hpp>

#include <optional>
#include <system_error>
#include <utility>

namespace weft {

namespace detail {
/// Throws std::logic_error(what). Out of line (src/channel/channel_error.cpp):
/// the channels' misuse reports (a moved-from handle, a value taken twice).
[[noreturn]] void throw_channel_misuse(const char* what);
}  // namespace detail

template <class T>
class [[nodiscard]] send_result {
 public:
  using value_type = T;

  /// Success: the channel took the value.
  send_result() noexcept = default;
  /// Failure: `ec` and the value handed back.
  send_result(std::error_code ec, T value) : ec_(ec), value_(std::move(value)) {}

  /// True when the send succeeded (like result<void>::has_value()).
  [[nodiscard]] bool has_value() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The failure; a default (success) error_code when the send succeeded.
  [[nodiscard]] std::error_code error() const noexcept { return ec_; }

  /// Throws std::system_error with error() if the send failed (the value stays
  /// here, take it with take_value()).
  void value() const {
    if (ec_) throw std::system_error(ec_, "weft: send failed; take_value() returns the value");
  }

  /// The value handed back by a failed send, moved out. Misuse throws
  /// std::logic_error: on a successful send (the channel has the value), or
  /// a second time.
  // GCC 12 with -fsanitize=thread -O2 reports the engaged optional's value
  // as maybe uninitialized when it is moved out (a false positive: the
  // two checks in it guard it; moving, resetting, swapping and std::exchange all
  // drew it), which fails a -Werror build of the caller. Silenced here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  [[nodiscard]] T take_value() {
    if (!ec_) {
      detail::throw_channel_misuse(
          "weft::send_result::take_value: the send succeeded, so the channel has the value and "
          "nothing was handed back; check has_value() first");
    }
    if (!value_.has_value()) {
      detail::throw_channel_misuse(
          "weft::send_result::take_value: the value was already taken; call it once");
    }
    T out = std::move(*value_);
    value_.reset();
    return out;
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

 private:
  std::error_code ec_;
  std::optional<T> value_;
};

}  // namespace weft
