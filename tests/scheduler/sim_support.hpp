// Helpers for tests that run under the simulation flavour's seeds.
#pragma once

#include <weft/simulation.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace weft_test {

/// Seeds per workload: 1,000 in the plain builds; fewer under the
/// sanitizers, whose instrumentation makes each step several times slower
/// (the orders explored per seed are the same).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr std::uint64_t sim_seeds = 250;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr std::uint64_t sim_seeds = 250;
#else
inline constexpr std::uint64_t sim_seeds = 1000;
#endif
#else
inline constexpr std::uint64_t sim_seeds = 1000;
#endif

/// A broken invariant inside a simulated body: thrown out of block_on, so
/// weft::simulate reports it with its seed.
inline void check(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("invariant broken: " + what);
}

/// Run `body` under sim_seeds seeds; a failure names its seed.
template <class Body>
void expect_all_seeds_pass(Body&& body, std::uint64_t seeds = sim_seeds) {
  auto failure = weft::simulate({.seeds = seeds}, std::forward<Body>(body));
  if (failure) {
    ADD_FAILURE() << failure->what << "\n(replay: WEFT_SIM_SEED=" << failure->seed << ")";
  }
}

}  // namespace weft_test
