// Test points: see weft/detail/test_point.hpp.
#include <weft/detail/test_point.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>

namespace weft::detail {

namespace {
// The installed handler, and the number of threads inside
// test_point_reached. ORDERING: seq_cst on both: a reaching thread counts
// itself in, then loads the handler; set_test_point_handler stores the new
// handler, then waits for the count to reach zero. In the single total order
// either the reaching thread's load sees the new handler, or its increment
// precedes the store and the setter waits for its decrement (release, paired
// with the setter's acquire-strength seq_cst load) before returning.
std::atomic<test_point_handler*> g_handler{nullptr};
std::atomic<int> g_inside{0};
// The simulation's hook on its driving thread (thread-local: no ordering).
thread_local preemption_hook* tl_preemption = nullptr;
}  // namespace

preemption_hook* set_thread_preemption_hook(preemption_hook* h) noexcept {
  return std::exchange(tl_preemption, h);
}

bool test_points_compiled_in() noexcept {
#if defined(WEFT_TEST_POINTS)
  return true;
#else
  return false;
#endif
}

bool set_test_point_handler(test_point_handler* h) noexcept {
  if (!test_points_compiled_in()) return false;
  g_handler.store(h, std::memory_order_seq_cst);
  while (g_inside.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  return true;
}

void report_fatal_in_test(const char* what) noexcept {
  std::fprintf(stderr, "weft: %s used a freed task header (a use after free)\n", what);
  if (tl_preemption != nullptr) tl_preemption->describe_on_crash();
  std::fflush(stderr);
  std::abort();
}

void test_point_reached(const char* name) noexcept {
  if (tl_preemption != nullptr) tl_preemption->at_point(name);
  g_inside.fetch_add(1, std::memory_order_seq_cst);
  if (test_point_handler* h = g_handler.load(std::memory_order_seq_cst)) h->reached(name);
  g_inside.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace weft::detail
