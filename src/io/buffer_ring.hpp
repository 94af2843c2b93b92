// buffer_ring — a ring of provided buffers registered with one io_uring, for
// receives that let the kernel pick the buffer (IOSQE_BUFFER_SELECT): a
// connection waiting for data then pins no buffer of its own.
//
// Design
// ------
// `count` buffers of `size` bytes in one mapping, and the ring of buffer
// descriptors the kernel consumes (liburing's io_uring_buf_ring, registered
// as buffer group `group` with IORING_REGISTER_PBUF_RING; Linux 5.19). At
// first every buffer is in the ring. A receive with IOSQE_BUFFER_SELECT
// takes the next one; its CQE says which (IORING_CQE_F_BUFFER, the id in the
// upper 16 bits of the flags), and the buffer is then the program's until it
// is given back. With none left a receive completes -ENOBUFS (a multishot
// receive ends there).
//
// A buffer (ids 0…count-1):
//
//   in the ring ──a receive's CQE names it──► out (held by whoever took the
//        ▲                                      completion: a queue, a recv_buffer)
//        └─ give_back (owner thread: added to the ring, tail released) ◄─┤
//        └─ collect_returns (owner) ◄── give_back_remote (any thread) ◄──┘
//
// The ring's tail is written by the owner thread only (the kernel reads it
// with acquire; io_uring_buf_ring_advance stores it with release). A buffer
// freed on another thread goes to a small list under a spin lock that the
// owner empties into the ring at its next poll or park; `returns_pending_`
// lets it skip the lock when the list is empty. Each id is out at most once,
// so that list never holds more than `count` ids (its storage is reserved up
// front: giving back never allocates).
//
// Lifetime: a reference count — the driver's, and one per buffer out. The
// driver detaches the ring before it closes its io_uring (after quiesce, when
// no receive that could write a buffer is in flight): the registration goes,
// and the memory stays until the last buffer out is given back, so a
// weft::net::recv_buffer may outlive its runtime. Giving back to a detached
// ring only drops the reference.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weft::detail {

class buffer_ring {
 public:
  /// Registers `count` buffers (a power of two, 1…32768) of `size` bytes as
  /// group `group` of `ring`, owned by the thread that drives `owner` (null:
  /// no owner thread; every give-back goes through the return list). Throws
  /// std::system_error with the errno (EINVAL or ENOSYS from a kernel
  /// without provided-buffer rings, ENOMEM). Holds the creator's reference.
  buffer_ring(io_uring& ring, std::uint16_t group, unsigned count, unsigned size,
              const void* owner = nullptr);
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;

  [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
  [[nodiscard]] unsigned count() const noexcept { return count_; }
  [[nodiscard]] unsigned buffer_size() const noexcept { return size_; }
  /// The buffer `id`'s bytes (the first `len` a CQE reported are the data).
  [[nodiscard]] std::span<std::byte> buffer(std::uint16_t id) const noexcept;

  /// Owner thread: a CQE handed buffer `id` out (bookkeeping only).
  void note_taken(std::uint16_t id) noexcept;
  /// Owner thread: put buffer `id` back in the ring.
  void give_back(std::uint16_t id) noexcept;
  /// Any thread: have the owner put buffer `id` back at its next poll/park.
  void give_back_remote(std::uint16_t id) noexcept;
  /// Owner thread: put back what other threads gave back. True if any.
  bool collect_returns() noexcept;
  /// Owner thread: buffers the kernel can still pick.
  [[nodiscard]] unsigned in_ring() const noexcept { return in_ring_; }
  /// The owner given at construction.
  [[nodiscard]] const void* owner() const noexcept { return owner_; }
  /// Owner thread, before its io_uring closes: unregister and drop the
  /// creator's reference (see "Lifetime"). `this` may be gone after.
  void detach() noexcept;

 private:
  ~buffer_ring();
  void release() noexcept;

  io_uring* ring_;
  const void* owner_;
  std::uint16_t group_;
  unsigned count_;
  unsigned size_;
  io_uring_buf_ring* br_ = nullptr;  // the descriptors (owner writes, kernel reads)
  std::size_t br_bytes_ = 0;
  std::byte* data_ = nullptr;        // count_ * size_ bytes
  std::size_t data_bytes_ = 0;
  unsigned in_ring_ = 0;             // owner only
  sync::spin_mutex returns_mu_;
  std::vector<std::uint16_t> returns_;  // under returns_mu_; capacity count_
  sync::atomic<bool> returns_pending_{false};
  sync::atomic<bool> detached_{false};     // set by detach(), under returns_mu_
  sync::atomic<std::uint32_t> refs_{1};    // the creator's + one per buffer out
};

}  // namespace weft::detail
