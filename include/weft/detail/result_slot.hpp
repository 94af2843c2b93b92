// weft/detail/result_slot.hpp — where a coroutine's outcome waits to be taken.
//
// The promise side of task<T> and of the runtime's cells: return_value /
// return_void / unhandled_exception store the outcome, take() hands it to the
// awaiter (rethrowing a stored exception). T, T& and void.
#pragma once

#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace weft::detail {

class exception_slot {
 public:
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

 protected:
  /// Rethrow a stored exception, moving it out: the slot keeps no reference,
  /// so the exception object is released by the thread that handles it, not
  /// by whichever thread later frees the coroutine frame.
  void rethrow_if_failed() {
    if (exception_) {
      std::exception_ptr e = std::move(exception_);
      exception_ = nullptr;
      std::rethrow_exception(std::move(e));
    }
  }

 private:
  std::exception_ptr exception_;
};

template <class T>
class result_slot : public exception_slot {
 public:
  result_slot() noexcept {}
  result_slot(const result_slot&) = delete;
  result_slot& operator=(const result_slot&) = delete;
  ~result_slot() {
    if (has_value_) value_.~T();
  }

  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
    has_value_ = true;
  }

  /// Move the value out (or rethrow). Called once.
  T take() {
    rethrow_if_failed();
    return std::move(value_);
  }

 private:
  union {
    T value_;
  };
  bool has_value_ = false;
};

template <class T>
class result_slot<T&> : public exception_slot {
 public:
  void return_value(T& v) noexcept { value_ = std::addressof(v); }
  T& take() {
    rethrow_if_failed();
    return *value_;
  }

 private:
  T* value_ = nullptr;
};

template <>
class result_slot<void> : public exception_slot {
 public:
  void return_void() const noexcept {}
  void take() { rethrow_if_failed(); }
};

}  // namespace weft::detail
