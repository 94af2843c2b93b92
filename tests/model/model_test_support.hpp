// Helpers shared by the model tests: run a check and turn its result into
// GoogleTest assertions that print the failing schedule.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

namespace weft::model_test {

namespace model = weft::detail::model;
namespace sync = weft::detail::sync;

/// Runs `body` under the checker; the test fails (with the schedule) unless
/// every interleaving within the bound passes and the search completed.
/// Prints the interleaving count and the time (recorded in
/// docs/reliability.md, "Model checking"). Returns the count.
inline std::size_t expect_all_interleavings_pass(const char* what,
                                                 const std::function<void()>& body,
                                                 model::options opts = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  const model::result r = model::check(body, opts);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
  std::printf("[model] %s: %zu interleavings (preemption bound %u, %s), %lld ms\n", what,
              r.interleavings, opts.preemption_bound,
              opts.random_executions > 0                          ? "random"
              : opts.weak_memory && opts.stale_read_bound > 0 ? "weak memory"
                                                              : "seq_cst",
              static_cast<long long>(ms));
  EXPECT_TRUE(r.ok) << r.failure << "\nschedule:\n" << r.schedule;
  EXPECT_TRUE(r.complete) << "the search stopped at options::max_interleavings";
  EXPECT_GT(r.interleavings, 1u) << "a model test with one interleaving explores nothing";
  return r.interleavings;
}

}  // namespace weft::model_test
