// buffer_ring — implementation; the protocol is in buffer_ring.hpp.
#include "io/buffer_ring.hpp"

#include "io/io_driver.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <mutex>
#include <system_error>

namespace weft::detail {
namespace {

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

void* map_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw_errno(errno, "mmap (provided buffers)");
  return p;
}

}  // namespace

buffer_ring::buffer_ring(io_uring& ring, std::uint16_t group, unsigned count, unsigned size,
                         const void* owner)
    : ring_(&ring), owner_(owner), group_(group), count_(count), size_(size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0) {
    throw_errno(EINVAL, "buffer_ring: count must be a power of two up to 32768, size > 0");
  }
  returns_.reserve(count);
  // The descriptor ring must be page-aligned: its own mapping.
  br_bytes_ = sizeof(io_uring_buf) * count;
  br_ = static_cast<io_uring_buf_ring*>(map_anonymous(br_bytes_));
  data_bytes_ = static_cast<std::size_t>(count) * size;
  try {
    data_ = static_cast<std::byte*>(map_anonymous(data_bytes_));
  } catch (...) {
    ::munmap(br_, br_bytes_);
    throw;
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group;
  if (const int res = io_uring_register_buf_ring(ring_, &reg, 0); res < 0) {
    ::munmap(data_, data_bytes_);
    ::munmap(br_, br_bytes_);
    throw_errno(-res, "io_uring_register_buf_ring");
  }
  io_uring_buf_ring_init(br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(br_, data_ + static_cast<std::size_t>(i) * size, size,
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
  in_ring_ = count;
}

buffer_ring::~buffer_ring() {
  ::munmap(data_, data_bytes_);
  ::munmap(br_, br_bytes_);
}

void buffer_ring::release() noexcept {
  // ORDERING: acq_rel: the release publishes this holder's last use of the
  // memory; the acquire on the final decrement sees all of them before unmap.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void buffer_ring::detach() noexcept {
  (void)io_uring_unregister_buf_ring(ring_, group_);
  {
    std::lock_guard<sync::spin_mutex> lock(returns_mu_);
    // ORDERING: release: pairs with give_back's acquire load.
    detached_.store(true, std::memory_order_release);
    // Returned but not collected: each still holds its reference.
    for (std::size_t i = 0; i < returns_.size(); ++i) {
      // ORDERING: relaxed: the caller holds the creator's reference.
      refs_.fetch_sub(1, std::memory_order_relaxed);
    }
    returns_.clear();
  }
  release();
}

std::span<std::byte> buffer_ring::buffer(std::uint16_t id) const noexcept {
  return {data_ + static_cast<std::size_t>(id) * size_, size_};
}

void buffer_ring::note_taken(std::uint16_t /*id*/) noexcept {
  --in_ring_;
  // ORDERING: relaxed: the owner holds the creator's reference.
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void buffer_ring::give_back(std::uint16_t id) noexcept {
  // ORDERING: acquire: pairs with detach's release store.
  if (detached_.load(std::memory_order_acquire)) {
    release();
    return;
  }
  // ORDERING: relaxed: the ring's creator still holds its reference.
  refs_.fetch_sub(1, std::memory_order_relaxed);
  io_uring_buf_ring_add(br_, buffer(id).data(), size_, id, io_uring_buf_ring_mask(count_), 0);
  // Release: the descriptor written above is visible to the kernel before
  // the tail that hands it over (io_uring_buf_ring_advance stores with release).
  io_uring_buf_ring_advance(br_, 1);
  ++in_ring_;
}

void buffer_ring::give_back_remote(std::uint16_t id) noexcept {
  {
    std::lock_guard<sync::spin_mutex> lock(returns_mu_);
    // ORDERING: relaxed: under returns_mu_, which detach holds to set it.
    if (!detached_.load(std::memory_order_relaxed)) {
      returns_.push_back(id);  // never reallocates: capacity count_, each id out once
      // ORDERING: release: pairs with collect_returns' acquire exchange (the
      // list itself is under the lock). Stored under the lock: once it is
      // dropped, a detach may free the ring.
      returns_pending_.store(true, std::memory_order_release);
      // The owner is not woken: it takes them back at its next poll or
      // park, and a reader meanwhile is served by the dry-ring fallback
      // (multishot_queue.hpp).
      return;
    }
  }
  release();  // detached: the memory goes with the last buffer
}

bool buffer_ring::collect_returns() noexcept {
  // ORDERING: acquire: pairs with give_back_remote's release store.
  if (!returns_pending_.exchange(false, std::memory_order_acquire)) return false;
  std::lock_guard<sync::spin_mutex> lock(returns_mu_);
  const int mask = io_uring_buf_ring_mask(count_);
  int added = 0;
  for (const std::uint16_t id : returns_) {
    io_uring_buf_ring_add(br_, buffer(id).data(), size_, id, mask, added);
    ++added;
  }
  returns_.clear();
  io_uring_buf_ring_advance(br_, added);
  in_ring_ += static_cast<unsigned>(added);
  // ORDERING: relaxed: the owner holds the creator's reference.
  refs_.fetch_sub(static_cast<std::uint32_t>(added), std::memory_order_relaxed);
  return added > 0;
}

void give_back_provided(buffer_ring* ring, std::uint16_t id) noexcept {
  if (ring->owner() != nullptr && ring->owner() == static_cast<const void*>(current_io_driver())) {
    ring->give_back(id);
  } else {
    ring->give_back_remote(id);
  }
}

}  // namespace weft::detail

namespace weft::detail {
std::byte* provided_data(buffer_ring* ring, std::uint16_t id) noexcept {
  return ring->buffer(id).data();
}
}  // namespace weft::detail
