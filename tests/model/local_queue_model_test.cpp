// Model tests of the local run queue (src/scheduler/local_queue.hpp) with
// sync::local_queue_capacity == 4: the owner pushes (overflowing into a
// stand-in inject queue when full) and pops while one or two thieves steal
// half into their own queues. After every interleaving, every task must have
// been taken exactly once — by an owner pop, a steal's returned task, a
// drain of a thief's queue, or the overflow chain — none lost, none twice.
#include "model_test_support.hpp"

#include "scheduler/local_queue.hpp"

#include <array>
#include <cstddef>
#include <string>

namespace {

using namespace weft::model_test;

struct task {
  task* queue_next_ = nullptr;
  int id = 0;
};

static_assert(sync::local_queue_capacity == 4, "the scenarios below assume 4 slots");

using queue = weft::detail::local_queue<task>;

constexpr int max_tasks = 12;

// Per-execution bookkeeping. Each counter is written only by the thread that
// took the task; the totals are read after every thread is joined.
struct ledger {
  std::array<task, max_tasks> tasks{};
  std::array<int, max_tasks> taken{};  // plain ints: one writer per task
  int made = 0;

  ledger() {
    for (int i = 0; i < max_tasks; ++i) tasks[i].id = i;
  }
  task* make() { return &tasks[made++]; }
  void take(task* t) {
    model::require(t != nullptr, "a queue returned a null task");
    model::require(t >= &tasks[0] && t < &tasks[0] + made, "a queue returned a task never pushed");
    ++taken[t->id];
  }
  void expect_each_taken_once() {
    for (int i = 0; i < made; ++i) {
      if (taken[i] == 0) model::require(false, "a task was lost");
      if (taken[i] > 1) model::require(false, "a task was taken twice");
    }
  }
};

// The overflow target: the owner hands a chain to it (owner thread only).
struct inject_stand_in {
  ledger* l;
  std::array<int, 4>* by_count = nullptr;  // optional: overflows seen, by chain length
  void operator()(task* head, task* tail, std::size_t n) {
    if (by_count != nullptr && n < by_count->size()) ++(*by_count)[n];
    std::size_t seen = 0;
    task* last = nullptr;
    for (task* t = head; t != nullptr; t = t->queue_next_) {
      l->take(t);
      last = t;
      ++seen;
      model::require(seen <= n, "overflow chain longer than its count");
    }
    model::require(seen == n, "overflow chain shorter than its count");
    model::require(last == tail, "overflow chain does not end at its tail");
  }
};

void drain(queue& q, ledger& l) {
  while (task* t = q.pop()) l.take(t);
}

// A thief: one steal into its own queue, then it runs (pops) what it got.
void thief_steals_then_pops(queue& victim, queue& own, ledger& l) {
  if (task* t = victim.steal_into(own)) l.take(t);
  drain(own, l);
}

TEST(LocalQueueModel, OwnerPushPopRacingOneThiefTakesEveryTaskExactlyOnce) {
  expect_all_interleavings_pass("local_queue: owner push/pop vs 1 thief", [] {
    ledger l;
    queue q;
    queue stolen;
    inject_stand_in inject{&l};
    q.push_back_or_overflow(l.make(), inject);
    q.push_back_or_overflow(l.make(), inject);
    q.push_back_or_overflow(l.make(), inject);
    sync::thread thief([&] { thief_steals_then_pops(q, stolen, l); });
    if (task* t = q.pop()) l.take(t);
    q.push_back_or_overflow(l.make(), inject);
    if (task* t = q.pop()) l.take(t);
    thief.join();
    drain(q, l);
    l.expect_each_taken_once();
  });
}

// The thief steals tasks pushed while it runs: it reads their slots only
// through the owner's release of tail_ (weak memory: a stale slot would be a
// null or an old task).
TEST(LocalQueueModel, StealOfTasksPushedConcurrentlySeesTheirSlots) {
  expect_all_interleavings_pass("local_queue: steal of fresh pushes", [] {
    ledger l;
    queue q;
    queue stolen;
    inject_stand_in inject{&l};
    sync::thread thief([&] { thief_steals_then_pops(q, stolen, l); });
    q.push_back_or_overflow(l.make(), inject);
    q.push_back_or_overflow(l.make(), inject);
    if (task* t = q.pop()) l.take(t);
    thief.join();
    drain(q, l);
    l.expect_each_taken_once();
  });
}

// The queue is full (4) when the thief arrives; the owner pushes two more:
// the first push either overflows half + 1 into the inject stand-in, or —
// with the thief between its claim and its release — hands over just the
// new task; the slots freed by the steal are reused across the wrap.
TEST(LocalQueueModel, OverflowRacingOneThiefOnWrappedIndexTakesEveryTaskExactlyOnce) {
  std::array<int, 4> overflows{};  // across all interleavings
  expect_all_interleavings_pass("local_queue: overflow + wrap vs 1 thief", [&overflows] {
    ledger l;
    queue q;
    queue stolen;
    inject_stand_in inject{&l, &overflows};
    // Advance the positions so the concurrent part runs across the slot wrap.
    for (int i = 0; i < 3; ++i) {
      q.push_back_or_overflow(l.make(), inject);
      l.take(q.pop());
    }
    for (int i = 0; i < 4; ++i) q.push_back_or_overflow(l.make(), inject);  // full
    sync::thread thief([&] { thief_steals_then_pops(q, stolen, l); });
    q.push_back_or_overflow(l.make(), inject);
    q.push_back_or_overflow(l.make(), inject);
    thief.join();
    drain(q, l);
    l.expect_each_taken_once();
  });
  // Both overflow paths were explored: half + 1 (no thief mid-steal) and
  // the new task alone (a thief between its claim and its release).
  EXPECT_GT(overflows[3], 0);
  EXPECT_GT(overflows[1], 0);
}

// Two thieves on one victim: only one may be mid-steal, the other backs off
// or steals after it; the owner pops meanwhile.
TEST(LocalQueueModel, TwoThievesAndOwnerPopTakeEveryTaskExactlyOnce) {
  model::options o;
  o.stale_read_bound = 0;  // sequentially consistent: weak memory x 3 threads is too slow for CI
  int both_stole = 0;
  int one_backed_off = 0;  // a thief got nothing while the other stole
  expect_all_interleavings_pass(
      "local_queue: owner pop vs 2 thieves",
      [&] {
        ledger l;
        queue q;
        queue a;
        queue b;
        inject_stand_in inject{&l};
        for (int i = 0; i < 4; ++i) q.push_back_or_overflow(l.make(), inject);
        bool got1 = false;
        bool got2 = false;
        sync::thread t1([&] {
          if (task* t = q.steal_into(a)) {
            got1 = true;
            l.take(t);
          }
          drain(a, l);
        });
        sync::thread t2([&] {
          if (task* t = q.steal_into(b)) {
            got2 = true;
            l.take(t);
          }
          drain(b, l);
        });
        if (task* t = q.pop()) l.take(t);
        t1.join();
        t2.join();
        both_stole += got1 && got2;
        one_backed_off += got1 != got2;
        drain(q, l);
        l.expect_each_taken_once();
      },
      o);
  EXPECT_GT(both_stole, 0);
  EXPECT_GT(one_backed_off, 0);
}

// A chain of steals: thief 1 steals from the owner and publishes what it
// stole in its own queue, from which thief 2 steals, while the owner pushes.
TEST(LocalQueueModel, StealFromAThiefThatIsPublishingItsStealTakesEveryTaskExactlyOnce) {
  model::options o;
  o.stale_read_bound = 0;  // sequentially consistent: weak memory x 3 threads is too slow for CI
  expect_all_interleavings_pass("local_queue: steal from a stealing thief", [] {
    ledger l;
    queue q;
    queue a;
    queue b;
    inject_stand_in inject{&l};
    for (int i = 0; i < 4; ++i) q.push_back_or_overflow(l.make(), inject);
    sync::thread t1([&] {
      if (task* t = q.steal_into(a)) l.take(t);
    });
    sync::thread t2([&] {
      if (task* t = a.steal_into(b)) l.take(t);
      drain(b, l);
    });
    q.push_back_or_overflow(l.make(), inject);
    t1.join();
    t2.join();
    drain(a, l);
    drain(q, l);
    l.expect_each_taken_once();
  }, o);
}

}  // namespace
