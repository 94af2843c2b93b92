#include "scheduler/futex_parker.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace weft::detail {
namespace {

void futex_wait(sync::atomic<std::uint32_t>* word, std::uint32_t expected,
                const std::optional<std::chrono::nanoseconds>& timeout) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout) {
    const auto ns = timeout->count() < 0 ? 0 : timeout->count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  // SAFETY: std::atomic<uint32_t> is a plain 32-bit word on Linux.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, tsp,
          nullptr, 0);
}

void futex_wake_one(sync::atomic<std::uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

}  // namespace

void futex_parker::park(std::optional<std::chrono::nanoseconds> timeout) {
  token_.park_with(
      timeout, [] {}, [] {},
      [this](std::optional<std::chrono::nanoseconds> left) {
        futex_wait(&token_.word(), park_token::parked, left);
        return false;  // a futex has no work of its own
      });
}

void futex_parker::unpark() noexcept {
  if (token_.notify()) futex_wake_one(&token_.word());
}

}  // namespace weft::detail
