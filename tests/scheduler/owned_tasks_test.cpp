// The owned-task table (src/scheduler/owned_tasks.hpp): every inserted task
// is found once by shutdown's pop() unless it was removed, slots are reused,
// and the table empties.
#include "scheduler/owned_tasks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <vector>

namespace {

using weft::detail::owned_tasks;
using weft::detail::task_header;

std::vector<std::unique_ptr<task_header>> make_headers(std::size_t n) {
  std::vector<std::unique_ptr<task_header>> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) v.push_back(std::make_unique<task_header>(task_header::ref_one));
  return v;
}

TEST(OwnedTasks, PopAfterCloseFindsExactlyTheTasksNotRemoved) {
  auto headers = make_headers(10'000);
  owned_tasks owned;
  for (auto& h : headers) ASSERT_TRUE(owned.insert(h.get()));
  std::set<task_header*> expected;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i % 3 == 0) {
      owned.remove(headers[i].get());
    } else {
      expected.insert(headers[i].get());
    }
  }
  EXPECT_FALSE(owned.all_empty());
  owned.close();
  EXPECT_FALSE(owned.insert(headers[0].get()));  // closed
  std::set<task_header*> popped;
  while (task_header* t = owned.pop()) EXPECT_TRUE(popped.insert(t).second) << "popped twice";
  EXPECT_EQ(popped, expected);
  EXPECT_TRUE(owned.all_empty());
}

TEST(OwnedTasks, FreedSlotsAreReusedAndAnEmptiedTableStartsAfresh) {
  auto headers = make_headers(5'000);
  owned_tasks owned;
  for (int round = 0; round < 3; ++round) {
    // Fill, drain completely (the shards release their arrays), refill.
    for (auto& h : headers) ASSERT_TRUE(owned.insert(h.get()));
    for (auto& h : headers) owned.remove(h.get());
    EXPECT_TRUE(owned.all_empty());
    EXPECT_TRUE(owned.wait_idle(std::chrono::seconds(5)));
  }
  // Interleaved: a removed task's slot is taken by the next insert on its
  // shard; every slot stays distinct.
  for (std::size_t i = 0; i < headers.size(); ++i) {
    ASSERT_TRUE(owned.insert(headers[i].get()));
    if (i % 2 == 1) owned.remove(headers[i - 1].get());
  }
  std::set<std::uint32_t> slots;
  for (std::size_t i = 1; i < headers.size(); i += 2) {
    EXPECT_TRUE(slots.insert(headers[i]->owned_slot_).second) << "two live tasks share a slot";
  }
  owned.close();
  std::size_t left = 0;
  while (owned.pop() != nullptr) ++left;
  EXPECT_EQ(left, headers.size() / 2);
}

}  // namespace
