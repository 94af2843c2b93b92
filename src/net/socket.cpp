// Sockets: options and the byte-stream operations shared by TCP and Unix
// stream sockets (weft/net/socket.hpp).
#include <weft/error.hpp>
#include <weft/net/socket.hpp>

#include "io/sim_sockets.hpp"
#include "net/counted_io.hpp"
#include "net/socket_names.hpp"

#include <weft/detail/zero_copy_send.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>

namespace weft::net {

using detail::last_error;

result<int> detail::open_socket(int family, int type) noexcept {
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return last_error();
  return fd;
}

task<result<void>> detail::connect_socket(weft::detail::io_handle& h,
                                          const sockaddr_storage& addr, socklen_t len) {
  auto a = make_op<io_void_awaiter>(h, weft::detail::io_opcode::connect, nullptr, 0);
  a.op().addr = const_cast<sockaddr_storage*>(&addr);
  a.op().addr_size = len;
  co_return co_await std::move(a);
}

result<void> socket_base::set_option(int level, int name, int value) noexcept {
  if (::setsockopt(h_.fd, level, name, &value, sizeof value) < 0) return last_error();
  return {};
}

result<int> socket_base::get_option(int level, int name) const noexcept {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(h_.fd, level, name, &value, &len) < 0) return last_error();
  return value;
}

detail::msg_awaiter<std::size_t> stream_socket::write_vectored(
    std::span<const std::span<const std::byte>> bufs) {
  auto a = detail::make_op<detail::msg_awaiter<std::size_t>>(
      h_, weft::detail::io_opcode::sendmsg, nullptr, 0);
  if (bufs.size() > a.iov.size()) {
    // More buffers than the awaiter holds: refused before any system call
    // (on io_uring nothing reaches the ring), so nothing is written.
    a.refuse(-EINVAL);
    return a;
  }
  for (std::size_t i = 0; i < bufs.size(); ++i) {
    a.iov[i] = iovec{const_cast<std::byte*>(bufs[i].data()), bufs[i].size()};
  }
  a.iov_count = bufs.size();
  return a;
}

std::size_t stream_socket::read_buffered_ready(std::span<recv_buffer> out) noexcept {
  constexpr std::size_t chunk = 8;
  std::array<weft::detail::ready_buffer, chunk> got{};
  std::size_t moved = 0;
  while (moved < out.size()) {
    const std::size_t want = std::min(chunk, out.size() - moved);
    const std::size_t n = weft::detail::io_take_ready_buffers(h_, got.data(), want);
    for (std::size_t i = 0; i < n; ++i) {
      recv_buffer& b = out[moved + i];
      b.reset();
      b.ring_ = got[i].ring;
      b.id_ = got[i].id;
      b.data_ = weft::detail::provided_data(got[i].ring, got[i].id) + got[i].offset;
      b.size_ = got[i].size;
    }
    moved += n;
    if (n < want) break;
  }
  return moved;
}

task<result<void>> stream_socket::write_all_vectored(
    std::span<const std::span<const std::byte>> bufs) {
  std::size_t index = 0;   // the first span not fully written
  std::size_t offset = 0;  // how much of it was
  while (index < bufs.size()) {
    std::array<std::span<const std::byte>, 8> window{};
    std::size_t count = 0;
    for (std::size_t i = index; i < bufs.size() && count < window.size(); ++i) {
      window[count++] = i == index ? bufs[i].subspan(offset) : bufs[i];
    }
    result<std::size_t> n = co_await write_vectored(std::span(window.data(), count));
    if (!n) co_return n.error();
    std::size_t left = *n;
    while (index < bufs.size() && left >= bufs[index].size() - offset) {
      left -= bufs[index].size() - offset;
      ++index;
      offset = 0;
    }
    offset += left;
  }
  co_return result<void>{};
}

namespace {

// The loops behind read_exact and write_all. `count` is the caller's
// `transferred`, or `own` (in this frame) when the caller passed none; every
// op adds what it moved to it, also when the op's await ends by destruction
// (src/net/counted_io.hpp).
task<result<void>> read_exact_loop(weft::detail::io_handle& h, std::span<std::byte> buf,
                                   std::size_t* count) {
  std::size_t own = 0;
  std::size_t& n_total = count != nullptr ? *count : own;
  while (!buf.empty()) {
    result<std::size_t> n = co_await detail::counted_io_awaiter(
        h, weft::detail::io_opcode::recv, buf.data(), buf.size(), n_total);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(errc::end_of_stream);
    buf = buf.subspan(*n);
  }
  co_return result<void>{};
}

task<result<void>> write_all_loop(weft::detail::io_handle& h, std::span<const std::byte> buf,
                                  std::size_t* count) {
  std::size_t own = 0;
  std::size_t& n_total = count != nullptr ? *count : own;
  while (!buf.empty()) {
    result<std::size_t> n = co_await detail::counted_io_awaiter(
        h, weft::detail::io_opcode::send, const_cast<std::byte*>(buf.data()), buf.size(),
        n_total);
    if (!n) co_return n.error();
    buf = buf.subspan(*n);
  }
  co_return result<void>{};
}

struct zero_copy_record_ref {
  void operator()(weft::detail::zero_copy_record* r) const noexcept {
    weft::detail::zero_copy_unref(*r);
  }
};

}  // namespace

task<result<std::vector<std::byte>>> stream_socket::write_all_zero_copy(
    std::vector<std::byte> data) {
  // The record holds the bytes; this frame holds the writer's reference
  // (zero_copy_send.hpp). A cancelled op leaves the record to its driver.
  std::unique_ptr<weft::detail::zero_copy_record, zero_copy_record_ref> rec(
      new weft::detail::zero_copy_record);
  rec->data = std::move(data);
  std::size_t done = 0;
  while (done < rec->data.size()) {
    std::int32_t n = 0;
    {
      weft::detail::zero_copy_send_awaiter send(*rec, h_, done);
      n = co_await send;
    }
    if (n < 0) co_return weft::detail::io_error(n);
    done += static_cast<std::size_t>(n);
  }
  // Every op completed at its notification (or sent a copy): the writer's
  // is the last reference, and the buffer is the caller's again.
  // ORDERING: acquire: pairs with the driver's release decrement at each
  // notification, so the kernel's use of the buffer is over for this thread.
  if (rec->refs.load(std::memory_order_acquire) != 1) {
    co_return make_error_code(std::errc::state_not_recoverable);  // never: the invariant above
  }
  co_return std::move(rec->data);
}

task<result<void>> stream_socket::read_exact(std::span<std::byte> buf) {
  return read_exact_loop(h_, buf, nullptr);
}

task<result<void>> stream_socket::read_exact(std::span<std::byte> buf, std::size_t& transferred) {
  transferred = 0;
  return read_exact_loop(h_, buf, &transferred);
}

task<result<void>> stream_socket::write_all(std::span<const std::byte> buf) {
  return write_all_loop(h_, buf, nullptr);
}

task<result<void>> stream_socket::write_all(std::span<const std::byte> buf,
                                            std::size_t& transferred) {
  transferred = 0;
  return write_all_loop(h_, buf, &transferred);
}

result<void> stream_socket::shutdown(int how) noexcept {
  if (weft::detail::socket_shutdown(h_.fd, how) < 0) return last_error();
  return {};
}

}  // namespace weft::net
