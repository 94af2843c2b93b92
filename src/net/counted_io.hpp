// counted_io — one send or recv of a stream socket whose byte count is added
// to a caller-owned counter however the await ends, so read_exact and
// write_all can tell how many bytes moved before an error or a cancellation.
//
// Where the count lives: in memory the caller owns (the `transferred`
// out-parameter, or a local of the loop's frame when the caller passed none),
// never in the awaiter alone, because a cancelled loop's frame — awaiter
// included — is destroyed and nobody would read it.
//
// When it is added (each op's bytes exactly once):
//   resumed normally        → await_resume adds r (r > 0), marks it counted;
//   destroyed, not resumed  → the destructor makes sure the op has completed
//                             (io_abandon), then adds r if r > 0.
// The second case is real, not theoretical: an op can complete with bytes
// moved and its task be destroyed before it runs again — a send done at once
// whose task was rescheduled for its budget, an epoll op performed by the
// driver just before the cancellation, an io_uring op whose CQE carries a
// count instead of -ECANCELED. Those bytes went to (or came from) the kernel,
// so they count.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/result.hpp>

#include <cstddef>
#include <cstdint>

namespace weft::net::detail {

class counted_io_awaiter : public weft::detail::io_awaiter {
 public:
  counted_io_awaiter(weft::detail::io_handle& h, weft::detail::io_opcode code, void* buf,
                     std::size_t len, std::size_t& count) noexcept
      : count_(&count) {
    weft::detail::io_op& o = op();
    o.code = code;
    o.handle = &h;
    o.fd = h.fd;
    o.buf = buf;
    o.len = static_cast<std::uint32_t>(len > 0x7fff'f000 ? 0x7fff'f000 : len);  // as read(2) caps it
  }
  counted_io_awaiter(counted_io_awaiter&&) noexcept = default;
  counted_io_awaiter& operator=(counted_io_awaiter&&) = delete;

  ~counted_io_awaiter() {
    // ORDERING: relaxed: only the awaiter's own thread ever leaves `idle`
    // (as in ~io_awaiter).
    if (counted_ || op().state.load(std::memory_order_relaxed) == weft::detail::io_op::idle) {
      return;
    }
    // Destroyed between completion and resumption (or, on a path that should
    // not exist, still in flight: io_abandon cancels and waits). Afterwards
    // the op is completed and is_completed()'s acquire has made `result`
    // visible. result_taken = true: a send/recv created no fd to close.
    // ~io_awaiter calls io_abandon again; on a completed send/recv it does
    // nothing.
    weft::detail::io_abandon(op(), /*result_taken=*/true);
    if (op().result > 0) *count_ += static_cast<std::size_t>(op().result);
  }

  result<std::size_t> await_resume() noexcept {
    counted_ = true;
    const std::int32_t r = io_awaiter::await_resume();
    if (r < 0) return weft::detail::io_error(r);
    *count_ += static_cast<std::size_t>(r);
    return static_cast<std::size_t>(r);
  }

 private:
  std::size_t* count_;
  bool counted_ = false;
};

}  // namespace weft::net::detail
