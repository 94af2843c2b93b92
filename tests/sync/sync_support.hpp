// Helpers for the tests of weft's synchronisation primitives.
#pragma once

#include <weft/runtime.hpp>
#include <weft/sync.hpp>
#include <weft/task.hpp>

#include "support/manual_coro.hpp"

#include <cstdint>

namespace sync_test {

// wait_until and manual_coro are shared with the other test folders.
using weft_test::manual_coro;
using weft_test::wait_until;

/// xorshift64*: a small deterministic generator per task.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() noexcept {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  /// Uniform-ish in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  std::uint64_t s_;
};

}  // namespace sync_test
