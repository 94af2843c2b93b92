// Planted bugs: see weft/detail/planted_bug.hpp.
#include <weft/detail/planted_bug.hpp>

#include <atomic>

namespace weft::detail {

#if defined(WEFT_TEST_POINTS)
namespace {
// ORDERING: relaxed everywhere: a test sets the mask before it builds the
// runtime whose threads read it (thread creation orders the two).
std::atomic<std::uint32_t> g_planted{0};
}  // namespace

bool planted(planted_bug b) noexcept {
  return (g_planted.load(std::memory_order_relaxed) & static_cast<std::uint32_t>(b)) != 0;
}

std::uint32_t set_planted_bugs(std::uint32_t mask) noexcept {
  return g_planted.exchange(mask, std::memory_order_relaxed);
}
#endif

}  // namespace weft::detail
