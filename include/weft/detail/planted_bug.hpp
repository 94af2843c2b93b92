// weft/detail/planted_bug.hpp — bugs that weft once had (or could have),
// put back behind test-only switches, so that the tools meant to find such
// bugs (the simulation flavour, the model checker) are shown to find them.
//
// Each switch re-creates one bug exactly as it was, at the line where its
// fix now stands:
//   join_unref_before_wake      cell_complete drops the owner's reference
//                               before it wakes the joiner (a joiner
//                               cancelled in between frees the task under
//                               the completing thread: use after free)
//   barrier_withdraw_any_phase  a barrier waiter destroyed between two wake
//                               rounds withdraws its arrival from the next
//                               phase (that phase then never completes)
//   skip_last_searcher_recheck  the last searching worker to park does not
//                               look at the queues again: a task pushed to
//                               the inject queue while it decided to park
//                               waits with every worker asleep (lost wake-up)
//   notify_one_not_passed_on    a notify_one delivered to a waiter that is
//                               cancelled before it resumes is dropped
//                               instead of passed on (lost wake-up, in the
//                               one order: notify, cancel, resume)
//
// Compiled in with the test points (-DWEFT_TEST_POINTS=ON: the debug, asan,
// tsan and clang presets); elsewhere planted() is a constant false and the
// bug's branch is compiled out. Set only by tests, before the runtime they
// check is built.
#pragma once

#include <cstdint>

namespace weft::detail {

enum class planted_bug : std::uint32_t {
  join_unref_before_wake = 1u << 0,
  barrier_withdraw_any_phase = 1u << 1,
  skip_last_searcher_recheck = 1u << 2,
  notify_one_not_passed_on = 1u << 3,
};

#if defined(WEFT_TEST_POINTS)
/// True if the test running now planted `b`.
bool planted(planted_bug b) noexcept;
/// Plant exactly the bugs in `mask` (0: none). Returns the previous mask.
std::uint32_t set_planted_bugs(std::uint32_t mask) noexcept;
#else
constexpr bool planted(planted_bug) noexcept { return false; }
inline std::uint32_t set_planted_bugs(std::uint32_t) noexcept { return 0; }
#endif

}  // namespace weft::detail
