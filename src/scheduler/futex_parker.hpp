// futex_parker — park a thread until unparked or a deadline passes.
//
// The protocol is park_token's; the owner sleeps with futex_wait on the
// token's word while it is PARKED, and unpark wakes it with futex_wake. The
// simplest park driver: block_on's runner uses it; runtime workers park in an
// I/O driver (src/io/) with the same protocol.
//
// Under ThreadSanitizer the wait is a condition variable instead: TSan runs a
// signal handler only when the receiving thread is inside a call it
// intercepts, and a raw futex system call is not one, so a SIGINT landing on
// a thread parked here (a program's main thread in block_on) would never
// reach weft's signal driver. pthread_cond_wait is intercepted as a blocking
// call, during which TSan delivers signals at once.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "scheduler/park_driver.hpp"
#include "scheduler/park_token.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <optional>

namespace weft::detail {

class futex_parker final : public park_driver {
 public:
  void park(std::optional<std::chrono::nanoseconds> timeout) override;
  void unpark() noexcept override;

 private:
  park_token token_;
#if defined(WEFT_TSAN)
  std::mutex mu_;
  std::condition_variable cv_;
#endif
};

}  // namespace weft::detail
