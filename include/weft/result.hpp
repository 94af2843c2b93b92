// weft/result.hpp — weft::result<T>: a value or a std::error_code.
//
// C++20 has no std::expected, so weft carries its own small one for operations
// that fail as a matter of course (timeouts, I/O). It is deliberately close to
// std::expected<T, std::error_code>: has_value(), value() (throws
// std::system_error on an error), error(), operator*, operator->, explicit bool.
#pragma once

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {

template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
  result(std::error_code ec) : v_(std::in_place_index<1>, ec) {}     // NOLINT(implicit)

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; throws std::system_error with error() if there is none.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }

  /// The error; a default (success) error_code when there is a value.
  [[nodiscard]] std::error_code error() const noexcept {
    return has_value() ? std::error_code{} : std::get<1>(v_);
  }

  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }

 private:
  void check() const {
    if (!has_value()) throw std::system_error(std::get<1>(v_));
  }
  std::variant<T, std::error_code> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(std::error_code ec) : ec_(ec) {}  // NOLINT(implicit)
  [[nodiscard]] bool has_value() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (ec_) throw std::system_error(ec_);
  }
  [[nodiscard]] std::error_code error() const noexcept { return ec_; }

 private:
  std::error_code ec_;
};

}  // namespace weft
