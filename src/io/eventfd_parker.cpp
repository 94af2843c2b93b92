// eventfd_parker — implementation; the protocol is in eventfd_parker.hpp.
#include "io/eventfd_parker.hpp"

#include "scheduler/futex.hpp"
#include "support/fault_injection.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace weft::detail {

void eventfd_signal(int fd, sync::atomic<std::uint64_t>& writes) noexcept {
  const std::uint64_t one = 1;
  while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  // ORDERING: relaxed: a statistic; tests read it after joining the threads.
  writes.fetch_add(1, std::memory_order_relaxed);
}

eventfd_parker::eventfd_parker(bool nonblocking) {
  const int flags = EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0);
  fd_ = fault::or_errno(fault::site::eventfd, [flags] { return ::eventfd(0, flags); });
  if (fd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
}

eventfd_parker::~eventfd_parker() { ::close(fd_); }

void eventfd_parker::unpark(park_hook_slot& hooks) noexcept {
  const std::uint32_t was = token_.notify_from();
  if (was == park_token::parked_futex) {
    // ORDERING: relaxed: a statistic.
    futex_wakes_.fetch_add(1, std::memory_order_relaxed);
    futex_wake_one(&token_.word());
    return;
  }
  if (was != park_token::parked) return;  // running, or already notified: no syscall
  if (hooks.interrupt()) return;          // the owner blocks in its park hook
  eventfd_signal(fd_, eventfd_writes_);
}

void eventfd_parker::sleep_on_word(const std::optional<std::chrono::nanoseconds>& left) noexcept {
  if (token_.enter_futex_wait()) futex_wait(&token_.word(), park_token::parked_futex, left);
}

void eventfd_parker::drain() noexcept {
  // Non-blocking: one read takes the whole count; EAGAIN means another wait
  // already took it.
  std::uint64_t count = 0;
  while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

std::uint64_t eventfd_parker::eventfd_writes() const noexcept {
  // ORDERING: relaxed: a statistic (see unpark).
  return eventfd_writes_.load(std::memory_order_relaxed);
}

std::uint64_t eventfd_parker::futex_wakes() const noexcept {
  // ORDERING: relaxed: a statistic (see unpark).
  return futex_wakes_.load(std::memory_order_relaxed);
}

}  // namespace weft::detail
