// Tests for weft::detail::inject_queue (src/scheduler/inject_queue.hpp).
#include "scheduler/inject_queue.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using weft::detail::inject_queue;
namespace sync = weft::detail::sync;

struct task {
  task* queue_next_ = nullptr;
  std::uint32_t id = 0;
  std::uint32_t check = 0;
};

std::vector<task> make_tasks(std::size_t n) {
  std::vector<task> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i].id = static_cast<std::uint32_t>(i);
  return v;
}

// Links tasks[from, to) through queue_next_ (last one's next left as garbage
// on purpose: push_batch must terminate the chain itself).
void link(std::vector<task>& tasks, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i + 1 < to; ++i) tasks[i].queue_next_ = &tasks[i + 1];
  tasks[to - 1].queue_next_ = &tasks[0];
}

std::vector<task*> drain_all(inject_queue<task>& q) {
  std::vector<task*> out;
  q.drain([&](task* t) { out.push_back(t); });
  return out;
}

TEST(InjectQueue, PopsInFifoOrder) {
  auto tasks = make_tasks(10);
  inject_queue<task> q;
  for (auto& t : tasks) EXPECT_TRUE(q.push(&t));
  for (auto& t : tasks) {
    task* got = q.pop();
    EXPECT_EQ(got, &t);
    EXPECT_EQ(got->queue_next_, nullptr);  // unlinked on the way out
  }
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(InjectQueue, PopFromEmptyReturnsNull) {
  inject_queue<task> q;
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.len(), 0u);
}

TEST(InjectQueue, LenAndIsEmptyTrackPushesAndPops) {
  auto tasks = make_tasks(3);
  inject_queue<task> q;
  for (std::size_t i = 0; i < 3; ++i) {
    q.push(&tasks[i]);
    EXPECT_EQ(q.len(), i + 1);
    EXPECT_FALSE(q.is_empty());
  }
  q.pop();
  EXPECT_EQ(q.len(), 2u);
  (void)drain_all(q);
  EXPECT_TRUE(q.is_empty());
}

TEST(InjectQueue, PushBatchAppendsChainInOrder) {
  auto tasks = make_tasks(7);
  inject_queue<task> q;
  EXPECT_TRUE(q.push(&tasks[0]));
  link(tasks, 1, 6);
  EXPECT_TRUE(q.push_batch(&tasks[1], &tasks[5], 5));
  EXPECT_TRUE(q.push(&tasks[6]));
  EXPECT_TRUE(q.push_batch(nullptr, nullptr, 0));  // empty batch is a no-op
  EXPECT_EQ(q.len(), 7u);
  for (auto& t : tasks) EXPECT_EQ(q.pop(), &t);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(InjectQueue, PopNHandsOverAtMostNInOrder) {
  auto tasks = make_tasks(5);
  inject_queue<task> q;
  for (auto& t : tasks) q.push(&t);
  std::vector<task*> got;
  auto sink = [&](task* t) {
    EXPECT_EQ(t->queue_next_, nullptr);
    got.push_back(t);
  };
  EXPECT_EQ(q.pop_n(3, sink), 3u);
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.pop_n(10, sink), 2u);
  EXPECT_EQ(q.pop_n(10, sink), 0u);
  EXPECT_EQ(q.pop_n(0, sink), 0u);
  ASSERT_EQ(got.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(got[i], &tasks[i]);
  EXPECT_TRUE(q.is_empty());
}

TEST(InjectQueue, PopNSinkMayPushBackIntoSameQueue) {
  auto tasks = make_tasks(4);
  inject_queue<task> q;
  for (auto& t : tasks) q.push(&t);
  // A sink that re-injects (e.g. a local queue overflowing) must not deadlock.
  EXPECT_EQ(q.pop_n(2, [&](task* t) { EXPECT_TRUE(q.push(t)); }), 2u);
  auto out = drain_all(q);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], &tasks[2]);
  EXPECT_EQ(out[1], &tasks[3]);
  EXPECT_EQ(out[2], &tasks[0]);
  EXPECT_EQ(out[3], &tasks[1]);
}

