// weft/net/recv_buffer.hpp — bytes a buffered read received into a buffer the
// runtime owns.
//
//   weft::result<weft::net::recv_buffer> got = co_await stream.read_buffered();
//   if (!got) ...;                       // an error
//   if (got->empty()) ...;               // end of stream
//   co_await stream.write_all(got->data());
//   // the buffer goes back to the runtime when `got` is destroyed (or reset())
//
// On io_uring the bytes are in one of the worker's provided buffers (16 KiB,
// a ring the kernel picks from): a connection waiting in read_buffered()
// holds no buffer of its own, so an idle connection costs its task's frame
// and no more. On epoll the read goes into a 16 KiB block that the
// recv_buffer owns, made only once the socket is readable (so a waiting
// connection holds none there either); on io_uring where the kernel refuses
// provided buffers, the block is made when the read starts.
//
// A recv_buffer is move-only and may be destroyed on any thread, also after
// its runtime is gone (the memory lives until its last buffer is back). Keep
// it only as long as you need the bytes: while you hold it, the kernel cannot
// use it for the next data of any connection of that worker. The stream's
// own queue holds buffers too: after a read_buffered(), the socket's
// multishot receive goes on taking buffers for the bytes that arrive (up to
// 16 per stream) while no read waits. When every buffer of a worker is out
// (held by recv_buffers, or queued for connections whose tasks are busy
// elsewhere), that worker's buffered reads do not wait for them: each waits
// for its socket to be readable and then receives into a 16 KiB block of its
// own, as on epoll, until buffers are back. So no connection starves another,
// and a program may keep buffers until a whole message has arrived, at the
// cost of a block per read while the ring is empty.
#pragma once

#include <weft/detail/io_op.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace weft::net {

namespace detail {
class buffered_read_awaiter;
}
class stream_socket;

class recv_buffer {
 public:
  recv_buffer() noexcept = default;
  recv_buffer(recv_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        ring_(std::exchange(o.ring_, nullptr)),
        id_(o.id_),
        owned_(std::exchange(o.owned_, false)) {}
  recv_buffer& operator=(recv_buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      ring_ = std::exchange(o.ring_, nullptr);
      id_ = o.id_;
      owned_ = std::exchange(o.owned_, false);
    }
    return *this;
  }
  recv_buffer(const recv_buffer&) = delete;
  recv_buffer& operator=(const recv_buffer&) = delete;
  ~recv_buffer() { reset(); }

  /// The bytes received (writable: transform them in place if you like).
  [[nodiscard]] std::span<std::byte> data() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// True at end of stream (the peer closed its side), or after reset().
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// Give the buffer back now.
  void reset() noexcept {
    if (ring_ != nullptr) {
      weft::detail::give_back_provided(ring_, id_);
    } else if (owned_) {
      weft::detail::free_owned_block(data_);  // to the thread's block cache
    }
    data_ = nullptr;
    size_ = 0;
    ring_ = nullptr;
    owned_ = false;
  }

 private:
  friend class detail::buffered_read_awaiter;
  friend class stream_socket;  // read_buffered_ready
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  weft::detail::buffer_ring* ring_ = nullptr;  // a provided buffer, given back
  std::uint16_t id_ = 0;
  bool owned_ = false;  // an owned block (detail::alloc_owned_block), freed
};

}  // namespace weft::net
