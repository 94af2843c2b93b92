// weft/status.hpp — weft::status, the outcome handed to a dispatcher callback.
//
//   d.post_task([](weft::status s) {
//     if (s.canceled()) return;   // the dispatcher shut down first: clean up only
//     ...                         // s.ok(): run normally
//   });
//
// A status wraps a std::error_code: empty means ok. A callback posted to a
// weft::dispatcher (weft/dispatcher.hpp) is called exactly once, with
// status::ok_status() when the dispatcher runs it, or with
// status::canceled_status() (code() == weft::errc::operation_canceled) when
// the dispatcher shut down before running it.
//
// A plain value (one std::error_code): copyable, comparable, no allocation.
#pragma once

#include <weft/error.hpp>

#include <string>
#include <system_error>

namespace weft {

class status {
 public:
  /// Ok.
  status() noexcept = default;
  /// The outcome `code`; an empty code is ok.
  explicit status(std::error_code code) noexcept : code_(code) {}

  /// The callback runs normally.
  [[nodiscard]] static status ok_status() noexcept { return status{}; }
  /// The dispatcher shut down before the callback could run.
  [[nodiscard]] static status canceled_status() noexcept {
    return status{make_error_code(errc::operation_canceled)};
  }

  [[nodiscard]] bool ok() const noexcept { return !code_; }
  [[nodiscard]] bool canceled() const noexcept {
    return code_ == make_error_code(errc::operation_canceled);
  }
  /// True when ok.
  explicit operator bool() const noexcept { return ok(); }

  [[nodiscard]] std::error_code code() const noexcept { return code_; }
  /// "ok", or the code's message.
  [[nodiscard]] std::string message() const { return ok() ? std::string("ok") : code_.message(); }

  friend bool operator==(const status& a, const status& b) noexcept { return a.code_ == b.code_; }

 private:
  std::error_code code_;
};

}  // namespace weft
