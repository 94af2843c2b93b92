// Tests for weft::detail::local_queue (src/scheduler/local_queue.hpp).
#include "scheduler/local_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace {

using weft::detail::local_queue;
namespace sync = weft::detail::sync;

struct task {
  task* queue_next_ = nullptr;
  std::uint32_t id = 0;
  std::uint32_t check = 0;  // id-derived payload, to catch torn publication
};

std::vector<task> make_tasks(std::size_t n) {
  std::vector<task> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i].id = static_cast<std::uint32_t>(i);
    v[i].check = static_cast<std::uint32_t>(i * 2654435761u);
  }
  return v;
}

// Overflow sink that records the chain it was handed.
struct chain_log {
  std::vector<task*> tasks;
  std::size_t calls = 0;
  auto sink() {
    return [this](task* head, task* tail, std::size_t n) {
      ++calls;
      std::size_t walked = 0;
      task* last = nullptr;
      for (task* t = head; t != nullptr; t = t->queue_next_) {
        tasks.push_back(t);
        last = t;
        ++walked;
      }
      EXPECT_EQ(walked, n);
      EXPECT_EQ(last, tail);
    };
  }
};

auto no_overflow() {
  return [](task*, task*, std::size_t) { ADD_FAILURE() << "unexpected overflow"; };
}

template <class Q>
std::vector<task*> pop_all(Q& q) {
  std::vector<task*> out;
  while (task* t = q.pop()) out.push_back(t);
  return out;
}

TEST(LocalQueue, OwnerPopsInFifoOrder) {
  auto tasks = make_tasks(100);
  local_queue<task> q;
  for (auto& t : tasks) q.push_back_or_overflow(&t, no_overflow());
  EXPECT_EQ(q.len(), 100u);
  auto out = pop_all(q);
  ASSERT_EQ(out.size(), 100u);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], &tasks[i]);
  EXPECT_FALSE(q.has_tasks());
}

TEST(LocalQueue, PopFromEmptyReturnsNull) {
  local_queue<task, 4> q;
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_FALSE(q.has_tasks());
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.remaining_slots(), 4u);
}

TEST(LocalQueue, LenAndRemainingSlotsTrackContents) {
  auto tasks = make_tasks(3);
  local_queue<task, 4> q;
  for (std::size_t i = 0; i < 3; ++i) {
    q.push_back_or_overflow(&tasks[i], no_overflow());
    EXPECT_EQ(q.len(), i + 1);
    EXPECT_EQ(q.remaining_slots(), 4 - (i + 1));
    EXPECT_TRUE(q.has_tasks());
  }
  (void)pop_all(q);
  EXPECT_EQ(q.remaining_slots(), 4u);
}

template <std::size_t Cap>
void push_to_full_overflows_oldest_half_plus_new_task() {
  auto tasks = make_tasks(Cap + 1);
  local_queue<task, Cap> q;
  chain_log log;
  for (std::size_t i = 0; i < Cap; ++i) q.push_back_or_overflow(&tasks[i], log.sink());
  EXPECT_EQ(log.calls, 0u);
  EXPECT_EQ(q.remaining_slots(), 0u);

  q.push_back_or_overflow(&tasks[Cap], log.sink());
  ASSERT_EQ(log.calls, 1u);
  ASSERT_EQ(log.tasks.size(), Cap / 2 + 1);
  for (std::size_t i = 0; i < Cap / 2; ++i) EXPECT_EQ(log.tasks[i], &tasks[i]);
  EXPECT_EQ(log.tasks.back(), &tasks[Cap]);

  // The newer half stays, still FIFO.
  EXPECT_EQ(q.len(), Cap / 2);
  auto rest = pop_all(q);
  ASSERT_EQ(rest.size(), Cap / 2);
  for (std::size_t i = 0; i < Cap / 2; ++i) EXPECT_EQ(rest[i], &tasks[Cap / 2 + i]);
}

TEST(LocalQueue, PushToFullOverflowsOldestHalfPlusNewTaskInOrderCap4) {
  push_to_full_overflows_oldest_half_plus_new_task<4>();
}

TEST(LocalQueue, PushToFullOverflowsOldestHalfPlusNewTaskInOrderCap256) {
  push_to_full_overflows_oldest_half_plus_new_task<256>();
}

TEST(LocalQueue, StealTakesHalfRoundingUpAndReturnsOne) {
  for (std::size_t count : {1u, 2u, 5u, 6u, 256u}) {
    SCOPED_TRACE(count);
    auto tasks = make_tasks(count);
    local_queue<task> src;
    local_queue<task> dst;
    for (auto& t : tasks) src.push_back_or_overflow(&t, no_overflow());

    const std::size_t stolen = count - count / 2;
    task* ret = src.steal_into(dst);
    // The oldest `stolen` tasks move; the newest of them is returned to run.
    ASSERT_EQ(ret, &tasks[stolen - 1]);
    EXPECT_EQ(dst.len(), stolen - 1);
    EXPECT_EQ(src.len(), count - stolen);
    auto in_dst = pop_all(dst);
    for (std::size_t i = 0; i + 1 < stolen; ++i) EXPECT_EQ(in_dst[i], &tasks[i]);
    auto in_src = pop_all(src);
    for (std::size_t i = 0; i < in_src.size(); ++i) EXPECT_EQ(in_src[i], &tasks[stolen + i]);
  }
}

