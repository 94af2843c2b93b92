// A worker's list of yielded tasks (src/scheduler/worker.hpp): first in,
// first out, across the compaction that drops the taken prefix while tasks
// keep yielding.
#include "scheduler/worker.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace {

using weft::detail::deferred_tasks;
using weft::detail::task_header;

TEST(DeferredTasks, StayInYieldOrderWhileTasksKeepYielding) {
  std::vector<std::unique_ptr<task_header>> headers;
  for (int i = 0; i < 5'000; ++i) headers.push_back(std::make_unique<task_header>(task_header::ref_one));
  deferred_tasks d;
  EXPECT_TRUE(d.empty());
  // 5,000 yielders; each taken one is pushed back (it yielded again), ten
  // rounds: far past the 1,024 taken after which the prefix is dropped.
  for (auto& h : headers) d.push(h.get());
  std::size_t next = 0;
  for (std::size_t taken = 0; taken < 50'000; ++taken) {
    ASSERT_FALSE(d.empty());
    task_header* t = d.pop_front();
    ASSERT_EQ(t, headers[next].get()) << "out of order after " << taken << " taken";
    next = (next + 1) % headers.size();
    d.push(t);
    ASSERT_EQ(d.size(), headers.size());
  }
  while (!d.empty()) (void)d.pop_front();
  EXPECT_EQ(d.size(), 0u);
}

}  // namespace
