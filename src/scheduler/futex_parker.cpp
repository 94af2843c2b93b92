#include "scheduler/futex_parker.hpp"

#include "scheduler/futex.hpp"

#include <weft/detail/deadline.hpp>

#include <cerrno>
#include <ctime>

namespace weft::detail {
#if !defined(WEFT_TSAN)

void futex_parker::park(std::optional<std::chrono::nanoseconds> timeout) {
  token_.park_with(
      timeout, [] {}, [] {},
      [this](std::optional<std::chrono::nanoseconds> left) {
        if (hooks.active()) {
          hooks.block(park_request{left, -1});
        } else {
          futex_wait(&token_.word(), park_token::parked, left);
        }
        return false;  // a futex has no work of its own
      });
}

void futex_parker::unpark() noexcept {
  if (!token_.notify()) return;
  if (hooks.interrupt()) return;  // the owner blocks in its park hook
  futex_wake_one(&token_.word());
}

#else  // WEFT_TSAN: see the header

void futex_parker::park(std::optional<std::chrono::nanoseconds> timeout) {
  token_.park_with(
      timeout, [] {}, [] {},
      [this](std::optional<std::chrono::nanoseconds> left) {
        if (hooks.active()) {
          hooks.block(park_request{left, -1});
          return false;
        }
        std::unique_lock<std::mutex> lock(mu_);
        // ORDERING: acquire: pairs with notify's release (park_token.hpp);
        // the mutex orders this check against unpark's notify below.
        if (token_.word().load(std::memory_order_acquire) != park_token::parked) return false;
        if (left) {
          cv_.wait_until(lock, steady_deadline_after(*left));  // saturating, unlike wait_for
        } else {
          cv_.wait(lock);
        }
        return false;
      });
}

void futex_parker::unpark() noexcept {
  if (!token_.notify()) return;
  if (hooks.interrupt()) return;  // the owner blocks in its park hook
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_one();
}

#endif

}  // namespace weft::detail