TEST(LocalQueue, StealFromEmptyReturnsNull) {
  local_queue<task, 4> src;
  local_queue<task, 4> dst;
  EXPECT_EQ(src.steal_into(dst), nullptr);
  EXPECT_FALSE(dst.has_tasks());
}

TEST(LocalQueue, StealRefusesWhenDestinationHasLessThanHalfFree) {
  auto tasks = make_tasks(6);
  local_queue<task, 4> src;
  local_queue<task, 4> dst;
  for (std::size_t i = 0; i < 3; ++i) src.push_back_or_overflow(&tasks[i], no_overflow());
  for (std::size_t i = 3; i < 6; ++i) dst.push_back_or_overflow(&tasks[i], no_overflow());
  EXPECT_EQ(src.steal_into(dst), nullptr);  // dst has 1 free slot < 4/2
  EXPECT_EQ(src.len(), 3u);
  (void)dst.pop();  // now 2 free: allowed
  EXPECT_EQ(src.steal_into(dst), &tasks[1]);
  (void)pop_all(src);
  (void)pop_all(dst);
}

TEST(LocalQueue, StolenTasksCanBeStolenAgain) {
  auto tasks = make_tasks(8);
  local_queue<task, 16> a, b, c;
  for (auto& t : tasks) a.push_back_or_overflow(&t, no_overflow());
  EXPECT_EQ(a.steal_into(b), &tasks[3]);  // b: 0 1 2
  EXPECT_EQ(b.steal_into(c), &tasks[1]);  // c: 0
  EXPECT_EQ(pop_all(c), std::vector<task*>{&tasks[0]});
  EXPECT_EQ(pop_all(b), std::vector<task*>{&tasks[2]});
  EXPECT_EQ(a.len(), 4u);
  (void)pop_all(a);
}

// Many small cycles on a 4-slot ring: positions run far past the ring size, so
// every slot is reused thousands of times and every index wraps the mask.
TEST(LocalQueue, IndicesWrapAroundOverManyCyclesCap4) {
  auto tasks = make_tasks(4);
  local_queue<task, 4> q;
  local_queue<task, 4> thief;
  for (int cycle = 0; cycle < 100000; ++cycle) {
    const std::size_t k = 1 + static_cast<std::size_t>(cycle) % 4;
    for (std::size_t i = 0; i < k; ++i) q.push_back_or_overflow(&tasks[i], no_overflow());
    std::size_t next = 0;
    if (cycle % 3 == 0) {
      const std::size_t stolen = k - k / 2;
      ASSERT_EQ(q.steal_into(thief), &tasks[stolen - 1]);
      auto from_thief = pop_all(thief);
      ASSERT_EQ(from_thief.size(), stolen - 1);
      for (std::size_t i = 0; i + 1 < stolen; ++i) ASSERT_EQ(from_thief[i], &tasks[i]);
      next = stolen;
    }
    for (; next < k; ++next) ASSERT_EQ(q.pop(), &tasks[next]);
    ASSERT_EQ(q.pop(), nullptr);
  }
}

// Single-threaded random operations on two queues checked against deques.
TEST(LocalQueue, MatchesSequentialModelUnderRandomOperationsCap4) {
  constexpr std::size_t cap = 4;
  auto tasks = make_tasks(1u << 16);
  std::size_t next_task = 0;
  local_queue<task, cap> q[2];
  std::deque<task*> model[2];
  std::deque<task*> overflowed, model_overflowed;
  auto sink = [&](task* head, task* tail, std::size_t n) {
    std::size_t walked = 0;
    for (task* t = head; t != nullptr; t = t->queue_next_, ++walked) {
      overflowed.push_back(t);
      if (t->queue_next_ == nullptr) {
        EXPECT_EQ(t, tail);
      }
    }
    EXPECT_EQ(walked, n);
  };
  std::mt19937 rng(12345);  // fixed seed: the sequence is deterministic
  for (int step = 0; step < 200000; ++step) {
    const unsigned op = static_cast<unsigned>(rng() % 5);
    const unsigned w = static_cast<unsigned>(rng() % 2);
    auto& mq = model[w];
    if (op <= 1) {  // push (weighted twice)
      task* t = &tasks[next_task++ % tasks.size()];
      if (mq.size() == cap) {
        for (std::size_t i = 0; i < cap / 2; ++i) {
          model_overflowed.push_back(mq.front());
          mq.pop_front();
        }
        model_overflowed.push_back(t);
      } else {
        mq.push_back(t);
      }
      q[w].push_back_or_overflow(t, sink);
    } else if (op == 2) {
      task* expect = mq.empty() ? nullptr : mq.front();
      if (!mq.empty()) mq.pop_front();
      ASSERT_EQ(q[w].pop(), expect);
    } else {  // steal from w into the other
      auto& md = model[1 - w];
      task* expect = nullptr;
      if (!mq.empty() && cap - md.size() >= cap / 2) {
        const std::size_t n = mq.size() - mq.size() / 2;
        for (std::size_t i = 0; i + 1 < n; ++i) {
          md.push_back(mq.front());
          mq.pop_front();
        }
        expect = mq.front();
        mq.pop_front();
      }
      ASSERT_EQ(q[w].steal_into(q[1 - w]), expect);
    }
    ASSERT_EQ(q[0].len(), model[0].size());
    ASSERT_EQ(q[1].len(), model[1].size());
    ASSERT_EQ(q[w].remaining_slots(), cap - mq.size());
  }
  EXPECT_EQ(overflowed, model_overflowed);
  for (int w = 0; w < 2; ++w) {
    for (task* t : model[w]) ASSERT_EQ(q[w].pop(), t);
    ASSERT_EQ(q[w].pop(), nullptr);
  }
}