TEST(InjectQueue, ThrowingSinkPutsUntakenTasksBackInOrder) {
  auto tasks = make_tasks(5);
  inject_queue<task> q;
  for (auto& t : tasks) q.push(&t);
  std::vector<task*> got;
  EXPECT_THROW(q.pop_n(4,
                       [&](task* t) {
                         got.push_back(t);
                         if (got.size() == 2) throw std::runtime_error("sink");
                       }),
               std::runtime_error);
  // tasks[0], tasks[1] were handed over; 2, 3 (popped but not handed) and 4
  // are back, in order.
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(q.len(), 3u);
  auto rest = drain_all(q);
  ASSERT_EQ(rest.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(rest[i], &tasks[2 + i]);
}

TEST(InjectQueue, CloseRefusesPushesButKeepsQueuedTasks) {
  auto tasks = make_tasks(4);
  inject_queue<task> q;
  EXPECT_FALSE(q.is_closed());
  EXPECT_TRUE(q.push(&tasks[0]));
  q.close();
  EXPECT_TRUE(q.is_closed());
  EXPECT_FALSE(q.push(&tasks[1]));
  link(tasks, 2, 4);
  EXPECT_FALSE(q.push_batch(&tasks[2], &tasks[3], 2));
  EXPECT_FALSE(q.push_batch(nullptr, nullptr, 0));
  EXPECT_EQ(tasks[2].queue_next_, &tasks[3]);  // refused chain left intact
  EXPECT_EQ(q.len(), 1u);
  q.close();  // idempotent
  EXPECT_EQ(q.pop(), &tasks[0]);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(InjectQueue, DrainTakesEverythingInOrderAndLeavesQueueEmpty) {
  auto tasks = make_tasks(6);
  inject_queue<task> q;
  for (auto& t : tasks) q.push(&t);
  q.close();
  auto out = drain_all(q);
  ASSERT_EQ(out.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i], &tasks[i]);
    EXPECT_EQ(out[i]->queue_next_, nullptr);
  }
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(drain_all(q).empty());
}

