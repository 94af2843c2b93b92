// eventfd_wake — how both I/O drivers wake a parked owner: add one to its
// eventfd (the owner's wait, an epoll_wait or an armed io_uring read, ends).
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace weft::detail {

/// Write 1 to `fd` and count the write. The counter cannot saturate (EAGAIN
/// at 2^64-2) with the owner draining it on every wake.
inline void eventfd_wake(int fd, sync::atomic<std::uint64_t>& writes) noexcept {
  const std::uint64_t one = 1;
  while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  // ORDERING: relaxed: a statistic; tests read it after joining the threads.
  writes.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace weft::detail
