// eventfd_parker — how a worker parked in an I/O driver is woken; both I/O
// drivers (epoll_driver, uring_driver) hold one.
//
// Design
// ------
// One eventfd and one park_token (scheduler/park_token.hpp, the protocol).
// The driver's wait watches the eventfd: epoll registers it level-triggered
// (a non-blocking descriptor, drained after each report); io_uring keeps a
// read of it armed (a blocking descriptor: io_uring completes a read of an
// O_NONBLOCK eventfd with -EAGAIN instead of waiting).
//
//   unpark (any thread): exchange the token to NOTIFIED, then by what it was
//     PARKED_FUTEX  the owner sleeps on the token's word: one futex wake
//     PARKED        the owner waits in its driver: interrupt its park hook if
//                   one blocks, else write 1 to the eventfd
//     EMPTY/NOTIFIED running, or already told: nothing (no system call)
//   sleep_on_word (owner, inside park_with's wait): a driver with nothing of
//     its own that could complete (io_uring with no operation in flight)
//     sleeps on the word instead of in the kernel's I/O wait; an unpark is
//     then a futex wake, cheaper than an eventfd write whose completion
//     must wake the ring.
//
// A write that lands after the owner left its wait leaves the eventfd
// readable (epoll) or completes the armed read later (io_uring): the next park
// sees no token and waits again — one extra round trip, never a lost wake.
//
// Who touches what: fd_ is created and closed by the driver's constructing
// and destroying thread; the token and the counters are atomics.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "scheduler/park_hook_slot.hpp"
#include "scheduler/park_token.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

/// Write 1 to the eventfd `fd` and count the write. The counter cannot
/// saturate (EAGAIN at 2^64-2) with the owner draining it on every wake.
void eventfd_signal(int fd, sync::atomic<std::uint64_t>& writes) noexcept;

class eventfd_parker {
 public:
  /// Creates the eventfd (non-blocking or blocking: see the header). Throws
  /// std::system_error with the errno.
  explicit eventfd_parker(bool nonblocking);
  ~eventfd_parker();
  eventfd_parker(const eventfd_parker&) = delete;
  eventfd_parker& operator=(const eventfd_parker&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  park_token& token() noexcept { return token_; }

  /// Any thread: the unpark protocol (see the header). `hooks`: the
  /// driver's park hook slot.
  void unpark(park_hook_slot& hooks) noexcept;
  /// Owner, inside park_with's wait: sleep on the token's word until
  /// unparked or `left` passes (may return early; park_with loops).
  void sleep_on_word(const std::optional<std::chrono::nanoseconds>& left) noexcept;
  /// Owner: take the eventfd's count (non-blocking descriptor only).
  void drain() noexcept;

  /// Eventfd writes and futex wakes made by unpark. Relaxed: statistics.
  [[nodiscard]] std::uint64_t eventfd_writes() const noexcept;
  [[nodiscard]] std::uint64_t futex_wakes() const noexcept;
  /// Whether the owner is (about to be) parked; asleep on the word. Tests.
  [[nodiscard]] bool parked() const noexcept { return token_.is_parked(); }
  [[nodiscard]] bool parked_on_word() const noexcept { return token_.is_parked_on_word(); }

 private:
  int fd_ = -1;
  park_token token_;
  sync::atomic<std::uint64_t> eventfd_writes_{0};
  sync::atomic<std::uint64_t> futex_wakes_{0};
};

}  // namespace weft::detail
