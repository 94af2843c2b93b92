// A synchronized dispatcher under many posting threads: never two items at
// once, each thread's items in the order it posted them. Checked with an
// "inside" counter and per-thread sequence numbers, not with timing; the
// plain (non-atomic) bookkeeping also lets ThreadSanitizer check that
// consecutive items are ordered by happens-before.
#include <weft/dispatcher.hpp>
#include <weft/runtime.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

namespace {

// 8 threads x 100,000 callbacks; full size under ThreadSanitizer too (a few
// seconds there).
constexpr int posting_threads = 8;
constexpr int total_items = posting_threads * 100'000;
constexpr int mixed_items = 100'000;  // the tasks + callbacks test

struct serial_check {
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  // Plain: only ever touched by the dispatcher's items, one at a time.
  std::vector<std::int64_t> last_seq = std::vector<std::int64_t>(posting_threads, -1);
  int order_errors = 0;
  int not_ok = 0;
  std::int64_t count = 0;

  void enter() {
    // ORDERING: relaxed is enough to see an overlap: a second item inside at
    // the same time finds the first one's increment (one variable).
    if (inside.fetch_add(1, std::memory_order_relaxed) != 0) {
      overlaps.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void leave() { inside.fetch_sub(1, std::memory_order_relaxed); }
};

TEST(DispatcherStress, SynchronizedNeverRunsTwoItemsAtOnceAndKeepsPostingOrder) {
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
  weft::dispatcher d = weft::dispatcher_builder{}.name("serial").create(rt);
  serial_check st;
  std::latch done(total_items);
  std::latch go(posting_threads);
  std::vector<std::thread> posters;
  for (int t = 0; t < posting_threads; ++t) {
    posters.emplace_back([&, t] {
      go.arrive_and_wait();  // all start together
      for (std::int64_t i = 0; i < total_items / posting_threads; ++i) {
        const std::error_code ec = d.post_task([&st, &done, t, i](weft::status s) {
          st.enter();
          if (!s.ok()) ++st.not_ok;
          if (st.last_seq[t] >= i) ++st.order_errors;
          st.last_seq[t] = i;
          ++st.count;
          st.leave();
          done.count_down();
        });
        ASSERT_FALSE(ec);
      }
    });
  }
  for (auto& p : posters) p.join();
  done.wait();
  EXPECT_EQ(st.overlaps.load(), 0);
  EXPECT_EQ(st.order_errors, 0);
  EXPECT_EQ(st.not_ok, 0);
  EXPECT_EQ(st.count, total_items);
}

weft::task<> stepping_task(serial_check* st, std::latch* done, int steps) {
  for (int i = 0; i < steps; ++i) {
    st->enter();
    ++st->count;
    st->leave();
    co_await weft::yield_now();  // each step is a separate item of the dispatcher
  }
  done->count_down();
}

TEST(DispatcherStress, SynchronizedSerializesTaskStepsWithCallbacks) {
  constexpr int tasks = 8;
  constexpr int steps = mixed_items / 20;  // 8 tasks x 5,000 steps
  constexpr int callback_threads = 2;
  constexpr int callbacks = mixed_items - tasks * steps;
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
  weft::dispatcher d = weft::dispatcher_builder{}.name("serial-mixed").create(rt);
  serial_check st;
  std::latch tasks_done(tasks);
  std::latch callbacks_done(callbacks);
  for (int t = 0; t < tasks; ++t)
    ASSERT_FALSE(d.spawn_task(stepping_task(&st, &tasks_done, steps)));
  std::vector<std::thread> posters;
  for (int t = 0; t < callback_threads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < callbacks / callback_threads; ++i) {
        ASSERT_FALSE(d.post_task([&](weft::status) {
          st.enter();
          ++st.count;
          st.leave();
          callbacks_done.count_down();
        }));
      }
    });
  }
  for (auto& p : posters) p.join();
  tasks_done.wait();
  callbacks_done.wait();
  EXPECT_EQ(st.overlaps.load(), 0);
  EXPECT_EQ(st.count, static_cast<std::int64_t>(tasks) * steps + callbacks);
}

}  // namespace
