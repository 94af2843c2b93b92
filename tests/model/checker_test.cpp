// The model checker itself: it must find deliberately broken protocols,
// report what failed with a schedule that replays it, and pass correct ones
// after exploring their interleavings.
#include "model_test_support.hpp"

#include <cstdint>
#include <new>
#include <set>
#include <vector>

namespace {

using namespace weft::model_test;

// Two threads increment a counter with "load, then store load+1" (check then
// act). The lost update needs one preemption between the load and the store.
void broken_counter() {
  sync::atomic<int> counter{0};
  auto inc = [&counter] {
    const int v = counter.load(std::memory_order_relaxed);
    counter.store(v + 1, std::memory_order_relaxed);
  };
  sync::thread a(inc);
  sync::thread b(inc);
  a.join();
  b.join();
  model::require(counter.load() == 2, "both increments are counted");
}

TEST(ModelChecker, FindsLostUpdateOfCheckThenActCounterAndReplaysIt) {
  model::options o;
  o.print_failure = false;
  const model::result r = model::check(broken_counter, o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("both increments are counted"), std::string::npos) << r.failure;
  EXPECT_NE(r.schedule.find("store"), std::string::npos) << r.schedule;
  EXPECT_FALSE(r.replay.empty());
  // The printed choices replay the same failure in one execution.
  model::options again;
  again.print_failure = false;
  again.replay = r.replay;
  const model::result rr = model::check(broken_counter, again);
  EXPECT_FALSE(rr.ok);
  EXPECT_EQ(rr.interleavings, 1u);
  EXPECT_EQ(rr.schedule, r.schedule);
}

TEST(ModelChecker, RandomModeFindsLostUpdateToo) {
  model::options o;
  o.print_failure = false;
  o.random_executions = 2000;
  o.seed = 7;
  const model::result r = model::check(broken_counter, o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("both increments are counted"), std::string::npos) << r.failure;
}

TEST(ModelChecker, CorrectFetchAddCounterPassesEveryInterleaving) {
  expect_all_interleavings_pass("fetch_add counter", [] {
    sync::atomic<int> counter{0};
    auto inc = [&counter] { counter.fetch_add(1, std::memory_order_relaxed); };
    sync::thread a(inc);
    sync::thread b(inc);
    inc();
    a.join();
    b.join();
    model::require(counter.load() == 3, "three increments are counted");
  });
}

// Flag protocol with a missing re-check under the lock: the waiter tests the
// flag, then (after the notifier has set it and notified nobody) waits for a
// notify that never comes. Every thread ends up blocked: a deadlock.
TEST(ModelChecker, FindsLostWakeupOfFlagCheckOutsideTheLockAsDeadlock) {
  model::options o;
  o.print_failure = false;
  const model::result r = model::check(
      [] {
        sync::atomic<bool> ready{false};
        sync::mutex mu;
        sync::condition_variable cv;
        sync::thread waiter([&] {
          if (!ready.load()) {  // BUG: checked outside the lock, not re-checked
            std::unique_lock<sync::mutex> lk(mu);
            cv.wait(lk);
          }
        });
        ready.store(true);
        {
          std::unique_lock<sync::mutex> lk(mu);
          cv.notify_one();
        }
        waiter.join();
      },
      o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("deadlock"), std::string::npos) << r.failure;
  EXPECT_NE(r.schedule.find("cv notify_one"), std::string::npos) << r.schedule;
}

// A reference count whose releaser touches the object after its decrement:
// the other holder may free it in between.
TEST(ModelChecker, FindsUseAfterFreeInRefcountThatTouchesObjectAfterDecrement) {
  struct object {
    sync::atomic<int> refs{2};
    sync::atomic<int> last_user{0};
  };
  model::options o;
  o.print_failure = false;
  const model::result r = model::check(
      [] {
        // The storage outlives the object, so the checker (not the
        // allocator) sees the access.
        alignas(object) unsigned char storage[sizeof(object)];
        object* obj = ::new (static_cast<void*>(storage)) object();
        auto release = [obj](int who) {
          if (obj->refs.fetch_sub(1) == 1) {
            obj->~object();
            return;
          }
          obj->last_user.store(who);  // BUG: after our decrement
        };
        sync::thread a(release, 1);
        release(2);
        a.join();
      },
      o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("use after free"), std::string::npos) << r.failure;
}

TEST(ModelChecker, SpinWaitWithSpinHintPassesWithoutExplodingTheSearch) {
  const std::size_t n = expect_all_interleavings_pass("spin-wait on a flag", [] {
    sync::atomic<int> flag{0};
    sync::atomic<int> data{0};
    sync::thread producer([&] {
      data.store(42);
      flag.store(1);
    });
    while (flag.load() == 0) sync::spin_hint();
    model::require(data.load() == 42, "data written before the flag is seen");
    producer.join();
  });
  EXPECT_LT(n, 1000u);
}

TEST(ModelChecker, SpinOnAFlagNobodySetsIsReportedAsLivelock) {
  model::options o;
  o.print_failure = false;
  o.max_steps = 200;
  const model::result r = model::check(
      [] {
        sync::atomic<int> flag{0};
        while (flag.load() == 0) sync::spin_hint();
      },
      o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("livelock"), std::string::npos) << r.failure;
}

// Two threads each make two ordered stores into a shared log: with enough
// preemptions all C(4,2) = 6 merges of their operations are seen.
TEST(ModelChecker, ExhaustiveSearchSeesEveryMergeOfTwoThreadsOfTwoOperations) {
  std::set<std::vector<int>> seen;
  model::options o;
  o.preemption_bound = 4;
  const model::result r = model::check(
      [&seen] {
        sync::atomic<int> next{0};
        int log[4] = {0, 0, 0, 0};
        auto run = [&](int who) {
          for (int i = 0; i < 2; ++i) log[next.fetch_add(1)] = who;
        };
        sync::thread a(run, 1);
        run(2);
        a.join();
        seen.insert(std::vector<int>(log, log + 4));
      },
      o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(seen.size(), 6u);
}

// Message passing: data, then a flag. With a relaxed flag the reader may see
// the flag and still read the old data (weak memory); with release/acquire it
// may not.
void message_passing(std::memory_order store_flag, std::memory_order load_flag) {
  sync::atomic<int> data{0};
  sync::atomic<int> flag{0};
  sync::thread writer([&] {
    data.store(42, std::memory_order_relaxed);
    flag.store(1, store_flag);
  });
  if (flag.load(load_flag) == 1) {
    model::require(data.load(std::memory_order_relaxed) == 42,
                   "a reader that sees the flag sees the data");
  }
  writer.join();
}

TEST(ModelChecker, WeakMemoryFindsRelaxedMessagePassingReadingStaleData) {
  model::options o;
  o.print_failure = false;
  const model::result r = model::check(
      [] { message_passing(std::memory_order_relaxed, std::memory_order_relaxed); }, o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.schedule.find("STALE"), std::string::npos) << r.schedule;
}

TEST(ModelChecker, WeakMemoryPassesReleaseAcquireMessagePassing) {
  expect_all_interleavings_pass("release/acquire message passing", [] {
    message_passing(std::memory_order_release, std::memory_order_acquire);
  });
}

// Coherence: once a thread read the new value it never reads the old one
// again, even relaxed.
TEST(ModelChecker, WeakMemoryKeepsPerLocationCoherence) {
  expect_all_interleavings_pass("coherence", [] {
    sync::atomic<int> x{0};
    sync::thread w([&] { x.store(1, std::memory_order_relaxed); });
    const int a = x.load(std::memory_order_relaxed);
    const int b = x.load(std::memory_order_relaxed);
    model::require(!(a == 1 && b == 0), "a later load read an older store");
    w.join();
    model::require(x.load(std::memory_order_relaxed) == 1, "join makes the store visible");
  });
}

}  // namespace
