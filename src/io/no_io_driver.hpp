// no_io_driver — the I/O driver of a simulation's virtual worker, which has
// no real I/O: every operation is refused with a message (io_driver.hpp).
#pragma once

#include <weft/error.hpp>

#include "io/io_driver.hpp"

#include <thread>

namespace weft::detail {

class no_io_driver final : public io_driver {
 public:
  bool start(io_op& /*op*/, std::coroutine_handle<> /*h*/, cancel_hook* /*hook*/) override {
    throw_error(errc::not_supported_in_simulation,
                "weft I/O (sockets, pipes, files) was awaited on a simulation runtime, which has "
                "no real I/O yet: run it on a multi_thread or current_thread runtime");
  }
  // No op ever starts here, so none is ever cancelled or waited for.
  bool cancel(io_op& /*op*/) noexcept override { return true; }
  void wait_completed(io_op& op) noexcept override {
    while (!op.is_completed()) std::this_thread::yield();
  }
  [[nodiscard]] io_capabilities caps() const noexcept override {
    io_capabilities c;
    c.simulated = true;
    return c;
  }
};

}  // namespace weft::detail
