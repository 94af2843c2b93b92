// Forcing interleavings through weft's test points (weft/detail/test_point.hpp).
//
//   weft_test::point_script script;
//   script.hold("cell_complete.before_wake_joiner");   // the first thread there waits
//   ... start the work ...
//   ASSERT_TRUE(script.wait_held("cell_complete.before_wake_joiner"));
//   ... act inside the window (cancel the joiner, drop the handle) ...
//   script.release("cell_complete.before_wake_joiner");
//
//   script.on("barrier.between_rounds", [&] { cancel_a_waiter(); });  // run inline, once
//
// Every wait has a deadline: a held thread that is never released goes on
// after `hold_deadline` and the script records it (held_too_long() is then
// true), so a broken test fails instead of hanging.
#pragma once

#include <weft/detail/test_point.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace weft_test {

/// Skip (with the reason) when this build has no test points.
#define WEFT_REQUIRE_TEST_POINTS()                                                    \
  do {                                                                                \
    if (!::weft::detail::test_points_compiled_in())                                   \
      GTEST_SKIP() << "weft was built without -DWEFT_TEST_POINTS=ON (use the debug, " \
                      "asan, tsan or clang preset)";                                  \
  } while (0)

class point_script final : public weft::detail::test_point_handler {
 public:
  explicit point_script(std::chrono::milliseconds hold_deadline = std::chrono::seconds(60))
      : hold_deadline_(hold_deadline) {
    weft::detail::set_test_point_handler(this);
  }
  point_script(const point_script&) = delete;
  point_script& operator=(const point_script&) = delete;
  /// Releases every held thread and uninstalls the script, waiting for the
  /// threads inside it to leave (later arrivals no longer see it).
  ~point_script() {
    {
      std::lock_guard lk(mu_);
      for (auto& [name, p] : points_) p.released = true;
      cv_.notify_all();
    }
    // Waits for every thread inside reached() to leave it.
    weft::detail::set_test_point_handler(nullptr);
  }

  /// The `skip`+1-th thread to reach `name` (counted from now) waits there
  /// until release(name). Other arrivals pass.
  void hold(const std::string& name, int skip = 0) {
    std::lock_guard lk(mu_);
    auto& p = points_[name];
    p.hold = true;
    p.skip = p.reached + skip;  // counted from now
  }

  /// The `skip`+1-th thread to reach `name` runs `fn` there, once.
  void on(const std::string& name, std::function<void()> fn, int skip = 0) {
    std::lock_guard lk(mu_);
    auto& p = points_[name];
    p.action = std::move(fn);
    p.skip = p.reached + skip;  // counted from now
  }

  /// Every thread that reaches `name` runs `fn` there (on its own thread,
  /// without the script's lock held), until the script is destroyed.
  void on_each(const std::string& name, std::function<void()> fn) {
    std::lock_guard lk(mu_);
    points_[name].each = std::move(fn);
  }

  /// Wait until a thread is held at `name`. False after `deadline`.
  bool wait_held(const std::string& name,
                 std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, deadline, [&] { return points_[name].held; });
  }

  /// Wait until `name` was reached at least `n` times. False after `deadline`.
  bool wait_reached(const std::string& name, int n = 1,
                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, deadline, [&] { return points_[name].reached >= n; });
  }

  void release(const std::string& name) {
    std::lock_guard lk(mu_);
    points_[name].released = true;
    cv_.notify_all();
  }

  [[nodiscard]] int reached_count(const std::string& name) {
    std::lock_guard lk(mu_);
    return points_[name].reached;
  }
  /// True if a held thread went on because nobody released it in time.
  [[nodiscard]] bool held_too_long() {
    std::lock_guard lk(mu_);
    return held_too_long_;
  }

  void reached(const char* name) noexcept override {
    std::unique_lock lk(mu_);
    // Every arrival is counted, also at a point the test has not named yet:
    // wait_reached called after a thread passed the point must see it.
    point& p = points_[name];
    if (p.each) {
      const std::function<void()> fn = p.each;
      lk.unlock();
      fn();
      lk.lock();
    }
    const int n = p.reached++;
    cv_.notify_all();
    if (n != p.skip) return;
    if (p.action) {
      auto fn = std::move(p.action);
      p.action = nullptr;
      lk.unlock();
      fn();
      lk.lock();
      cv_.notify_all();
    }
    if (!p.hold) return;
    p.held = true;
    cv_.notify_all();
    if (!cv_.wait_for(lk, hold_deadline_, [&] { return p.released; })) held_too_long_ = true;
    cv_.notify_all();
  }

 private:
  struct point {
    bool hold = false;
    int skip = 0;
    int reached = 0;
    bool held = false;
    bool released = false;
    std::function<void()> action;
    std::function<void()> each;
  };
  std::chrono::milliseconds hold_deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, point, std::less<>> points_;
  bool held_too_long_ = false;
};

}  // namespace weft_test