// Four threads push while the main thread closes the queue half way through
// (it waits, with a deadline, until half the tasks were pushed); each
// producer's last push waits for the close, so refusals are certain. Every task
// is either refused (its pusher keeps it) or drained after close, exactly
// once; no push is accepted after close returned.
TEST(InjectQueueStress, PushesRacingCloseAreEachRefusedOrDrainedExactlyOnce) {
  constexpr std::size_t n_producers = 4;
  constexpr std::size_t per_producer = 50'000;
  constexpr std::size_t n_items = n_producers * per_producer;
  auto tasks = make_tasks(n_items);
  auto refused = std::make_unique<sync::atomic<std::uint32_t>[]>(n_items);
  sync::atomic<std::size_t> attempted{0};
  sync::atomic<bool> closed{false};
  sync::atomic<std::size_t> accepted_after_close{0};
  inject_queue<task> q;
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < n_producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::size_t i = 0; i < per_producer; ++i) {
        if (i + 1 == per_producer) {
          // The last push waits (with a deadline) until close returned, so
          // every run has refusals to check; the others race the close.
          const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
          // ORDERING: acquire: pairs with the release store after close().
          while (!closed.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
          }
        }
        task& t = tasks[p * per_producer + i];
        t.check = t.id + 1;
        // ORDERING: acquire: pairs with the release store after close().
        const bool after = closed.load(std::memory_order_acquire);
        if (!q.push(&t)) {
          refused[t.id].fetch_add(1, std::memory_order_relaxed);
        } else if (after) {
          accepted_after_close.fetch_add(1, std::memory_order_relaxed);
        }
        attempted.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (attempted.load(std::memory_order_relaxed) < n_items / 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  q.close();
  closed.store(true, std::memory_order_release);  // ORDERING: pairs with the pushers' acquire
  for (auto& th : threads) th.join();
  std::vector<std::uint32_t> drained(n_items, 0);
  std::size_t bad_payload = 0;
  q.drain([&](task* t) {
    ++drained[t->id];
    if (t->check != t->id + 1) ++bad_payload;
  });
  std::size_t wrong = 0;
  std::size_t n_refused = 0;
  for (std::size_t i = 0; i < n_items; ++i) {
    const std::uint32_t r = refused[i].load(std::memory_order_relaxed);
    n_refused += r;
    if (r + drained[i] != 1) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << "tasks not refused or drained exactly once";
  EXPECT_EQ(bad_payload, 0u);
  EXPECT_EQ(accepted_after_close.load(), 0u);
  EXPECT_GE(n_refused, n_producers) << "each producer's last push came after close";
  EXPECT_TRUE(q.is_empty());
}

// Four producers (mixing single pushes and batches of 8) and two consumers
// (mixing pop and pop_n). Each task must be consumed exactly once, with the
// payload written by its producer visible to the consumer.
TEST(InjectQueueStress, FourProducersTwoConsumersDeliverEachTaskExactlyOnce) {
  constexpr std::size_t n_producers = 4;
  constexpr std::size_t per_producer = 100'000;
  constexpr std::size_t n_items = n_producers * per_producer;
  auto tasks = make_tasks(n_items);
  auto seen = std::make_unique<sync::atomic<std::uint32_t>[]>(n_items);
  sync::atomic<std::size_t> total{0};
  sync::atomic<std::size_t> bad_payload{0};
  inject_queue<task> q;

  auto consume = [&](task* t) {
    if (t->check != t->id + 1) bad_payload.fetch_add(1, std::memory_order_relaxed);
    seen[t->id].fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(1, std::memory_order_relaxed);
  };

  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < n_producers; ++p) {
    threads.emplace_back([&, p] {
      const std::size_t base = p * per_producer;
      std::size_t i = 0;
      while (i < per_producer) {
        if ((i / 8) % 2 == 0 && i + 8 <= per_producer) {
          for (std::size_t k = 0; k < 8; ++k) {
            task& t = tasks[base + i + k];
            t.check = t.id + 1;
            t.queue_next_ = k + 1 < 8 ? &tasks[base + i + k + 1] : nullptr;
          }
          EXPECT_TRUE(q.push_batch(&tasks[base + i], &tasks[base + i + 7], 8));
          i += 8;
        } else {
          task& t = tasks[base + i];
          t.check = t.id + 1;
          EXPECT_TRUE(q.push(&t));
          ++i;
        }
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      std::size_t round = 0;
      while (total.load(std::memory_order_relaxed) != n_items) {
        std::size_t got = 0;
        if ((round++ + static_cast<std::size_t>(c)) % 2 == 0) {
          if (task* t = q.pop()) {
            consume(t);
            got = 1;
          }
        } else {
          got = q.pop_n(16, consume);
        }
        if (got == 0) std::this_thread::yield();
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(total.load(), n_items);
  EXPECT_EQ(bad_payload.load(), 0u);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n_items; ++i) {
    if (seen[i].load(std::memory_order_relaxed) != 1) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << "items not seen exactly once";
  EXPECT_TRUE(q.is_empty());
}

}  // namespace

namespace {

// pop_n walks its list outside the lock: while it does, the queue looks empty
// and pushes go to a fresh list; the rest goes back in front of them. The
// window is forced: the test point "inject_queue.pop_n.list_taken" runs the
// push on the popping thread, between the two critical sections.
TEST(InjectQueue, PopNPutsTheRestBackInFrontOfPushesMadeWhileItWalked) {
  WEFT_REQUIRE_TEST_POINTS();
  auto tasks = make_tasks(6);
  inject_queue<task> q;
  for (std::size_t i = 0; i < 5; ++i) ASSERT_TRUE(q.push(&tasks[i]));

  weft_test::point_script script;
  bool looked_empty = false;
  script.on("inject_queue.pop_n.list_taken", [&] {
    looked_empty = q.is_empty() && q.pop() == nullptr;
    EXPECT_TRUE(q.push(&tasks[5]));
  });
  std::vector<std::uint32_t> got;
  bool rest_requeued = false;
  EXPECT_EQ(q.pop_n(2, [&](task* t) { got.push_back(t->id); }, &rest_requeued), 2u);
  EXPECT_TRUE(looked_empty);
  EXPECT_TRUE(rest_requeued);
  EXPECT_EQ(got, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(q.len(), 4u);
  std::vector<std::uint32_t> rest;
  for (task* t : drain_all(q)) rest.push_back(t->id);
  EXPECT_EQ(rest, (std::vector<std::uint32_t>{2, 3, 4, 5}));  // FIFO across the window
}

TEST(InjectQueue, PopNOfEverythingRequeuesNothing) {
  auto tasks = make_tasks(3);
  inject_queue<task> q;
  for (auto& t : tasks) ASSERT_TRUE(q.push(&t));
  bool rest_requeued = true;
  EXPECT_EQ(q.pop_n(3, [](task*) {}, &rest_requeued), 3u);
  EXPECT_FALSE(rest_requeued);
  EXPECT_TRUE(q.is_empty());
}

}  // namespace
