// Test points: see weft/detail/test_point.hpp.
#include <weft/detail/test_point.hpp>

#include <atomic>

namespace weft::detail {

namespace {
// ORDERING: release store in set_test_point_handler, acquire load in
// test_point_reached: a thread that sees the handler sees it constructed.
std::atomic<test_point_handler*> g_handler{nullptr};
}  // namespace

bool test_points_compiled_in() noexcept {
#if defined(WEFT_TEST_POINTS)
  return true;
#else
  return false;
#endif
}

bool set_test_point_handler(test_point_handler* h) noexcept {
  if (!test_points_compiled_in()) return false;
  g_handler.store(h, std::memory_order_release);
  return true;
}

void test_point_reached(const char* name) noexcept {
  if (test_point_handler* h = g_handler.load(std::memory_order_acquire)) h->reached(name);
}

}  // namespace weft::detail
