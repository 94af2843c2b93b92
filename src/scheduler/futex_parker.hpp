// futex_parker — park a thread until unparked or a deadline passes.
//
// The protocol is park_token's; the owner sleeps with futex_wait on the
// token's word while it is PARKED, and unpark wakes it with futex_wake. The
// simplest park driver: block_on's runner uses it; runtime workers park in an
// I/O driver (src/io/) with the same protocol.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include "scheduler/park_driver.hpp"
#include "scheduler/park_token.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace weft::detail {

class futex_parker final : public park_driver {
 public:
  void park(std::optional<std::chrono::nanoseconds> timeout) override;
  void unpark() noexcept override;

 private:
  park_token token_;
};

}  // namespace weft::detail