// ---------------------------------------------------------------- stress

// One million items at both capacities. Measured on 2 cores: well under 1 s
// uninstrumented and about 1-2 s per capacity under TSan (g++ and clang++),
// so the count is not scaled down for sanitizers.
constexpr std::size_t stress_items = 1'000'000;

// The owner pushes every item and pops every other push; three thieves steal
// from the owner (and from each other) into their own queues and drain them.
// Every item must be consumed exactly once, with its payload intact.
template <std::size_t Cap>
void stress_owner_and_three_thieves() {
  constexpr std::size_t n_items = stress_items;
  constexpr std::size_t n_thieves = 3;
  std::vector<task> tasks(n_items);
  for (std::size_t i = 0; i < n_items; ++i) tasks[i].id = static_cast<std::uint32_t>(i);
  auto seen = std::make_unique<sync::atomic<std::uint32_t>[]>(n_items);
  sync::atomic<std::size_t> total{0};
  sync::atomic<std::size_t> bad_payload{0};

  auto consume = [&](task* t) {
    if (t->check != static_cast<std::uint32_t>(t->id * 2654435761u)) {
      bad_payload.fetch_add(1, std::memory_order_relaxed);
    }
    seen[t->id].fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(1, std::memory_order_relaxed);
  };

  local_queue<task, Cap> owner_q;
  std::array<local_queue<task, Cap>, n_thieves> thief_q;
  std::vector<std::thread> thieves;
  for (std::size_t i = 0; i < n_thieves; ++i) {
    thieves.emplace_back([&, i] {
      auto& mine = thief_q[i];
      auto& neighbour = thief_q[(i + 1) % n_thieves];
      while (total.load(std::memory_order_relaxed) != n_items) {
        while (task* t = mine.pop()) consume(t);
        task* t = owner_q.steal_into(mine);
        if (t == nullptr) t = neighbour.steal_into(mine);
        if (t != nullptr) {
          consume(t);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }

  std::size_t overflow_calls = 0;
  auto overflow = [&](task* head, task* tail, std::size_t n) {
    ++overflow_calls;
    std::size_t walked = 0;
    task* last = nullptr;
    for (task* t = head; t != nullptr;) {
      task* next = t->queue_next_;
      last = t;
      ++walked;
      consume(t);
      t = next;
    }
    EXPECT_TRUE(n == 1 || n == Cap / 2 + 1) << n;
    EXPECT_EQ(walked, n);
    EXPECT_EQ(last, tail);
  };
  for (std::size_t i = 0; i < n_items; ++i) {
    // Alternate phases: in one the owner gives thieves a chance when its
    // queue is full (more steals), in the other it overflows (more overflows).
    if ((i / 8192) % 2 == 0 && owner_q.remaining_slots() == 0) {
      std::this_thread::yield();
    }
    // Written here, not up front, so the consumer's read of it is only
    // race-free (for TSan) if the push publishes it properly.
    tasks[i].check = static_cast<std::uint32_t>(i * 2654435761u);
    owner_q.push_back_or_overflow(&tasks[i], overflow);
    if (i % 2 == 1) {
      if (task* t = owner_q.pop()) consume(t);
    }
  }
  while (task* t = owner_q.pop()) consume(t);
  for (auto& th : thieves) th.join();

  EXPECT_EQ(total.load(), n_items);
  EXPECT_EQ(bad_payload.load(), 0u);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n_items; ++i) {
    if (seen[i].load(std::memory_order_relaxed) != 1) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << "items not seen exactly once";
  for (auto& q : thief_q) EXPECT_FALSE(q.has_tasks());
}

TEST(LocalQueueStress, OwnerAndThreeThievesSeeEveryTaskExactlyOnceCap4) {
  stress_owner_and_three_thieves<4>();
}

TEST(LocalQueueStress, OwnerAndThreeThievesSeeEveryTaskExactlyOnceCap256) {
  stress_owner_and_three_thieves<256>();
}

}  // namespace
