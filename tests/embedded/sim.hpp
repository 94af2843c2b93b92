// tests/embedded/sim.hpp — shared scaffolding of the embedded host tests: the
// simulated CPU reset around each test, and the event log the tests compare
// exactly.
//
// Interrupt lines of the host platform are priorities (0 highest). The tests
// use high_line to pre-empt low_line, and systick_line (lowest) for the tick.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <weft/embedded/embedded.hpp>
#include <weft/embedded/platform_host.hpp>

namespace weft::embedded::test {

using P = host_platform;
inline constexpr unsigned high_line = 1;
inline constexpr unsigned low_line = 5;
inline constexpr unsigned systick_line = 7;

/// Where a task runs, as the tests record it: "irq" inside a simulated
/// handler, "thread" from the run loop. Either way interrupts must be masked.
inline std::string context() {
  std::string where = P::in_interrupt() ? "irq" : "thread";
  if (P::interrupts_enabled()) where += ",UNMASKED";
  return where;
}

class simulated_cpu : public ::testing::Test {
 public:
  void SetUp() override { P::reset(); }
  void TearDown() override { P::reset(); }
  void log(std::string s) { events.push_back(std::move(s)); }

  std::vector<std::string> events;
};

/// Logs when destroyed: shows a task's frame going away (completion or cancel).
struct frame_guard {
  std::vector<std::string>* events;
  const char* name;
  ~frame_guard() { events->push_back(std::string(name) + " frame destroyed"); }
};

}  // namespace weft::embedded::test
