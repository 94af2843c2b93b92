// Lifetime-counting helpers for tests: objects that record when they are
// created and destroyed, so a test can assert that a task's captures and
// locals were destroyed — exactly once — at the moment the design says.
#pragma once

#include <atomic>

namespace weft_test {

struct counters {
  std::atomic<int> alive{0};
  std::atomic<int> destroyed{0};
};

class tracked {
 public:
  explicit tracked(counters& c) noexcept : c_(&c) { c_->alive.fetch_add(1); }
  tracked(const tracked& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) c_->alive.fetch_add(1);
  }
  tracked(tracked&& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) c_->alive.fetch_add(1);
  }
  tracked& operator=(const tracked&) = delete;
  tracked& operator=(tracked&&) = delete;
  ~tracked() {
    if (c_ != nullptr) {
      c_->alive.fetch_sub(1);
      c_->destroyed.fetch_add(1);
    }
  }

 private:
  counters* c_;
};

}  // namespace weft_test
