// Lifecycle cross-product: runtime flavour × how the task ends × when it
// suspends × what happens to its handle. Every combination must deliver the
// right outcome to a joiner, never cancel a task whose handle was dropped, and
// destroy the task's state exactly once (the lifetime counters).
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <tuple>

#include "support/lifetime.hpp"

namespace {

using namespace std::chrono_literals;

enum class ending { value, throws };
enum class suspends { never, yields, sleeps };
enum class handle_fate { awaited, dropped_at_once, dropped_after_finish };

using combo = std::tuple<weft::runtime_flavor, ending, suspends, handle_fate>;

class TaskCombinations : public ::testing::TestWithParam<combo> {};

weft::task<int> body(ending e, suspends s, weft_test::counters& c, std::atomic<bool>& finished) {
  weft_test::tracked local{c};
  switch (s) {
    case suspends::never:
      break;
    case suspends::yields:
      co_await weft::yield_now();
      break;
    case suspends::sleeps:
      co_await weft::sleep(1ms);
      break;
  }
  finished.store(true);
  if (e == ending::throws) throw std::runtime_error("task failed");
  co_return 7;
}

TEST_P(TaskCombinations, OutcomeIsDeliveredAndStateDestroyedOnce) {
  // Plain variables, not a structured binding: clang 14 cannot capture
  // structured bindings in lambdas.
  const weft::runtime_flavor flavor = std::get<0>(GetParam());
  const ending e = std::get<1>(GetParam());
  const suspends s = std::get<2>(GetParam());
  const handle_fate fate = std::get<3>(GetParam());
  weft_test::counters c;
  std::atomic<bool> finished{false};
  {
    auto rt = weft::runtime_builder{}.flavor(flavor).build();
    rt.block_on([&]() -> weft::task<> {
      auto h = weft::spawn([&, e = e, s = s, t = weft_test::tracked{c}]() -> weft::task<int> {
        co_return co_await body(e, s, c, finished);
      });
      switch (fate) {
        case handle_fate::awaited:
          if (e == ending::throws) {
            bool caught = false;
            try {
              (void)co_await h;
            } catch (const std::runtime_error&) {
              caught = true;
            }
            EXPECT_TRUE(caught);
          } else {
            EXPECT_EQ(co_await h, 7);
          }
          break;
        case handle_fate::dropped_at_once:
          h.detach();
          break;
        case handle_fate::dropped_after_finish:
          while (!h.is_finished()) co_await weft::yield_now();
          h.detach();
          break;
      }
      // A dropped handle never cancels: wait for the task to run to its end.
      while (!finished.load()) co_await weft::yield_now();
    }());
    rt.shutdown(10s);
  }
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(c.alive.load(), 0);
  EXPECT_GE(c.destroyed.load(), 2);                   // the capture and the local
}

std::string name_of(const ::testing::TestParamInfo<combo>& info) {
  const auto [flavor, e, s, fate] = info.param;
  std::string n = flavor == weft::runtime_flavor::multi_thread ? "multi" : "current";
  n += e == ending::value ? "_value" : "_throws";
  n += s == suspends::never ? "_ready" : s == suspends::yields ? "_yields" : "_sleeps";
  n += fate == handle_fate::awaited           ? "_awaited"
       : fate == handle_fate::dropped_at_once ? "_dropped"
                                              : "_dropped_after_finish";
  return n;
}

INSTANTIATE_TEST_SUITE_P(
    All, TaskCombinations,
    ::testing::Combine(::testing::Values(weft::runtime_flavor::multi_thread,
                                         weft::runtime_flavor::current_thread),
                       ::testing::Values(ending::value, ending::throws),
                       ::testing::Values(suspends::never, suspends::yields, suspends::sleeps),
                       ::testing::Values(handle_fate::awaited, handle_fate::dropped_at_once,
                                         handle_fate::dropped_after_finish)),
    name_of);

}  // namespace
