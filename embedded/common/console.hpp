// embedded/common/console.hpp — one line of text, built without printf (there
// is no C library in the image) and written with one semihosting call, so a
// line is never torn by an interrupt that prints too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "semihosting.hpp"

namespace weft::embedded::board_support {

class line {
 public:
  line() noexcept = default;
  line(const line&) = delete;
  ~line() {
    buffer_[length_] = '\n';
    buffer_[length_ + 1] = '\0';
    semihosting_write(buffer_);
  }
  line& operator<<(const char* s) noexcept {
    while (*s != '\0') put(*s++);
    return *this;
  }
  line& operator<<(char c) noexcept {
    put(c);
    return *this;
  }
  line& operator<<(std::uint32_t n) noexcept {
    char digits[10];
    std::size_t count = 0;
    do {
      digits[count++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    while (count != 0) put(digits[--count]);
    return *this;
  }

 private:
  void put(char c) noexcept {
    if (length_ < capacity) buffer_[length_++] = c;
  }
  static constexpr std::size_t capacity = 78;
  char buffer_[capacity + 2];
  std::size_t length_ = 0;
};

}  // namespace weft::embedded::board_support
