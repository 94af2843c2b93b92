// weft/detail/test_point.hpp — named points in weft's own code where a test
// can stop a thread, or run an action, to force an interleaving.
//
// Narrow windows (a join abandoned while its task completes, a waiter
// cancelled between two wake rounds) never open by chance on a small
// machine. A test installs a handler; a thread of weft that reaches
// WEFT_TEST_POINT("name") calls it with the name, and the handler may block
// that thread until the test has done what it wants in the window
// (tests/support/test_points.hpp has the helpers).
//
// Compiled in only when weft is configured with -DWEFT_TEST_POINTS=ON (the
// debug, asan, tsan and clang presets do this); otherwise every point is
// `((void)0)` and test_points_compiled_in() is false. The definition is part
// of the build-tree interface only, so every translation unit of one build
// agrees and an installed weft never has the points.
#pragma once

namespace weft::detail {

class test_point_handler {
 public:
  /// Called on the thread that reached the point `name`. May block.
  virtual void reached(const char* name) noexcept = 0;

 protected:
  ~test_point_handler() = default;
};

/// Install `h` (nullptr removes it). Removing (or replacing) waits until no
/// thread is inside a call to the previous handler, so the caller may destroy
/// it as soon as this returns. A handler that blocks a thread must release it
/// before it is removed. False if this build has no test points.
bool set_test_point_handler(test_point_handler* h) noexcept;

/// What a simulation runtime (simulation.hpp) installs on the one thread that
/// drives it: called first at every test point that thread reaches, it may
/// run other virtual workers' steps right there — a preemption at a named
/// point, replayed from the seed like every other choice of the simulation.
class preemption_hook {
 public:
  virtual void at_point(const char* name) noexcept = 0;
  /// Print (to stderr) what replays the run: called just before a fatal
  /// report on this thread (report_fatal_in_test, an ASan report).
  virtual void describe_on_crash() noexcept = 0;

 protected:
  ~preemption_hook() = default;
};

/// Install `h` for the calling thread only (nullptr removes it); returns the
/// previous one. Without test points in the build the hook is never called.
preemption_hook* set_thread_preemption_hook(preemption_hook* h) noexcept;

/// A bug that builds with test points detect and cannot survive (a task
/// header used after it was freed): prints "weft: <what> used a freed task
/// header", what replays the run if a simulation drives this thread, and
/// aborts.
[[noreturn]] void report_fatal_in_test(const char* what) noexcept;

/// True if this build of weft was compiled with its test points.
bool test_points_compiled_in() noexcept;

/// Called by WEFT_TEST_POINT; does nothing when no handler is installed.
void test_point_reached(const char* name) noexcept;

}  // namespace weft::detail

#if defined(WEFT_TEST_POINTS)
#define WEFT_TEST_POINT(name) ::weft::detail::test_point_reached(name)
#else
#define WEFT_TEST_POINT(name) ((void)0)
#endif
